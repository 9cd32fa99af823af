/*
 * smbdiag: the thin C side of the Wireshark plugin. It registers with epan
 * what the Rust tables describe (protocol, fields, expert items,
 * preferences, a tap for -z smbdiag,summary) and, per frame, hands the raw
 * bytes to Rust, which returns the items to add, then adds them. No diagnosis
 * logic here.
 */
#include <string.h>
#include <stdio.h>

#include <wireshark.h>
#include <epan/epan.h>
#include <epan/packet.h>
#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/tap.h>
#include <epan/stat_tap_ui.h>
#include <epan/stats_tree.h>
/* From 4.4, epan/packet.h declares wtap_rec only as an incomplete type;
 * reading pinfo->rec needs wiretap's own header (harmless on 4.0). */
#include <wiretap/wtap.h>
#include <epan/uat-int.h>
#include <wsutil/wslog.h>

/* The build defines SMBDIAG_WS_MAJOR/MINOR from pkg-config (build.rs). */
#define SMBDIAG_WS_AT_LEAST(maj, min) \
    (SMBDIAG_WS_MAJOR > (maj) || (SMBDIAG_WS_MAJOR == (maj) && SMBDIAG_WS_MINOR >= (min)))

/* Wireshark's development branch replaces plugin_register/plugin_want_* with
 * one entry point (wireshark_load_module, WIRESHARK_PLUGIN_REGISTER) and an
 * ABI version; the loader would skip this plugin without a word, so refuse
 * to build instead. (wsutil/plugins.h exists from 4.2 on.) */
#if defined(__has_include)
#if __has_include(<wsutil/plugins.h>)
#include <wsutil/plugins.h>
#endif
#endif
#ifdef WIRESHARK_PLUGIN_REGISTER
#error "smbdiag supports the plugin interface of Wireshark 4.0 to 4.6; this Wireshark has the new plugin ABI (wireshark_load_module) that smbdiag does not support yet: build against a released 4.0, 4.2, 4.4 or 4.6."
#endif

#include "smbdiag.h"

#define SMBDIAG_MAX_DEPTH 8

static int proto_smbdiag = -1;
static int *hf_ids = NULL;
static guint hf_count = 0;
static header_field_info **hf_infos = NULL; /* per field, looked up once registered */
static header_field_info *proto_hfinfo = NULL;
static gboolean *hf_is_u64 = NULL; /* per field: FT_UINT64 (add_uint picks the call) */
static expert_field *ei_ids = NULL;
static guint ei_count = 0;
static gint ett_smbdiag = -1;
static gint ett_sub[SMBDIAG_MAX_DEPTH];
static guint *pref_values = NULL;
static guint pref_count = 0;
/* Boolean preferences are stored as gboolean (int) up to 4.2 and as C99
 * bool from 4.4 on; epan writes through the pointer it was given, so the
 * storage must have the type of this version. */
#if SMBDIAG_WS_AT_LEAST(4, 4)
typedef bool smbdiag_pref_bool;
#else
typedef gboolean smbdiag_pref_bool;
#endif
static smbdiag_pref_bool *pref_bools = NULL; /* per preference; used by the boolean ones */
static gboolean *pref_is_bool = NULL;
static const char **spref_values = NULL; /* string preferences (g_malloc'd, owned by prefs) */
static guint spref_count = 0;
static int smbdiag_tap = -1;

/* What one frame's dissection is adding to. */
typedef struct {
    packet_info *pinfo;
    tvbuff_t *tvb;
    proto_tree *root_parent;
    proto_tree *stack[SMBDIAG_MAX_DEPTH];
    int depth;
    proto_item *last;
} smbdiag_ctx;

static proto_tree *current_tree(smbdiag_ctx *c)
{
    if (c->depth == 0) {
        /* The protocol item appears only once Rust has something to add. */
        proto_item *ti = proto_tree_add_item(c->root_parent, proto_smbdiag, c->tvb, 0, 0, ENC_NA);
        c->stack[0] = proto_item_add_subtree(ti, ett_smbdiag);
        c->depth = 1;
        c->last = ti;
    }
    return c->stack[c->depth - 1];
}

