//! Whole frames through everything: link decode, IP reassembly, stream
//! reassembly, framing, SMB2 parsing, state and rules. The input is a
//! sequence of frames, each a 2-byte length then its bytes, all Ethernet, or
//! all of the link type `LINKS[n]` when the input starts with "LINK" and n;
//! then the frames are revisited (the replay path Wireshark's second pass takes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::{Analyzer, Config, FrameInput, LinkType};

/// Link types picked by the "LINK" prefix (scripts/fuzz.sh seeds them in this order).
const LINKS: [LinkType; 6] = [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null, LinkType::NetmonEvent];

fuzz_target!(|data: &[u8]| {
    let (link, data) = match data.strip_prefix(b"LINK") {
        Some([n, rest @ ..]) => (LINKS[*n as usize % LINKS.len()], rest),
        _ => (LinkType::Ethernet, data),
    };
    let mut frames = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let n = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let n = n.min(rest.len());
        frames.push(&rest[..n]);
        rest = &rest[n..];
    }
    let mut an = Analyzer::new(Config::default());
    for (i, f) in frames.iter().enumerate() {
        let input = FrameInput { number: i as u32 + 1, ts_ns: i as i64 * 1_000_000, link, data: f, interface: None };
        let _ = an.dissect(&input);
    }
    for (i, f) in frames.iter().enumerate() {
        let input = FrameInput { number: i as u32 + 1, ts_ns: 0, link, data: f, interface: None };
        let _ = an.dissect(&input);
    }
    let _ = an.summary_text();
});
