//! The session key of an NTLMv2 logon from the user's password or NT hash
//! (MS-NLMP 3.3.2 and 3.4.5.1): ResponseKeyNT = HMAC-MD5(NT hash,
//! UPPER(user) + domain), checked against the NTProofStr the client sent,
//! SessionBaseKey = HMAC-MD5(ResponseKeyNT, NTProofStr), and with key
//! exchange the exported key is RC4(SessionBaseKey, EncryptedRandomSessionKey).

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use rc4::{KeyInit, Rc4, StreamCipher};

use crate::smb::auth::NtlmAuthenticate;

/// A password or NT hash for an account (`[DOMAIN\]user`; no domain: any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtlmSecret {
    pub domain: Option<String>,
    pub user: String,
    pub nt_hash: [u8; 16],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtlmKeyError {
    /// NTLMv1, anonymous, or a response too short to hold an NTLMv2 proof.
    NotV2,
    /// The password does not produce the client's NTProofStr.
    WrongPassword,
}

pub fn nt_hash(password: &str) -> [u8; 16] {
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Md4::digest(&utf16).into()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC key of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl NtlmSecret {
    /// `[DOMAIN\]user:password` or `[DOMAIN\]user:nt=<32 hex digits>`.
    pub fn parse(entry: &str) -> Option<NtlmSecret> {
        let (who, secret) = entry.split_once(':')?;
        let (domain, user) = match who.split_once('\\') {
            Some((d, u)) => (Some(d.to_string()), u.to_string()),
            None => (None, who.to_string()),
        };
        if user.is_empty() {
            return None;
        }
        let nt_hash = match secret.strip_prefix("nt=") {
            Some(h) => super::keys::parse_hex(h)?.try_into().ok()?,
            None => nt_hash(secret),
        };
        Some(NtlmSecret { domain, user, nt_hash })
    }

    pub fn matches(&self, a: &NtlmAuthenticate) -> bool {
        self.user.eq_ignore_ascii_case(&a.user) && self.domain.as_ref().map_or(true, |d| d.eq_ignore_ascii_case(&a.domain))
    }

    /// The session key of the logon `a` answering `server_challenge`.
    pub fn session_key(&self, a: &NtlmAuthenticate, server_challenge: Option<&[u8; 8]>) -> Result<[u8; 16], NtlmKeyError> {
        if a.nt_response.len() <= 24 {
            return Err(NtlmKeyError::NotV2);
        }
        let (proof, blob) = a.nt_response.split_at(16);
        let identity: Vec<u8> = a.user.to_uppercase().encode_utf16().chain(a.domain.encode_utf16()).flat_map(u16::to_le_bytes).collect();
        let response_key = hmac_md5(&self.nt_hash, &[&identity]);
        // With the server's challenge in the capture, the password is checked, not assumed.
        if let Some(ch) = server_challenge {
            if hmac_md5(&response_key, &[ch, blob]) != proof {
                return Err(NtlmKeyError::WrongPassword);
            }
        }
        let base = hmac_md5(&response_key, &[proof]);
        Ok(match &a.encrypted_session_key {
            Some(enc) => {
                let mut k: [u8; 16] = enc.as_slice().try_into().map_err(|_| NtlmKeyError::NotV2)?;
                Rc4::new(&base.into()).apply_keystream(&mut k);
                k
            }
            None => base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::auth::{parse_security_blob, AuthToken};
    use crate::smb::records::header_records::parse_smb2_header;
    use crate::smb::records::{parse_body, Body};

    /// MS-NLMP 4.2.1: the NT hash of "Password".
    #[test]
    fn nt_hash_of_the_spec_example() {
        assert_eq!(nt_hash("Password").to_vec(), super::super::keys::parse_hex("a4f49c406510bdcab6824ee7c30fd852").unwrap());
    }

    /// The lab's encrypted capture: the password gives the session key smbclient logged.
    #[test]
    fn lab_password_gives_the_logged_session_key() {
        let cap = crate::test_support::lab_capture("encrypted_aes128gcm.pcap");
        let logged = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/captures/lab/encrypted_aes128gcm.keys")).unwrap();
        let want = super::super::keys::parse_hex(logged.split(',').nth(1).unwrap()).unwrap();
        let (mut challenge, mut auth) = (None, None);
        crate::capture_file::for_each_frame(&cap, &mut |f| {
            let Some(i) = f.data.windows(4).position(|w| w == b"\xfeSMB") else { return };
            let msg = &f.data[i..];
            let Ok((_, h)) = parse_smb2_header(msg) else { return };
            let blob = match parse_body(&h, msg) {
                Body::SessionSetupRequest(r) => r.blob,
                Body::SessionSetupResponse(r) => r.blob,
                _ => return,
            };
            match parse_security_blob(blob).token {
                Some(AuthToken::NtlmChallenge(c)) => challenge = c.server_challenge,
                Some(AuthToken::NtlmAuthenticate(a)) => auth = Some(a),
                _ => {}
            }
        })
        .unwrap();
        let auth = auth.unwrap();
        let secret = NtlmSecret::parse("sdalice:Lab-Passw0rd").unwrap();
        assert!(secret.matches(&auth));
        assert_eq!(secret.session_key(&auth, challenge.as_ref()).unwrap().to_vec(), want);
        // The same through the NT hash; a wrong password is caught by the proof.
        let by_hash = NtlmSecret::parse(&format!("WORKGROUP\\sdalice:nt={}", nt_hash("Lab-Passw0rd").iter().map(|b| format!("{b:02x}")).collect::<String>())).unwrap();
        assert_eq!(by_hash.session_key(&auth, challenge.as_ref()).unwrap().to_vec(), want);
        let wrong = NtlmSecret::parse("sdalice:lab-passw0rd").unwrap();
        assert_eq!(wrong.session_key(&auth, challenge.as_ref()), Err(NtlmKeyError::WrongPassword));
    }
}