/* The fields Rust should hand over (bit i: field i is shown, or referenced by
 * a filter or column). Reads only; adds nothing, so it cannot throw.
 * *want_proto: a filter on the protocol itself ("smbdiag"), which matches
 * every frame with results, so the protocol item is added even if no field
 * follows (a filter on a field marks the protocol referenced only
 * indirectly). */
static uint64_t wanted_fields(proto_tree *tree, gboolean *want_proto)
{
    *want_proto = FALSE;
    if (!tree)
        return 0;
    if (PTREE_DATA(tree)->visible)
        return ~(uint64_t)0;
    *want_proto = proto_hfinfo && proto_hfinfo->ref_type == HF_REF_TYPE_DIRECT;
    /* What proto_field_is_referenced() checks for a hidden tree, without
     * looking each field up again on every frame. */
    uint64_t bits = 0;
    for (guint i = 0; i < hf_count && i < 64; i++)
        if (hf_infos[i] && hf_infos[i]->ref_type != HF_REF_TYPE_NONE)
            bits |= (uint64_t)1 << i;
    return bits;
}

static void add_string(smbdiag_ctx *c, const smbdiag_item_t *it)
{
    proto_tree *t = current_tree(c);
    int hf = hf_ids[it->index];
    /* Wireshark fakes items nobody looks at (tree hidden, field not in a
     * filter or column); don't copy the string for those. */
    if (!proto_field_is_referenced(t, hf))
        c->last = proto_tree_add_string(t, hf, c->tvb, 0, 0, "");
    else if (it->label)
        /* The value stays whole; the line shows the label (labels are cut at 240 bytes). */
        c->last = proto_tree_add_string_format(t, hf, c->tvb, 0, 0, wmem_strndup(c->pinfo->pool, it->text, it->len), "%.*s",
                                               (int)it->label_len, it->label);
    else
        c->last = proto_tree_add_string(t, hf, c->tvb, 0, 0, wmem_strndup(c->pinfo->pool, it->text, it->len));
}

static void add_uint(smbdiag_ctx *c, uint32_t field, uint64_t v)
{
    proto_tree *t = current_tree(c);
    if (hf_is_u64[field])
        c->last = proto_tree_add_uint64(t, hf_ids[field], c->tvb, 0, 0, v);
    else
        c->last = proto_tree_add_uint(t, hf_ids[field], c->tvb, 0, 0, (guint32)v);
}

static void add_time(smbdiag_ctx *c, uint32_t field, int64_t secs, int32_t nsecs)
{
    proto_tree *t = current_tree(c);
    nstime_t ts;
    ts.secs = (time_t)secs;
    ts.nsecs = nsecs;
    c->last = proto_tree_add_time(t, hf_ids[field], c->tvb, 0, 0, &ts);
}

static void push_subtree(smbdiag_ctx *c)
{
    current_tree(c);
    if (c->depth < SMBDIAG_MAX_DEPTH) {
        c->stack[c->depth] = proto_item_add_subtree(c->last, ett_sub[c->depth]);
        c->depth++;
    }
}

/* Add what Rust computed, in order. Any of these calls may throw (the tree
 * item limit): only C frames are on the stack, Rust holds no lock, and the
 * items' memory stays Rust's (reused by the next frame). */
static void add_items(smbdiag_ctx *c, const smbdiag_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const smbdiag_item_t *it = &items[i];
        /* Field and rule indices come from Rust's own tables; check anyway. */
        gboolean field_ok = it->index < hf_count && hf_ids[it->index] > 0;
        switch (it->kind) {
        case SMBDIAG_ITEM_PUSH:
            push_subtree(c);
            break;
        case SMBDIAG_ITEM_POP:
            if (c->depth > 1)
                c->depth--;
            break;
        case SMBDIAG_ITEM_STRING:
            if (field_ok)
                add_string(c, it);
            break;
        case SMBDIAG_ITEM_UINT:
            if (field_ok)
                add_uint(c, it->index, it->value);
            break;
        case SMBDIAG_ITEM_TIME:
            if (field_ok)
                add_time(c, it->index, it->secs, it->nsecs);
            break;
        case SMBDIAG_ITEM_EXPERT:
            if (it->index < ei_count) {
                current_tree(c);
                expert_add_info_format(c->pinfo, c->last, &ei_ids[it->index], "%.*s", (int)it->len, it->text);
            }
            break;
        case SMBDIAG_ITEM_INFO:
            col_append_str(c->pinfo->cinfo, COL_INFO, wmem_strndup(c->pinfo->pool, it->text, it->len));
            break;
        default:
            break;
        }
    }
}

