//! Decryption of Kerberos EncryptedData with a key: aes128- and
//! aes256-cts-hmac-sha1-96 (RFC 3962 on RFC 3961's simplified profile) and
//! rc4-hmac (RFC 4757). AES, CBC with ciphertext stealing, RC4, HMAC, SHA-1
//! and MD5 come from RustCrypto; only n-fold and the key derivation (RFC 3961
//! 5.1 and 5.3, a few lines) are written here, tested with the RFCs' vectors.
//! Every input length is checked: a hostile ciphertext gives an error.

use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit};
use aes::{Aes128, Aes256};
use cts::Decrypt;
use hmac::{Hmac, Mac};
use kerberos_parser::krb5::EncryptionType;
use md5::Md5;
use rc4::{Rc4, StreamCipher};
use sha1::Sha1;

/// A key usage number (RFC 4120 7.5.1): which message a key encrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUsage(pub u32);

impl KeyUsage {
    /// The ticket's enc-part, with the service's long-term key.
    pub const TICKET: KeyUsage = KeyUsage(2);
    /// The AP-REQ authenticator, with the ticket's session key.
    pub const AP_REQ_AUTHENTICATOR: KeyUsage = KeyUsage(11);
    /// The AP-REP enc-part, with the ticket's session key.
    pub const AP_REP_ENC_PART: KeyUsage = KeyUsage(12);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KrbCryptoError {
    /// An encryption type smbdiag does not decrypt (DES, 3DES, RFC 8009 SHA-2 ones).
    Unsupported,
    /// The key's length does not fit its encryption type.
    KeyLength,
    /// The ciphertext is shorter than confounder and checksum.
    TooShort,
    /// The integrity checksum does not match: another key.
    Integrity,
}

/// The encryption types smbdiag decrypts, named as RFC 3961/3962/4757 do.
pub fn etype_name(e: EncryptionType) -> String {
    match e.0 {
        17 => "aes128-cts-hmac-sha1-96".into(),
        18 => "aes256-cts-hmac-sha1-96".into(),
        23 => "rc4-hmac".into(),
        24 => "rc4-hmac-exp".into(),
        n => format!("encryption type {n}"),
    }
}

/// Whether `etype` is one smbdiag can decrypt.
pub fn supported(e: EncryptionType) -> bool {
    matches!(e.0, 17 | 18 | 23)
}

/// Decrypt `cipher` (an EncryptedData's cipher field) with `key`, checking
/// its integrity checksum; returns the plaintext without the confounder.
pub fn decrypt(etype: EncryptionType, key: &[u8], usage: KeyUsage, cipher: &[u8]) -> Result<Vec<u8>, KrbCryptoError> {
    match etype.0 {
        17 | 18 => aes_cts_hmac_sha1_decrypt(key, usage, cipher, if etype.0 == 17 { 16 } else { 32 }),
        23 => rc4_hmac_decrypt(key, usage, cipher),
        _ => Err(KrbCryptoError::Unsupported),
    }
}

// ---------------------------------------------------------------- RFC 3961

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// n-fold (RFC 3961 5.1): `input` stretched or folded to `n` bytes. The
/// input repeated to the least common multiple of the two lengths, each
/// copy rotated 13 bits further right, summed in n-byte pieces with
/// ones'-complement addition.
pub fn nfold(input: &[u8], n: usize) -> Vec<u8> {
    let k = input.len();
    if k == 0 || n == 0 {
        return vec![0; n];
    }
    let lcm = k / gcd(k, n) * n;
    let bits = k * 8;
    let bit = |pos: usize| (input[pos / 8] >> (7 - pos % 8)) & 1;
    let mut out = vec![0u8; n];
    let mut piece = vec![0u8; n];
    for start in (0..lcm).step_by(n) {
        for (j, b) in piece.iter_mut().enumerate() {
            let byte = start + j;
            let rot = (13 * (byte / k)) % bits;
            let first = (byte % k) * 8;
            *b = (0..8).fold(0u8, |acc, t| acc | bit((first + t + bits - rot) % bits) << (7 - t));
        }
        let mut carry = 0u32;
        for i in (0..n).rev() {
            let s = out[i] as u32 + piece[i] as u32 + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        // Ones' complement: the carry out of the top goes back in at the bottom.
        while carry > 0 {
            for i in (0..n).rev() {
                let s = out[i] as u32 + carry;
                out[i] = s as u8;
                carry = s >> 8;
                if carry == 0 {
                    break;
                }
            }
        }
    }
    out
}

/// One AES block encrypted with `key` (16 or 32 bytes).
fn aes_block(key: &[u8], block: &mut [u8; 16]) -> Result<(), KrbCryptoError> {
    let b = aes::Block::from_mut_slice(block);
    match key.len() {
        16 => Aes128::new_from_slice(key).map_err(|_| KrbCryptoError::KeyLength)?.encrypt_block(b),
        32 => Aes256::new_from_slice(key).map_err(|_| KrbCryptoError::KeyLength)?.encrypt_block(b),
        _ => return Err(KrbCryptoError::KeyLength),
    }
    Ok(())
}

/// DK(base, constant) for the AES types (RFC 3961 5.1, RFC 3962 6):
/// DR's blocks E(n-fold(constant)), E(previous), ... up to the key length;
/// random-to-key is the identity for AES.
pub fn aes_dk(base: &[u8], constant: &[u8]) -> Result<Vec<u8>, KrbCryptoError> {
    let mut block: [u8; 16] = nfold(constant, 16).try_into().map_err(|_| KrbCryptoError::KeyLength)?;
    let mut out = Vec::with_capacity(base.len());
    while out.len() < base.len() {
        aes_block(base, &mut block)?;
        out.extend_from_slice(&block);
    }
    out.truncate(base.len());
    Ok(out)
}

fn usage_constant(usage: KeyUsage, last: u8) -> [u8; 5] {
    let u = usage.0.to_be_bytes();
    [u[0], u[1], u[2], u[3], last]
}

/// RFC 3962: confounder (one block) and plaintext encrypted with AES-CTS
/// (CBC, IV zero, the last two blocks swapped), then HMAC-SHA1 of the
/// plaintext with Ki, truncated to 96 bits.
fn aes_cts_hmac_sha1_decrypt(key: &[u8], usage: KeyUsage, cipher: &[u8], key_len: usize) -> Result<Vec<u8>, KrbCryptoError> {
    const MAC_LEN: usize = 12;
    if key.len() != key_len {
        return Err(KrbCryptoError::KeyLength);
    }
    if cipher.len() < 16 + MAC_LEN {
        return Err(KrbCryptoError::TooShort);
    }
    let (body, mac) = cipher.split_at(cipher.len() - MAC_LEN);
    let ke = aes_dk(key, &usage_constant(usage, 0xAA))?;
    let ki = aes_dk(key, &usage_constant(usage, 0x55))?;
    let mut plain = body.to_vec();
    if plain.len() == 16 {
        // One block: no stealing, plain ECB (CBC with a zero IV).
        let mut b: [u8; 16] = plain.as_slice().try_into().map_err(|_| KrbCryptoError::TooShort)?;
        aes_decrypt_block(&ke, &mut b)?;
        plain.copy_from_slice(&b);
    } else {
        let iv = [0u8; 16];
        let r = match key_len {
            16 => cts::CbcCs3Dec::<Aes128>::new_from_slices(&ke, &iv).map_err(|_| KrbCryptoError::KeyLength)?.decrypt(&mut plain),
            _ => cts::CbcCs3Dec::<Aes256>::new_from_slices(&ke, &iv).map_err(|_| KrbCryptoError::KeyLength)?.decrypt(&mut plain),
        };
        r.map_err(|_| KrbCryptoError::TooShort)?;
    }
    let mut h = <Hmac<Sha1> as Mac>::new_from_slice(&ki).map_err(|_| KrbCryptoError::KeyLength)?;
    h.update(&plain);
    if h.finalize().into_bytes()[..MAC_LEN] != *mac {
        return Err(KrbCryptoError::Integrity);
    }
    Ok(plain.split_off(16))
}

fn aes_decrypt_block(key: &[u8], block: &mut [u8; 16]) -> Result<(), KrbCryptoError> {
    use aes::cipher::BlockDecrypt;
    let b = aes::Block::from_mut_slice(block);
    match key.len() {
        16 => Aes128::new_from_slice(key).map_err(|_| KrbCryptoError::KeyLength)?.decrypt_block(b),
        32 => Aes256::new_from_slice(key).map_err(|_| KrbCryptoError::KeyLength)?.decrypt_block(b),
        _ => return Err(KrbCryptoError::KeyLength),
    }
    Ok(())
}

// ---------------------------------------------------------------- RFC 4757

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC key of any length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// RFC 4757: checksum (16) then RC4 of confounder (8) and plaintext.
/// K1 = HMAC-MD5(key, usage), K3 = HMAC-MD5(K1, checksum), the checksum is
/// HMAC-MD5(K1, confounder + plaintext). (Usage 3 is sent as 8; the AP
/// exchange's usages are sent as they are.)
fn rc4_hmac_decrypt(key: &[u8], usage: KeyUsage, cipher: &[u8]) -> Result<Vec<u8>, KrbCryptoError> {
    if key.len() != 16 {
        return Err(KrbCryptoError::KeyLength);
    }
    if cipher.len() < 16 + 8 {
        return Err(KrbCryptoError::TooShort);
    }
    let ms_usage = if usage.0 == 3 { 8 } else { usage.0 };
    let k1 = hmac_md5(key, &ms_usage.to_le_bytes());
    let (checksum, body) = cipher.split_at(16);
    let k3 = hmac_md5(&k1, checksum);
    let mut plain = body.to_vec();
    Rc4::new(&k3.into()).apply_keystream(&mut plain);
    if hmac_md5(&k1, &plain) != checksum {
        return Err(KrbCryptoError::Integrity);
    }
    Ok(plain.split_off(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::crypto::keys::parse_hex;

    fn hex(s: &str) -> Vec<u8> {
        parse_hex(s).unwrap()
    }

    /// RFC 3961 A.1.
    #[test]
    fn nfold_matches_rfc3961_vectors() {
        let cases: &[(&str, usize, &str)] = &[
            ("012345", 64, "be072631276b1955"),
            ("password", 56, "78a07b6caf85fa"),
            ("Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"),
            ("password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"),
            ("MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192, "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"),
            ("Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"),
            ("ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
            ("kerberos", 64, "6b65726265726f73"),
            ("kerberos", 128, "6b65726265726f737b9b5b2b93132b93"),
            ("kerberos", 168, "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4"),
            ("kerberos", 256, "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4"),
        ];
        for (input, bits, want) in cases {
            assert_eq!(nfold(input.as_bytes(), bits / 8), hex(want), "{bits}-fold({input:?})");
        }
    }

    /// RFC 3962 B: string-to-key is DK(PBKDF2-HMAC-SHA1(pass, salt, iter), "kerberos"),
    /// so its vectors check n-fold, DR and DK for both AES key sizes.
    #[test]
    fn aes_key_derivation_matches_rfc3962_string_to_key_vectors() {
        let cases: &[(u32, &str, &str)] = &[
            (1, "42263c6e89f4fc28b8df68ee09799f15", "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161"),
            (2, "c651bf29e2300ac27fa469d693bdda13", "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff"),
            (1200, "4c01cd46d632d01e6dbe230a01ed642a", "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a"),
        ];
        for (iter, k128, k256) in cases {
            for want in [k128, k256] {
                let mut tkey = vec![0u8; want.len() / 2];
                pbkdf2::pbkdf2::<Hmac<Sha1>>(b"password", b"ATHENA.MIT.EDUraeburn", *iter, &mut tkey).unwrap();
                assert_eq!(aes_dk(&tkey, b"kerberos").unwrap(), hex(want), "{} bits, {iter} iterations", tkey.len() * 8);
            }
        }
    }

    /// RFC 3962 B: AES-128 CBC-CTS with IV 0 under "chicken teriyaki",
    /// a 17-byte message (cts's CS3 is Kerberos' swap of the last two blocks).
    #[test]
    fn cts_matches_rfc3962_vector() {
        let key = b"chicken teriyaki";
        let mut c = hex("c6353568f2bf8cb4d8a580362da7ff7f97");
        cts::CbcCs3Dec::<Aes128>::new_from_slices(key, &[0; 16]).unwrap().decrypt(&mut c).unwrap();
        assert_eq!(c, hex("4920776f756c64206c696b652074686520"));
    }

    #[test]
    fn short_or_foreign_input_is_an_error_not_a_panic() {
        let k = [7u8; 32];
        assert_eq!(decrypt(EncryptionType(18), &k, KeyUsage::TICKET, &[0; 27]), Err(KrbCryptoError::TooShort));
        assert_eq!(decrypt(EncryptionType(18), &k, KeyUsage::TICKET, &[0; 28]), Err(KrbCryptoError::Integrity));
        assert_eq!(decrypt(EncryptionType(18), &k, KeyUsage::TICKET, &[0; 45]), Err(KrbCryptoError::Integrity));
        assert_eq!(decrypt(EncryptionType(17), &k, KeyUsage::TICKET, &[0; 45]), Err(KrbCryptoError::KeyLength));
        assert_eq!(decrypt(EncryptionType(23), &k[..16], KeyUsage::TICKET, &[0; 23]), Err(KrbCryptoError::TooShort));
        assert_eq!(decrypt(EncryptionType(23), &k[..16], KeyUsage::TICKET, &[0; 40]), Err(KrbCryptoError::Integrity));
        assert_eq!(decrypt(EncryptionType(16), &k[..24], KeyUsage::TICKET, &[0; 40]), Err(KrbCryptoError::Unsupported));
    }
}
