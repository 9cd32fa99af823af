//! The C ABI between the smbdiag core and the Wireshark shim (ffi/shim.c).
//!
//! The plugin entry symbols Wireshark looks for are exported from here (rustc
//! only exports Rust items from a cdylib). The shim holds no logic: it
//! registers what the tables below describe and adds what `smbdiag_dissect`
//! tells it to. No panic crosses this boundary: every export catches unwinds.

#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use once_cell::sync::Lazy;
use smbdiag_core::present::{self, FieldKind, FieldMask, Item, FIELDS};
use smbdiag_core::rules::catalog::{Group, Severity, RULES};
use smbdiag_core::{Analyzer, Config, FrameInput, LinkType};

mod ws {
    include!(concat!(env!("OUT_DIR"), "/wireshark_consts.rs"));
}

/// Wireshark version this plugin is built for, NUL-terminated.
const fn version_bytes<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < b.len() && i < N - 1 {
        out[i] = b[i];
        i += 1;
    }
    out
}

const fn parse_u32(s: &str) -> c_int {
    let b = s.as_bytes();
    let mut v = 0;
    let mut i = 0;
    while i < b.len() {
        v = v * 10 + (b[i] - b'0') as c_int;
        i += 1;
    }
    v
}

#[no_mangle]
pub static plugin_version: [u8; 16] = version_bytes(env!("CARGO_PKG_VERSION"));
#[no_mangle]
pub static plugin_want_major: c_int = parse_u32(env!("SMBDIAG_WS_MAJOR"));
#[no_mangle]
pub static plugin_want_minor: c_int = parse_u32(env!("SMBDIAG_WS_MINOR"));

extern "C" {
    fn smbdiag_shim_plugin_register();
    fn smbdiag_shim_add_string(ctx: *mut c_void, field: u32, s: *const c_char, len: usize);
    fn smbdiag_shim_add_uint(ctx: *mut c_void, field: u32, v: u64);
    /// Bit i set: field i is shown (visible tree) or referenced by a filter or column.
    fn smbdiag_shim_wanted(ctx: *mut c_void) -> u64;
    fn smbdiag_shim_add_time(ctx: *mut c_void, field: u32, secs: i64, nsecs: i32);
    fn smbdiag_shim_push(ctx: *mut c_void);
    fn smbdiag_shim_pop(ctx: *mut c_void);
    fn smbdiag_shim_expert(ctx: *mut c_void, rule: u32, s: *const c_char, len: usize);
    fn smbdiag_shim_col_append(ctx: *mut c_void, s: *const c_char, len: usize);
    fn smbdiag_shim_stat(ctx: *mut c_void, kind: u32, s: *const c_char, len: usize);
}

#[no_mangle]
pub extern "C" fn plugin_register() {
    let _ = catch_unwind(|| unsafe { smbdiag_shim_plugin_register() });
}

/// Wireshark 4.2+ asks what kind of plugin this is (WS_PLUGIN_DESC_DISSECTOR).
#[cfg(ws_plugin_describe)]
#[no_mangle]
pub extern "C" fn plugin_describe() -> u32 {
    1
}

static ANALYZER: Lazy<Mutex<Analyzer>> = Lazy::new(|| Mutex::new(Analyzer::new(Config::default())));

fn with_analyzer<R>(f: impl FnOnce(&mut Analyzer) -> R) -> R {
    let mut g = ANALYZER.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut g)
}

// ---------------------------------------------------------------- tables

/// One field for `hf_register_info`.
#[repr(C)]
pub struct smbdiag_field_info_t {
    pub abbrev: *const c_char,
    pub name: *const c_char,
    pub blurb: *const c_char,
    /// Wireshark `enum ftenum` value.
    pub ftype: c_int,
    /// Wireshark `field_display_e` value.
    pub display: c_int,
    /// Number of value names (for a value_string table).
    pub nvalues: u32,
}

/// One rule for `ei_register_info`.
#[repr(C)]
pub struct smbdiag_rule_info_t {
    /// "smbdiag.<rule id>"
    pub name: *const c_char,
    pub summary: *const c_char,
    pub group: c_int,
    pub severity: c_int,
}

