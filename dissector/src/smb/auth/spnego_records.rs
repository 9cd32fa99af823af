//! SPNEGO (RFC 4178) and the GSS-API token framing (RFC 2743 3.1) around the
//! mechanism tokens, walked with asn1-rs; Kerberos messages parsed by
//! kerberos-parser.

use der_parser::asn1_rs::{Any, Class, FromBer, FromDer};

use super::{ntlmssp_records, AuthInfo, AuthToken, Mechanism};

const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
const OID_KRB5_U2U: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x03];
const OID_NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];

fn mechanism(oid: &[u8]) -> Mechanism {
    match oid {
        OID_NTLMSSP => Mechanism::Ntlm,
        OID_KRB5 | OID_MS_KRB5 | OID_KRB5_U2U => Mechanism::Kerberos,
        OID_NEGOEX => Mechanism::Negoex,
        _ => Mechanism::Unknown,
    }
}

/// Children of a constructed object (bounded).
fn children(data: &[u8]) -> Vec<Any<'_>> {
    crate::ber::children(data, 32)
}

/// Decode a SESSION_SETUP security blob. Never panics; unknown input gives
/// an empty `AuthInfo`.
pub fn parse_security_blob(blob: &[u8]) -> AuthInfo {
    if blob.starts_with(b"NTLMSSP\0") {
        return AuthInfo { token: ntlmssp_records::parse_ntlmssp(blob), ..Default::default() };
    }
    let Ok((_, top)) = Any::from_ber(blob) else { return AuthInfo::default() };
    match (top.header.class(), top.header.tag().0) {
        // GSS-API InitialContextToken: thisMech OID then the inner token.
        (Class::Application, 0) => {
            let Ok((inner, oid)) = Any::from_ber(top.data) else { return AuthInfo::default() };
            if oid.data == OID_SPNEGO {
                match Any::from_ber(inner) {
                    Ok((_, nego)) => negotiation_token(&nego),
                    Err(_) => AuthInfo::default(),
                }
            } else {
                AuthInfo { token: mech_token(top.data), ..Default::default() }
            }
        }
        (Class::ContextSpecific, _) => negotiation_token(&top),
        _ => AuthInfo::default(),
    }
}

/// NegotiationToken ::= CHOICE { negTokenInit [0], negTokenResp [1] }.
fn negotiation_token(nego: &Any<'_>) -> AuthInfo {
    let mut info = AuthInfo::default();
    if nego.header.class() != Class::ContextSpecific {
        return info;
    }
    let Ok((_, seq)) = Any::from_ber(nego.data) else { return info };
    for field in children(seq.data) {
        if field.header.class() != Class::ContextSpecific {
            continue;
        }
        let Ok((_, value)) = Any::from_ber(field.data) else { continue };
        match (nego.header.tag().0, field.header.tag().0) {
            // negTokenInit.mechTypes
            (0, 0) => info.mechs_offered = children(value.data).iter().map(|o| mechanism(o.data)).collect(),
            // negTokenInit.mechToken, negTokenResp.responseToken
            (0, 2) | (1, 2) => info.token = mech_token_any(value.data),
            // negTokenResp.negState (ENUMERATED)
            (1, 0) => info.neg_state = value.data.first().map(|&b| b as u32),
            // negTokenResp.supportedMech: remembered when no token says more
            (1, 1) => {
                if info.token.is_none() && mechanism(value.data) == Mechanism::Negoex {
                    info.token = Some(AuthToken::Other(Mechanism::Negoex));
                }
            }
            _ => {}
        }
    }
    info
}

/// A mechanism token: raw NTLMSSP, or a GSS-wrapped / bare Kerberos message.
fn mech_token_any(tok: &[u8]) -> Option<AuthToken> {
    if tok.starts_with(b"NTLMSSP\0") {
        return ntlmssp_records::parse_ntlmssp(tok);
    }
    let (_, top) = Any::from_ber(tok).ok()?;
    if top.header.class() == Class::Application && top.header.tag().0 == 0 {
        return mech_token(top.data);
    }
    kerberos(tok)
}

/// Inside a GSS-API framing: OID, then for Kerberos a 2-byte token id and the message.
fn mech_token(data: &[u8]) -> Option<AuthToken> {
    let (rest, oid) = Any::from_ber(data).ok()?;
    match mechanism(oid.data) {
        Mechanism::Kerberos => kerberos(rest.get(2..)?),
        Mechanism::Ntlm => ntlmssp_records::parse_ntlmssp(rest),
        Mechanism::Negoex => Some(AuthToken::Other(Mechanism::Negoex)),
        Mechanism::Unknown => None,
    }
}

fn kerberos(msg: &[u8]) -> Option<AuthToken> {
    let (_, top) = Any::from_ber(msg).ok()?;
    if top.header.class() != Class::Application {
        return None;
    }
    match top.header.tag().0 {
        14 => {
            let (_, ap) = kerberos_parser::krb5::ApReq::from_der(msg).ok()?;
            Some(AuthToken::KerberosApReq { realm: ap.ticket.realm.0.clone(), sname: ap.ticket.sname.name_string.clone() })
        }
        15 => Some(AuthToken::KerberosApRep),
        30 => {
            let code = kerberos_parser::krb5::KrbError::from_der(msg).ok().map(|(_, e)| e.error_code.0).unwrap_or(-1);
            Some(AuthToken::KerberosError { code })
        }
        _ => None,
    }
}

/// The Kerberos message (AP-REQ, AP-REP, KRB-ERROR: from its APPLICATION tag
/// on) inside a security blob, bare or in SPNEGO and GSS-API framing; what
/// keytab decryption opens. None for NTLMSSP and anything else.
pub fn kerberos_message(blob: &[u8]) -> Option<&[u8]> {
    let (_, top) = Any::from_ber(blob).ok()?;
    let token = match (top.header.class(), top.header.tag().0) {
        (Class::Application, 0) => {
            let (inner, oid) = Any::from_ber(top.data).ok()?;
            if oid.data != OID_SPNEGO {
                return krb_in_gss(top.data);
            }
            let (_, nego) = Any::from_ber(inner).ok()?;
            nego_mech_token(&nego)?
        }
        (Class::ContextSpecific, _) => nego_mech_token(&top)?,
        _ => return None,
    };
    let (_, t) = Any::from_ber(token).ok()?;
    match (t.header.class(), t.header.tag().0) {
        (Class::Application, 0) => krb_in_gss(t.data),
        (Class::Application, 14 | 15 | 30) => Some(token),
        _ => None,
    }
}

/// negTokenInit.mechToken or negTokenResp.responseToken (field [2] either way).
fn nego_mech_token<'a>(nego: &Any<'a>) -> Option<&'a [u8]> {
    let (_, seq) = Any::from_ber(nego.data).ok()?;
    let field = children(seq.data).into_iter().find(|f| f.header.class() == Class::ContextSpecific && f.header.tag().0 == 2)?;
    let (_, value) = Any::from_ber(field.data).ok()?;
    Some(value.data)
}

/// Inside GSS-API framing: the Kerberos OID, a 2-byte token id, the message.
fn krb_in_gss(data: &[u8]) -> Option<&[u8]> {
    let (rest, oid) = Any::from_ber(data).ok()?;
    (mechanism(oid.data) == Mechanism::Kerberos).then(|| rest.get(2..)).flatten()
}
