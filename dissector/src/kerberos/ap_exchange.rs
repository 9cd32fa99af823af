//! The keys of a Kerberos AP exchange (RFC 4120 3.2), opened with the
//! service's keytab: the ticket's session key (EncTicketPart.key), the
//! client's subkey (Authenticator.subkey) and the server's (EncAPRepPart.subkey).
//! Messages are read with kerberos-parser; the decrypted parts, which it does
//! not read, are walked with asn1-rs for the one field each needs.

use der_parser::asn1_rs::{Any, Class, FromDer};
use kerberos_parser::krb5::{ApRep, ApReq, EncryptedData, EncryptionType};

use super::crypto::{self, KeyUsage, KrbCryptoError};
use super::keytab::KeytabEntry;

/// A Kerberos key (EncryptionKey: keytype and keyvalue).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub etype: EncryptionType,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKey(etype {}, {} bytes)", self.etype.0, self.key.len())
    }
}

/// Why an AP-REQ's ticket could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketMiss {
    pub etype: EncryptionType,
    pub kvno: Option<u32>,
    /// Keys of the ticket's encryption type tried (0: the keytab has none).
    pub tried: u32,
    pub cause: MissCause,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissCause {
    /// The keytab has no key of the ticket's encryption type.
    NoKeyOfType,
    /// Keys were tried; none passes the ticket's checksum.
    NoKeyOpens,
    /// An encryption type smbdiag does not decrypt.
    Unsupported,
    /// Decrypted, but the content is not what RFC 4120 says.
    Malformed,
}

/// What the AP-REQ gives: the ticket's session key and the client's subkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApReqKeys {
    pub ticket_key: SessionKey,
    pub initiator_subkey: Option<SessionKey>,
}

