//! Security blobs of SESSION_SETUP: SPNEGO (RFC 4178) around NTLMSSP
//! (MS-NLMP) or Kerberos (RFC 4120) tokens. What diagnosis needs: which
//! mechanism, who, and which names the two sides used.

pub mod ntlmssp_records;
pub mod spnego_records;

pub use ntlmssp_records::{NtlmAuthenticate, NtlmChallenge};
pub use spnego_records::parse_security_blob;

/// A security mechanism (SPNEGO names it by OID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Ntlm,
    Kerberos,
    Negoex,
    Unknown,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Ntlm => "NTLM",
            Mechanism::Kerberos => "Kerberos",
            Mechanism::Negoex => "NEGOEX",
            Mechanism::Unknown => "unknown",
        }
    }
}

/// Which NTLM response an AUTHENTICATE carried (MS-NLMP 3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NtlmVersion {
    V1,
    V2,
}

/// How a session authenticated, as far as the capture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Authentication {
    Ntlm(NtlmVersion),
    /// An NTLM AUTHENTICATE with no user (a null session).
    AnonymousNtlm,
    Kerberos,
    /// The server logged the client on as guest, whatever it offered.
    Guest,
}

impl Authentication {
    /// As the `smbdiag.auth` field and the findings show it.
    pub fn name(self) -> &'static str {
        match self {
            Authentication::Ntlm(NtlmVersion::V2) => "NTLMv2",
            Authentication::Ntlm(NtlmVersion::V1) => "NTLMv1",
            Authentication::AnonymousNtlm => "anonymous (NTLM)",
            Authentication::Kerberos => "Kerberos",
            Authentication::Guest => "guest",
        }
    }

    pub fn is_ntlm(self) -> bool {
        matches!(self, Authentication::Ntlm(_))
    }

    pub fn is_anonymous(self) -> bool {
        self == Authentication::AnonymousNtlm
    }
}

impl std::fmt::Display for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a security blob says.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthInfo {
    /// Mechanisms the client offered (SPNEGO negTokenInit).
    pub mechs_offered: Vec<Mechanism>,
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
    Other(Mechanism),
}

impl AuthToken {
    pub fn mechanism(&self) -> Mechanism {
        match self {
            AuthToken::NtlmNegotiate | AuthToken::NtlmChallenge(_) | AuthToken::NtlmAuthenticate(_) => Mechanism::Ntlm,
            AuthToken::KerberosApReq { .. } | AuthToken::KerberosApRep | AuthToken::KerberosError { .. } => Mechanism::Kerberos,
            AuthToken::Other(m) => *m,
        }
    }
}
