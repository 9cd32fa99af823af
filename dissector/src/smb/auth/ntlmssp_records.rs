//! NTLMSSP messages (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE (the server's own
//! names in its target info) and AUTHENTICATE (who, NTLMv1 or v2, and the
//! SPN the client aimed at in MsvAvTargetName).

use nom::number::complete::{le_u16, le_u32};
use nom::IResult;

use super::AuthToken;
use crate::smb::records::{at_offset, utf16_string};

const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;

/// AV pair ids (MS-NLMP 2.2.2.1).
const AV_EOL: u16 = 0;
const AV_NB_COMPUTER: u16 = 1;
const AV_NB_DOMAIN: u16 = 2;
const AV_DNS_COMPUTER: u16 = 3;
const AV_DNS_DOMAIN: u16 = 4;
const AV_TARGET_NAME: u16 = 9;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NtlmChallenge {
    pub target_name: Option<String>,
    pub nb_computer: Option<String>,
    pub nb_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_domain: Option<String>,
    /// The server's 8-byte challenge (NTLMv2 key derivation checks the password with it).
    pub server_challenge: Option<[u8; 8]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NtlmAuthenticate {
    pub domain: String,
    pub user: String,
    pub workstation: String,
    /// NTLMv2 (NtChallengeResponse longer than 24 bytes) or v1.
    pub ntlm_v2: bool,
    /// Anonymous: no user name and no NT response.
    pub anonymous: bool,
    /// MsvAvTargetName: the SPN the client used, e.g. "cifs/data.contoso.com".
    pub target_spn: Option<String>,
    /// NtChallengeResponse (NTLMv2: NTProofStr then the client's blob), for key derivation.
    pub nt_response: Vec<u8>,
    /// EncryptedRandomSessionKey, with NEGOTIATE_KEY_EXCH.
    pub encrypted_session_key: Option<Vec<u8>>,
}

/// (len, offset) of a security buffer field at `at`.
fn field(msg: &[u8], at: usize) -> Option<&[u8]> {
    let f = msg.get(at..at + 8)?;
    let len = u16::from_le_bytes([f[0], f[1]]) as usize;
    let off = u32::from_le_bytes([f[4], f[5], f[6], f[7]]) as usize;
    if len == 0 {
        return Some(&[]);
    }
    at_offset(msg, off, len)
}

fn text(b: &[u8], unicode: bool) -> String {
    if unicode {
        utf16_string(b)
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

/// AV pairs as (id, value), stopping at MsvAvEOL or at the end of the bytes.
fn av_pairs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while out.len() < 64 {
        let r: IResult<&[u8], (u16, u16)> = (|| {
            let (i, id) = le_u16(b)?;
            let (i, len) = le_u16(i)?;
            Ok((i, (id, len)))
        })();
        let Ok((rest, (id, len))) = r else { break };
        if id == AV_EOL {
            break;
        }
        let Some(v) = rest.get(..len as usize) else { break };
        out.push((id, v));
        b = &rest[len as usize..];
    }
    out
}

pub fn parse_ntlmssp(msg: &[u8]) -> Option<AuthToken> {
    if !msg.starts_with(b"NTLMSSP\0") {
        return None;
    }
    let (_, mtype) = le_u32::<_, nom::error::Error<&[u8]>>(msg.get(8..)?).ok()?;
    match mtype {
        1 => Some(AuthToken::NtlmNegotiate),
        2 => {
            let flags = u32::from_le_bytes(msg.get(20..24)?.try_into().ok()?);
            let unicode = flags & NEGOTIATE_UNICODE != 0;
            let mut c = NtlmChallenge {
                target_name: field(msg, 12).map(|b| text(b, unicode)).filter(|s| !s.is_empty()),
                server_challenge: msg.get(24..32).and_then(|b| b.try_into().ok()),
                ..Default::default()
            };
            for (id, v) in field(msg, 40).map(av_pairs).unwrap_or_default() {
                let s = Some(utf16_string(v));
                match id {
                    AV_NB_COMPUTER => c.nb_computer = s,
                    AV_NB_DOMAIN => c.nb_domain = s,
                    AV_DNS_COMPUTER => c.dns_computer = s,
                    AV_DNS_DOMAIN => c.dns_domain = s,
                    _ => {}
                }
            }
            Some(AuthToken::NtlmChallenge(c))
        }
        3 => {
            let flags = msg.get(60..64).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(NEGOTIATE_UNICODE);
            let unicode = flags & NEGOTIATE_UNICODE != 0;
            let lm = field(msg, 12).unwrap_or(&[]);
            let nt = field(msg, 20).unwrap_or(&[]);
            let user = field(msg, 36).map(|b| text(b, unicode)).unwrap_or_default();
            // NTLMv2_CLIENT_CHALLENGE: 16-byte proof, 28 bytes of header, then AV pairs.
            let target_spn = if nt.len() > 24 {
                nt.get(44..).map(av_pairs).unwrap_or_default().into_iter().find(|(id, _)| *id == AV_TARGET_NAME).map(|(_, v)| utf16_string(v))
            } else {
                None
            };
            Some(AuthToken::NtlmAuthenticate(NtlmAuthenticate {
                domain: field(msg, 28).map(|b| text(b, unicode)).unwrap_or_default(),
                workstation: field(msg, 44).map(|b| text(b, unicode)).unwrap_or_default(),
                ntlm_v2: nt.len() > 24,
                anonymous: user.is_empty() && nt.is_empty() && lm.len() <= 1,
                user,
                target_spn,
                nt_response: nt.to_vec(),
                encrypted_session_key: field(msg, 52).filter(|k| flags & NEGOTIATE_KEY_EXCH != 0 && k.len() == 16).map(<[u8]>::to_vec),
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::smb::auth::{parse_security_blob, AuthToken};
    use crate::smb::records::real_bytes::*;
    use crate::smb::records::session_records::{parse_session_setup_request, parse_session_setup_response};
    use crate::smb::records::test_util::hex;

    #[test]
    fn challenge_and_authenticate_from_samba_inside_spnego() {
        let resp = hex(SESSION_SETUP_RESPONSE_CHALLENGE);
        let (_, s) = parse_session_setup_response(&resp).unwrap();
        match parse_security_blob(s.blob).token {
            Some(AuthToken::NtlmChallenge(c)) => {
                assert_eq!(c.nb_computer.as_deref(), Some("LABSRV"));
                assert_eq!(c.dns_computer.as_deref(), Some("vm"));
            }
            other => panic!("{other:?}"),
        }
        let req = hex(SESSION_SETUP_REQUEST_AUTH);
        let (_, r) = parse_session_setup_request(&req).unwrap();
        match parse_security_blob(r.blob).token {
            Some(AuthToken::NtlmAuthenticate(a)) => {
                assert_eq!(a.domain, "WORKGROUP");
                assert_eq!(a.user, "sdalice");
                assert_eq!(a.workstation, "VM");
                assert!(a.ntlm_v2 && !a.anonymous);
                assert_eq!(a.target_spn.as_deref(), Some("cifs/10.99.0.2"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_blobs_never_panic() {
        let req = hex(SESSION_SETUP_REQUEST_AUTH);
        let (_, r) = parse_session_setup_request(&req).unwrap();
        for n in 0..r.blob.len() {
            let _ = parse_security_blob(&r.blob[..n]);
        }
    }
}