/// One preference.
#[repr(C)]
pub struct smbdiag_pref_info_t {
    pub name: *const c_char,
    pub title: *const c_char,
    pub description: *const c_char,
    pub is_bool: bool,
    pub default_value: u32,
}

struct Pref {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    is_bool: bool,
    default_value: u32,
}

fn prefs() -> Vec<Pref> {
    let d = Config::default();
    let mut v = vec![
        Pref {
            name: "slow_response_ms",
            title: "Slow response threshold (ms)",
            description: "A response at least this slow raises perf.slow_response",
            is_bool: false,
            default_value: (d.slow_response_s * 1000.0) as u32,
        },
        Pref {
            name: "unanswered_s",
            title: "Unanswered request threshold (s)",
            description: "A request unanswered this long while later ones are answered raises perf.unanswered",
            is_bool: false,
            default_value: d.unanswered_s as u32,
        },
        Pref {
            name: "loss_rate_permille",
            title: "Packet-loss threshold (per mille of segments)",
            description: "Retransmissions in one direction reaching this share of its data segments (and at least 3) raise transport.packet_loss",
            is_bool: false,
            default_value: d.loss_rate_permille,
        },
    ];
    // The families come from the catalog: a new one needs no edit here.
    for f in smbdiag_core::rules::catalog::families() {
        v.push(Pref {
            name: Box::leak(format!("enable_{f}").into_boxed_str()),
            title: Box::leak(format!("Enable {f}.* rules").into_boxed_str()),
            description: Box::leak(format!("Raise the findings of the {f}.* rules").into_boxed_str()),
            is_bool: true,
            default_value: 1,
        });
    }
    v
}

struct Tables {
    fields: Vec<(CString, CString, CString, Vec<(u32, CString)>)>,
    rules: Vec<(CString, CString)>,
    prefs: Vec<(Pref, CString, CString, CString)>,
}

fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).expect("no NUL")
}

static TABLES: Lazy<Tables> = Lazy::new(|| Tables {
    fields: FIELDS
        .iter()
        .map(|f| (cstr(f.abbrev), cstr(f.name), cstr(f.blurb), f.values.pairs().into_iter().map(|(v, n)| (v, cstr(n))).collect()))
        .collect(),
    rules: RULES.iter().map(|r| (cstr(&format!("smbdiag.{}", r.id)), cstr(r.title))).collect(),
    prefs: prefs()
        .into_iter()
        .map(|p| {
            let (a, b, c) = (cstr(p.name), cstr(p.title), cstr(p.description));
            (p, a, b, c)
        })
        .collect(),
});

fn ftype_of(kind: FieldKind) -> (ws::ftenum, ws::field_display_e) {
    use ws::field_display_e::*;
    use ws::ftenum::*;
    match kind {
        FieldKind::String => (FT_STRING, BASE_NONE),
        FieldKind::U16Dec => (FT_UINT16, BASE_DEC),
        FieldKind::U16Hex => (FT_UINT16, BASE_HEX),
        FieldKind::U32Dec => (FT_UINT32, BASE_DEC),
        FieldKind::U64Dec => (FT_UINT64, BASE_DEC),
        FieldKind::U32Hex => (FT_UINT32, BASE_HEX),
        FieldKind::U64Hex => (FT_UINT64, BASE_HEX),
        FieldKind::FrameNum => (FT_FRAMENUM, BASE_NONE),
        FieldKind::RelTime => (FT_RELATIVE_TIME, BASE_NONE),
    }
}

fn severity_of(s: Severity) -> c_int {
    (match s {
        Severity::Chat => ws::PI_CHAT,
        Severity::Note => ws::PI_NOTE,
        Severity::Warn => ws::PI_WARN,
        Severity::Error => ws::PI_ERROR,
    }) as c_int
}

fn group_of(g: Group) -> c_int {
    (match g {
        Group::Sequence => ws::PI_SEQUENCE,
        Group::ResponseCode => ws::PI_RESPONSE_CODE,
        Group::Security => ws::PI_SECURITY,
        Group::Protocol => ws::PI_PROTOCOL,
        Group::Malformed => ws::PI_MALFORMED,
        Group::Undecoded => ws::PI_UNDECODED,
        Group::Comment => ws::PI_COMMENTS_GROUP,
    }) as c_int
}

