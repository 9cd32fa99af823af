/*
 * smbdiag: the thin C side of the Wireshark plugin. It registers with epan
 * what the Rust tables describe (protocol, fields, expert items,
 * preferences, a tap for -z smbdiag,summary) and, per frame, hands the raw
 * bytes to Rust and adds the items Rust asks for. No diagnosis logic here.
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
#include <epan/uat-int.h>
#include <wsutil/wslog.h>

#include "smbdiag.h"

#define SMBDIAG_MAX_DEPTH 8

static int proto_smbdiag = -1;
static int *hf_ids = NULL;
static guint hf_count = 0;
static header_field_info **hf_infos = NULL; /* per field, looked up once registered */
static header_field_info *proto_hfinfo = NULL;
static gboolean *hf_is_u64 = NULL; /* per field: FT_UINT64 (add_uint picks the call) */
static expert_field *ei_ids = NULL;
static gint ett_smbdiag = -1;
static gint ett_sub[SMBDIAG_MAX_DEPTH];
static guint *pref_values = NULL;
static guint pref_count = 0;
static const char **spref_values = NULL; /* string preferences (g_malloc'd, owned by prefs) */
static guint spref_count = 0;
static int smbdiag_tap = -1;

/* What one frame's dissection is adding to, while Rust emits items. */
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

uint64_t smbdiag_shim_wanted(void *ctx)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    proto_tree *tree = c->root_parent;
    if (!tree)
        return 0;
    if (PTREE_DATA(tree)->visible)
        return ~(uint64_t)0;
    /* A filter on the protocol itself ("smbdiag") matches every frame with
     * results, so add the protocol item even if no field follows. (A filter
     * on a field marks the protocol referenced only indirectly.) */
    if (proto_hfinfo && proto_hfinfo->ref_type == HF_REF_TYPE_DIRECT)
        current_tree(c);
    /* What proto_field_is_referenced() checks for a hidden tree, without
     * looking each field up again on every frame. */
    uint64_t bits = 0;
    for (guint i = 0; i < hf_count && i < 64; i++)
        if (hf_infos[i] && hf_infos[i]->ref_type != HF_REF_TYPE_NONE)
            bits |= (uint64_t)1 << i;
    return bits;
}

void smbdiag_shim_add_string(void *ctx, uint32_t field, const char *s, size_t len)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    proto_tree *t = current_tree(c);
    /* Wireshark fakes items nobody looks at (tree hidden, field not in a
     * filter or column); don't copy the string for those. */
    if (!proto_field_is_referenced(t, hf_ids[field]))
        c->last = proto_tree_add_string(t, hf_ids[field], c->tvb, 0, 0, "");
    else
        c->last = proto_tree_add_string(t, hf_ids[field], c->tvb, 0, 0, wmem_strndup(c->pinfo->pool, s, len));
}

void smbdiag_shim_add_uint(void *ctx, uint32_t field, uint64_t v)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    proto_tree *t = current_tree(c);
    if (hf_is_u64[field])
        c->last = proto_tree_add_uint64(t, hf_ids[field], c->tvb, 0, 0, v);
    else
        c->last = proto_tree_add_uint(t, hf_ids[field], c->tvb, 0, 0, (guint32)v);
}

void smbdiag_shim_add_time(void *ctx, uint32_t field, int64_t secs, int32_t nsecs)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    proto_tree *t = current_tree(c);
    nstime_t ts;
    ts.secs = (time_t)secs;
    ts.nsecs = nsecs;
    c->last = proto_tree_add_time(t, hf_ids[field], c->tvb, 0, 0, &ts);
}

void smbdiag_shim_push(void *ctx)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    current_tree(c);
    if (c->depth < SMBDIAG_MAX_DEPTH) {
        c->stack[c->depth] = proto_item_add_subtree(c->last, ett_sub[c->depth]);
        c->depth++;
    }
}

void smbdiag_shim_pop(void *ctx)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    if (c->depth > 1)
        c->depth--;
}

void smbdiag_shim_expert(void *ctx, uint32_t rule, const char *s, size_t len)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    current_tree(c);
    expert_add_info_format(c->pinfo, c->last, &ei_ids[rule], "%.*s", (int)len, s);
}

void smbdiag_shim_col_append(void *ctx, const char *s, size_t len)
{
    smbdiag_ctx *c = (smbdiag_ctx *)ctx;
    col_append_str(c->pinfo->cinfo, COL_INFO, wmem_strndup(c->pinfo->pool, s, len));
}

static int dissect_smbdiag(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    guint len = tvb_captured_length(tvb);
    const guint8 *bytes = len ? tvb_get_ptr(tvb, 0, len) : NULL;
    int encap = pinfo->rec ? pinfo->rec->rec_header.packet_header.pkt_encap : -1;
    smbdiag_ctx c;
    memset(&c, 0, sizeof c);
    c.pinfo = pinfo;
    c.tvb = tvb;
    c.root_parent = tree;
    /* Rust says whether it has results for the frame (the statistics want
     * them even when no tree is built). */
    if (smbdiag_dissect(&c, pinfo->num, (int64_t)pinfo->abs_ts.secs, pinfo->abs_ts.nsecs, encap, bytes, len, tree != NULL))
        tap_queue_packet(smbdiag_tap, pinfo, NULL);
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
        smbdiag_pref_set(i, pref_values[i]);
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

static void summary_init(const char *opt_arg _U_, void *userdata _U_)
{
    GString *err = register_tap_listener("smbdiag", NULL, NULL, TL_REQUIRES_NOTHING, NULL, summary_packet, summary_draw, NULL);
    if (err) {
        fprintf(stderr, "smbdiag: could not register the summary tap: %s\n", err->str);
        g_string_free(err, TRUE);
    }
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
    smbdiag_frame_stats(pinfo->num, st);
    return TAP_PACKET_REDRAW;
}

void smbdiag_shim_stat(void *ctx, uint32_t kind, const char *s, size_t len)
{
    char name[128];
    if (kind > 2)
        return;
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, s, len);
    name[len] = '\0';
    tick_stat_node((stats_tree *)ctx, stat_parents[kind], 0, TRUE);
    tick_stat_node((stats_tree *)ctx, name, stat_parent_ids[kind], FALSE);
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
    for (guint i = 0; i < pref_count; i++) {
        smbdiag_pref_info_t pi;
        if (!smbdiag_pref_info(i, &pi))
            continue;
        pref_values[i] = pi.default_value;
        if (pi.is_bool)
            prefs_register_bool_preference(pm, pi.name, pi.title, pi.description, (gboolean *)&pref_values[i]);
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
