//! Security blobs of SESSION_SETUP: SPNEGO (RFC 4178) around NTLMSSP
//! (MS-NLMP) or Kerberos (RFC 4120) tokens. What diagnosis needs: which
//! mechanism, who, and which names the two sides used.

pub mod ntlmssp_records;
pub mod spnego_records;

pub use ntlmssp_records::{NtlmAuthenticate, NtlmChallenge};
pub use spnego_records::parse_security_blob;

/// What a security blob says.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthInfo {
    /// Mechanisms the client offered (SPNEGO negTokenInit), by name.
    pub mechs_offered: Vec<&'static str>,
    /// negTokenResp negState: 0 accept-completed, 1 accept-incomplete, 2 reject, 3 request-mic.
    pub neg_state: Option<u32>,
    pub token: Option<AuthToken>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthToken {
    NtlmNegotiate,
    NtlmChallenge(NtlmChallenge),
    NtlmAuthenticate(NtlmAuthenticate),
    /// Kerberos AP-REQ: the realm and the service principal asked for.
    KerberosApReq { realm: String, sname: Vec<String> },
    KerberosApRep,
    KerberosError { code: i32 },
    /// NEGOEX or another mechanism smbdiag does not look into.
    Other(&'static str),
}

impl AuthToken {
    pub fn mechanism(&self) -> &'static str {
        match self {
            AuthToken::NtlmNegotiate | AuthToken::NtlmChallenge(_) | AuthToken::NtlmAuthenticate(_) => "NTLM",
            AuthToken::KerberosApReq { .. } | AuthToken::KerberosApRep | AuthToken::KerberosError { .. } => "Kerberos",
            AuthToken::Other(m) => m,
        }
    }
}
