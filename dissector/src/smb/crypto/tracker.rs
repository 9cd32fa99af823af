//! What one connection's decryption needs, learnt from its plain messages:
//! the dialect and cipher (NEGOTIATE), and for SMB 3.1.1 the preauthentication
//! integrity hash (SHA-512 over the raw NEGOTIATE and SESSION_SETUP messages,
//! MS-SMB2 3.2.5.2 and 3.2.5.3). Keys are derived once per session and kept.

use sha2::{Digest, Sha512};

use super::kdf::{derive, CipherKeys};
use super::keys::{KeyTable, SessionSecret};
use super::ntlm::NtlmKeyError;
use crate::kerberos::ap_exchange::{context_key, open_ap_rep, open_ap_req, ApReqKeys, TicketMiss};
use crate::smb::auth::spnego_records::kerberos_message;
use crate::smb::auth::{parse_security_blob, AuthToken};
use super::transform::{decrypt, DecryptError};
use super::CipherId;
use crate::smb::records::header_records::Smb2Header;
use crate::smb::records::negotiate_records::{NegotiateContext, NegotiateResponse};
use crate::smb::records::Body;
use crate::smb::types::{Command, Dialect, NtStatus};

/// Sessions tracked per connection; past this the oldest is forgotten.
const MAX_SESSIONS: usize = 64;

type Hash = [u8; 64];

fn chain(h: &Hash, msg: &[u8]) -> Hash {
    let mut d = Sha512::new();
    d.update(h);
    d.update(msg);
    d.finalize().into()
}

/// How decrypting a session's messages goes.
#[derive(Clone, Debug, Default)]
pub struct SessionCrypto {
    pub id: u64,
    preauth: Option<Hash>,
    /// Ciphers and keys to try; narrowed to the one that worked.
    candidates: Option<Vec<(CipherId, CipherKeys)>>,
    /// Encrypted messages seen, and the frame that says what is hidden or what failed.
    pub hidden: u32,
    pub noted: Option<u32>,
    /// NTLM: the server's challenge, and the session key the user's password gave.
    challenge: Option<[u8; 8]>,
    ntlm_key: Option<Result<[u8; 16], NtlmKeyError>>,
    /// Kerberos: what the keytab opened of the AP-REQ, and the GSS context key
    /// (the SMB session key before MS-SMB2's truncation to 16 bytes).
    krb_req: Option<Result<ApReqKeys, TicketMiss>>,
    krb_key: Option<Result<Vec<u8>, TicketMiss>>,
}

impl SessionCrypto {
    /// An AP-REQ opened (or not): until an AP-REP says more, the client's subkey
    /// or the ticket's key is the session's.
    fn set_krb_req(&mut self, req: Result<ApReqKeys, TicketMiss>) {
        self.krb_key = Some(req.as_ref().map(|r| context_key(r, None).key.clone()).map_err(|m| *m));
        self.krb_req = Some(req);
        self.candidates = None;
    }
}

#[derive(Debug, Default)]
pub struct ConnCrypto {
    pub dialect: Option<Dialect>,
    pub cipher: Option<CipherId>,
    conn_hash: Option<Hash>,
    /// The hash of a session setup whose request had no session id yet.
    pending: Option<Hash>,
    /// The AP-REQ of a session setup whose request had no session id yet.
    pending_krb: Option<Result<ApReqKeys, TicketMiss>>,
    sessions: Vec<SessionCrypto>,
    /// An encrypted message too large to keep whole was noted on this connection.
    pub too_large_noted: bool,
}

/// Why a message stayed encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hidden {
    NoKey,
    /// SMB 3.1.1 keys need the session setup, which the capture lacks.
    NoPreauth,
    /// The keytab does not open the Kerberos ticket of the session's logon.
    Keytab(TicketMiss),
    /// The password given for the session's user does not match its NTLMv2 logon.
    WrongPassword,
    Failed(DecryptError),
}

impl ConnCrypto {
    pub fn session(&mut self, id: u64) -> &mut SessionCrypto {
        if let Some(i) = self.sessions.iter().position(|s| s.id == id) {
            return &mut self.sessions[i];
        }
        if self.sessions.len() >= MAX_SESSIONS {
            self.sessions.remove(0);
        }
        self.sessions.push(SessionCrypto { id, ..Default::default() });
        self.sessions.last_mut().expect("just pushed")
    }

    /// The dialect and cipher a NEGOTIATE response settles; also without
    /// keys, so that the note on a hidden session names its cipher.
    pub fn on_negotiated(&mut self, r: &NegotiateResponse<'_>) {
        self.dialect = Some(r.dialect);
        self.cipher = r
            .contexts
            .iter()
            .find_map(|c| match c {
                NegotiateContext::Encryption { ciphers } => ciphers.first().map(|&c| CipherId(c)),
                _ => None,
            })
            .or_else(|| (r.dialect.is_smb3() && r.dialect != Dialect::SMB3_1_1).then_some(CipherId::AES_128_CCM));
    }

