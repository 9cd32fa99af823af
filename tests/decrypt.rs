//! SMB 3 decryption through the real tshark: smbdiag decrypts what Wireshark
//! decrypts with the same keys, message for message; without a key, or with
//! a wrong one, it says so once per session and decodes nothing.

mod common;

use std::path::{Path, PathBuf};

/// A capture with its keys: Wireshark's `smb2_seskey_list` entry, smbdiag
/// preferences that must decrypt the same messages, and the cipher.
struct Keyed {
    capture: PathBuf,
    uat: String,
    prefs: Vec<String>,
    cipher: &'static str,
}

fn keyed() -> Vec<Keyed> {
    let mut v = vec![Keyed {
        // SMB 3.0; session key published on the Wireshark wiki (tests/captures/public/MANIFEST.md).
        capture: common::public_captures_dir().join("zeek-zeek/smb3.pcap"),
        uat: r#"uat:smb2_seskey_list:3d00009400480000,28f2847263c83dc00621f742dd3f2e7b,"","""#.into(),
        prefs: vec!["smbdiag.session_keys:3d00009400480000,28f2847263c83dc00621f742dd3f2e7b".into()],
        cipher: "AES-128-CCM",
    }];
    // The lab's encrypted scenarios, keys as smbclient logged them (id, session key, ServerOut, ServerIn).
    for (name, cipher) in [
        ("encrypted_aes128ccm", "AES-128-CCM"),
        ("encrypted_aes128gcm", "AES-128-GCM"),
        ("encrypted_aes256ccm", "AES-256-CCM"),
        ("encrypted_aes256gcm", "AES-256-GCM"),
        ("encrypted_smb302", "AES-128-CCM"),
        ("encrypted_share_not_found", "AES-128-GCM"),
        ("encrypted_share_access_denied", "AES-128-GCM"),
        ("encrypted_slow_response", "AES-128-GCM"),
        // A 2 MiB READ response and a 2 MiB WRITE request, each one encrypted PDU.
        ("encrypted_large_file", "AES-128-GCM"),
    ] {
        let capture = common::lab_captures_dir().join(format!("{name}.pcap"));
        let line = std::fs::read_to_string(capture.with_extension("keys")).unwrap();
        let f: Vec<&str> = line.trim().split(',').collect();
        // From the session key alone: SMB 3.1.1 derivation over the tracked preauth hash.
        let mut prefs = vec![format!("smbdiag.session_keys:{},{}", f[0], f[1])];
        // No key at all: the lab user's password and the NTLMv2 logon in the capture.
        prefs.push("smbdiag.ntlm_passwords:sdalice:Lab-Passw0rd".into());
        // The direction keys alone (smbclient prints 16 bytes of them, complete for AES-128 only).
        if cipher.starts_with("AES-128") {
            prefs.push(format!("smbdiag.session_keys:{},,{},{}", f[0], f[2], f[3]));
        }
        v.push(Keyed { capture, uat: format!(r#"uat:smb2_seskey_list:{},{},"","""#, f[0], f[1]), prefs, cipher });
    }
    // Kerberos logons to the lab's AD DC: smbdiag from the DC's keytab alone
    // (tests/keytab.rs), Wireshark with the session key smbclient logged
    // (Wireshark 4.0 opens the tickets with a keytab but does not decrypt SMB3 from them).
    for name in ["kerberos_encrypted_share_not_found", "kerberos_encrypted_aes128", "kerberos_encrypted_rc4"] {
        let capture = common::lab_captures_dir().join(format!("{name}.pcap"));
        let line = std::fs::read_to_string(capture.with_extension("keys")).unwrap();
        let f: Vec<&str> = line.trim().split(',').collect();
        let keytab = common::readable(&capture.with_extension("keytab"));
        let prefs = vec![format!("smbdiag.keytab:{}", keytab.display())];
        v.push(Keyed { capture, uat: format!(r#"uat:smb2_seskey_list:{},{},"","""#, f[0], f[1]), prefs, cipher: "AES-128-GCM" });
    }
    v
}

/// Per frame: (message id, command, status, tree, file) of every SMB2 message,
/// as Wireshark's SMB2 dissector shows them (with its keys) and as smbdiag does.
type Row = (String, String, String, String, String);

fn wireshark_messages(cap: &Path, uat: &str) -> Vec<(String, Vec<Row>)> {
    // Wireshark shows decrypted messages only with its keys. Two passes: from
    // 4.6 on, one pass leaves a CREATE request's smb2.filename empty (the name
    // shows on the response only); with -2 every version names it on the request.
    rows(common::fields(cap, &["-2", "-o", uat, "-Y", "smb2.cmd"], &["frame.number", "smb2.msg_id", "smb2.cmd", "smb2.nt_status", "smb2.tree", "smb2.filename"]))
}

fn smbdiag_messages(cap: &Path, opts: &[&str]) -> Vec<(String, Vec<Row>)> {
    let mut extra: Vec<&str> = opts.to_vec();
    extra.extend_from_slice(&["-Y", "smbdiag.cmd"]);
    rows(common::fields(cap, &extra, &["frame.number", "smbdiag.msg_id", "smbdiag.cmd", "smbdiag.status", "smbdiag.tree", "smbdiag.file"]))
}

fn rows(v: Vec<Vec<String>>) -> Vec<(String, Vec<Row>)> {
    v.into_iter()
        .map(|c| {
            let col = |i: usize| c.get(i).cloned().unwrap_or_default();
            let split = |s: String| s.split(',').map(str::to_string).collect::<Vec<_>>();
            let (ids, cmds, sts, trees, files) = (split(col(1)), split(col(2)), split(col(3)), split(col(4)), split(col(5)));
            let msgs = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let g = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
                    (id.clone(), g(&cmds), g(&sts), g(&trees), g(&files))
                })
                .collect();
            (col(0), msgs)
        })
        .collect()
}

#[test]
fn decrypted_messages_agree_with_wireshark_frame_by_frame() {
    let mut all_files = 0;
    for k in keyed() {
        let ws = wireshark_messages(&k.capture, &k.uat);
        let encrypted = common::fields(&k.capture, &["-Y", "smb2.header.transform.nonce"], &["frame.number"]);
        assert!(encrypted.len() >= 10, "{}: the capture holds encrypted frames", k.capture.display());
        // Keys from Wireshark's own table, and from smbdiag's preference: the same messages.
        let mut sources = vec![k.uat.clone()];
        sources.extend(k.prefs.iter().cloned());
        for src in &sources {
            let opts = ["-o", src.as_str()];
            let sd = smbdiag_messages(&k.capture, &opts);
            assert_eq!(sd.len(), ws.len(), "{}: frames with messages ({opts:?})", k.capture.display());
            let (mut trees_compared, mut files_compared) = (0, 0);
            for ((wf, wm), (sf, sm)) in ws.iter().zip(&sd) {
                assert_eq!(wf, sf);
                assert_eq!(wm.len(), sm.len(), "frame {wf}: message count");
                for (w, s) in wm.iter().zip(sm) {
                    assert_eq!(w.0, s.0, "frame {wf}: message id");
                    assert_eq!(w.1.parse::<u32>().ok(), s.1.parse::<u32>().ok(), "frame {wf}: command");
                    // Wireshark shows a request's status field (0) too; smbdiag only responses'.
                    if !s.2.is_empty() {
                        assert_eq!(w.2, s.2, "frame {wf}: status");
                    }
                    // Wireshark leaves the tree out on some responses (TREE_CONNECT's); smbdiag shows it there too.
                    if !s.3.is_empty() && !w.3.is_empty() {
                        assert_eq!(w.3, s.3, "frame {wf}: tree");
                        trees_compared += 1;
                    }
                    // A CREATE request: Wireshark's smb2.filename is the name relative to the share
                    // (empty for its root); smbdiag's file is \\server\share\name.
                    if w.1 == "5" && s.2.is_empty() {
                        let want = if w.4.is_empty() { w.3.clone() } else { format!("{}\\{}", w.3, w.4) };
                        assert_eq!(s.4, want, "frame {wf}: file");
                        files_compared += 1;
                    }
                }
            }
            assert!(trees_compared >= 3, "{}: compared {trees_compared} trees", k.capture.display());
            all_files += files_compared;
            // Every encrypted frame is decoded, and shown as decrypted.
            let dec = common::fields(&k.capture, &[opts[0], opts[1], "-Y", "smbdiag.decrypted"], &["frame.number", "smbdiag.decrypted"]);
            assert_eq!(dec.len(), encrypted.len());
            assert!(dec.iter().all(|r| r[1].split(',').all(|c| c == k.cipher)), "{}: {dec:?}", k.capture.display());
        }
    }
    assert!(all_files >= 20, "CREATE names compared: {all_files}");
}

#[test]
fn without_a_key_one_note_per_session_names_what_is_hidden() {
    let cap = common::public_captures_dir().join("zeek-zeek/smb3.pcap");
    let f: Vec<_> = common::findings(&cap, &[]).into_iter().filter(|r| r.rule.starts_with("decode.")).collect();
    assert_eq!(f.len(), 1, "one note: {:?}", f.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert_eq!((f[0].frame, f[0].rule.as_str()), (9, "decode.encrypted"));
    for w in ["0x000048009400003d", "SUSE\\administrator", "SMB 3.0", "AES-128-CCM", "3d00009400480000", "smbdiag.session_keys"] {
        assert!(f[0].text.contains(w), "missing {w:?} in {}", f[0].text);
    }
    // The hidden messages are numbered: the last of the 44 says so.
    let enc = common::fields(&cap, &["-Y", "smbdiag.encrypted"], &["smbdiag.encrypted"]);
    assert_eq!(enc.len(), 44);
    assert!(enc[43][0].starts_with("SMB3 message 44 of session 0x000048009400003d"), "{:?}", enc[43]);
    // Nothing from inside the encryption.
    assert!(common::fields(&cap, &["-Y", "smbdiag.decrypted"], &["frame.number"]).is_empty());
}

/// SMB 3.1.1 negotiates its cipher in the NEGOTIATE response's encryption
/// context: the no-key note names the one Wireshark reads there, on every
/// cipher's lab capture (it said "cipher unknown" when no key was given).
#[test]
fn without_a_key_the_note_names_the_negotiated_cipher() {
    for (name, cipher) in [("aes128ccm", "AES-128-CCM"), ("aes128gcm", "AES-128-GCM"), ("aes256ccm", "AES-256-CCM"), ("aes256gcm", "AES-256-GCM")] {
        let cap = common::lab_captures_dir().join(format!("encrypted_{name}.pcap"));
        let ws = common::fields(&cap, &["-Y", "smb2.negotiate_context.cipher_id && smb2.flags.response == 1"], &["smb2.negotiate_context.cipher_id"]);
        let id = ws.first().map(|r| r[0].clone()).unwrap_or_default();
        let want = match id.trim_start_matches("0x").trim_start_matches('0') {
            "1" => "AES-128-CCM",
            "2" => "AES-128-GCM",
            "3" => "AES-256-CCM",
            "4" => "AES-256-GCM",
            other => panic!("{name}: Wireshark reads cipher {other:?}"),
        };
        assert_eq!(want, cipher, "{name}: the capture negotiates another cipher than its name says");
        let notes: Vec<_> = common::findings(&cap, &[]).into_iter().filter(|r| r.rule == "decode.encrypted").collect();
        assert_eq!(notes.len(), 1, "{name}");
        assert!(notes[0].text.contains(&format!("SMB 3.1.1, {cipher})")), "{name}: {}", notes[0].text);
    }
}

#[test]
fn a_wrong_key_gives_one_note_and_no_messages() {
    let cap = common::public_captures_dir().join("zeek-zeek/smb3.pcap");
    let wrong = "smbdiag.session_keys:3d00009400480000,00112233445566778899aabbccddeeff";
    let f = common::findings(&cap, &["-o", wrong]);
    let notes: Vec<_> = f.iter().filter(|r| r.rule.starts_with("decode.")).collect();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].frame, notes[0].rule.as_str()), (9, "decode.decrypt_failed"));
    assert!(notes[0].text.contains("authentication tag mismatch"), "{}", notes[0].text);
    // The findings outside the encrypted part are those of the run without keys.
    let plain: Vec<_> = common::findings(&cap, &[]).into_iter().filter(|r| !r.rule.starts_with("decode.")).map(|r| (r.frame, r.rule)).collect();
    let with_wrong: Vec<_> = f.into_iter().filter(|r| !r.rule.starts_with("decode.")).map(|r| (r.frame, r.rule)).collect();
    assert_eq!(plain, with_wrong);
    assert!(common::fields(&cap, &["-o", wrong, "-Y", "smbdiag.decrypted"], &["frame.number"]).is_empty());
}

#[test]
fn a_wrong_password_gives_one_note_naming_the_account() {
    let cap = common::lab_captures_dir().join("encrypted_share_not_found.pcap");
    let f = common::findings(&cap, &["-o", "smbdiag.ntlm_passwords:sdalice:not-the-password"]);
    let notes: Vec<_> = f.iter().filter(|r| r.rule.starts_with("decode.")).collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].rule, "decode.decrypt_failed");
    for w in ["WORKGROUP\\sdalice", "NTProofStr", "SMB 3.1.1", "AES-128-GCM"] {
        assert!(notes[0].text.contains(w), "missing {w:?}: {}", notes[0].text);
    }
    // The share-not-found finding stays hidden: nothing is guessed.
    assert!(!f.iter().any(|r| r.rule == "tree.share_not_found"));
    let first_encrypted = common::fields(&cap, &["-Y", "smb2.header.transform.nonce"], &["frame.number"]);
    assert_eq!(notes[0].frame.to_string(), first_encrypted[0][0]);
}

