//! Every body parser on real bytes: each SMB2 message that sits whole in one
//! frame of the lab captures and of public captures decodes (never
//! "malformed"), and every truncation of it decodes partially or fails
//! cleanly, never panics. Coverage is asserted per command.

use std::collections::BTreeMap;

use smbdiag_core::capture_file::for_each_frame;
use smbdiag_core::smb::records::header_records::parse_smb2_header;
use smbdiag_core::smb::records::{parse_body, Body};

fn captures() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut v: Vec<_> = std::fs::read_dir(root.join("tests/captures/lab")).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pcap")).collect();
    for p in ["zeek-zeek/smb2.pcap", "zeek-zeek/smb3.pcap", "zeek-zeek/smb2readwrite.pcap", "OISF-suricata-verify/smb2-async-read__input.pcap", "zeek-zeek/smb3_multichannel.pcap"] {
        v.push(root.join("tests/captures/public").join(p));
    }
    v
}

#[test]
fn whole_messages_decode_and_truncations_never_panic() {
    // (command, is response) -> messages decoded
    let mut seen: BTreeMap<(u16, bool), usize> = BTreeMap::new();
    let mut malformed = Vec::new();
    for cap in captures() {
        let data = std::fs::read(&cap).unwrap_or_else(|e| panic!("{}: {e}", cap.display()));
        for_each_frame(&data, &mut |f| {
            // The NBSS header before an SMB2 header gives the message length.
            let Some(at) = f.data.windows(4).position(|w| w == b"\xfeSMB") else { return };
            if at < 4 {
                return;
            }
            let nbss = &f.data[at - 4..at];
            let len = u32::from_be_bytes([0, nbss[1], nbss[2], nbss[3]]) as usize;
            if nbss[0] != 0 || at + len > f.data.len() {
                return; // not NBSS-framed here, or spread over several frames
            }
            let msg = &f.data[at..at + len];
            let Ok((_, hdr)) = parse_smb2_header(msg) else { return };
            if hdr.next_command != 0 {
                return; // compound: the dissector splits those; here whole single messages only
            }
            let key = (hdr.command.0, hdr.is_response());
            match parse_body(&hdr, msg) {
                Body::Malformed(why) => malformed.push(format!("{} frame {}: {:?} {why}", cap.display(), f.number, key)),
                _ => *seen.entry(key).or_default() += 1,
            }
            for n in 64..msg.len() {
                let _ = parse_body(&hdr, &msg[..n]);
            }
        })
        .unwrap();
    }
    assert!(malformed.is_empty(), "{}", malformed.join("\n"));
    // Requests and responses of at least these commands came through.
    for cmd in [0u16, 1, 3, 4, 5, 6, 8, 9, 11, 14, 15, 16, 17, 18] {
        assert!(seen.contains_key(&(cmd, false)) || seen.contains_key(&(cmd, true)), "command {cmd} not covered: {seen:?}");
    }
    assert!(seen.values().sum::<usize>() > 1000, "{seen:?}");
}