    /// A plain NEGOTIATE or SESSION_SETUP message, with its raw bytes.
    pub fn on_message(&mut self, hdr: &Smb2Header<'_>, raw: &[u8], body: &Body<'_>, keys: &KeyTable) {
        if !keys.ntlm.is_empty() {
            self.on_ntlm(hdr, body, keys);
        }
        if !keys.keytab.is_empty() {
            self.on_kerberos(hdr, body, keys);
        }
        match (hdr.command, body) {
            (Command::NEGOTIATE, Body::NegotiateRequest(_)) => self.conn_hash = Some(chain(&[0; 64], raw)),
            (Command::NEGOTIATE, Body::NegotiateResponse(r)) => {
                self.on_negotiated(r);
                self.conn_hash = if r.dialect == Dialect::SMB3_1_1 { self.conn_hash.map(|h| chain(&h, raw)) } else { None };
            }
            (Command::SESSION_SETUP, _) if !hdr.is_response() => {
                let Some(conn) = self.conn_hash else { return };
                if hdr.session_id == 0 {
                    self.pending = Some(chain(&conn, raw));
                } else {
                    let s = self.session(hdr.session_id);
                    s.preauth = Some(chain(&s.preauth.unwrap_or(conn), raw));
                    s.candidates = None;
                }
            }
            (Command::SESSION_SETUP, _) => {
                let pending = self.pending.take();
                let s = self.session(hdr.session_id);
                let h = s.preauth.or(pending);
                // The final (successful) response is not part of the hash.
                s.preauth = if hdr.status == NtStatus::MORE_PROCESSING_REQUIRED { h.map(|h| chain(&h, raw)) } else { h };
                s.candidates = None;
            }
            _ => {}
        }
    }

    /// NTLM logons: the challenge, then the session key from a matching password.
    fn on_ntlm(&mut self, hdr: &Smb2Header<'_>, body: &Body<'_>, keys: &KeyTable) {
        let blob = match body {
            Body::SessionSetupRequest(r) => r.blob,
            Body::SessionSetupResponse(r) => r.blob,
            _ => return,
        };
        match parse_security_blob(blob).token {
            Some(AuthToken::NtlmChallenge(c)) if hdr.session_id != 0 => self.session(hdr.session_id).challenge = c.server_challenge,
            Some(AuthToken::NtlmAuthenticate(a)) if hdr.session_id != 0 => {
                let Some(secret) = keys.ntlm.iter().find(|s| s.matches(&a)) else { return };
                let s = self.session(hdr.session_id);
                s.ntlm_key = Some(secret.session_key(&a, s.challenge.as_ref()));
                s.candidates = None;
            }
            _ => {}
        }
    }

    /// Kerberos logons: the AP-REQ opened with the keytab, then the AP-REP's subkey.
    fn on_kerberos(&mut self, hdr: &Smb2Header<'_>, body: &Body<'_>, keys: &KeyTable) {
        let blob = match body {
            Body::SessionSetupRequest(r) => r.blob,
            Body::SessionSetupResponse(r) => r.blob,
            _ => return,
        };
        let msg = kerberos_message(blob);
        // DER: an APPLICATION 14 (AP-REQ) or 15 (AP-REP) tag is 0x6e or 0x6f.
        match msg.and_then(|m| m.first()) {
            Some(0x6e) if !hdr.is_response() => {
                let req = open_ap_req(msg.unwrap_or_default(), &keys.keytab);
                if hdr.session_id == 0 {
                    self.pending_krb = Some(req);
                } else {
                    self.session(hdr.session_id).set_krb_req(req);
                }
            }
            _ if hdr.is_response() => {
                let pending = self.pending_krb.take();
                let s = self.session(hdr.session_id);
                if let Some(req) = pending {
                    s.set_krb_req(req);
                }
                if let (Some(0x6f), Some(Ok(req))) = (msg.and_then(|m| m.first()), &s.krb_req) {
                    // No subkey, or an AP-REP the ticket's key does not open: the client's key stands
                    // (a wrong one shows as an authentication tag mismatch, never as garbage).
                    if let Ok(Some(sub)) = open_ap_rep(msg.unwrap_or_default(), &req.ticket_key) {
                        s.krb_key = Some(Ok(context_key(req, Some(&sub)).key.clone()));
                        s.candidates = None;
                    }
                }
            }
            _ => {}
        }
    }