/// Encrypted PDUs far larger than the 64 KiB kept of a plain one: with keys
/// they are kept whole and decrypted, and what they carry agrees with
/// Wireshark (credit charges per frame; the bytes read and written, which the
/// summary adds up from the decrypted READ response and WRITE request).
/// Without keys they cost nothing more and raise no memory-bound note.
#[test]
fn large_encrypted_reads_and_writes_decrypt() {
    let cap = common::lab_captures_dir().join("encrypted_large_file.pcap");
    let line = std::fs::read_to_string(cap.with_extension("keys")).unwrap();
    let f: Vec<&str> = line.trim().split(',').collect();
    let uat = format!(r#"uat:smb2_seskey_list:{},{},"","""#, f[0], f[1]);
    let pref = format!("smbdiag.session_keys:{},{}", f[0], f[1]);
    // Wireshark: which frames carry the large READ response and WRITE request, and their sizes.
    let ws = common::fields(&cap, &["-o", &uat, "-Y", "(smb2.cmd == 8 && smb2.flags.response == 1 && smb2.nt_status == 0) || (smb2.cmd == 9 && smb2.flags.response == 0)"], &["frame.number", "smb2.header.transform.msg_size", "smb2.credit.charge", "smb2.cmd"]);
    assert_eq!(ws.len(), 2, "{ws:?}");
    for r in &ws {
        assert!(r[1].parse::<usize>().unwrap() > 2 * 1024 * 1024, "frame {}: a message over 2 MiB: {r:?}", r[0]);
    }
    let read_len = common::fields(&cap, &["-o", &uat, "-Y", "smb2.cmd == 8 && smb2.flags.response == 0"], &["smb2.read_length"]);
    let write_len = common::fields(&cap, &["-o", &uat, "-Y", "smb2.cmd == 9 && smb2.flags.response == 1"], &["smb2.write.count"]);
    assert_eq!((read_len[0][0].as_str(), write_len[0][0].as_str()), ("2097152", "2097152"));
    for src in [uat.as_str(), pref.as_str()] {
        for r in &ws {
            let filter = format!("frame.number == {}", r[0]);
            let sd = common::fields(&cap, &["-o", src, "-Y", &filter], &["smbdiag.decrypted", "smbdiag.cmd", "smbdiag.credit_charge"]);
            assert_eq!(sd[0], vec!["AES-128-GCM".to_string(), r[3].clone(), r[2].clone()], "frame {} with {src}", r[0]);
        }
        let c = common::readable(&cap);
        let out = common::tshark(&["-r", c.to_str().unwrap(), "-o", src, "-q", "-z", "smbdiag,summary"]);
        let text = &out.stdout;
        assert!(text.contains("bytes read: 2097152  bytes written: 2097152"), "{text}");
        // Kept whole within the bound: no memory-bound note, no decryption failure.
        let notes: Vec<_> = common::findings(&cap, &["-o", src]).into_iter().filter(|r| r.rule.starts_with("decode.")).collect();
        assert!(notes.is_empty(), "{:?}", notes.iter().map(|r| (&r.rule, &r.text)).collect::<Vec<_>>());
    }
    // Without keys: one note for the hidden session, none about memory.
    let rules: Vec<_> = common::findings(&cap, &[]).into_iter().map(|r| r.rule).collect();
    assert_eq!(rules, vec!["decode.encrypted".to_string()]);
}
