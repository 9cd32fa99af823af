//! Presentation: the field contract (names users filter on) and the flat list
//! of items a front end adds to its protocol tree for one frame.

use std::borrow::Cow;

use crate::output::{Finding, FrameReport, OpaqueKind};
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
    Encrypted = ("smbdiag.encrypted", "Encrypted", String, None, "An encrypted SMB3 message (transform header): size and session; contents not visible");
    Spn = ("smbdiag.spn", "Target name", String, None, "Name the client authenticated to: Kerberos service principal or NTLM MsvAvTargetName");
    Credits = ("smbdiag.credits", "Credits", U16Dec, None, "Credits requested (request) or granted (response)");
    CreditCharge = ("smbdiag.credit_charge", "Credit charge", U16Dec, None, "Credits this message consumes");
    Smb1 = ("smbdiag.smb1", "SMB1", String, None, "An SMB1 message: its NEGOTIATE is read (dialects offered, dialect chosen), other commands only named");
    Compressed = ("smbdiag.compressed", "Compressed", String, None, "A compressed SMB3 message (compression transform header): algorithm and size, and whether smbdiag decompressed it (its messages then decoded as plain ones) or why not");
    Unconfirmed = ("smbdiag.unconfirmed", "Unconfirmed", String, None, "An SMB PDU found by resynchronisation after missing bytes, not decoded until the stream is confirmed back in step");
    Decrypted = ("smbdiag.decrypted", "Decrypted", String, None, "The message travelled encrypted (SMB3 transform) and smbdiag decrypted it with the user's key: the cipher");
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
    FieldId::Decrypted,
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
    /// A string field shown with its own label (the value stays whole for
    /// filters and `-T fields`; the label is what fits on the line).
    Labeled(FieldId, Cow<'a, str>, String),
    Uint(FieldId, u64),
    Frame(FieldId, u32),
    /// Seconds and nanoseconds.
    Time(FieldId, i64, i32),
    /// Raise the expert item of `rule` on the last added item with this text.
    Expert(&'static RuleDef, String),
    /// Append to the packet list's Info column.
    Info(String),
}

impl Item<'_> {
    /// The field an item carries a value of (None for structure and expert items).
    pub fn field(&self) -> Option<FieldId> {
        match *self {
            Item::Str(f, _) | Item::Labeled(f, ..) | Item::Uint(f, _) | Item::Frame(f, _) | Item::Time(f, ..) => Some(f),
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
                m.decrypted.map(|c| Item::Str(FieldId::Decrypted, Cow::Borrowed(c))),
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
    for o in &report.opaque {
        // Each kind its own field, so a filter on one finds only that kind.
        let field = match o.kind {
            OpaqueKind::Smb1 => FieldId::Smb1,
            OpaqueKind::Compressed => FieldId::Compressed,
            OpaqueKind::Encrypted => FieldId::Encrypted,
            OpaqueKind::Unconfirmed => FieldId::Unconfirmed,
        };
        let session = o.kind == OpaqueKind::Encrypted && want.has(FieldId::SessionId);
        if !want.has(field) && !session {
            continue;
        }
        out(str_item(field, &o.description));
        if session {
            out(Item::Push);
            out(Item::Uint(FieldId::SessionId, o.session_id));
            out(Item::Pop);
        }
    }
    for f in &report.findings {
        if matches!(f.rule.severity, Severity::Warn | Severity::Error) {
            out(Item::Info(format!(" [smbdiag: {}]", f.rule.id)));
        }
        let head = headline(f, report);
        if want.has(FieldId::Finding) {
            out(Item::Labeled(FieldId::Finding, Cow::Borrowed(&f.text), format!("Finding: {head}")));
        } else {
            out(str_item(FieldId::Finding, ""));
        }
        out(Item::Expert(f.rule, expert_text(&head, &f.text)));
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

/// Wireshark cuts item labels at 240 bytes (with the NUL); an expert item's
/// label starts with "Expert Info (Warning/Response code): ".
const EXPERT_MAX: usize = 239 - 42;
/// Room left for the names in a headline ("Finding: " and the title come first).
const HEADLINE_MAX: usize = 200;

/// The line a user reads first: the rule's title and the names the finding
/// is about (file or share with its server, user, status), taken from this
/// frame's messages when the finding's sentence names them; a name the
/// sentence does not mention may belong to another message of the frame
/// (a finding about an earlier request, say), so it is left out.
pub fn headline(f: &Finding, report: &FrameReport) -> String {
    let text = f.text.as_str();
    let mut names: Vec<String> = Vec::new();
    let mut have_path = false;
    for m in &report.messages {
        if let Some(tree) = m.tree.as_deref().filter(|_| !have_path) {
            // The file field holds the whole \\server\share\path already.
            let file = m.file.as_deref().filter(|p| p.starts_with(tree));
            let path = file.filter(|p| text.contains(p)).or_else(|| text.contains(tree).then_some(tree)).map(str::to_string);
            if let Some(p) = path {
                names.push(p);
                have_path = true;
            }
        }
        if let Some(user) = m.user.as_deref().filter(|u| text.contains(u)) {
            push_new(&mut names, format!("user {user}"));
        }
        if let Some(st) = m.status.filter(|s| s.0 != 0).map(|s| s.to_string()) {
            if text.contains(&st) && !f.rule.title.contains(&st) {
                push_new(&mut names, st);
            }
        }
    }
    let mut head = f.rule.title.to_string();
    if !names.is_empty() {
        head.push_str(" — ");
        head.push_str(&names.join(", "));
    }
    cut(&mut head, HEADLINE_MAX);
    head
}

fn push_new(names: &mut Vec<String>, n: String) {
    if !names.contains(&n) {
        names.push(n);
    }
}

/// Cut at a character boundary, marking the cut.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max - '…'.len_utf8();
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

/// The expert item's text (Expert Information dialog, `tshark -z expert`):
/// the headline and, when it fits in a label, the sentence that says what
/// to check next. The whole finding is in the tree beneath.
pub fn expert_text(head: &str, text: &str) -> String {
    let next = sentences(text).into_iter().rev().find(|s| s.starts_with("Next check") || s.starts_with("Check "));
    // A sentence cut inside a parenthesis or a quote ("Avg. Disk sec") is no instruction.
    let whole = |s: &str| s.matches('(').count() == s.matches(')').count() && s.matches('`').count() % 2 == 0 && s.matches('"').count() % 2 == 0;
    match next.filter(|n| whole(n)) {
        Some(n) if head.len() + 2 + n.len() <= EXPERT_MAX => format!("{head}. {n}"),
        _ => head.to_string(),
    }
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
    fn a_finding_shows_a_headline_over_its_whole_sentence() {
        let mut r = report();
        r.messages[0].user = Some("DOM\\ann".into());
        r.findings[0].text = format!("Share \\\\srv\\gone is not there for DOM\\ann. {}. Next check: Get-SmbShare.", "x".repeat(300));
        let all = collect(&r, FieldMask::ALL);
        let Some(Item::Labeled(FieldId::Finding, value, label)) = all.iter().find(|i| matches!(i, Item::Labeled(..))) else { panic!("{all:?}") };
        assert_eq!(value, &r.findings[0].text);
        assert_eq!(label, "Finding: Share not found (STATUS_BAD_NETWORK_NAME) — \\\\srv\\gone, user DOM\\ann");
        let Some(Item::Expert(_, text)) = all.iter().find(|i| matches!(i, Item::Expert(..))) else { panic!() };
        assert_eq!(text, "Share not found (STATUS_BAD_NETWORK_NAME) — \\\\srv\\gone, user DOM\\ann. Next check: Get-SmbShare.");
    }

    #[test]
    fn a_headline_names_only_what_the_sentence_names_and_fits_a_label() {
        let mut r = report();
        // The frame's message is another request's: its share is not the finding's.
        r.findings[0].text = "No answer to the CREATE of frame 3.".into();
        assert_eq!(headline(&r.findings[0], &r), "Share not found (STATUS_BAD_NETWORK_NAME)");
        let long = format!("\\\\srv\\{}", "é".repeat(300));
        r.messages[0].tree = Some(long.as_str().into());
        r.findings[0].text = format!("No {long} here.");
        let h = headline(&r.findings[0], &r);
        assert!(h.len() <= HEADLINE_MAX && h.ends_with('…'), "{h}");
    }

    #[test]
    fn each_opaque_kind_goes_to_its_own_field() {
        use crate::output::OpaquePdu;
        let mut r = FrameReport::default();
        for (kind, d) in [(OpaqueKind::Smb1, "NEGOTIATE request offering \"NT LM 0.12\""), (OpaqueKind::Compressed, "SMB3 message (LZ77), 900 bytes uncompressed"), (OpaqueKind::Encrypted, "SMB3 message, 80 bytes, session 0x0000000000000007")] {
            r.opaque.push(OpaquePdu { kind, session_id: if kind == OpaqueKind::Encrypted { 7 } else { 0 }, description: d.into() });
        }
        let all = collect(&r, FieldMask::ALL);
        assert!(all.contains(&Item::Str(FieldId::Smb1, "NEGOTIATE request offering \"NT LM 0.12\"".into())));
        assert!(all.contains(&Item::Str(FieldId::Compressed, "SMB3 message (LZ77), 900 bytes uncompressed".into())));
        assert!(all.contains(&Item::Str(FieldId::Encrypted, "SMB3 message, 80 bytes, session 0x0000000000000007".into())));
        // Only the encrypted one has a session to show.
        assert_eq!(all.iter().filter(|i| matches!(i, Item::Uint(FieldId::SessionId, 7))).count(), 1);
        assert_eq!(all.iter().filter(|i| matches!(i, Item::Uint(FieldId::SessionId, _))).count(), 1);
        // A filter on one kind gets that kind only.
        let smb1 = collect(&r, FieldMask(1 << FieldId::Smb1 as u32));
        assert_eq!(smb1.iter().filter(|i| i.field().is_some()).count(), 1);
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
