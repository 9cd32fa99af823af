//! PDUs smbdiag does not open as SMB2 messages each get their own field:
//! `smbdiag.smb1`, `smbdiag.compressed`, `smbdiag.encrypted` (a filter on
//! one finds that kind only), checked against Wireshark's own dissectors on
//! the real public captures and the lab's SMB1 ones.

mod common;

/// Fields of every frame, occurrences joined by U+001F (descriptions hold commas).
fn rows(cap: &std::path::Path) -> Vec<Vec<String>> {
    common::fields(
        cap,
        &["-E", "aggregator=\u{1f}"],
        &[
            "frame.number", "smb2.header.transform.msg_size", "smb.cmd", "smb2.header.comp_transform.original_size",
            "smbdiag.encrypted", "smbdiag.smb1", "smbdiag.compressed", "smbdiag.session_id",
        ],
    )
}

#[test]
fn each_opaque_kind_has_its_own_field_on_the_frames_wireshark_sees_it() {
    let mut caps = common::captures_under(&common::public_captures_dir());
    caps.push(common::lab_captures_dir().join("smb1_only_client.pcap"));
    caps.push(common::lab_captures_dir().join("dialect_rejected.pcap"));
    let (mut encrypted, mut smb1, mut negotiates) = (0, 0, 0);
    let mut problems = Vec::new();
    for cap in &caps {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        for r in rows(cap) {
            let col = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
            let (frame, ws_enc, ws_smb1, ws_comp) = (col(0), col(1), col(2), col(3));
            let (enc, s1, comp, sess) = (col(4), col(5), col(6), col(7));
            // Encrypted: only where Wireshark sees a transform header, with its size and the session beneath.
            if !enc.is_empty() {
                encrypted += 1;
                let sizes: Vec<&str> = ws_enc.split('\u{1f}').collect();
                for e in enc.split('\u{1f}') {
                    // "SMB3 message N of session 0x… on this connection, S bytes[, not decrypted: …]"
                    if !e.starts_with("SMB3 message ") || !sizes.iter().any(|s| !s.is_empty() && (e.ends_with(&format!(", {s} bytes")) || e.contains(&format!(", {s} bytes, ")))) {
                        problems.push(format!("{name} frame {frame}: encrypted {e:?}, Wireshark transform sizes {ws_enc:?}"));
                    }
                    let sid = e.split_once("session 0x").and_then(|(_, h)| h.get(..16)).and_then(|h| u64::from_str_radix(h, 16).ok());
                    let Some(sid) = sid else {
                        problems.push(format!("{name} frame {frame}: encrypted {e:?} names no session"));
                        continue;
                    };
                    if !sess.split('\u{1f}').any(|s| s.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok()) == Some(sid)) {
                        problems.push(format!("{name} frame {frame}: encrypted session {sid:#x} not among smbdiag.session_id {sess:?}"));
                    }
                }
            }
            // SMB1: never on a transform frame; every SMB1 NEGOTIATE Wireshark sees is shown as one.
            if !s1.is_empty() {
                smb1 += 1;
                if !ws_enc.is_empty() {
                    problems.push(format!("{name} frame {frame}: smbdiag.smb1 {s1:?} on a transform frame"));
                }
            }
            if ws_smb1.split('\u{1f}').any(|c| c == "0x72" || c == "114") {
                negotiates += 1;
                if !s1.split('\u{1f}').any(|d| d.starts_with("NEGOTIATE ")) || !enc.is_empty() {
                    problems.push(format!("{name} frame {frame}: Wireshark's SMB1 NEGOTIATE shown as smb1 {s1:?}, encrypted {enc:?}"));
                }
            }
            if !comp.is_empty() && ws_comp.is_empty() {
                problems.push(format!("{name} frame {frame}: smbdiag.compressed {comp:?} without a compression transform"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The corpus has both kinds: the checks above ran.
    assert!(encrypted >= 100, "only {encrypted} encrypted frames");
    assert!(smb1 >= 100 && negotiates >= 3, "only {smb1} SMB1 frames, {negotiates} SMB1 negotiates");
}

/// The SMB1-only lab client: its NEGOTIATE shows as SMB1 with the dialects
/// it offers, and a filter on `smbdiag.encrypted` finds nothing.
#[test]
fn smb1_negotiate_is_labelled_smb1_not_encrypted() {
    let cap = common::lab_captures_dir().join("smb1_only_client.pcap");
    let r = common::readable(&cap);
    let out = common::tshark(&["-r", r.to_str().unwrap(), "-V", "-Y", "smb.cmd == 0x72 && smb.flags.response == 0"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("    SMB1: NEGOTIATE request offering \"NT LANMAN 1.0\", \"NT LM 0.12\""), "{}", out.stdout);
    assert!(!out.stdout.contains("Encrypted:"));
    assert!(common::fields(&cap, &["-Y", "smbdiag.encrypted"], &["frame.number"]).is_empty());
}
