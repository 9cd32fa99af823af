//! Kerberos logons decrypted with the server's keytab, through the real
//! tshark: the lab's AD DC requires encryption and smbclient logs on with
//! Kerberos only (tests/lab/make-captures.sh, kerberos_encrypted_*). The
//! message-by-message agreement with Wireshark is in tests/decrypt.rs; here,
//! the key itself agrees with Wireshark's own Kerberos decryption, the seed
//! finding inside the encrypted session is raised, and a keytab of another
//! account gives one clear note and nothing decoded.

mod common;

use std::path::PathBuf;

fn lab(name: &str) -> PathBuf {
    common::lab_captures_dir().join(name)
}

fn keytab_pref(name: &str) -> String {
    format!("smbdiag.keytab:{}", common::readable(&lab(name)).display())
}

/// Wireshark opens the same AP exchange with the same keytab: the AP-REP's
/// subkey it learns is the key smbdiag uses, and its first 16 bytes are the
/// session key smbclient logged (MS-SMB2: the GSS key cut to 16 bytes).
#[test]
fn wireshark_learns_the_same_session_key_from_the_keytab() {
    for name in ["kerberos_encrypted_share_not_found", "kerberos_encrypted_aes128", "kerberos_encrypted_rc4"] {
        let cap = lab(&format!("{name}.pcap"));
        let kt = common::readable(&lab(&format!("{name}.keytab")));
        let kt_opt = format!("kerberos.file:{}", kt.display());
        let rows = common::fields(&cap, &["-o", "kerberos.decrypt:TRUE", "-o", &kt_opt, "-Y", "smb2.cmd == 1 && kerberos.msg_type == 15"], &["frame.number", "kerberos.keyvalue"]);
        assert_eq!(rows.len(), 1, "{name}: one AP-REP: {rows:?}");
        let subkey = rows[0][1].split(',').last().unwrap().replace(':', "");
        let logged = std::fs::read_to_string(cap.with_extension("keys")).unwrap();
        let session_key = logged.trim().split(',').nth(1).unwrap().to_string();
        assert!(subkey.len() >= 32 && subkey.starts_with(&session_key), "{name}: Wireshark's AP-REP subkey {subkey} vs logged {session_key}");
        // smbdiag, from the keytab alone, decrypts every encrypted frame.
        let encrypted = common::fields(&cap, &["-Y", "smb2.header.transform.nonce"], &["frame.number"]);
        let pref = keytab_pref(&format!("{name}.keytab"));
        let dec = common::fields(&cap, &["-o", &pref, "-Y", "smbdiag.decrypted"], &["frame.number"]);
        assert!(encrypted.len() >= 10, "{name}");
        assert_eq!(dec, encrypted, "{name}");
    }
}

/// The seed finding inside the encrypted session, on the frame Wireshark's
/// own dissector (with the logged key) shows the refused TREE_CONNECT.
#[test]
fn share_not_found_inside_a_kerberos_encrypted_session() {
    let cap = lab("kerberos_encrypted_share_not_found.pcap");
    let logged = std::fs::read_to_string(cap.with_extension("keys")).unwrap();
    let f: Vec<&str> = logged.trim().split(',').collect();
    let uat = format!(r#"uat:smb2_seskey_list:{},{},"","""#, f[0], f[1]);
    let frame = common::fields(&cap, &["-o", &uat, "-Y", "smb2.cmd == 3 && smb2.nt_status == 0xc00000cc"], &["frame.number"]);
    let want: u32 = frame[0][0].parse().unwrap();
    let found = common::findings(&cap, &["-o", &keytab_pref("kerberos_encrypted_share_not_found.keytab")]);
    let hits: Vec<_> = found.iter().filter(|r| r.rule == "tree.share_not_found").collect();
    assert_eq!(hits.len(), 1, "{:?}", found.iter().map(|r| (&r.rule, r.frame)).collect::<Vec<_>>());
    assert_eq!(hits[0].frame, want);
    for w in ["STATUS_BAD_NETWORK_NAME", "\\\\labdc.lab.test\\projects", "Get-SmbShare"] {
        assert!(hits[0].text.contains(w), "missing {w:?}: {}", hits[0].text);
    }
    // No note: the keytab opened the session.
    assert!(!found.iter().any(|r| r.rule.starts_with("decode.")), "{:?}", found.iter().map(|r| &r.rule).collect::<Vec<_>>());
    // Without the keytab the finding is hidden behind one decode.encrypted note.
    let plain = common::findings(&cap, &[]);
    assert_eq!(plain.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(), vec!["decode.encrypted"]);
    // The user travels inside the ticket: the note says it is a Kerberos logon, and to whom.
    assert!(plain[0].text.contains("user not shown: a Kerberos logon to cifs/labdc.lab.test@LAB.TEST"), "{}", plain[0].text);
}

/// The user's own keys instead of the server's: one decode.decrypt_failed
/// on the first encrypted frame, naming the ticket's encryption type and key
/// version; nothing decoded, no finding from inside.
#[test]
fn a_keytab_of_another_account_gives_one_note_and_nothing_decoded() {
    let cap = lab("kerberos_encrypted_share_not_found.pcap");
    let pref = keytab_pref("kerberos_encrypted_share_not_found.wrong.keytab");
    let found = common::findings(&cap, &["-o", &pref]);
    assert_eq!(found.len(), 1, "{:?}", found.iter().map(|r| (&r.rule, &r.text)).collect::<Vec<_>>());
    let first_encrypted = common::fields(&cap, &["-Y", "smb2.header.transform.nonce"], &["frame.number"]);
    assert_eq!((found[0].rule.as_str(), found[0].frame.to_string()), ("decode.decrypt_failed", first_encrypted[0][0].clone()));
    for w in ["keytab", "aes256-cts-hmac-sha1-96", "key version 1", "none of the keytab's 1 keys", "0x000000000336923f", "AES-128-GCM", "klist -k -e"] {
        assert!(found[0].text.contains(w), "missing {w:?}: {}", found[0].text);
    }
    assert!(common::fields(&cap, &["-o", &pref, "-Y", "smbdiag.decrypted"], &["frame.number"]).is_empty());
    // A file that is no keytab: said on stderr, and the session stays hidden as without keys.
    let not_keytab = format!("smbdiag.keytab:{}", common::readable(&cap).display());
    let c = common::readable(&cap);
    let out = common::tshark(&["-r", c.to_str().unwrap(), "-o", &not_keytab, "-Y", "smbdiag.rule", "-T", "fields", "-e", "smbdiag.rule"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("is not an MIT keytab"), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "decode.encrypted");
}
