//! SMB 3 key derivation (MS-SMB2 3.1.4.2): NIST SP800-108 KDF in counter
//! mode with HMAC-SHA256, one block (every SMB 3 key is at most 256 bits).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CipherId;
use crate::smb::types::Dialect;

/// KDF(Ki, Label, Context) truncated to `out.len()` bytes (16 or 32).
/// `label` and `context` include their terminating NUL where MS-SMB2 names one.
pub fn kdf(ki: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    debug_assert!(out.len() <= 32);
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(ki) else { return };
    mac.update(&1u32.to_be_bytes());
    mac.update(label);
    mac.update(&[0]);
    mac.update(context);
    mac.update(&((out.len() as u32) * 8).to_be_bytes());
    let block = mac.finalize().into_bytes();
    out.copy_from_slice(&block[..out.len()]);
}

/// The two encryption keys of a session: what the client encrypts with
/// (client to server) and what the server encrypts with (server to client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CipherKeys {
    pub c2s: Vec<u8>,
    pub s2c: Vec<u8>,
}

/// Derive a session's encryption keys from its session key. SMB 3.1.1 needs
/// the session's preauthentication integrity hash; AES-256 ciphers take the
/// full session key (Kerberos gives 32 bytes), AES-128 the first 16 bytes.
pub fn derive(session_key: &[u8], dialect: Dialect, cipher: CipherId, preauth: Option<&[u8; 64]>) -> Option<CipherKeys> {
    let len = cipher.key_len()?;
    let ki: Vec<u8> = if len == 32 {
        session_key.to_vec()
    } else {
        let mut k = session_key.get(..16.min(session_key.len()))?.to_vec();
        k.resize(16, 0);
        k
    };
    let mut c2s = vec![0u8; len];
    let mut s2c = vec![0u8; len];
    if dialect == Dialect::SMB3_1_1 {
        let h = preauth?;
        kdf(&ki, b"SMBC2SCipherKey\0", h, &mut c2s);
        kdf(&ki, b"SMBS2CCipherKey\0", h, &mut s2c);
    } else if dialect.is_smb3() {
        kdf(&ki, b"SMB2AESCCM\0", b"ServerIn \0", &mut c2s);
        kdf(&ki, b"SMB2AESCCM\0", b"ServerOut\0", &mut s2c);
    } else {
        return None;
    }
    Some(CipherKeys { c2s, s2c })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        super::super::keys::parse_hex(s).unwrap()
    }

    // The 3.0 labels are checked end to end: decrypt.rs decrypts the public
    // capture with keys derived here.
    #[test]
    fn smb311_needs_the_preauth_hash_and_256_bit_ciphers_take_32_bytes() {
        let key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        assert!(derive(&key, Dialect::SMB3_1_1, CipherId::AES_128_GCM, None).is_none());
        let h = [7u8; 64];
        let k128 = derive(&key, Dialect::SMB3_1_1, CipherId::AES_128_GCM, Some(&h)).unwrap();
        let k256 = derive(&key, Dialect::SMB3_1_1, CipherId::AES_256_GCM, Some(&h)).unwrap();
        assert_eq!((k128.c2s.len(), k256.c2s.len()), (16, 32));
        // A 128-bit key uses the first 16 bytes of the session key only.
        let k128b = derive(&key[..16], Dialect::SMB3_1_1, CipherId::AES_128_GCM, Some(&h)).unwrap();
        assert_eq!(k128, k128b);
        assert!(derive(&key, Dialect::SMB2_1, CipherId::AES_128_CCM, None).is_none());
    }
}