#[no_mangle]
pub extern "C" fn smbdiag_field_count() -> u32 {
    catch_unwind(|| FIELDS.len() as u32).unwrap_or(0)
}

#[no_mangle]
pub unsafe extern "C" fn smbdiag_field_info(i: u32, out: *mut smbdiag_field_info_t) -> bool {
    catch_unwind(|| {
        let (Some(f), Some(t), false) = (FIELDS.get(i as usize), TABLES.fields.get(i as usize), out.is_null()) else { return false };
        let (ft, disp) = ftype_of(f.kind);
        unsafe {
            *out = smbdiag_field_info_t {
                abbrev: t.0.as_ptr(),
                name: t.1.as_ptr(),
                blurb: t.2.as_ptr(),
                ftype: ft as c_int,
                display: disp as c_int,
                nvalues: t.3.len() as u32,
            };
        }
        true
    })
    .unwrap_or(false)
}

#[no_mangle]
pub unsafe extern "C" fn smbdiag_field_value(i: u32, j: u32, value: *mut u32, name: *mut *const c_char) -> bool {
    catch_unwind(|| {
        let Some((v, n)) = TABLES.fields.get(i as usize).and_then(|t| t.3.get(j as usize)) else { return false };
        if value.is_null() || name.is_null() {
            return false;
        }
        unsafe {
            *value = *v;
            *name = n.as_ptr();
        }
        true
    })
    .unwrap_or(false)
}

#[no_mangle]
pub extern "C" fn smbdiag_rule_count() -> u32 {
    catch_unwind(|| RULES.len() as u32).unwrap_or(0)
}

#[no_mangle]
pub unsafe extern "C" fn smbdiag_rule_info(i: u32, out: *mut smbdiag_rule_info_t) -> bool {
    catch_unwind(|| {
        let (Some(r), Some(t), false) = (RULES.get(i as usize), TABLES.rules.get(i as usize), out.is_null()) else { return false };
        unsafe {
            *out = smbdiag_rule_info_t { name: t.0.as_ptr(), summary: t.1.as_ptr(), group: group_of(r.group), severity: severity_of(r.severity) };
        }
        true
    })
    .unwrap_or(false)
}

#[no_mangle]
pub extern "C" fn smbdiag_pref_count() -> u32 {
    catch_unwind(|| TABLES.prefs.len() as u32).unwrap_or(0)
}

#[no_mangle]
pub unsafe extern "C" fn smbdiag_pref_info(i: u32, out: *mut smbdiag_pref_info_t) -> bool {
    catch_unwind(|| {
        let (Some(p), false) = (TABLES.prefs.get(i as usize), out.is_null()) else { return false };
        unsafe {
            *out = smbdiag_pref_info_t {
                name: p.1.as_ptr(),
                title: p.2.as_ptr(),
                description: p.3.as_ptr(),
                is_bool: p.0.is_bool,
                default_value: p.0.default_value,
            };
        }
        true
    })
    .unwrap_or(false)
}

/// A preference's value changed (Wireshark's apply callback).
#[no_mangle]
pub extern "C" fn smbdiag_pref_set(i: u32, value: u32) {
    let _ = catch_unwind(|| {
        let Some(p) = TABLES.prefs.get(i as usize) else { return };
        with_analyzer(|a| {
            let c = &mut a.config;
            match p.0.name {
                "slow_response_ms" => c.slow_response_s = value as f64 / 1000.0,
                "unanswered_s" => c.unanswered_s = value as f64,
                "loss_rate_permille" => c.loss_rate_permille = value,
                name => {
                    if let Some(family) = name.strip_prefix("enable_") {
                        c.disabled_families.retain(|f| f != family);
                        if value == 0 {
                            c.disabled_families.push(family.to_string());
                        }
                    }
                }
            }
        });
    });
}

// ---------------------------------------------------------------- lifecycle

/// A new capture is opened: forget everything.
#[no_mangle]
pub extern "C" fn smbdiag_init() {
    let _ = catch_unwind(|| with_analyzer(|a| a.reset()));
}

/// The capture is closed.
#[no_mangle]
pub extern "C" fn smbdiag_cleanup() {
    let _ = catch_unwind(|| with_analyzer(|a| a.reset()));
}

