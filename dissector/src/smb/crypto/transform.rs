//! Decrypting one TRANSFORM_HEADER message (MS-SMB2 2.2.41, 3.2.5.1.1.1):
//! the 32 header bytes after the signature are the associated data, the
//! signature is the AEAD tag, the nonce's first 11 (CCM) or 12 (GCM) bytes
//! are the nonce. RustCrypto's AEADs do the work.

use aes::{Aes128, Aes256};
use aes_gcm::aead::consts::{U11, U12, U16};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use ccm::Ccm;

use super::CipherId;
use crate::smb::records::header_records::{TRANSFORM_HEADER_LEN, TRANSFORM_MAGIC};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// Not a transform header, or shorter than one.
    NotTransform,
    /// The capture holds fewer bytes than the message (cut, or too large to keep).
    Incomplete { have: usize, need: usize },
    /// The key or cipher is wrong for this message (or its bytes were altered).
    TagMismatch,
    /// A cipher id smbdiag does not know.
    UnknownCipher,
}

type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;
type Aes128Gcm = AesGcm<Aes128, U12>;
type Aes256Gcm = AesGcm<Aes256, U12>;

fn open<A: KeyInit + AeadInPlace>(key: &[u8], nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), DecryptError> {
    let a = A::new_from_slice(key).map_err(|_| DecryptError::UnknownCipher)?;
    // Both nonce sizes come from the 16-byte nonce field and the tag is 16
    // bytes: the slices have the sizes the types want.
    a.decrypt_in_place_detached(nonce.into(), aad, buf, tag.into()).map_err(|_| DecryptError::TagMismatch)
}

/// Decrypt the transform message `pdu` (starting at its 0xFD 'S' 'M' 'B'
/// magic) with `key`; returns the plain SMB2 message(s) it carries.
pub fn decrypt(cipher: CipherId, key: &[u8], pdu: &[u8]) -> Result<Vec<u8>, DecryptError> {
    if pdu.len() < TRANSFORM_HEADER_LEN || &pdu[..4] != TRANSFORM_MAGIC {
        return Err(DecryptError::NotTransform);
    }
    let tag = &pdu[4..20];
    let nonce = &pdu[20..36];
    let size = u32::from_le_bytes([pdu[36], pdu[37], pdu[38], pdu[39]]) as usize;
    let aad = &pdu[20..TRANSFORM_HEADER_LEN];
    let need = TRANSFORM_HEADER_LEN.saturating_add(size);
    let Some(ct) = pdu.get(TRANSFORM_HEADER_LEN..need) else {
        return Err(DecryptError::Incomplete { have: pdu.len(), need });
    };
    if cipher.key_len() != Some(key.len()) {
        return Err(DecryptError::UnknownCipher);
    }
    let mut buf = ct.to_vec();
    match cipher {
        CipherId::AES_128_CCM => open::<Aes128Ccm>(key, &nonce[..11], aad, &mut buf, tag)?,
        CipherId::AES_256_CCM => open::<Aes256Ccm>(key, &nonce[..11], aad, &mut buf, tag)?,
        CipherId::AES_128_GCM => open::<Aes128Gcm>(key, &nonce[..12], aad, &mut buf, tag)?,
        CipherId::AES_256_GCM => open::<Aes256Gcm>(key, &nonce[..12], aad, &mut buf, tag)?,
        _ => return Err(DecryptError::UnknownCipher),
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::crypto::kdf::derive;
    use crate::smb::crypto::keys::parse_hex;
    use crate::smb::records::header_records::parse_smb2_header;
    use crate::smb::types::{Command, Dialect};

    /// Transform PDUs of a capture, in order (NBSS payloads of TCP segments
    /// that start with one; the public capture has one PDU per segment).
    pub(crate) fn transform_pdus(cap: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        crate::capture_file::for_each_frame(cap, &mut |f| {
            if let Some(i) = f.data.windows(4).position(|w| w == TRANSFORM_MAGIC) {
                out.push((f.number, f.data[i..].to_vec()));
            }
        })
        .unwrap();
        out
    }

    /// zeek-zeek/smb3.pcap: SMB 3.0, AES-128-CCM, session key from the
    /// Wireshark wiki. Frame 9 is the first encrypted one, an IOCTL request
    /// (tshark with the same key agrees: tests/decrypt.rs compares every frame).
    #[test]
    fn decrypts_the_public_smb30_capture_and_rejects_a_wrong_key() {
        let cap = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/captures/public/zeek-zeek/smb3.pcap")).unwrap();
        let keys = derive(&parse_hex("28f2847263c83dc00621f742dd3f2e7b").unwrap(), Dialect::SMB3_0, CipherId::AES_128_CCM, None).unwrap();
        let pdus = transform_pdus(&cap);
        assert_eq!(pdus.len(), 44);
        let (frame, first) = &pdus[0];
        let plain = decrypt(CipherId::AES_128_CCM, &keys.c2s, first).unwrap();
        let (_, h) = parse_smb2_header(&plain).unwrap();
        assert_eq!((*frame, h.command, h.is_response()), (9, Command::IOCTL, false));
        // Every PDU opens with one of the two keys, by direction.
        for (_, p) in &pdus {
            let ok = decrypt(CipherId::AES_128_CCM, &keys.c2s, p).or_else(|_| decrypt(CipherId::AES_128_CCM, &keys.s2c, p));
            assert!(ok.is_ok_and(|m| m.starts_with(b"\xfeSMB")));
        }
        // The wrong direction's key, a wrong cipher, a flipped bit: tag mismatch, no bytes.
        assert_eq!(decrypt(CipherId::AES_128_CCM, &keys.s2c, first), Err(DecryptError::TagMismatch));
        assert_eq!(decrypt(CipherId::AES_128_GCM, &keys.c2s, first), Err(DecryptError::TagMismatch));
        let mut bad = first.clone();
        bad[60] ^= 1;
        assert_eq!(decrypt(CipherId::AES_128_CCM, &keys.c2s, &bad), Err(DecryptError::TagMismatch));
        // Cut: incomplete, never a partial decryption.
        assert!(matches!(decrypt(CipherId::AES_128_CCM, &keys.c2s, &first[..first.len() - 1]), Err(DecryptError::Incomplete { .. })));
        assert_eq!(decrypt(CipherId::AES_128_CCM, &keys.c2s, &first[..51]), Err(DecryptError::NotTransform));
    }

    #[test]
    fn garbage_never_panics() {
        let mut st = 0x1234_5678;
        for n in 0..300 {
            let mut g = crate::test_support::garbage(&mut st, n);
            if g.len() >= 4 {
                g[..4].copy_from_slice(TRANSFORM_MAGIC);
            }
            for c in 0..6u16 {
                let _ = decrypt(CipherId(c), &[0u8; 16], &g);
                let _ = decrypt(CipherId(c), &[0u8; 32], &g);
            }
        }
    }
}
