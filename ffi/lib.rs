//! The C ABI between the smbdiag core and the Wireshark shim (ffi/shim.c).
//!
//! The plugin entry symbols Wireshark looks for are exported from here (rustc
//! only exports Rust items from a cdylib). The shim holds no logic: it
//! registers what the tables below describe and adds what `smbdiag_dissect`
//! tells it to. No panic crosses this boundary: every export catches unwinds.

#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, CString};
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
}

/// Wireshark's loader calls `plugin_register`, which must be exported from
/// here (rustc exports only Rust items from a cdylib); the work is C's
/// (`proto_register_plugin`). Registration runs outside any TRY block, so no
/// Wireshark exception can unwind through this frame (a THROW there aborts).
#[no_mangle]
pub extern "C" fn plugin_register() {
    unsafe { smbdiag_shim_plugin_register() }
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
            name: "client_interface",
            title: "Client-side interface of a two-sided capture (1 = first; 0: infer)",
            description: "In a capture merged from the client's side and the server's, the interface (frame.interface_id + 1) captured at the client's side; 0 infers it from the TTL of the client's packets",
            is_bool: false,
            default_value: 0,
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
                "client_interface" => c.client_interface = value.checked_sub(1),
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

// ---------------------------------------------------------------- keys

/// String preferences (the shim registers them with prefs_register_string_preference).
const STRING_PREFS: &[(&str, &str, &str)] = &[(
    "session_keys",
    "SMB3 session keys",
    "Keys to decrypt encrypted SMB3 sessions, as entries separated by ';': session id,session key[,server-to-client key,client-to-server key] (hex; the session id as 16 hex digits in wire order as Wireshark's SMB2 key table takes it, or 0x and the number). smbdiag also reads Wireshark's own table (Protocols > SMB2 > Secret session keys for decryption).",
), (
    "ntlm_passwords",
    "NTLM passwords for SMB3 decryption",
    "Passwords or NT hashes of accounts whose NTLMv2 logons are in the capture, entries separated by ';': [DOMAIN\\]user:password or [DOMAIN\\]user:nt=<32 hex digits>. smbdiag derives each session's key from the logon and checks the password against it.",
), (
    "keytab",
    "Kerberos keytab for SMB3 decryption",
    "Path of an MIT keytab file holding the SMB server account's keys (samba-tool domain exportkeytab, ktpass): smbdiag opens the Kerberos tickets of the capture's logons with it (aes256/aes128-cts-hmac-sha1-96, rc4-hmac) and takes each session's key from the AP exchange.",
)];

/// Where keys come from: smbdiag's preference and Wireshark's SMB2 key table.
static KEY_SOURCES: Lazy<Mutex<(String, String, String, String)>> = Lazy::new(|| Mutex::new((String::new(), String::new(), String::new(), String::new())));

fn apply_keys() {
    let (pref, table, passwords, keytab) = KEY_SOURCES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut keys = smbdiag_core::smb::crypto::keys::KeyTable::default();
    keys.add_wireshark_table(&table);
    // smbdiag's own preference wins for a session in both.
    keys.add_preference(&pref);
    keys.add_ntlm_preference(&passwords);
    keys.add_keytab_file(&keytab);
    for e in &keys.errors {
        eprintln!("smbdiag: {e}");
    }
    with_analyzer(|a| a.config.keys = std::sync::Arc::new(keys));
}

/// C string to Rust (lossy; NULL is empty).
unsafe fn text_of(s: *const c_char) -> String {
    if s.is_null() {
        String::new()
    } else {
        unsafe { std::ffi::CStr::from_ptr(s) }.to_string_lossy().into_owned()
    }
}

#[no_mangle]
pub extern "C" fn smbdiag_string_pref_count() -> u32 {
    STRING_PREFS.len() as u32
}

/// Name, title and description of string preference `i` (default: empty).
#[no_mangle]
pub unsafe extern "C" fn smbdiag_string_pref_info(i: u32, out: *mut smbdiag_pref_info_t) -> bool {
    catch_unwind(|| {
        static C: Lazy<Vec<(CString, CString, CString)>> = Lazy::new(|| STRING_PREFS.iter().map(|(a, b, c)| (cstr(a), cstr(b), cstr(c))).collect());
        let (Some(p), false) = (C.get(i as usize), out.is_null()) else { return false };
        unsafe {
            *out = smbdiag_pref_info_t { name: p.0.as_ptr(), title: p.1.as_ptr(), description: p.2.as_ptr(), is_bool: false, default_value: 0 };
        }
        true
    })
    .unwrap_or(false)
}

/// A string preference's value (Wireshark's apply callback).
#[no_mangle]
pub unsafe extern "C" fn smbdiag_string_pref_set(i: u32, value: *const c_char) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let v = unsafe { text_of(value) };
        let mut g = KEY_SOURCES.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match STRING_PREFS.get(i as usize).map(|p| p.0) {
            Some("session_keys") => &mut g.0,
            Some("ntlm_passwords") => &mut g.2,
            Some("keytab") => &mut g.3,
            _ => return,
        };
        if *slot != v {
            *slot = v;
            drop(g);
            apply_keys();
        }
    }));
}

