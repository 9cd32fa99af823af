//! The KDC messages diagnosis needs, read with kerberos-parser: which service
//! a client asked a ticket for (AS-REQ, TGS-REQ), that a ticket came back
//! (AS-REP, TGS-REP), and the KDC's errors (KRB-ERROR: code, principals).

use std::fmt;

use der_parser::asn1_rs::{Any, Class, FromBer, FromDer};
use kerberos_parser::krb5::{ErrorCode, KrbError, MessageType, PrincipalName, Realm};

/// RFC 4120 5: every message carries protocol version 5.
const KRB5_PVNO: u32 = 5;

/// A principal as sent: name components and realm ("cifs/files.lab.test@LAB.TEST").
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Principal {
    pub name: Vec<String>,
    pub realm: String,
}

impl Principal {
    fn new(name: &PrincipalName, realm: &Realm) -> Option<Principal> {
        (!name.name_string.is_empty()).then(|| Principal { name: name.name_string.clone(), realm: realm.0.clone() })
    }

    /// First component: "cifs", "host", "krbtgt".
    pub fn service(&self) -> &str {
        self.name.first().map(String::as_str).unwrap_or("")
    }

    /// Second component of a two-part service name: the host ("files.lab.test").
    pub fn host(&self) -> Option<&str> {
        match self.name.as_slice() {
            [_, host] | [_, host, _] => Some(host),
            _ => None,
        }
    }

    /// A ticket-granting ticket (krbtgt/REALM): the client's own logon.
    pub fn is_tgt(&self) -> bool {
        self.service().eq_ignore_ascii_case("krbtgt")
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name.join("/"))?;
        if !self.realm.is_empty() {
            write!(f, "@{}", self.realm)?;
        }
        Ok(())
    }
}

/// A KRB-ERROR from the KDC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdcError {
    pub code: ErrorCode,
    /// The service the error is about (empty in the message is None: Samba
    /// leaves it out of KDC_ERR_S_PRINCIPAL_UNKNOWN).
    pub service: Option<Principal>,
    pub client: Option<Principal>,
    pub etext: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KdcMessage {
    /// AS-REQ or TGS-REQ, with the service asked for.
    Request { kind: MessageType, service: Option<Principal> },
    /// AS-REP or TGS-REP: a ticket was issued.
    Reply { kind: MessageType },
    Error(KdcError),
}

/// The RFC 4120 name of an error code ("KDC_ERR_S_PRINCIPAL_UNKNOWN"), or
/// "Kerberos error N" for a code kerberos-parser does not name.
pub fn error_name(code: ErrorCode) -> String {
    // kerberos-parser's Debug names the codes it knows and prints others as ErrorCode(n).
    let name = format!("{code:?}");
    if name.starts_with("ErrorCode(") {
        format!("Kerberos error {}", code.0)
    } else {
        name
    }
}

/// Read one record's message (`whole`: all its bytes are there). None for
/// anything else: other messages, garbage, cut requests or errors.
pub fn read_message(rec: &[u8], whole: bool) -> Option<KdcMessage> {
    let tag = application_tag(rec)?;
    match MessageType(tag) {
        MessageType::KRB_AS_REQ | MessageType::KRB_TGS_REQ if whole => {
            // Field by field rather than KdcReq::from_der: Heimdal and Samba
            // encode the UInt32 nonce as a negative 4-byte INTEGER, which
            // kerberos-parser rejects (about every other request).
            let f = fields(rec, tag, 1)?;
            let body = f.iter().find(|a| a.header.tag().0 == REQ_BODY)?;
            let (_, body) = Any::from_ber(body.data).ok()?;
            let (mut realm, mut sname) = (None, None);
            for a in children(body.data) {
                match a.header.tag().0 {
                    REQ_BODY_REALM => realm = Realm::from_der(a.data).ok().map(|(_, r)| r),
                    REQ_BODY_SNAME => sname = PrincipalName::from_der(a.data).ok().map(|(_, n)| n),
                    _ => {}
                }
            }
            let realm = realm?;
            Some(KdcMessage::Request { kind: MessageType(tag), service: sname.as_ref().and_then(|n| Principal::new(n, &realm)) })
        }
        // A reply carrying a large ticket may be cut at the keep limit: its type is what counts.
        MessageType::KRB_AS_REP | MessageType::KRB_TGS_REP => {
            if whole {
                fields(rec, tag, 0)?;
            }
            Some(KdcMessage::Reply { kind: MessageType(tag) })
        }
        MessageType::KRB_ERROR if whole => {
            let (_, e) = KrbError::from_der(rec).ok()?;
            (e.pvno == KRB5_PVNO && e.msg_type == MessageType::KRB_ERROR).then(|| {
                KdcMessage::Error(KdcError {
                    code: e.error_code,
                    service: Principal::new(&e.sname, &e.realm),
                    client: e.cname.as_ref().and_then(|c| Principal::new(c, e.crealm.as_ref().unwrap_or(&Realm(String::new())))),
                    etext: e.etext.filter(|t| !t.is_empty()),
                })
            })
        }
        _ => None,
    }
}

