//! The rule table. Rule ids are user-facing (filters, expert items named
//! `smbdiag.<id>`, docs/rules.md): never rename one.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Chat,
    Note,
    Warn,
    Error,
}

/// Expert-info group, as Wireshark groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Sequence,
    ResponseCode,
    Security,
    Protocol,
    Malformed,
    Undecoded,
    Comment,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RuleDef {
    pub id: &'static str,
    pub severity: Severity,
    pub group: Group,
    /// Short title (expert-info summary).
    pub title: &'static str,
    /// For docs/rules.md: when it fires (the evidence), the likely cause and the next check.
    pub explain: &'static str,
    /// For docs/rules.md: a capture (and frame) in the repo where it fires.
    pub example: &'static str,
}

macro_rules! rules {
    ($( $konst:ident = ($id:literal, $sev:ident, $grp:ident, $title:literal, $explain:literal, $example:literal); )*) => {
        $( pub static $konst: RuleDef = RuleDef { id: $id, severity: Severity::$sev, group: Group::$grp, title: $title, explain: $explain, example: $example }; )*
        /// Every rule, in a fixed order (the front end registers them by index).
        pub static RULES: &[&RuleDef] = &[ $( &$konst, )* ];
    };
}

rules! {
    DECODE_TRUNCATED = ("decode.truncated", Note, Malformed,
        "SMB message cut short by the capture (snaplen or missing segments)",
        "An SMB PDU whose NBSS length announces more bytes than the capture holds: a short snaplen or segments the capture missed. Only the part present is decoded, so fields past the cut are absent rather than wrong. Next check: capture with a full snaplen (`tcpdump -s 0`, or `-s 0` in dumpcap) and a large buffer.",
        "OISF-suricata-verify/smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap");
    DECODE_RESYNC = ("decode.resync", Note, Undecoded,
        "Bytes missing from the capture; SMB decoding resumed at the next header",
        "Part of a TCP stream is missing from the capture (the capture started mid-connection or dropped packets), so smbdiag skipped to the next SMB header instead of decoding the wrong bytes. Messages in the skipped bytes are not shown, so their responses have no request. Next check: capture from before the connection opens, with a large capture buffer.",
        "OISF-suricata-verify/smb3-02-midstream__input.pcap");
}

/// Look a rule up by id.
pub fn by_id(id: &str) -> Option<&'static RuleDef> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// Position of a rule in `RULES` (the front end's expert-item index).
pub fn index_of(rule: &RuleDef) -> usize {
    RULES.iter().position(|r| std::ptr::eq(*r, rule)).expect("rule in RULES")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(r.id.split('.').count() == 2, "{} must be group.name", r.id);
            assert!(r.id.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit()));
        }
    }
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Chat => "chat",
            Severity::Note => "note",
            Severity::Warn => "warning",
            Severity::Error => "error",
        }
    }
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Sequence => "Sequence",
            Group::ResponseCode => "Response code",
            Group::Security => "Security",
            Group::Protocol => "Protocol",
            Group::Malformed => "Malformed",
            Group::Undecoded => "Undecoded",
            Group::Comment => "Comment",
        }
    }
}

/// docs/rules.md, generated from the table (`smbdiag-cli --rules-md`); a test
/// keeps the committed file equal to this.
pub fn markdown() -> String {
    let mut s = String::from(
        "# smbdiag rules\n\n\
         Generated from `dissector/src/rules/catalog.rs` by `cargo run -p smbdiag-core --bin smbdiag-cli -- --rules-md > docs/rules.md`;\n\
         a test fails when this file and the code differ. Each finding carries `smbdiag.rule` (the id below),\n\
         `smbdiag.finding` (the sentence) and `smbdiag.related_frame` (evidence frames), and raises the expert item\n\
         `smbdiag.<id>` with the severity and group shown. Filter with e.g. `smbdiag.rule == \"tree.share_not_found\"`\n\
         or `smbdiag.rule matches \"^session\"`.\n\n\
         | rule | severity | group | title |\n| --- | --- | --- | --- |\n",
    );
    for r in RULES {
        s.push_str(&format!("| [`{}`](#{}) | {} | {} | {} |\n", r.id, r.id.replace('.', ""), r.severity.name(), r.group.name(), r.title));
    }
    for r in RULES {
        s.push_str(&format!(
            "\n## {}\n\n*{}*, group {}: {}.\n\n{}\n\nExample: `{}`\n",
            r.id,
            r.severity.name(),
            r.group.name(),
            r.title,
            r.explain,
            r.example
        ));
    }
    s
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn docs_rules_md_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::markdown(),
            "docs/rules.md is out of date: run `cargo run -p smbdiag-core --bin smbdiag-cli -- --rules-md > docs/rules.md`"
        );
    }
}
