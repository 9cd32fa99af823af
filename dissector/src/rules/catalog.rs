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
}

macro_rules! rules {
    ($( $konst:ident = ($id:literal, $sev:ident, $grp:ident, $title:literal); )*) => {
        $( pub static $konst: RuleDef = RuleDef { id: $id, severity: Severity::$sev, group: Group::$grp, title: $title }; )*
        /// Every rule, in a fixed order (the front end registers them by index).
        pub static RULES: &[&RuleDef] = &[ $( &$konst, )* ];
    };
}

rules! {
    DECODE_TRUNCATED = ("decode.truncated", Note, Malformed, "SMB message cut short by the capture (snaplen or missing segments)");
    DECODE_RESYNC = ("decode.resync", Note, Undecoded, "Bytes missing from the capture; SMB decoding resumed at the next header");
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