/// KDC-REQ ::= SEQUENCE { pvno [1], msg-type [2], padata [3], req-body [4] }
/// (KDC-REP starts at [0]); KDC-REQ-BODY: realm [2], sname [3] (RFC 4120 5.4.1).
const REQ_BODY: u32 = 4;
const REQ_BODY_REALM: u32 = 2;
const REQ_BODY_SNAME: u32 = 3;

/// The context-tagged fields of an [APPLICATION tag] SEQUENCE whose pvno
/// (at `first_field`) is 5 and msg-type (next) is `tag`. None otherwise.
fn fields(rec: &[u8], tag: u32, first_field: u32) -> Option<Vec<Any<'_>>> {
    let (_, app) = Any::from_ber(rec).ok()?;
    let (_, seq) = Any::from_ber(app.data).ok()?;
    let f = children(seq.data);
    let int = |t: u32| f.iter().find(|a| a.header.class() == Class::ContextSpecific && a.header.tag().0 == t).and_then(|a| u32::from_der(a.data).ok()).map(|(_, v)| v);
    (int(first_field) == Some(KRB5_PVNO) && int(first_field + 1) == Some(tag)).then_some(f)
}

/// Children of a constructed value (bounded: a KDC message has a dozen fields).
fn children(data: &[u8]) -> Vec<Any<'_>> {
    crate::ber::children(data, 16)
}

/// The [APPLICATION n] tag of the outer identifier (RFC 4120 5.10), from the
/// first byte alone so a cut reply is still recognised.
fn application_tag(rec: &[u8]) -> Option<u32> {
    const CLASS_MASK: u8 = 0xc0;
    const CONSTRUCTED: u8 = 0x20;
    const TAG_MASK: u8 = 0x1f;
    let b = *rec.first()?;
    let class_application = (Class::Application as u8) << 6;
    let tag = b & TAG_MASK;
    // Tags 31 and up take more bytes; no KDC message uses them.
    (b & CLASS_MASK == class_application && b & CONSTRUCTED != 0 && tag != TAG_MASK).then_some(tag as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kerberos::real_bytes::*;
    use crate::smb::records::test_util::hex;

    /// The DER of a whole record (its mark dropped).
    fn body(parts: &[&str]) -> Vec<u8> {
        let b: Vec<u8> = parts.iter().flat_map(|p| hex(p)).collect();
        b[4..].to_vec()
    }

    #[test]
    fn error_from_samba_kdc() {
        let e = body(&[KRB_ERROR_S_PRINCIPAL_UNKNOWN]);
        match read_message(&e, true) {
            Some(KdcMessage::Error(k)) => {
                assert_eq!(k.code, ErrorCode::KDC_ERR_S_PRINCIPAL_UNKNOWN);
                assert_eq!(error_name(k.code), "KDC_ERR_S_PRINCIPAL_UNKNOWN");
                // Samba names no service in this error (Wireshark shows 0 sname items too).
                assert_eq!(k.service, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_name_the_service() {
        match read_message(&body(&[TGS_REQ_PART1, TGS_REQ_PART2]), true) {
            Some(KdcMessage::Request { kind, service: Some(p) }) => {
                assert_eq!(kind, MessageType::KRB_TGS_REQ);
                assert_eq!(p.to_string(), "cifs/files.lab.test@LAB.TEST");
                assert_eq!(p.host(), Some("files.lab.test"));
            }
            other => panic!("{other:?}"),
        }
        // kerberos-parser's KdcReq rejects this one (negative nonce); the service is still read.
        match read_message(&body(&[TGS_REQ_NEGATIVE_NONCE_PART1, TGS_REQ_NEGATIVE_NONCE_PART2]), true) {
            Some(KdcMessage::Request { service: Some(p), .. }) => assert_eq!(p.to_string(), "cifs/files.lab.test@LAB.TEST"),
            other => panic!("{other:?}"),
        }
        match read_message(&body(&[AS_REQ]), true) {
            Some(KdcMessage::Request { kind, service: Some(p) }) => {
                assert_eq!(kind, MessageType::KRB_AS_REQ);
                assert!(p.is_tgt());
                assert_eq!(p.to_string(), "krbtgt/LAB.TEST@LAB.TEST");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_codes_survive_as_numbers() {
        assert_eq!(error_name(ErrorCode(99)), "Kerberos error 99");
        assert_eq!(error_name(ErrorCode::KRB_AP_ERR_SKEW), "KRB_AP_ERR_SKEW");
    }

    #[test]
    fn cut_or_garbage_reads_nothing() {
        let e = body(&[KRB_ERROR_S_PRINCIPAL_UNKNOWN]);
        assert_eq!(read_message(&e, false), None);
        for n in 0..e.len() {
            assert_eq!(read_message(&e[..n], true), None, "cut at {n}");
        }
        let r = body(&[TGS_REQ_PART1, TGS_REQ_PART2]);
        for n in (0..r.len()).step_by(7) {
            let _ = read_message(&r[..n], true);
        }
        // A reply cut at the keep limit still counts as a reply.
        assert_eq!(read_message(&[0x6d, 0x82, 0x10, 0x00, 0x30], false), Some(KdcMessage::Reply { kind: MessageType::KRB_TGS_REP }));
        assert_eq!(read_message(b"GET / HTTP/1.1\r\n", true), None);
    }
}