    /// The ciphers and keys to try for a session, from the user's keys.
    fn candidates(&self, secret_id: u64, table: &KeyTable, preauth: Option<&Hash>, ntlm_key: Option<Result<[u8; 16], NtlmKeyError>>, krb_key: Option<&Result<Vec<u8>, TicketMiss>>) -> Result<Vec<(CipherId, CipherKeys)>, Hidden> {
        let from_password;
        let secret = match (table.session(secret_id), ntlm_key, krb_key) {
            (Some(s), _, _) => s,
            (None, Some(Ok(k)), _) => {
                from_password = SessionSecret { session_id: secret_id, session_key: k.to_vec(), ..Default::default() };
                &from_password
            }
            (None, _, Some(Ok(k))) => {
                from_password = SessionSecret { session_id: secret_id, session_key: k.clone(), ..Default::default() };
                &from_password
            }
            (None, Some(Err(NtlmKeyError::WrongPassword)), _) => return Err(Hidden::WrongPassword),
            (None, _, Some(Err(miss))) => return Err(Hidden::Keytab(*miss)),
            (None, _, _) => return Err(Hidden::NoKey),
        };
        // Without a NEGOTIATE in the capture: try what the keys allow; the
        // authentication tag tells which one is right.
        let ciphers: Vec<CipherId> = match self.cipher {
            Some(c) => vec![c],
            None => vec![CipherId::AES_128_CCM, CipherId::AES_128_GCM, CipherId::AES_256_CCM, CipherId::AES_256_GCM],
        };
        let mut out = Vec::new();
        for c in ciphers {
            let len = c.key_len().unwrap_or(0);
            if secret.s2c.len() == len || secret.c2s.len() == len {
                out.push((c, CipherKeys { c2s: secret.c2s.clone(), s2c: secret.s2c.clone() }));
            }
            if !secret.session_key.is_empty() {
                let dialects = match self.dialect {
                    Some(d) => vec![d],
                    None => vec![Dialect::SMB3_0_2, Dialect::SMB3_1_1],
                };
                for d in dialects {
                    if let Some(k) = derive(&secret.session_key, d, c, preauth) {
                        out.push((c, k));
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(if self.dialect == Some(Dialect::SMB3_1_1) && preauth.is_none() { Hidden::NoPreauth } else { Hidden::NoKey });
        }
        Ok(out)
    }

    /// Decrypt a transform message of session `sid` sent by the client
    /// (`to_server`) or the server. Returns the plain bytes and the cipher.
    pub fn decrypt(&mut self, sid: u64, to_server: bool, pdu: &[u8], table: &KeyTable) -> Result<(Vec<u8>, CipherId), Hidden> {
        if self.session(sid).candidates.is_none() {
            // Once per session (and again after its setup changes), not per message.
            let s = self.session(sid);
            let (preauth, ntlm_key, krb_key) = (s.preauth, s.ntlm_key, s.krb_key.clone());
            let c = self.candidates(sid, table, preauth.as_ref(), ntlm_key, krb_key.as_ref())?;
            self.session(sid).candidates = Some(c);
        }
        let s = self.session(sid);
        let cands = s.candidates.as_deref().unwrap_or_default();
        let mut err = DecryptError::TagMismatch;
        for (i, (cipher, keys)) in cands.iter().enumerate() {
            let key = if to_server { &keys.c2s } else { &keys.s2c };
            if key.is_empty() {
                continue;
            }
            match decrypt(*cipher, key, pdu) {
                Ok(plain) => {
                    let cipher = *cipher;
                    if cands.len() > 1 {
                        let keep = cands[i].clone();
                        s.candidates = Some(vec![keep]);
                    }
                    return Ok((plain, cipher));
                }
                Err(DecryptError::TagMismatch) => {}
                Err(e) => err = e,
            }
        }
        Err(Hidden::Failed(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preauth_hash_chains_negotiate_and_session_setup_legs() {
        let mut c = ConnCrypto::default();
        let req = |cmd: Command, sid: u64, resp: bool, status: NtStatus| Smb2Header {
            credit_charge: 0,
            status,
            command: cmd,
            credits: 0,
            flags: crate::smb::records::header_records::HeaderFlags(resp as u32),
            next_command: 0,
            message_id: 0,
            id: crate::smb::records::header_records::HeaderId::Sync { process_id: 0, tree_id: 0 },
            session_id: sid,
            signature: &[],
        };
        c.conn_hash = Some([1; 64]);
        c.dialect = Some(Dialect::SMB3_1_1);
        c.on_message(&req(Command::SESSION_SETUP, 0, false, NtStatus::SUCCESS), b"leg1", &Body::NotDecoded, &KeyTable::default());
        c.on_message(&req(Command::SESSION_SETUP, 9, true, NtStatus::MORE_PROCESSING_REQUIRED), b"resp1", &Body::NotDecoded, &KeyTable::default());
        c.on_message(&req(Command::SESSION_SETUP, 9, false, NtStatus::SUCCESS), b"leg2", &Body::NotDecoded, &KeyTable::default());
        c.on_message(&req(Command::SESSION_SETUP, 9, true, NtStatus::SUCCESS), b"final", &Body::NotDecoded, &KeyTable::default());
        let want = chain(&chain(&chain(&[1; 64], b"leg1"), b"resp1"), b"leg2");
        assert_eq!(c.session(9).preauth, Some(want));
    }
}
