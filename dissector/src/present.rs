//! Presentation: the field contract (names users filter on) and the flat list
//! of items a front end adds to its protocol tree for one frame.

use std::borrow::Cow;

use crate::output::FrameReport;
use crate::rules::catalog::{self, RuleDef, Severity};
use crate::smb::types::{Command, Dialect, NtStatus};

/// How a field is typed and displayed (the front end maps this to FT_/BASE_).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    String,
    /// Unsigned, decimal.
    U16Dec,
    U16Hex,
    U32Dec,
    U64Dec,
    /// Unsigned, hexadecimal.
    U32Hex,
    U64Hex,
    /// A frame number (clickable in Wireshark).
    FrameNum,
    /// A time span.
    RelTime,
}

/// Value names for an integer field.
#[derive(Clone, Copy, Debug)]
pub enum ValueNames {
    None,
    Commands,
    Statuses,
    Dialects,
}

impl ValueNames {
    /// (value, name) pairs, 32-bit (Wireshark's value_string width).
    pub fn pairs(self) -> Vec<(u32, &'static str)> {
        match self {
            ValueNames::None => Vec::new(),
            ValueNames::Commands => Command::ALL.iter().map(|&(v, n)| (v as u32, n)).collect(),
            ValueNames::Statuses => NtStatus::ALL.to_vec(),
            ValueNames::Dialects => Dialect::ALL.iter().map(|&(v, n)| (v as u32, n)).collect(),
        }
    }
}

macro_rules! fields {
    ($( $variant:ident = ($abbrev:literal, $name:literal, $kind:ident, $vals:ident, $blurb:literal); )*) => {
        /// Every field smbdiag shows. The abbreviations are the filter names users rely on.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum FieldId { $( $variant, )* }

        pub struct FieldDef {
            pub id: FieldId,
            pub abbrev: &'static str,
            pub name: &'static str,
            pub kind: FieldKind,
            pub values: ValueNames,
            pub blurb: &'static str,
        }

        /// Indexed by `FieldId as usize`.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef { id: FieldId::$variant, abbrev: $abbrev, name: $name, kind: FieldKind::$kind, values: ValueNames::$vals, blurb: $blurb }, )*
        ];
    };
}

fields! {
    Rule = ("smbdiag.rule", "Rule", String, None, "Id of the diagnosis rule that raised a finding");
    Finding = ("smbdiag.finding", "Finding", String, None, "What happened, the evidence, the likely cause and the next check");
    RelatedFrame = ("smbdiag.related_frame", "Related frame", FrameNum, None, "A frame that is evidence for the finding");
    Message = ("smbdiag.message", "Message", String, None, "One SMB2 message on this frame, summarised");
    Cmd = ("smbdiag.cmd", "Command", U16Dec, Commands, "SMB2 command");
    Status = ("smbdiag.status", "NT status", U32Hex, Statuses, "NT status of a response");
    MsgId = ("smbdiag.msg_id", "Message id", U64Dec, None, "SMB2 message id");
    AsyncId = ("smbdiag.async_id", "Async id", U64Hex, None, "SMB2 async id (asynchronous responses)");
    SessionId = ("smbdiag.session_id", "Session id", U64Hex, None, "SMB2 session id");
    TreeId = ("smbdiag.tree_id", "Tree id", U32Hex, None, "SMB2 tree id");
    Tree = ("smbdiag.tree", "Tree", String, None, "Share path (\\\\server\\share) of the tree");
    File = ("smbdiag.file", "File", String, None, "Path of the open file");
    Dialect = ("smbdiag.dialect", "Dialect", U16Hex, Dialects, "SMB dialect of the connection");
    Auth = ("smbdiag.auth", "Authentication", String, None, "How the session authenticated");
    User = ("smbdiag.user", "User", String, None, "Account of the session (DOMAIN\\user)");
    ResponseTime = ("smbdiag.response_time", "Response time", RelTime, None, "Time from the request to this response");
    RequestFrame = ("smbdiag.request_frame", "Request in frame", FrameNum, None, "Frame of the request this response answers");
    ResponseFrame = ("smbdiag.response_frame", "Response in frame", FrameNum, None, "Frame of the final response to this request");
    Detail = ("smbdiag.detail", "Detail", String, None, "One sentence of the finding, so the whole text can be read in the packet details (item labels are cut at 240 characters)");
    Encrypted = ("smbdiag.encrypted", "Encrypted", String, None, "An encrypted SMB3 message (contents not visible)");
    Spn = ("smbdiag.spn", "Target name", String, None, "Name the client authenticated to: Kerberos service principal or NTLM MsvAvTargetName");
    Credits = ("smbdiag.credits", "Credits", U16Dec, None, "Credits requested (request) or granted (response)");
    CreditCharge = ("smbdiag.credit_charge", "Credit charge", U16Dec, None, "Credits this message consumes");
}