/// The entries of Wireshark's SMB2 session key table (`smb2_seskey_list`),
/// one a line as `id,key,s2c,c2s` in hex; read by the shim when a capture opens.
#[no_mangle]
pub unsafe extern "C" fn smbdiag_set_wireshark_keys(text: *const c_char) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let v = unsafe { text_of(text) };
        let mut g = KEY_SOURCES.lock().unwrap_or_else(|e| e.into_inner());
        if g.1 != v {
            g.1 = v;
            drop(g);
            apply_keys();
        }
    }));
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
        ws::WTAP_ENCAP_NETMON_NET_NETEVENT => LinkType::NetmonEvent,
        other => LinkType::Unknown(other),
    }
}

// ---------------------------------------------------------------- per frame
//
// Rust never calls Wireshark while a frame is processed: a Wireshark
// exception (THROW, a longjmp: the tree item limit, say) must not skip Rust
// frames, which would leave the analyzer locked and is undefined behaviour.
// So Rust computes what a frame adds into plain data and returns, its locks
// released; then the shim adds the items, and an exception unwinds C frames
// only.

/// What a `smbdiag_item_t` asks the shim to do.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smbdiag_item_kind {
    /// Open a subtree under the last added item.
    SMBDIAG_ITEM_PUSH,
    /// Close the innermost subtree.
    SMBDIAG_ITEM_POP,
    /// Field `index`, string `text`; shown with the label `label` when that is not null.
    SMBDIAG_ITEM_STRING,
    /// Field `index` (integer or frame number), `value`.
    SMBDIAG_ITEM_UINT,
    /// Field `index`, a time span of `secs` and `nsecs`.
    SMBDIAG_ITEM_TIME,
    /// Expert item of rule `index` on the last added item, text `text`.
    SMBDIAG_ITEM_EXPERT,
    /// Append `text` to the Info column.
    SMBDIAG_ITEM_INFO,
    /// Statistics tree: tick `text` under group `index` (0 rule, 1 command, 2 status).
    SMBDIAG_ITEM_STAT,
}

/// One thing the shim adds. `text` (not NUL-terminated, `len` bytes) points
/// into memory Rust owns until the next call of the same export.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct smbdiag_item_t {
    pub kind: smbdiag_item_kind,
    pub index: u32,
    pub value: u64,
    pub secs: i64,
    pub nsecs: i32,
    pub text: *const c_char,
    pub len: usize,
    pub label: *const c_char,
    pub label_len: usize,
}

/// The items of one call and the text they point into. Reused from call to
/// call: when an exception cuts the shim's loop short, nothing is left to
/// free (the next call clears it).
#[derive(Default)]
struct ItemBuffer {
    items: Vec<smbdiag_item_t>,
    /// Offsets of each item's text and label in `text` (pointers are set once `text` stops growing).
    offsets: Vec<(usize, Option<usize>)>,
    text: String,
}

// The raw pointers point into the buffer's own `text`.
unsafe impl Send for ItemBuffer {}

impl ItemBuffer {
    fn clear(&mut self) {
        self.items.clear();
        self.offsets.clear();
        self.text.clear();
    }

    fn push(&mut self, kind: smbdiag_item_kind, index: u32, value: u64, text: &str) {
        self.push_labeled(kind, index, value, text, None);
    }

    fn push_labeled(&mut self, kind: smbdiag_item_kind, index: u32, value: u64, text: &str, label: Option<&str>) {
        let off = self.text.len();
        self.text.push_str(text);
        let label_off = label.map(|l| {
            let o = self.text.len();
            self.text.push_str(l);
            o
        });
        self.offsets.push((off, label_off));
        let (null, label_len) = (std::ptr::null(), label.map_or(0, str::len));
        self.items.push(smbdiag_item_t { kind, index, value, secs: 0, nsecs: 0, text: null, len: text.len(), label: null, label_len });
    }

