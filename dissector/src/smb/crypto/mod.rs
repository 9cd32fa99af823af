//! SMB 3 encryption: the user's keys, key derivation, decryption of
//! TRANSFORM_HEADER messages, and per connection what derivation needs
//! (dialect, cipher, SMB 3.1.1 preauthentication hashes).
//! Crypto comes from RustCrypto's crates; nothing here is a hand-written cipher.

pub mod kdf;
pub mod keys;
pub mod ntlm;
pub mod tracker;
pub mod transform;

/// An SMB 3 cipher (MS-SMB2 2.2.3.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CipherId(pub u16);

impl CipherId {
    pub const AES_128_CCM: CipherId = CipherId(1);
    pub const AES_128_GCM: CipherId = CipherId(2);
    pub const AES_256_CCM: CipherId = CipherId(3);
    pub const AES_256_GCM: CipherId = CipherId(4);

    /// Key length in bytes; None for ids smbdiag does not know.
    pub fn key_len(self) -> Option<usize> {
        match self.0 {
            1 | 2 => Some(16),
            3 | 4 => Some(32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        crate::smb::records::negotiate_records::cipher_name(self.0)
    }
}