/// The fields whose values the front end wants (one bit per `FieldId`).
/// A hidden tree shows only what display filters and columns reference, so
/// values nobody looks at are neither formatted nor handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldMask(pub u64);

impl FieldMask {
    pub const ALL: FieldMask = FieldMask(u64::MAX);

    pub fn has(self, f: FieldId) -> bool {
        self.0 & (1u64 << (f as u32)) != 0
    }

    fn any(self, fs: &[FieldId]) -> bool {
        fs.iter().any(|&f| self.has(f))
    }
}

const _: () = assert!(FIELDS.len() <= 64, "FieldMask holds one bit per field");

/// Fields shown beneath an `smbdiag.message` item.
const MESSAGE_FIELDS: &[FieldId] = &[
    FieldId::Message,
    FieldId::Cmd,
    FieldId::Status,
    FieldId::MsgId,
    FieldId::AsyncId,
    FieldId::SessionId,
    FieldId::TreeId,
    FieldId::Tree,
    FieldId::File,
    FieldId::Dialect,
    FieldId::Auth,
    FieldId::User,
    FieldId::Spn,
    FieldId::Credits,
    FieldId::CreditCharge,
    FieldId::RequestFrame,
    FieldId::ResponseTime,
    FieldId::ResponseFrame,
];

/// One thing to add to the protocol tree, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<'a> {
    /// Open a subtree under the last added item; closed by `Pop`.
    Push,
    Pop,
    Str(FieldId, Cow<'a, str>),
    Uint(FieldId, u64),
    Frame(FieldId, u32),
    /// Seconds and nanoseconds.
    Time(FieldId, i64, i32),
    /// Raise the expert item of `rule` on the last added item with this text.
    Expert(&'static RuleDef, &'a str),
    /// Append to the packet list's Info column.
    Info(String),
}

impl Item<'_> {
    /// The field an item carries a value of (None for structure and expert items).
    pub fn field(&self) -> Option<FieldId> {
        match *self {
            Item::Str(f, _) | Item::Uint(f, _) | Item::Frame(f, _) | Item::Time(f, ..) => Some(f),
            Item::Push | Item::Pop | Item::Expert(..) | Item::Info(_) => None,
        }
    }
}

/// Flatten a frame's report into tree items, handed to `out` in order: one
/// `smbdiag.message` item per SMB2 message with its fields beneath, then each
/// finding (rule, sentence, related frames, expert item). Fields outside
/// `want` are left out (a message with none wanted is skipped whole); findings
/// and their expert items always come, since the expert dialog and tap count
/// them whatever the tree shows.
pub fn items<'a>(report: &'a FrameReport, want: FieldMask, out: &mut dyn FnMut(Item<'a>)) {
    let str_item = |f: FieldId, s: &'a str| Item::Str(f, Cow::Borrowed(if want.has(f) { s } else { "" }));
    if want.any(MESSAGE_FIELDS) {
        for m in &report.messages {
            out(Item::Str(FieldId::Message, if want.has(FieldId::Message) { Cow::Owned(m.summary()) } else { Cow::Borrowed("") }));
            out(Item::Push);
            // In tree order; the mask picks what is handed over.
            let fields = [
                Some(Item::Uint(FieldId::Cmd, m.cmd.0 as u64)),
                m.status.map(|s| Item::Uint(FieldId::Status, s.0 as u64)),
                Some(Item::Uint(FieldId::MsgId, m.msg_id)),
                m.async_id.map(|a| Item::Uint(FieldId::AsyncId, a)),
                Some(Item::Uint(FieldId::SessionId, m.session_id)),
                m.tree_id.map(|t| Item::Uint(FieldId::TreeId, t as u64)),
                m.tree.as_deref().map(|t| Item::Str(FieldId::Tree, Cow::Borrowed(t))),
                m.file.as_deref().map(|f| Item::Str(FieldId::File, Cow::Borrowed(f))),
                m.dialect.map(|d| Item::Uint(FieldId::Dialect, d.0 as u64)),
                m.auth.map(|a| Item::Str(FieldId::Auth, Cow::Borrowed(a.name()))),
                m.user.as_deref().map(|u| Item::Str(FieldId::User, Cow::Borrowed(u))),
                m.spn.as_deref().map(|t| Item::Str(FieldId::Spn, Cow::Borrowed(t))),
                Some(Item::Uint(FieldId::Credits, m.credits as u64)),
                Some(Item::Uint(FieldId::CreditCharge, m.credit_charge as u64)),
                m.request_frame.map(|f| Item::Frame(FieldId::RequestFrame, f)),
                m.response_time_ns.map(|ns| Item::Time(FieldId::ResponseTime, ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as i32)),
                m.response_frame.map(|f| Item::Frame(FieldId::ResponseFrame, f)),
            ];
            for item in fields.into_iter().flatten() {
                if item.field().is_some_and(|f| want.has(f)) {
                    out(item);
                }
            }
            out(Item::Pop);
        }
    }
    if want.any(&[FieldId::Encrypted, FieldId::SessionId]) {
        for o in &report.opaque {
            out(str_item(FieldId::Encrypted, &o.description));
            out(Item::Push);
            if want.has(FieldId::SessionId) {
                out(Item::Uint(FieldId::SessionId, o.session_id));
            }
            out(Item::Pop);
        }
    }
    for f in &report.findings {
        if matches!(f.rule.severity, Severity::Warn | Severity::Error) {
            out(Item::Info(format!(" [smbdiag: {}]", f.rule.id)));
        }
        out(str_item(FieldId::Finding, &f.text));
        out(Item::Expert(f.rule, &f.text));
        out(Item::Push);
        out(str_item(FieldId::Rule, f.rule.id));
        if want.has(FieldId::Detail) {
            for sentence in sentences(&f.text) {
                out(Item::Str(FieldId::Detail, Cow::Borrowed(sentence)));
            }
        }
        if want.has(FieldId::RelatedFrame) {
            for &r in &f.related_frames {
                out(Item::Frame(FieldId::RelatedFrame, r));
            }
        }
        out(Item::Pop);
    }
}