static int dissect_smbdiag(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    guint len = tvb_captured_length(tvb);
    const guint8 *bytes = len ? tvb_get_ptr(tvb, 0, len) : NULL;
    int encap = pinfo->rec ? pinfo->rec->rec_header.packet_header.pkt_encap : -1;
    /* The pcapng interface: tells a two-sided capture's sides apart. */
    int64_t iface = pinfo->rec && (pinfo->rec->presence_flags & WTAP_HAS_INTERFACE_ID) ? (int64_t)pinfo->rec->rec_header.packet_header.interface_id : -1;
    smbdiag_ctx c;
    memset(&c, 0, sizeof c);
    c.pinfo = pinfo;
    c.tvb = tvb;
    c.root_parent = tree;
    gboolean want_proto;
    uint64_t want = wanted_fields(tree, &want_proto);
    const smbdiag_item_t *items = NULL;
    size_t n = 0;
    /* Rust says whether it has results for the frame (the statistics want
     * them even when no tree is built) and returns the items to add: with no
     * tree (tshark without -V or a filter) only the findings, whose expert
     * items and Info text count all the same (-z expert). */
    gboolean has = smbdiag_dissect(pinfo->num, (int64_t)pinfo->abs_ts.secs, pinfo->abs_ts.nsecs, encap, iface, bytes, len, want, &items, &n);
    /* Rust has returned: from here on an exception unwinds C frames only. */
    if (has) {
        tap_queue_packet(smbdiag_tap, pinfo, NULL);
        if (want_proto)
            current_tree(&c);
    }
    add_items(&c, items, n);
    return c.depth > 0 ? (int)len : 0;
}

/* Wireshark's SMB2 "Secret session keys for decryption" table, as loaded
 * from the profile or given with -o uat:smb2_seskey_list:...; each record
 * is handed over as its fields' text, one line each. */
static void collect_smb2_keys(void *u, void *data)
{
    uat_t *uat = (uat_t *)u;
    GString *out = (GString *)data;
    if (!uat->filename || strcmp(uat->filename, "smb2_seskey_list") != 0 || !uat->user_data)
        return;
    for (guint r = 0; r < uat->user_data->len; r++) {
        void *rec = UAT_USER_INDEX_PTR(uat, r);
        for (guint c = 0; c < uat->ncols; c++) {
            char *v = uat_fld_tostr(rec, &uat->fields[c]);
            if (c)
                g_string_append_c(out, ',');
            g_string_append(out, v ? v : "");
            g_free(v);
        }
        g_string_append_c(out, '\n');
    }
}

static void smbdiag_init_routine(void)
{
    GString *keys = g_string_new("");
    uat_foreach_table(collect_smb2_keys, keys);
    smbdiag_set_wireshark_keys(keys->str);
    g_string_free(keys, TRUE);
    smbdiag_init();
}

static void smbdiag_cleanup_routine(void)
{
    smbdiag_cleanup();
}

static void apply_prefs(void)
{
    for (guint i = 0; i < pref_count; i++)
        smbdiag_pref_set(i, pref_is_bool[i] ? (guint)pref_bools[i] : pref_values[i]);
    for (guint i = 0; i < spref_count; i++)
        smbdiag_string_pref_set(i, spref_values[i]);
}

/* -z smbdiag,summary: Rust renders; tshark prints at the end. */
static void summary_draw(void *tapdata _U_)
{
    char *text = smbdiag_summary_text();
    if (text) {
        fputs(text, stdout);
        smbdiag_free_string(text);
    }
}

static tap_packet_status summary_packet(void *tapdata _U_, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                                        const void *data _U_, tap_flags_t flags _U_)
{
    return TAP_PACKET_DONT_REDRAW;
}

/* A -z handler returns void up to 4.4; from 4.6 it returns whether it set
 * up its tap (tshark stops on false). */
#if SMBDIAG_WS_AT_LEAST(4, 6)
typedef bool summary_init_result;
#define SUMMARY_INIT_RETURN(ok) return (ok)
#else
typedef void summary_init_result;
#define SUMMARY_INIT_RETURN(ok) return
#endif

