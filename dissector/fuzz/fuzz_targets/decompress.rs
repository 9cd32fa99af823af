//! SMB 3.1.1 decompression on attacker-controlled bytes: a compression
//! transform header with any sizes, chained or not, over LZNT1, plain LZ77,
//! LZ77+Huffman and Pattern_V1 payloads. It must end, never panic, and never
//! produce more than its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::smb::compression::{decompress_message, MAX_DECOMPRESSED};

fuzz_target!(|data: &[u8]| {
    // The magic is given, so every input exercises the decoders.
    let mut msg = b"\xfcSMB".to_vec();
    msg.extend_from_slice(data);
    if let Ok(out) = decompress_message(&msg) {
        assert!(out.len() <= MAX_DECOMPRESSED);
    }
});