/// Index of a rule for the front end's expert table.
pub fn rule_index(rule: &RuleDef) -> usize {
    catalog::index_of(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::{Finding, MessageFields};

    fn report() -> FrameReport {
        FrameReport {
            messages: vec![MessageFields {
                cmd: Command::TREE_CONNECT,
                is_response: true,
                status: Some(NtStatus::BAD_NETWORK_NAME),
                msg_id: 4,
                tree: Some("\\\\srv\\gone".into()),
                ..Default::default()
            }],
            opaque: vec![],
            findings: vec![Finding { rule: &catalog::TREE_SHARE_NOT_FOUND, text: "No share. Check it.".into(), related_frames: vec![3] }],
        }
    }

    fn collect(r: &FrameReport, want: FieldMask) -> Vec<Item<'_>> {
        let mut v = Vec::new();
        items(r, want, &mut |i| v.push(i));
        v
    }

    #[test]
    fn a_visible_tree_gets_every_field_and_the_summary_line() {
        let r = report();
        let all = collect(&r, FieldMask::ALL);
        assert_eq!(all[0], Item::Str(FieldId::Message, "TREE_CONNECT response STATUS_BAD_NETWORK_NAME, msg 4".into()));
        assert!(all.contains(&Item::Str(FieldId::Tree, "\\\\srv\\gone".into())));
        assert!(all.contains(&Item::Frame(FieldId::RelatedFrame, 3)));
        assert_eq!(all.iter().filter(|i| matches!(i, Item::Str(FieldId::Detail, _))).count(), 2);
    }

    #[test]
    fn a_hidden_tree_gets_only_referenced_fields_but_always_the_findings() {
        let r = report();
        // Nothing referenced (tshark without a filter on smbdiag): no message
        // block, but the finding still raises its expert item and Info text.
        let none = collect(&r, FieldMask(0));
        assert!(!none.iter().any(|i| matches!(i, Item::Str(FieldId::Message, _) | Item::Uint(..))));
        assert!(none.iter().any(|i| matches!(i, Item::Expert(rule, _) if rule.id == "tree.share_not_found")));
        assert!(none.iter().any(|i| matches!(i, Item::Info(t) if t.contains("tree.share_not_found"))));
        // A filter on smbdiag.status: that value, no summary line formatted.
        let status = collect(&r, FieldMask(1 << FieldId::Status as u32));
        assert!(status.contains(&Item::Uint(FieldId::Status, NtStatus::BAD_NETWORK_NAME.0 as u64)));
        assert!(status.contains(&Item::Str(FieldId::Message, "".into())));
        assert!(!status.iter().any(|i| matches!(i, Item::Uint(FieldId::MsgId, _))));
    }

    #[test]
    fn field_table_is_indexed_by_id() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.id as usize, i);
            assert!(f.abbrev.starts_with("smbdiag."));
        }
    }
}

/// A finding cut into its sentences (at ". " followed by a capital letter or a
/// backtick, so "0.5 s" or "e.g. this" stay whole).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'.' && b[i + 1] == b' ' && (b[i + 2].is_ascii_uppercase() || b[i + 2] == b'`') {
            out.push(text[start..=i].trim());
            start = i + 2;
        }
        i += 1;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod sentence_tests {
    #[test]
    fn splits_at_sentence_ends_only() {
        let s = super::sentences("Lost 0.5 s here. Check `Get-SmbShare` on it. Next: e.g. this one.");
        assert_eq!(s, vec!["Lost 0.5 s here.", "Check `Get-SmbShare` on it.", "Next: e.g. this one."]);
    }
}
