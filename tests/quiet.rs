//! No false alarms: smbdiag raises no warning or error on the public corpus
//! except where a person reading the capture agrees there is a problem. Each
//! agreed case is listed with what the capture shows.

mod common;

use smbdiag_core::rules::catalog::{self, Severity};

/// (capture file name, rule, why a reader agrees).
const AGREED: &[(&str, &str, &str)] = &[
    ("smb-length-5770__input.pcap", "perf.slow_response", "a proxy on port 4445 holds responses for 10 s; the 445 leg beside it shows the server answering in about 1 ms"),
    ("smb2-01__smb2-peter.pcap", "perf.slow_response", "the server takes 10 s to answer the NEGOTIATE (frames 12 to 32)"),
    ("smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap", "perf.slow_response", "the same capture as smb2-01 with one frame removed"),
    ("smb2-01__smb2-peter.pcap", "security.guest_session", "the session setup response sets SMB2_SESSION_FLAG_IS_GUEST for user BUILDER\\ (Wireshark shows the flag)"),
    ("smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap", "security.guest_session", "as smb2-01"),
    ("smb2_100_small_files.pcap", "security.guest_session", "the session setup response of frame 14 sets SMB2_SESSION_FLAG_IS_GUEST for user zeek"),
    ("smb-port80.pcap", "negotiate.rejected", "an SMB1-only client (8 SMB1 dialects) and the server closes the connection without answering"),
    ("python.exe_crackmapexec_local-groups.pcapng", "negotiate.rejected", "crackmapexec probes with an SMB1-only NEGOTIATE (\"NT LM 0.12\") and the server resets it"),
    ("python.exe_crackmapexec_pass-pol.pcapng", "negotiate.rejected", "as local-groups"),
    ("python.exe_crackmapexec_local-groups.pcapng", "session.logon_failure", "STATUS_LOGON_FAILURE for domain-z.local\\enum: the enumeration tried a bad credential"),
    ("acl_2.2_users.pcapng", "session.logon_failure", "STATUS_NO_SUCH_USER for enum-a"),
];

#[test]
fn public_corpus_raises_only_agreed_alarms() {
    let caps = common::captures_under(&common::public_captures_dir());
    assert!(caps.len() >= 70);
    let mut unexpected = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for cap in &caps {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        for r in common::findings(cap, &[]) {
            let def = catalog::by_id(&r.rule).unwrap_or_else(|| panic!("unknown rule {}", r.rule));
            if !matches!(def.severity, Severity::Warn | Severity::Error) {
                continue;
            }
            if let Some(a) = AGREED.iter().find(|(c, rule, _)| *c == name && *rule == r.rule) {
                seen.insert((a.0, a.1));
            } else {
                unexpected.push(format!("{name} frame {}: {}: {}", r.frame, r.rule, r.text));
            }
        }
    }
    assert!(unexpected.is_empty(), "alarms nobody agreed to:\n{}", unexpected.join("\n"));
    // Every agreed case still fires: the list does not rot.
    let stale: Vec<_> = AGREED.iter().filter(|(c, r, _)| !seen.contains(&(*c, *r))).collect();
    assert!(stale.is_empty(), "agreed alarms that no longer fire: {stale:?}");
}