    fn push_item(&mut self, item: &Item<'_>) {
        use smbdiag_item_kind::*;
        match *item {
            Item::Push => self.push(SMBDIAG_ITEM_PUSH, 0, 0, ""),
            Item::Pop => self.push(SMBDIAG_ITEM_POP, 0, 0, ""),
            Item::Str(f, ref s) => self.push(SMBDIAG_ITEM_STRING, f as u32, 0, s),
            Item::Labeled(f, ref s, ref label) => self.push_labeled(SMBDIAG_ITEM_STRING, f as u32, 0, s, Some(label)),
            Item::Uint(f, v) => self.push(SMBDIAG_ITEM_UINT, f as u32, v, ""),
            Item::Frame(f, v) => self.push(SMBDIAG_ITEM_UINT, f as u32, v as u64, ""),
            Item::Time(f, secs, nsecs) => {
                self.push(SMBDIAG_ITEM_TIME, f as u32, 0, "");
                if let Some(last) = self.items.last_mut() {
                    (last.secs, last.nsecs) = (secs, nsecs);
                }
            }
            Item::Expert(rule, ref text) => self.push(SMBDIAG_ITEM_EXPERT, present::rule_index(rule) as u32, 0, text),
            Item::Info(ref text) => self.push(SMBDIAG_ITEM_INFO, 0, 0, text),
        }
    }

    /// Point each item at its text and hand the array out.
    unsafe fn hand_out(&mut self, items: *mut *const smbdiag_item_t, count: *mut usize) {
        let base = self.text.as_ptr() as *const c_char;
        for (it, &(off, label_off)) in self.items.iter_mut().zip(&self.offsets) {
            it.text = unsafe { base.add(off) };
            if let Some(l) = label_off {
                it.label = unsafe { base.add(l) };
            }
        }
        if !items.is_null() && !count.is_null() {
            unsafe {
                *items = self.items.as_ptr();
                *count = self.items.len();
            }
        }
    }
}

static FRAME_ITEMS: Lazy<Mutex<ItemBuffer>> = Lazy::new(Default::default);
static STAT_ITEMS: Lazy<Mutex<ItemBuffer>> = Lazy::new(Default::default);

fn lock_buffer(b: &'static Mutex<ItemBuffer>) -> std::sync::MutexGuard<'static, ItemBuffer> {
    let mut g = b.lock().unwrap_or_else(|e| e.into_inner());
    g.clear();
    g
}

unsafe fn no_items(items: *mut *const smbdiag_item_t, count: *mut usize) {
    if !items.is_null() && !count.is_null() {
        unsafe {
            *items = std::ptr::null();
            *count = 0;
        }
    }
}

/// Process one frame (first pass) or recall it (later passes). Returns
/// whether smbdiag has results for it; `*items` and `*count` get what to add
/// (fields outside `want`, one bit per field, left out; findings always, as
/// their expert items count whether or not a tree is built: `-z expert`),
/// valid until the next call.
#[no_mangle]
pub unsafe extern "C" fn smbdiag_dissect(
    num: u32,
    secs: i64,
    nsecs: i32,
    encap: c_int,
    interface: i64,
    data: *const u8,
    len: u32,
    want: u64,
    items: *mut *const smbdiag_item_t,
    count: *mut usize,
) -> bool {
    unsafe { no_items(items, count) };
    catch_unwind(AssertUnwindSafe(|| {
        let bytes: &[u8] = if data.is_null() || len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(data, len as usize) } };
        let input = FrameInput { number: num, ts_ns: secs.saturating_mul(1_000_000_000).saturating_add(nsecs as i64), link: link_of(encap), data: bytes, interface: u32::try_from(interface).ok() };
        let mut out = lock_buffer(&FRAME_ITEMS);
        with_analyzer(|a| {
            let Some(report) = a.dissect(&input) else {
                return false;
            };
            present::items(report, FieldMask(want), &mut |item| out.push_item(&item));
            unsafe { out.hand_out(items, count) };
            true
        })
    }))
    .unwrap_or(false)
}

/// What a frame adds to the statistics tree (Statistics → SMB Diagnostics,
/// `tshark -z smbdiag_stats,tree`): `SMBDIAG_ITEM_STAT` items, for each
/// finding its rule id (group 0), for each SMB2 message its command (group
/// 1), for each response that is not a success its status (group 2). Valid
/// until the next call.
#[no_mangle]
pub unsafe extern "C" fn smbdiag_frame_stats(num: u32, items: *mut *const smbdiag_item_t, count: *mut usize) {
    unsafe { no_items(items, count) };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let mut out = lock_buffer(&STAT_ITEMS);
        with_analyzer(|a| {
            let Some(r) = a.report(num) else { return };
            let mut stat = |group: u32, s: &str| out.push(smbdiag_item_kind::SMBDIAG_ITEM_STAT, group, 0, s);
            for f in &r.findings {
                stat(0, f.rule.id);
            }
            for m in &r.messages {
                stat(1, &m.cmd.to_string());
                if let Some(st) = m.status.filter(|s| s.0 != 0) {
                    stat(2, &st.to_string());
                }
            }
        });
        unsafe { out.hand_out(items, count) };
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
