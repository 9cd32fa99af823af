//! Presentation: the field contract (names users filter on) and the flat list
//! of items a front end adds to its protocol tree for one frame.

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

/// One thing to add to the protocol tree, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<'a> {
    /// Open a subtree under the last added item; closed by `Pop`.
    Push,
    Pop,
    Str(FieldId, &'a str),
    Uint(FieldId, u64),
    Frame(FieldId, u32),
    /// Seconds and nanoseconds.
    Time(FieldId, i64, i32),
    /// Raise the expert item of `rule` on the last added item with this text.
    Expert(&'static RuleDef, &'a str),
    /// Append to the packet list's Info column.
    Info(String),
}

/// Flatten a frame's report into tree items: one `smbdiag.message` item per
/// SMB2 message with its fields beneath, then each finding (rule, sentence,
/// related frames, expert item).
pub fn items(report: &FrameReport) -> Vec<Item<'_>> {
    let mut out = Vec::new();
    for m in &report.messages {
        out.push(Item::Str(FieldId::Message, &m.summary));
        out.push(Item::Push);
        out.push(Item::Uint(FieldId::Cmd, m.cmd.0 as u64));
        if let Some(s) = m.status {
            out.push(Item::Uint(FieldId::Status, s.0 as u64));
        }
        out.push(Item::Uint(FieldId::MsgId, m.msg_id));
        if let Some(a) = m.async_id {
            out.push(Item::Uint(FieldId::AsyncId, a));
        }
        out.push(Item::Uint(FieldId::SessionId, m.session_id));
        if let Some(t) = m.tree_id {
            out.push(Item::Uint(FieldId::TreeId, t as u64));
        }
        if let Some(t) = &m.tree {
            out.push(Item::Str(FieldId::Tree, t));
        }
        if let Some(f) = &m.file {
            out.push(Item::Str(FieldId::File, f));
        }
        if let Some(d) = m.dialect {
            out.push(Item::Uint(FieldId::Dialect, d.0 as u64));
        }
        if let Some(a) = &m.auth {
            out.push(Item::Str(FieldId::Auth, a));
        }
        if let Some(u) = &m.user {
            out.push(Item::Str(FieldId::User, u));
        }
        if let Some(t) = &m.spn {
            out.push(Item::Str(FieldId::Spn, t));
        }
        out.push(Item::Uint(FieldId::Credits, m.credits as u64));
        out.push(Item::Uint(FieldId::CreditCharge, m.credit_charge as u64));
        if let Some(f) = m.request_frame {
            out.push(Item::Frame(FieldId::RequestFrame, f));
        }
        if let Some(ns) = m.response_time_ns {
            out.push(Item::Time(FieldId::ResponseTime, ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as i32));
        }
        if let Some(f) = m.response_frame {
            out.push(Item::Frame(FieldId::ResponseFrame, f));
        }
        out.push(Item::Pop);
    }
    for o in &report.opaque {
        out.push(Item::Str(FieldId::Encrypted, &o.description));
        out.push(Item::Push);
        out.push(Item::Uint(FieldId::SessionId, o.session_id));
        out.push(Item::Pop);
    }
    for f in &report.findings {
        if matches!(f.rule.severity, Severity::Warn | Severity::Error) {
            out.push(Item::Info(format!(" [smbdiag: {}]", f.rule.id)));
        }
        out.push(Item::Str(FieldId::Finding, &f.text));
        out.push(Item::Expert(f.rule, &f.text));
        out.push(Item::Push);
        out.push(Item::Str(FieldId::Rule, f.rule.id));
        for sentence in sentences(&f.text) {
            out.push(Item::Str(FieldId::Detail, sentence));
        }
        for &r in &f.related_frames {
            out.push(Item::Frame(FieldId::RelatedFrame, r));
        }
        out.push(Item::Pop);
    }
    out
}

/// Index of a rule for the front end's expert table.
pub fn rule_index(rule: &RuleDef) -> usize {
    catalog::index_of(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

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