fn link_of(encap: c_int) -> LinkType {
    match encap as u32 {
        ws::WTAP_ENCAP_ETHERNET => LinkType::Ethernet,
        ws::WTAP_ENCAP_RAW_IP => LinkType::RawIp,
        ws::WTAP_ENCAP_RAW_IP4 => LinkType::RawIpv4,
        ws::WTAP_ENCAP_RAW_IP6 => LinkType::RawIpv6,
        ws::WTAP_ENCAP_NULL => LinkType::Null,
        ws::WTAP_ENCAP_LOOP => LinkType::Loop,
        ws::WTAP_ENCAP_SLL => LinkType::LinuxSll,
        ws::WTAP_ENCAP_SLL2 => LinkType::LinuxSll2,
        other => LinkType::Unknown(other),
    }
}

/// Process one frame (first pass) or recall it (later passes), and when
/// `want_tree`, tell the shim which items to add through `ctx`.
#[no_mangle]
pub unsafe extern "C" fn smbdiag_dissect(
    ctx: *mut c_void,
    num: u32,
    secs: i64,
    nsecs: i32,
    encap: c_int,
    data: *const u8,
    len: u32,
    want_tree: bool,
) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let bytes: &[u8] = if data.is_null() || len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(data, len as usize) } };
        let input = FrameInput { number: num, ts_ns: secs.saturating_mul(1_000_000_000).saturating_add(nsecs as i64), link: link_of(encap), data: bytes };
        with_analyzer(|a| {
            let Some(report) = a.dissect(&input) else { return false };
            if want_tree {
                let want = FieldMask(unsafe { smbdiag_shim_wanted(ctx) });
                present::items(report, want, &mut |item| unsafe { emit(ctx, &item) });
            }
            true
        })
    }))
    .unwrap_or(false)
}

unsafe fn emit(ctx: *mut c_void, item: &Item<'_>) {
    match *item {
        Item::Push => smbdiag_shim_push(ctx),
        Item::Pop => smbdiag_shim_pop(ctx),
        Item::Str(f, ref s) => smbdiag_shim_add_string(ctx, f as u32, s.as_ptr() as *const c_char, s.len()),
        Item::Uint(f, v) => smbdiag_shim_add_uint(ctx, f as u32, v),
        Item::Frame(f, v) => smbdiag_shim_add_uint(ctx, f as u32, v as u64),
        Item::Time(f, s, ns) => smbdiag_shim_add_time(ctx, f as u32, s, ns),
        Item::Expert(rule, text) => smbdiag_shim_expert(ctx, present::rule_index(rule) as u32, text.as_ptr() as *const c_char, text.len()),
        Item::Info(ref text) => smbdiag_shim_col_append(ctx, text.as_ptr() as *const c_char, text.len()),
    }
}

/// What a frame adds to the statistics tree (Statistics → SMB Diagnostics,
/// `tshark -z smbdiag_stats,tree`): for each finding its rule id (kind 0),
/// for each SMB2 message its command (kind 1), for each response that is
/// not a success its status (kind 2). Calls back `smbdiag_shim_stat`.
#[no_mangle]
pub extern "C" fn smbdiag_frame_stats(num: u32, ctx: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        with_analyzer(|a| {
            let Some(r) = a.report(num) else { return };
            let emit = |kind: u32, s: &str| unsafe { smbdiag_shim_stat(ctx, kind, s.as_ptr() as *const c_char, s.len()) };
            for f in &r.findings {
                emit(0, f.rule.id);
            }
            for m in &r.messages {
                emit(1, &m.cmd.to_string());
                if let Some(st) = m.status.filter(|s| s.0 != 0) {
                    emit(2, &st.to_string());
                }
            }
        })
    }));
}

/// The summary statistics as a NUL-terminated string; free it with
/// `smbdiag_free_string`.
#[no_mangle]
pub extern "C" fn smbdiag_summary_text() -> *mut c_char {
    catch_unwind(|| cstr(&with_analyzer(|a| a.summary_text())).into_raw()).unwrap_or(std::ptr::null_mut())
}

#[no_mangle]
pub unsafe extern "C" fn smbdiag_free_string(s: *mut c_char) {
    if !s.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { CString::from_raw(s) })));
    }
}
