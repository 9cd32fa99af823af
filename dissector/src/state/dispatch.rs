//! From PDUs to messages: walks compound chains, updates connection state,
//! matches responses to requests and fills the frame's report.

use crate::analyzer::{Config, Reports};
use crate::net::flow::Dir;
use crate::rules::{ConnView, Engine, MsgEvent, Smb1NegotiateEvent};
use crate::summary::Summary;
use crate::output::{Finding, FrameReport, MessageFields, OpaqueKind, OpaquePdu};
use crate::rules::catalog;
use crate::smb::crypto::tracker::Hidden;
use crate::smb::crypto::transform::DecryptError;
use crate::smb::framing::{Pdu, PduKind};
use crate::smb::records::header_records::{self, Smb2Header, SMB2_HEADER_LEN};
use crate::smb::records::{self, negotiate_records, Body};
use crate::smb::types::{Command, NtStatus};

use super::pending::PendingRequest;
use super::track::{self, Asked};
use super::kdc::KdcState;
use super::session::SessionTable;
use super::ConnCtx;

/// The frame being processed and the reports of earlier frames.
pub struct FrameCtx<'a> {
    pub frame: u32,
    pub ts_ns: i64,
    /// The connection of the PDU being processed.
    pub conn: ConnView,
    /// Which way the PDU being processed travels.
    pub dir: Dir,
    pub report: &'a mut FrameReport,
    pub reports: &'a mut Reports,
    pub engine: &'a mut Engine,
    pub config: &'a Config,
    pub summary: &'a mut Summary,
    /// Port-88 streams and what the KDCs said (the rules read the log).
    pub kdc: &'a mut KdcState,
}

pub fn note_resync(f: &mut FrameCtx<'_>, skipped: u64, ordinal: u32) {
    let mut text = if skipped > 0 {
        format!("{skipped} bytes of this TCP stream are missing from the capture or are not SMB; SMB decoding resumed at the next SMB header in this frame")
    } else {
        "SMB decoding resumed at an SMB header after bytes missing from the capture".to_string()
    };
    text.push_str(" (listed, but decoded only once the next header confirms the stream is back in step)");
    if ordinal == crate::smb::framing::MAX_RESYNC_NOTES {
        text.push_str(&format!(
            ". This is resynchronisation {ordinal} in this direction of the connection; later ones are not noted (the stream may not be SMB, or the capture lost much of it)"
        ));
    }
    push_finding(f, Finding { rule: &catalog::DECODE_RESYNC, text, related_frames: Vec::new() });
}

fn push_finding(f: &mut FrameCtx<'_>, finding: Finding) {
    if !f.report.findings.iter().any(|x| x.rule == finding.rule && x.text == finding.text) {
        f.report.findings.push(finding);
    }
}

pub fn on_pdu(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    if pdu.resynced {
        // Found by resynchronisation and not yet confirmed: it may be junk
        // that looks like SMB. Say it is there; decode nothing from it, so it
        // shows no message, enters no state and raises no finding.
        let what = match pdu.kind {
            PduKind::Smb2 => "an SMB2 header",
            PduKind::Transform => "an SMB3 transform (encrypted) header",
            PduKind::Compressed => "an SMB3 compression header",
            PduKind::Smb1 => "an SMB1 header",
        };
        f.report.opaque.push(OpaquePdu {
            kind: OpaqueKind::Unconfirmed,
            session_id: 0,
            description: format!("{} bytes starting with {what}, found by resynchronisation: not decoded until the stream is confirmed back in step", pdu.declared_len),
        });
        return;
    }
    match pdu.kind {
        PduKind::Smb2 => on_smb2_pdu(ctx, sessions, pdu, None, f),
        PduKind::Transform => on_transform(ctx, sessions, pdu, f),
        PduKind::Compressed => on_compressed(pdu.data, 0, f),
        PduKind::Smb1 => on_smb1_pdu(pdu, f),
    }
}