/// A DER integer (at most 4 bytes, two's complement).
fn int32(a: &Any<'_>) -> Option<i32> {
    if a.data.is_empty() || a.data.len() > 4 {
        return None;
    }
    let mut v: i32 = if a.data[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in a.data {
        v = (v << 8) | b as i32;
    }
    Some(v)
}

/// The fields of `[APPLICATION app] SEQUENCE { ... }` as (context tag, value).
fn app_sequence_fields(plain: &[u8], app: u32) -> Option<Vec<(u32, Any<'_>)>> {
    let (_, top) = Any::from_der(plain).ok()?;
    if top.header.class() != Class::Application || top.header.tag().0 != app {
        return None;
    }
    let (_, seq) = Any::from_der(top.data).ok()?;
    let mut out = Vec::new();
    for f in crate::ber::children(seq.data, 16) {
        if f.header.class() == Class::ContextSpecific {
            let (_, v) = Any::from_der(f.data).ok()?;
            out.push((f.header.tag().0, v));
        }
    }
    Some(out)
}

/// EncryptionKey ::= SEQUENCE { keytype [0] Int32, keyvalue [1] OCTET STRING }.
fn encryption_key(seq: &Any<'_>) -> Option<SessionKey> {
    let (mut etype, mut key) = (None, None);
    for f in crate::ber::children(seq.data, 4) {
        let (_, v) = Any::from_der(f.data).ok()?;
        match f.header.tag().0 {
            0 => etype = int32(&v),
            1 => key = Some(v.data.to_vec()),
            _ => {}
        }
    }
    let key = key?;
    // A key of a length its type cannot have is a misreading, not a key.
    let ok = match etype? {
        17 | 23 | 24 => key.len() == 16,
        18 => key.len() == 32,
        _ => !key.is_empty() && key.len() <= 64,
    };
    ok.then(|| SessionKey { etype: EncryptionType(etype.unwrap_or(0)), key })
}

fn field_key(fields: &[(u32, Any<'_>)], tag: u32) -> Option<SessionKey> {
    fields.iter().find(|(t, _)| *t == tag).and_then(|(_, v)| encryption_key(v))
}

/// The EncryptionKey in field `field` of a decrypted `[APPLICATION app] SEQUENCE`
/// (EncTicketPart 3/1, Authenticator 2/6, EncAPRepPart 27/2).
pub fn enc_part_key(plain: &[u8], app: u32, field: u32) -> Option<SessionKey> {
    app_sequence_fields(plain, app).and_then(|f| field_key(&f, field))
}

/// Open an AP-REQ (the DER message, from APPLICATION 14 on) with the keytab's keys.
pub fn open_ap_req(ap_req: &[u8], keytab: &[KeytabEntry]) -> Result<ApReqKeys, TicketMiss> {
    let malformed = TicketMiss { etype: EncryptionType(0), kvno: None, tried: 0, cause: MissCause::Malformed };
    let (_, ap) = ApReq::from_der(ap_req).map_err(|_| malformed)?;
    let enc: &EncryptedData<'_> = &ap.ticket.enc_part;
    let mut miss = TicketMiss { etype: enc.etype, kvno: enc.kvno, tried: 0, cause: MissCause::NoKeyOfType };
    if !crypto::supported(enc.etype) {
        miss.cause = MissCause::Unsupported;
        return Err(miss);
    }
    // Keys of the ticket's type, those of its key version first (a keytab keeps old versions too).
    let mut keys: Vec<&KeytabEntry> = keytab.iter().filter(|k| k.etype == enc.etype).collect();
    keys.sort_by_key(|k| Some(k.kvno) != enc.kvno);
    for k in keys {
        miss.tried += 1;
        miss.cause = MissCause::NoKeyOpens;
        let plain = match crypto::decrypt(enc.etype, &k.key, KeyUsage::TICKET, enc.cipher) {
            Ok(p) => p,
            Err(_) => continue,
        };
        // EncTicketPart ::= [APPLICATION 3] SEQUENCE { flags [0], key [1] EncryptionKey, ... }
        let Some(ticket_key) = enc_part_key(&plain, 3, 1) else {
            miss.cause = MissCause::Malformed;
            return Err(miss);
        };
        // Authenticator ::= [APPLICATION 2] SEQUENCE { ..., subkey [6] EncryptionKey OPTIONAL, ... }
        let initiator_subkey = crypto::decrypt(ap.authenticator.etype, &ticket_key.key, KeyUsage::AP_REQ_AUTHENTICATOR, ap.authenticator.cipher)
            .ok()
            .and_then(|p| enc_part_key(&p, 2, 6));
        return Ok(ApReqKeys { ticket_key, initiator_subkey });
    }
    Err(miss)
}

/// The server's subkey from an AP-REP (APPLICATION 15), opened with the ticket's
/// session key. Ok(None): the AP-REP carries no subkey.
pub fn open_ap_rep(ap_rep: &[u8], ticket_key: &SessionKey) -> Result<Option<SessionKey>, KrbCryptoError> {
    let (_, rep) = ApRep::from_der(ap_rep).map_err(|_| KrbCryptoError::TooShort)?;
    let plain = crypto::decrypt(rep.enc_part.etype, &ticket_key.key, KeyUsage::AP_REP_ENC_PART, rep.enc_part.cipher)?;
    // EncAPRepPart ::= [APPLICATION 27] SEQUENCE { ctime [0], cusec [1], subkey [2] EncryptionKey OPTIONAL, ... }
    if app_sequence_fields(&plain, 27).is_none() {
        return Err(KrbCryptoError::Integrity);
    }
    Ok(enc_part_key(&plain, 27, 2))
}

/// The GSS-API context key of the exchange (RFC 4121 2): the acceptor's
/// subkey if it sent one, else the initiator's, else the ticket's session key.
pub fn context_key<'a>(req: &'a ApReqKeys, acceptor_subkey: Option<&'a SessionKey>) -> &'a SessionKey {
    acceptor_subkey.or(req.initiator_subkey.as_ref()).unwrap_or(&req.ticket_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kerberos::keytab::parse_keytab;
    use crate::smb::auth::spnego_records::kerberos_message;
    use crate::smb::crypto::keys::parse_hex;
    use crate::smb::records::header_records::parse_smb2_header;
    use crate::smb::records::{parse_body, Body};

    fn lab(name: &str) -> String {
        format!("{}/../tests/captures/lab/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// The Kerberos messages of a lab capture's SESSION_SETUPs (AP-REQ, AP-REP), in order.
    /// The lab's captures lose nothing: each direction of port 445 is its TCP
    /// payloads end to end, cut into NetBIOS session messages.
    fn ap_messages(capture: &str) -> Vec<Vec<u8>> {
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        crate::capture_file::for_each_frame(&crate::test_support::lab_capture(capture), &mut |f| {
            let Ok(p) = etherparse::SlicedPacket::from_ethernet(f.data) else { return };
            let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else { return };
            if t.destination_port() == 445 {
                to_server.extend_from_slice(t.payload());
            } else if t.source_port() == 445 {
                to_client.extend_from_slice(t.payload());
            }
        })
        .unwrap();
        let mut out = Vec::new();
        for (req, resp) in nbss(&to_server).into_iter().zip(nbss(&to_client)) {
            for msg in [req, resp] {
                let Ok((_, h)) = parse_smb2_header(msg) else { continue };
                let blob = match parse_body(&h, msg) {
                    Body::SessionSetupRequest(r) => r.blob,
                    Body::SessionSetupResponse(r) => r.blob,
                    _ => continue,
                };
                if let Some(k) = kerberos_message(blob) {
                    out.push(k.to_vec());
                }
            }
        }
        out
    }

    fn nbss(mut s: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while s.len() >= 4 {
            let n = u32::from_be_bytes([0, s[1], s[2], s[3]]) as usize;
            let Some(m) = s.get(4..4 + n) else { break };
            out.push(m);
            s = &s[4 + n..];
        }
        out
    }

    /// Each lab capture: the DC's keytab opens the ticket, the authenticator and
    /// the AP-REP, and the context key's first 16 bytes are the session key
    /// smbclient logged. The ticket's type and the session key's differ in the
    /// aes128 and rc4 captures (the KDC encrypts the ticket with the DC's strongest key).
    #[test]
    fn keytab_gives_the_logged_session_key() {
        for (name, ticket, session) in [("kerberos_encrypted_share_not_found", 18, 18), ("kerberos_encrypted_aes128", 18, 17), ("kerberos_encrypted_rc4", 18, 23)] {
            let keytab = parse_keytab(&std::fs::read(lab(&format!("{name}.keytab"))).unwrap()).unwrap();
            let logged = std::fs::read_to_string(lab(&format!("{name}.keys"))).unwrap();
            let want = parse_hex(logged.trim().split(',').nth(1).unwrap()).unwrap();
            let msgs = ap_messages(&format!("{name}.pcap"));
            assert_eq!(msgs.len(), 2, "{name}: one AP-REQ, one AP-REP");
            let (_, ap) = ApReq::from_der(&msgs[0]).unwrap();
            assert_eq!(ap.ticket.enc_part.etype.0, ticket, "{name}");
            let req = open_ap_req(&msgs[0], &keytab).unwrap();
            assert_eq!(req.ticket_key.etype.0, session, "{name}");
            assert!(req.initiator_subkey.is_some(), "{name}");
            let sub = open_ap_rep(&msgs[1], &req.ticket_key).unwrap().unwrap();
            let key = context_key(&req, Some(&sub));
            assert_eq!(key, &sub);
            assert_eq!(key.key[..16], want[..], "{name}");
            // The user's keys are no service key: nothing opens, nothing is guessed.
            let wrong = parse_keytab(&std::fs::read(lab(&format!("{name}.wrong.keytab"))).unwrap()).unwrap();
            let miss = open_ap_req(&msgs[0], &wrong).unwrap_err();
            assert_eq!((miss.etype.0, miss.cause, miss.tried), (ticket, MissCause::NoKeyOpens, 1), "{name}");
            let only_rc4: Vec<_> = wrong.into_iter().filter(|k| k.etype.0 == 23).collect();
            assert_eq!(open_ap_req(&msgs[0], &only_rc4).unwrap_err().cause, MissCause::NoKeyOfType);
            // Cut or damaged messages give an error.
            for n in 0..msgs[0].len() {
                let _ = open_ap_req(&msgs[0][..n], &keytab);
            }
            let mut bad = msgs[1].clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(open_ap_rep(&bad, &req.ticket_key).is_err());
        }
    }
}
