//! SMB 3.1.1 compressed messages through the real tshark. No capture here
//! holds real compression (no lab server compresses, no public capture was
//! found), so the fixture is the lab's share_not_found capture with its
//! TREE_CONNECT request rewritten as an unchained LZ77 message and the
//! response as a chained none + Pattern_V1 one
//! (tests/captures/edited/make-compressed-fixture.py). Wireshark decompresses
//! both; smbdiag must show the same messages and raise the same findings as
//! on the uncompressed original.

mod common;

use std::path::PathBuf;

fn fixture() -> PathBuf {
    common::repo_root().join("tests/captures/edited/share_not_found_compressed.pcap")
}

#[test]
fn compressed_messages_decode_like_their_plain_twins() {
    let cap = fixture();
    // Wireshark finds the two compressed messages and what they hold.
    let ws = common::fields(&cap, &["-Y", "smb2.cmd"], &["frame.number", "smb2.msg_id", "smb2.cmd", "smb2.nt_status", "smb2.tree"]);
    let sd = common::fields(&cap, &["-Y", "smbdiag.cmd"], &["frame.number", "smbdiag.msg_id", "smbdiag.cmd", "smbdiag.status", "smbdiag.tree"]);
    assert_eq!(ws.len(), sd.len(), "frames with messages");
    for (w, s) in ws.iter().zip(&sd) {
        assert_eq!((&w[0], &w[1], &w[2]), (&s[0], &s[1], &s[2]), "frame, message id, command");
        if !s[3].is_empty() {
            assert_eq!(w[3], s[3], "frame {}: status", w[0]);
        }
    }
    let on = |frame: &str| sd.iter().find(|r| r[0] == frame).cloned().unwrap_or_default();
    assert_eq!(on("18")[4], "\\\\10.99.0.2\\projects");
    assert_eq!(on("19")[3], "0xc00000cc");
    // Each says it was compressed, how, and that it was decompressed.
    let comp = common::fields(&cap, &["-Y", "smbdiag.compressed"], &["frame.number", "smbdiag.compressed"]);
    assert_eq!(comp.len(), 2, "{comp:?}");
    assert_eq!(comp[0][0], "18");
    // Unchained: the 64-byte header uncompressed, 48 body bytes compressed.
    assert_eq!(comp[0][1], "SMB3 message (LZ77), 48 bytes uncompressed, decompressed to 112 bytes");
    assert_eq!(comp[1][0], "19");
    assert_eq!(comp[1][1], "SMB3 message (chained, first payload none), 73 bytes uncompressed, decompressed to 73 bytes");
    // The findings of the plain original, on the same frames, with the same evidence.
    let plain = common::lab_captures_dir().join("share_not_found.pcap");
    let key = |v: &[common::FindingRow]| v.iter().map(|r| (r.frame, r.rule.clone())).collect::<Vec<_>>();
    let found = common::findings(&cap, &[]);
    assert_eq!(key(&common::findings(&plain, &[])), key(&found));
    let f = found.iter().find(|r| r.rule == "tree.share_not_found").expect("share not found");
    assert_eq!(f.frame, 19);
    for w in ["STATUS_BAD_NETWORK_NAME", "\\\\10.99.0.2\\projects", "Get-SmbShare", "(frame 18)"] {
        assert!(f.text.contains(w), "missing {w:?}: {}", f.text);
    }
}

/// The same fixture made with `--corrupt`: the request's LZ77 stream ends
/// early and the response's second payload is LZ4. Neither is decoded (no
/// guessed message, so no tree.share_not_found); one decode.not_decompressed
/// note for the connection, on the first, naming its frame, algorithm and
/// why; each item says why. Wireshark decompresses neither whole either.
#[test]
fn compressed_messages_that_do_not_decompress_give_one_note_per_connection() {
    let cap = common::repo_root().join("tests/captures/edited/share_not_found_compressed_corrupt.pcap");
    let found = common::findings(&cap, &[]);
    let notes: Vec<_> = found.iter().filter(|r| r.rule == "decode.not_decompressed").collect();
    assert_eq!(notes.len(), 1, "{:?}", found.iter().map(|r| (r.frame, &r.rule)).collect::<Vec<_>>());
    assert_eq!(notes[0].frame, 18);
    for w in ["frame 18", "(LZ77)", "48 bytes uncompressed", "ends early", "not noted again"] {
        assert!(notes[0].text.contains(w), "missing {w:?}: {}", notes[0].text);
    }
    assert!(!found.iter().any(|r| r.rule == "tree.share_not_found"));
    let comp = common::fields(&cap, &["-Y", "smbdiag.compressed"], &["frame.number", "smbdiag.compressed"]);
    assert_eq!(comp.len(), 2, "{comp:?}");
    assert_eq!(comp[0][0], "18");
    assert!(comp[0][1].ends_with("not decompressed: the compressed data ends early (cut by the capture, or not what the header says)"), "{comp:?}");
    assert_eq!(comp[1][0], "19");
    assert!(comp[1][1].ends_with("not decompressed: algorithm LZ4 (0x0005) is not one smbdiag decompresses"), "{comp:?}");
    // No message decoded from either frame; Wireshark shows no message in frame 18
    // and, in 19, nothing (4.4, 4.6) or only the uncompressed first payload's
    // header, marked malformed (4.0): it does not decompress either whole.
    let sd = common::fields(&cap, &["-Y", "smbdiag.cmd && (frame.number == 18 || frame.number == 19)"], &["frame.number"]);
    assert!(sd.is_empty(), "{sd:?}");
    let ws = common::fields(&cap, &["-Y", "frame.number == 18 || frame.number == 19"], &["frame.number", "smb2.cmd", "_ws.malformed"]);
    assert_eq!(ws[0][1], "", "{ws:?}");
    match ws[1][1].as_str() {
        "" => {}
        "3" => assert!(!ws[1][2].is_empty(), "frame 19 malformed for Wireshark: {ws:?}"),
        other => panic!("Wireshark decoded command {other} in frame 19: {ws:?}"),
    }
    // The plain fixture raises no such note.
    assert!(!common::findings(&fixture(), &[]).iter().any(|r| r.rule.starts_with("decode.")));
}