/// SMB1 matters for its NEGOTIATE: which dialects a client offers, and
/// whether the server picks one.
fn on_smb1_pdu(pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    let Ok((_, h)) = header_records::parse_smb1_header(pdu.data) else { return };
    if h.command != header_records::Smb1Header::CMD_NEGOTIATE {
        f.report.opaque.push(OpaquePdu {
            kind: OpaqueKind::Smb1,
            session_id: 0,
            description: format!("command 0x{:02x} (smbdiag decodes SMB2/3; SMB1 only for negotiation)", h.command),
        });
        return;
    }
    let (dialects, selected, description) = if h.is_response() {
        match negotiate_records::parse_smb1_negotiate_response(pdu.data) {
            Ok((_, r)) if r.dialect_index == 0xffff => (Vec::new(), Some(0xffff), "NEGOTIATE response selecting no dialect".to_string()),
            Ok((_, r)) => (Vec::new(), Some(r.dialect_index), format!("NEGOTIATE response selecting dialect #{}", r.dialect_index)),
            Err(_) => (Vec::new(), None, format!("NEGOTIATE response, status {}", h.status)),
        }
    } else {
        let d = negotiate_records::parse_smb1_negotiate_request(pdu.data).map(|(_, r)| r.dialects).unwrap_or_default();
        let text = format!("NEGOTIATE request offering {}", d.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "));
        (d, None, text)
    };
    f.report.opaque.push(OpaquePdu { kind: OpaqueKind::Smb1, session_id: 0, description });
    let ev = Smb1NegotiateEvent { frame: f.frame, ts_ns: f.ts_ns, conn: f.conn, is_response: h.is_response(), dialects: &dialects, selected };
    let mut found = Vec::new();
    f.engine.on_smb1_negotiate(f.config, &ev, &mut found);
    for x in found {
        push_finding(f, x);
    }
}

/// An encrypted message: decrypted with the user's key and decoded like a
/// plain one (marked as decrypted), or left opaque with one note per session
/// saying what it hides. Bytes that fail authentication are never decoded.
fn on_transform(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    let Ok((_, t)) = header_records::parse_transform_header(pdu.data) else { return };
    f.summary.on_encrypted(f.conn.id, f.conn.client, f.conn.server, f.frame);
    let hidden = if f.config.keys.is_empty() {
        Hidden::NoKey
    } else {
        match ctx.crypto.decrypt(t.session_id, f.dir == Dir::ToServer, pdu.data, &f.config.keys) {
            // Encrypted compressed messages are compressed first (MS-SMB2 3.1.4.4).
            Ok((plain, _)) if plain.starts_with(header_records::COMPRESSION_MAGIC) => return on_compressed(&plain, t.session_id, f),
            Ok((plain, cipher)) => {
                let inner = Pdu { kind: PduKind::Smb2, data: &plain, declared_len: plain.len(), lost: 0, resynced: pdu.resynced };
                return on_smb2_pdu(ctx, sessions, &inner, Some(cipher.name()), f);
            }
            Err(h) => h,
        }
    };
    if f.dir == Dir::ToClient {
        f.engine.on_encrypted_from_server(f.conn.id);
    }
    let why = match hidden {
        Hidden::Failed(DecryptError::Incomplete { have, need }) => format!(", not decrypted: the capture holds {have} of its {need} bytes"),
        Hidden::Failed(_) => ", not decrypted: the key does not fit".to_string(),
        Hidden::NoKey | Hidden::NoPreauth | Hidden::WrongPassword => String::new(),
    };
    let n = note_hidden(ctx, sessions, t.session_id, hidden, f);
    f.report.opaque.push(OpaquePdu {
        kind: OpaqueKind::Encrypted,
        session_id: t.session_id,
        description: format!("SMB3 message {n} of session 0x{:016x} on this connection, {} bytes{why}", t.session_id, t.original_message_size),
    });
}

/// A compressed message: smbdiag does not decompress (yet), so it says what it holds.
fn on_compressed(data: &[u8], session_id: u64, f: &mut FrameCtx<'_>) {
    if let Ok((_, c)) = header_records::parse_compression_header(data) {
        f.report.opaque.push(OpaquePdu {
            kind: OpaqueKind::Compressed,
            session_id,
            description: format!("SMB3 message ({}), {} bytes uncompressed, not decompressed by smbdiag", c.algorithm_name(), c.original_size),
        });
    }
}

/// One note per encrypted session and connection, on its first hidden
/// message (the same text on every pass: the hidden messages are numbered
/// in their own items). Returns the number of this hidden message.
fn note_hidden(ctx: &mut ConnCtx, sessions: &SessionTable, sid: u64, hidden: Hidden, f: &mut FrameCtx<'_>) -> u32 {
    let s = ctx.crypto.session(sid);
    s.hidden += 1;
    let n = s.hidden;
    if s.noted.is_some() {
        return n;
    }
    let rule = match hidden {
        // A message too large to keep whole: not the key's fault, and the rest of the session decrypts.
        Hidden::Failed(DecryptError::Incomplete { .. }) => return n,
        Hidden::Failed(_) | Hidden::WrongPassword => &catalog::DECODE_DECRYPT_FAILED,
        Hidden::NoKey | Hidden::NoPreauth => &catalog::DECODE_ENCRYPTED,
    };
    let (dialect, cipher) = (ctx.crypto.dialect.or(ctx.dialect), ctx.crypto.cipher);
    let user = sessions.session(sid).and_then(|s| s.user.clone());
    let what = format!(
        "Session 0x{sid:016x} (user {}, {}, {})",
        user.as_deref().unwrap_or("unknown: its setup is not in the capture"),
        dialect.map_or("dialect unknown".to_string(), |d| d.to_string()),
        match (cipher, dialect) {
            (Some(c), _) => c.name(),
            (None, Some(d)) if d.is_smb3() && d != crate::smb::types::Dialect::SMB3_1_1 => "AES-128-CCM",
            _ => "cipher unknown",
        }
    );
    let wire: String = sid.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let text = match hidden {
        Hidden::NoKey => format!(
            "{what} is encrypted and smbdiag has no key for it: its encrypted messages on this connection, from this one on, are hidden from the rules (tree connects, opens, statuses, response times); each is numbered in smbdiag.encrypted, and `-z smbdiag,summary` counts them per connection. Next check: give its session key in Wireshark's SMB2 \"Secret session keys for decryption\" table or in the preference smbdiag.session_keys, with session id {wire} (Wireshark's form) or 0x{sid:016x}.",
        ),
        Hidden::NoPreauth => format!(
            "{what} is encrypted; a session key is given, but SMB 3.1.1 derives its keys from a hash of the NEGOTIATE and SESSION_SETUP exchange, which this capture does not hold, so its encrypted messages stay hidden. Next check: give the server-to-client and client-to-server keys instead (the 3rd and 4th fields of the key entry), or capture from before the session is set up.",
        ),
        Hidden::WrongPassword => format!(
            "The password given for {} does not match the NTLMv2 logon of session 0x{sid:016x} (the client's NTProofStr differs; {what}): its encrypted messages stay hidden. Next check: the password or NT hash in the preference smbdiag.ntlm_passwords for this account (as it was at capture time).",
            user.as_deref().unwrap_or("its user"),
        ),
        Hidden::Failed(_) => format!(
            "The key given for session 0x{sid:016x} does not decrypt its encrypted messages (authentication tag mismatch; {what}): nothing is decoded from them. Likely cause: the key belongs to another session or capture, the server-to-client and client-to-server keys are swapped, or an AES-256 session was given a 16-byte key. Next check: the key logged for session id {wire} (Wireshark's form) and the cipher.",
        ),
    };
    ctx.crypto.session(sid).noted = Some(f.frame);
    push_finding(f, Finding { rule, text, related_frames: Vec::new() });
    n
}

fn on_smb2_pdu(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, decrypted: Option<&'static str>, f: &mut FrameCtx<'_>) {
    let mut off = 0usize;
    // Bounded: each step advances by at least a header, and a PDU holds at
    // most PDU_KEEP_PREFIX bytes.
    loop {
        let Some(rest) = pdu.data.get(off..) else { break };
        let hdr = match header_records::parse_smb2_header(rest) {
            Ok((_, h)) => h,
            Err(_) => {
                if rest.len() < SMB2_HEADER_LEN && !pdu.is_whole() || pdu.data.len() < pdu.declared_len {
                    note_truncated(f, pdu, off);
                }
                break;
            }
        };
        let next = hdr.next_command as usize;
        let msg_len = if next == 0 { rest.len() } else { next.min(rest.len()) };
        let msg_end = off + msg_len;
        let cut = !pdu.is_whole() && (next == 0 || off + next > pdu.data.len());
        on_message(ctx, sessions, &hdr, &rest[..msg_len], cut, decrypted, f);
        if next == 0 || next < SMB2_HEADER_LEN || next % 8 != 0 || msg_end >= pdu.data.len() {
            break;
        }
        off = msg_end;
    }
}

fn note_truncated(f: &mut FrameCtx<'_>, pdu: &Pdu<'_>, off: usize) {
    let text = format!(
        "SMB message at offset {off} of a {}-byte SMB PDU is cut short: {} bytes are missing from the capture, so only its first bytes are decoded",
        pdu.declared_len, pdu.lost
    );
    push_finding(f, Finding { rule: &catalog::DECODE_TRUNCATED, text, related_frames: Vec::new() });
}

fn on_message(ctx: &mut ConnCtx, sessions: &mut SessionTable, hdr: &Smb2Header<'_>, msg: &[u8], cut: bool, decrypted: Option<&'static str>, f: &mut FrameCtx<'_>) {
    let is_response = hdr.is_response();
    let body = records::parse_body(hdr, msg);
    // Key derivation needs these messages' raw bytes; nobody pays for it without keys.
    if matches!(hdr.command, Command::NEGOTIATE | Command::SESSION_SETUP) && !f.config.keys.is_empty() {
        ctx.crypto.on_message(hdr, msg, &body, &f.config.keys);
    }
    let mut m = MessageFields {
        cmd: hdr.command,
        is_response,
        status: if is_response { Some(hdr.status) } else { None },
        msg_id: hdr.message_id,
        async_id: hdr.async_id(),
        session_id: hdr.session_id,
        tree_id: hdr.tree_id(),
        credits: hdr.credits,
        credit_charge: hdr.credit_charge,
        truncated: cut || matches!(body, Body::Malformed(_)) && !pdu_complete(msg, hdr),
        decrypted,
        ..Default::default()
    };
    if let Some(s) = sessions.session_mut(hdr.session_id).filter(|_| hdr.session_id != 0 && hdr.flags.is_signed()) {
        s.signed_seen = true;
    }
    let mut negotiate_offer = None;
    let asked = if is_response {
        let req = match_response(ctx, hdr, &mut m, f);
        let asked = req.map(|r| r.asked).unwrap_or_default();
        track::fill_context(ctx, sessions, hdr, &body, &asked, &mut m);
        if !m.interim {
            track::on_response(ctx, sessions, hdr, &body, &asked, f.frame);
        }
        asked
    } else {
        if !hdr.flags.is_related() {
            ctx.chain_create = None;
        }
        let asked = track::on_request(ctx, sessions, hdr, &body, f.frame);
        track::fill_context(ctx, sessions, hdr, &body, &asked, &mut m);
        if let Asked::Negotiate { dialects } = &asked {
            negotiate_offer = Some(dialects.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
        }
        // CANCEL reuses the id of the request it cancels and gets no response.
        if hdr.command != Command::CANCEL {
            ctx.pending.insert(
                hdr.message_id,
                PendingRequest {
                    frame: f.frame,
                    ts_ns: f.ts_ns,
                    cmd: hdr.command,
                    msg_index: f.report.messages.len(),
                    async_id: None,
                    interim_frame: None,
                    asked: asked.clone(),
                },
            );
        }
        asked
    };
    m.dialect = ctx.dialect;
    if let (Body::SessionSetupResponse(_) | Body::Error(_), Command::SESSION_SETUP) = (&body, hdr.command) {
        // Show the session's identity on the response that settles it.
        if let Some(s) = sessions.session(hdr.session_id) {
            m.user = s.user.clone();
            m.auth = s.auth.clone();
            m.spn = s.target_spn.clone();
        }
    }
    if let (Body::ReadResponse(r), Some(_)) = (&body, m.file.as_ref()) {
        f.summary.on_bytes(f.conn.id, r.data_length as u64, 0);
    }
    if let Body::WriteResponse(w) = &body {
        f.summary.on_bytes(f.conn.id, 0, w.count as u64);
    }
    let session = sessions.session(hdr.session_id);
    let ev = MsgEvent { frame: f.frame, ts_ns: f.ts_ns, conn: f.conn, hdr, fields: &m, negotiate_offer, body: &body, asked: &asked, session, sessions: &*sessions, kdc: &f.kdc.log };
    let mut found = Vec::new();
    f.engine.on_message(f.config, &ev, &mut found);
    f.summary.on_message(f.conn.id, f.conn.client, f.conn.server, f.frame, &m, hdr.flags.is_signed());
    f.report.messages.push(m);
    for x in found {
        push_finding(f, x);
    }
}

/// The message holds all the bytes its header chain says it has.
fn pdu_complete(msg: &[u8], hdr: &Smb2Header<'_>) -> bool {
    hdr.next_command == 0 || msg.len() >= hdr.next_command as usize
}

/// Match a response to its request; returns the request once finally answered.
fn match_response(ctx: &mut ConnCtx, hdr: &Smb2Header<'_>, m: &mut MessageFields, f: &mut FrameCtx<'_>) -> Option<PendingRequest> {
    let interim = hdr.status == NtStatus::PENDING && hdr.flags.is_async();
    let req = ctx.pending.get_mut(hdr.message_id)?;
    if req.cmd != hdr.command {
        return None; // not ours: a capture that missed the real request
    }
    m.request_frame = Some(req.frame);
    m.response_time_ns = Some(f.ts_ns - req.ts_ns);
    if interim {
        m.interim = true;
        req.async_id = hdr.async_id();
        req.interim_frame = Some(f.frame);
        return Some(req.clone());
    }
    let req = ctx.pending.remove(hdr.message_id)?;
    let frame = f.frame;
    let target = if req.frame == frame { Some(&mut *f.report) } else { f.reports.get_mut(req.frame) };
    if let Some(msg) = target.and_then(|r| r.messages.get_mut(req.msg_index)) {
        msg.response_frame = Some(frame);
    }
    Some(req)
}
