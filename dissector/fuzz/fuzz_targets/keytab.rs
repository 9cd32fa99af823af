//! Keytab decryption's readers on attacker-controlled bytes: the input as a
//! keytab file, as a security blob or Kerberos message opened with the lab
//! DC's real keytab and with the keytab it itself encodes, as the decrypted
//! parts (EncTicketPart, Authenticator, EncAPRepPart), and as Kerberos
//! ciphertext under each encryption type with a key from the input. Nothing
//! may panic; every read ends.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::kerberos::ap_exchange::{enc_part_key, open_ap_rep, open_ap_req, SessionKey};
use smbdiag_core::kerberos::crypto::{decrypt, KeyUsage};
use smbdiag_core::kerberos::keytab::parse_keytab;
use smbdiag_core::smb::auth::spnego_records::kerberos_message;
use kerberos_parser::krb5::EncryptionType;

static LAB_KEYTAB: &[u8] = include_bytes!("../../../tests/captures/lab/kerberos_encrypted_share_not_found.keytab");

fuzz_target!(|data: &[u8]| {
    // Input: a knob byte (encryption type, key usage), then the bytes.
    let Some((&knob, rest)) = data.split_first() else { return };
    let own = parse_keytab(rest).unwrap_or_default();
    let lab = parse_keytab(LAB_KEYTAB).unwrap_or_default();
    let msg = kerberos_message(rest).unwrap_or(rest);
    let _ = open_ap_req(msg, &lab);
    let _ = open_ap_req(msg, &own);
    for (app, field) in [(3, 1), (2, 6), (27, 2)] {
        let _ = enc_part_key(rest, app, field);
    }
    let etype = EncryptionType([17, 18, 23][knob as usize % 3]);
    let key_len = if etype.0 == 18 { 32 } else { 16 };
    if rest.len() >= key_len {
        let (key, cipher) = rest.split_at(key_len);
        let _ = decrypt(etype, key, KeyUsage(knob as u32 >> 2), cipher);
        let _ = open_ap_rep(kerberos_message(cipher).unwrap_or(cipher), &SessionKey { etype, key: key.to_vec() });
    }
});
