//! Whole frames through everything: link decode, reassembly, framing, SMB2
//! parsing, state and rules. The input is a sequence of frames, each a
//! 2-byte length then its bytes, all Ethernet; then the frames are revisited
//! (the replay path Wireshark's second pass takes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::{Analyzer, Config, FrameInput, LinkType};

fuzz_target!(|data: &[u8]| {
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
        let input = FrameInput { number: i as u32 + 1, ts_ns: i as i64 * 1_000_000, link: LinkType::Ethernet, data: f, interface: None };
        let _ = an.dissect(&input);
    }
    for (i, f) in frames.iter().enumerate() {
        let input = FrameInput { number: i as u32 + 1, ts_ns: 0, link: LinkType::Ethernet, data: f, interface: None };
        let _ = an.dissect(&input);
    }
    let _ = an.summary_text();
});
