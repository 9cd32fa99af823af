//! One direction of a port-88 TCP stream: Kerberos record framing (chunked
//! at the sizes the first byte picks, with a capture gap when it says so)
//! and the KDC message reader on every record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::kerberos::{framing::RecordFramer, messages};
use smbdiag_core::net::reassembly::StreamChunk;

fuzz_target!(|data: &[u8]| {
    let Some((&knob, stream)) = data.split_first() else { return };
    let chunk = (knob as usize & 0x3f) + 1;
    let mut f = RecordFramer::new();
    for (i, c) in stream.chunks(chunk).enumerate() {
        if knob & 0x80 != 0 && i == 3 {
            f.feed(StreamChunk::Gap(c.len() as u32), &mut |_| {});
            continue;
        }
        f.feed(StreamChunk::Data(c), &mut |r| {
            assert!(r.data.len() <= r.declared_len);
            let _ = messages::read_message(r.data, r.is_whole());
        });
    }
    // A datagram is read whole, as on UDP.
    let _ = messages::read_message(stream, true);
});