static summary_init_result summary_init(const char *opt_arg _U_, void *userdata _U_)
{
    GString *err = register_tap_listener("smbdiag", NULL, NULL, TL_REQUIRES_NOTHING, NULL, summary_packet, summary_draw, NULL);
    if (err) {
        fprintf(stderr, "smbdiag: could not register the summary tap: %s\n", err->str);
        g_string_free(err, TRUE);
        SUMMARY_INIT_RETURN(false);
    }
    SUMMARY_INIT_RETURN(true);
}

/* Statistics → SMB Diagnostics (and tshark -z smbdiag_stats,tree): counts
 * of findings by rule, messages by command and responses by status, as Rust
 * lists them per frame. */
static const char *stat_parents[] = { "Findings by rule", "SMB2 messages by command", "Responses by status (other than success)" };
static int stat_parent_ids[3];

static void stats_init(stats_tree *st)
{
    for (int i = 0; i < 3; i++)
        stat_parent_ids[i] = stats_tree_create_node(st, stat_parents[i], 0, STAT_DT_INT, TRUE);
}

static tap_packet_status stats_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt _U_, const void *p _U_, tap_flags_t flags _U_)
{
    const smbdiag_item_t *items = NULL;
    size_t n = 0;
    smbdiag_frame_stats(pinfo->num, &items, &n);
    for (size_t i = 0; i < n; i++) {
        char name[128];
        size_t len = items[i].len;
        if (items[i].kind != SMBDIAG_ITEM_STAT || items[i].index > 2)
            continue;
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, items[i].text, len);
        name[len] = '\0';
        tick_stat_node(st, stat_parents[items[i].index], 0, TRUE);
        tick_stat_node(st, name, stat_parent_ids[items[i].index], FALSE);
    }
    return TAP_PACKET_REDRAW;
}

static stat_tap_ui summary_ui = {
    REGISTER_STAT_GROUP_GENERIC, "SMB diagnostics summary", "smbdiag,summary", summary_init, 0, NULL
};

