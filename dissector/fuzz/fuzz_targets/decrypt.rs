//! SMB 3 decryption on attacker-controlled bytes: a transform message with
//! any lengths, under every cipher and a key from the input; then the same
//! bytes as a plain NEGOTIATE/SESSION_SETUP fed to the key tracker.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::smb::crypto::keys::KeyTable;
use smbdiag_core::smb::crypto::tracker::ConnCrypto;
use smbdiag_core::smb::crypto::transform::decrypt;
use smbdiag_core::smb::crypto::CipherId;
use smbdiag_core::smb::records::header_records::parse_smb2_header;
use smbdiag_core::smb::records::parse_body;

fuzz_target!(|data: &[u8]| {
    // Input: cipher byte, 32 key bytes, then the message.
    if data.len() < 33 {
        return;
    }
    let (cipher, key, msg) = (CipherId(data[0] as u16 % 6), &data[1..33], &data[33..]);
    let _ = decrypt(cipher, &key[..16], msg);
    let _ = decrypt(cipher, key, msg);
    let mut t = ConnCrypto::default();
    if let Ok((_, hdr)) = parse_smb2_header(msg) {
        let body = parse_body(&hdr, msg);
        let mut pw = KeyTable::default();
        pw.add_ntlm_preference("user:password");
        t.on_message(&hdr, msg, &body, &pw);
    }
    let mut keys = KeyTable::default();
    keys.add_preference(&format!("0x{:x},{}", u64::from_le_bytes(key[..8].try_into().unwrap()), key.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    let sid = msg.get(44..52).map(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap_or(0);
    let _ = t.decrypt(sid, data[0] & 0x80 != 0, msg, &keys);
});
