//! Rules the lab cannot provoke, checked on real public captures (and the
//! one edited fixture): exact frame located by Wireshark's own dissector,
//! rule id, evidence in the sentence, related frames.

mod common;

use std::path::PathBuf;

struct Case {
    capture: &'static str,
    rule: &'static str,
    /// Wireshark display filter; the finding is on its first frame.
    filter: &'static str,
    evidence: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case { capture: "pub:OISF-suricata-verify/smb2-ntlmssp-order__smb2.pcap", rule: "session.ntlm_fallback",
        filter: "smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status == 0", evidence: &["CONTOSO\\SERVER01", "Kerberos was on offer", "setspn"] },
    Case { capture: "pub:OISF-suricata-verify/dcerpc_dcerpc-smb-ctxid__input.pcap", rule: "session.ntlm_fallback",
        filter: "smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status == 0", evidence: &["by IP address (192.168.56.101)"] },
    Case { capture: "pub:OISF-suricata-verify/smb2-async-read__input.pcap", rule: "security.null_session",
        filter: "smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status == 0", evidence: &["Anonymous", "RestrictAnonymous"] },
    Case { capture: "pub:zeek-zeek/smb2_100_small_files.pcap", rule: "security.guest_session",
        filter: "smb2.cmd == 1 && smb2.flags.response == 1 && smb2.ses_flags.guest == 1", evidence: &["guest", "zeek", "AllowInsecureGuestAuth"] },
    Case { capture: "pub:zeek-zeek/smb_many_open_files_500.pcap", rule: "status.error",
        filter: "smb2.nt_status == 0xc00000e5", evidence: &["IOCTL answered STATUS_INTERNAL_ERROR", "\\\\192.168.2.69\\SHARED"] },
    Case { capture: "pub:studylab1-SAMR-Enum-Lab/acl_2.2_users.pcapng", rule: "session.logon_failure",
        filter: "smb2.nt_status == 0xc0000064", evidence: &["STATUS_NO_SUCH_USER", "enum-a"] },
    Case { capture: "pub:OISF-suricata-verify/smb2-01__smb2-peter.pcap", rule: "perf.slow_response",
        filter: "smb2.cmd == 0 && smb2.flags.response == 1", evidence: &["NEGOTIATE took 10 s", "request frame 12"] },
    Case { capture: "pub:zeek-zeek/smb2_100_small_files.pcap", rule: "perf.small_files",
        filter: "smb2.cmd == 8 && smb2.flags.response == 1 && smb2.nt_status == 0 && frame.number >= 0", evidence: &["Many small files", "robocopy"] },
    Case { capture: "lab:smb1_only_client.pcap", rule: "security.smb1",
        filter: "smb.cmd == 0x72 && smb.flags.response == 0", evidence: &["\"NT LM 0.12\"", "can only speak SMB1"] },
    // Edited fixture (tests/captures/edited/README.md): no real capture of the
    // CNAME case exists here, so a real refused session setup had the name the
    // client used rewritten to an alias.
    Case { capture: "edited:alias_rejected.pcap", rule: "session.alias_rejected",
        filter: "smb2.cmd == 1 && smb2.nt_status == 0xc0000022", evidence: &["\"fileshare\"", "vm / LABSRV", "setspn -S cifs/fileshare", "DisableStrictNameChecking"] },
    // The same case with the Kerberos side real (lab Samba AD DC: the KDC refuses
    // cifs/files.lab.test, an alias with no SPN); only the final SESSION_SETUP
    // status was rewritten to the strict name check's STATUS_ACCESS_DENIED.
    Case { capture: "edited:alias_rejected_kerberos.pcap", rule: "session.alias_rejected",
        filter: "smb2.cmd == 1 && smb2.nt_status == 0xc0000022",
        evidence: &["\"files.lab.test\"", "labdc.lab.test / LABDC", "Kerberos failed first", "KDC_ERR_S_PRINCIPAL_UNKNOWN (frames 27 and 39)", "setspn -S cifs/files.lab.test"] },
    Case { capture: "edited:alias_rejected_kerberos.pcap", rule: "session.ntlm_fallback",
        filter: "smb2.cmd == 1 && smb2.nt_status == 0xc0000022", evidence: &["KDC_ERR_S_PRINCIPAL_UNKNOWN", "The KDC was reachable"] },
];

fn path(c: &str) -> PathBuf {
    let (kind, rest) = c.split_once(':').unwrap();
    match kind {
        "pub" => common::public_captures_dir().join(rest),
        "lab" => common::lab_captures_dir().join(rest),
        _ => common::repo_root().join("tests/captures/edited").join(rest),
    }
}

#[test]
fn rules_fire_on_their_real_captures() {
    let mut errors = Vec::new();
    for c in CASES {
        let cap = path(c.capture);
        let frames: Vec<u32> = common::fields(&cap, &["-Y", c.filter], &["frame.number"]).iter().filter_map(|r| r[0].parse().ok()).collect();
        let found = common::findings(&cap, &[]);
        let hits: Vec<_> = found.iter().filter(|r| r.rule == c.rule).collect();
        // perf.small_files: on the 50th successful READ response.
        let want = if c.rule == "perf.small_files" { frames.get(49).copied() } else { frames.first().copied() };
        let Some(want) = want else {
            errors.push(format!("{}: Wireshark finds no frame for {}", c.capture, c.filter));
            continue;
        };
        match hits.iter().find(|r| r.frame == want) {
            None => errors.push(format!("{}: {} expected on frame {want}, found on {:?}", c.capture, c.rule, hits.iter().map(|r| r.frame).collect::<Vec<_>>())),
            Some(r) => {
                for e in c.evidence {
                    if !r.text.contains(e) {
                        errors.push(format!("{}: {} lacks {e:?}: {}", c.capture, c.rule, r.text));
                    }
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