static void proto_register_smbdiag(void)
{
    proto_smbdiag = proto_register_protocol("SMB Diagnostics", "SMBDIAG", "smbdiag");

    guint nf = smbdiag_field_count();
    hf_count = nf;
    hf_ids = g_new0(int, nf);
    hf_is_u64 = g_new0(gboolean, nf);
    hf_register_info *hf = g_new0(hf_register_info, nf);
    for (guint i = 0; i < nf; i++) {
        smbdiag_field_info_t fi;
        hf_ids[i] = -1;
        if (!smbdiag_field_info(i, &fi))
            continue;
        const void *strings = NULL;
        if (fi.nvalues > 0) {
            value_string *vs = g_new0(value_string, fi.nvalues + 1);
            for (guint j = 0; j < fi.nvalues; j++) {
                uint32_t v;
                const char *n;
                if (smbdiag_field_value(i, j, &v, &n)) {
                    vs[j].value = v;
                    vs[j].strptr = n;
                }
            }
            strings = VALS(vs);
        }
        hf[i].p_id = &hf_ids[i];
        hf[i].hfinfo.name = fi.name;
        hf[i].hfinfo.abbrev = fi.abbrev;
        hf[i].hfinfo.type = (enum ftenum)fi.ftype;
        hf_is_u64[i] = hf[i].hfinfo.type == FT_UINT64;
        hf[i].hfinfo.display = fi.display;
        hf[i].hfinfo.strings = strings;
        hf[i].hfinfo.bitmask = 0;
        hf[i].hfinfo.blurb = fi.blurb;
        hf[i].hfinfo.id = -1;
        hf[i].hfinfo.parent = 0;
        hf[i].hfinfo.ref_type = HF_REF_TYPE_NONE;
        hf[i].hfinfo.same_name_prev_id = -1;
        hf[i].hfinfo.same_name_next = NULL;
    }
    proto_register_field_array(proto_smbdiag, hf, nf);

    gint *ett[1 + SMBDIAG_MAX_DEPTH];
    ett[0] = &ett_smbdiag;
    for (int i = 0; i < SMBDIAG_MAX_DEPTH; i++) {
        ett_sub[i] = -1;
        ett[1 + i] = &ett_sub[i];
    }
    proto_register_subtree_array(ett, 1 + SMBDIAG_MAX_DEPTH);

    guint nr = smbdiag_rule_count();
    ei_count = nr;
    ei_ids = g_new0(expert_field, nr);
    ei_register_info *ei = g_new0(ei_register_info, nr);
    for (guint i = 0; i < nr; i++) {
        smbdiag_rule_info_t ri;
        ei_ids[i].ei = EI_INIT_EI;
        ei_ids[i].hf = EI_INIT_HF;
        if (!smbdiag_rule_info(i, &ri))
            continue;
        ei[i].ids = &ei_ids[i];
        ei[i].eiinfo.name = ri.name;
        ei[i].eiinfo.group = ri.group;
        ei[i].eiinfo.severity = ri.severity;
        ei[i].eiinfo.summary = ri.summary;
        ei[i].eiinfo.id = 0;
        ei[i].eiinfo.protocol = NULL;
        ei[i].eiinfo.orig_severity = 0;
        ei[i].eiinfo.hf_info.p_id = NULL;
        ei[i].eiinfo.hf_info.hfinfo.id = -1;
        ei[i].eiinfo.hf_info.hfinfo.same_name_prev_id = -1;
    }
    expert_module_t *em = expert_register_protocol(proto_smbdiag);
    expert_register_field_array(em, ei, nr);

    module_t *pm = prefs_register_protocol(proto_smbdiag, apply_prefs);
    pref_count = smbdiag_pref_count();
    pref_values = g_new0(guint, pref_count);
    pref_bools = g_new0(smbdiag_pref_bool, pref_count);
    pref_is_bool = g_new0(gboolean, pref_count);
    for (guint i = 0; i < pref_count; i++) {
        smbdiag_pref_info_t pi;
        if (!smbdiag_pref_info(i, &pi))
            continue;
        pref_values[i] = pi.default_value;
        pref_is_bool[i] = pi.is_bool;
        pref_bools[i] = pi.default_value != 0;
        if (pi.is_bool)
            prefs_register_bool_preference(pm, pi.name, pi.title, pi.description, &pref_bools[i]);
        else
            prefs_register_uint_preference(pm, pi.name, pi.title, pi.description, 10, &pref_values[i]);
    }
    spref_count = smbdiag_string_pref_count();
    spref_values = g_new0(const char *, spref_count);
    for (guint i = 0; i < spref_count; i++) {
        smbdiag_pref_info_t pi;
        if (!smbdiag_string_pref_info(i, &pi))
            continue;
        spref_values[i] = g_strdup("");
        prefs_register_string_preference(pm, pi.name, pi.title, pi.description, &spref_values[i]);
    }

    register_init_routine(smbdiag_init_routine);
    register_cleanup_routine(smbdiag_cleanup_routine);
    smbdiag_tap = register_tap("smbdiag");
    register_stat_tap_ui(&summary_ui, NULL);
    stats_tree_register_plugin("smbdiag", "smbdiag_stats", "SMB Diagnostics", 0, stats_packet, stats_init, NULL);
}

static void proto_reg_handoff_smbdiag(void)
{
    register_postdissector(create_dissector_handle(dissect_smbdiag, proto_smbdiag));
    hf_infos = g_new0(header_field_info *, hf_count);
    proto_hfinfo = proto_registrar_get_nth((guint)proto_smbdiag);
    for (guint i = 0; i < hf_count; i++)
        if (hf_ids[i] > 0)
            hf_infos[i] = proto_registrar_get_nth((guint)hf_ids[i]);
    apply_prefs();
}

void smbdiag_shim_plugin_register(void)
{
    static proto_plugin plug;
    int major = 0, minor = 0, micro = 0;
    /* A plugin runs only in the Wireshark major.minor it was built against
     * (epan's structures change between them): say so plainly and stay out. */
    epan_get_version_number(&major, &minor, &micro);
    if (major != SMBDIAG_WS_MAJOR || minor != SMBDIAG_WS_MINOR) {
        ws_warning("smbdiag was built for Wireshark %d.%d but this is Wireshark %d.%d.%d: "
                   "rebuild it against this version (cargo build --release with its development files); not loading it",
                   SMBDIAG_WS_MAJOR, SMBDIAG_WS_MINOR, major, minor, micro);
        return;
    }
    plug.register_protoinfo = proto_register_smbdiag;
    plug.register_handoff = proto_reg_handoff_smbdiag;
    proto_register_plugin(&plug);
}
