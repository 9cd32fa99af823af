//! From PDUs to messages: walks compound chains, updates connection state,
//! matches responses to requests, and hands each message to the `Sink`.

use crate::net::flow::Dir;
use crate::output::{MessageFields, OpaqueKind, OpaquePdu};
use crate::smb::compression;
use crate::smb::crypto::keys::KeyTable;
use crate::smb::crypto::tracker::Hidden;
use crate::smb::crypto::transform::DecryptError;
use crate::smb::framing::{Pdu, PduKind};
use crate::smb::records::header_records::{self, Smb2Header, SMB2_HEADER_LEN};
use crate::smb::records::{self, negotiate_records, Body};
use crate::smb::types::{Command, NtStatus};

use super::events::{ConnView, MsgEvent, Sink, Smb1NegotiateEvent, StateNote};
use super::pending::PendingRequest;
use super::track::{self, Asked};
use super::kdc::KdcState;
use super::session::SessionTable;
use super::ConnCtx;

/// The frame being processed, and where its results go.
pub struct FrameCtx<'a> {
    pub frame: u32,
    pub ts_ns: i64,
    /// The connection of the PDU being processed.
    pub conn: ConnView,
    /// Which way the PDU being processed travels.
    pub dir: Dir,
    pub sink: &'a mut dyn Sink,
    /// Port-88 streams and what the KDCs said (the rules read the log).
    pub kdc: &'a mut KdcState,
    /// The user's SMB 3 keys (empty: encrypted messages stay opaque).
    pub keys: &'a KeyTable,
    /// A capture merged from two capture points: when the packet first seen
    /// in a frame (a request's) was seen at this frame's side, so a response
    /// is timed on one clock. None: one capture point, or not seen here.
    pub time_here: &'a dyn Fn(u32) -> Option<i64>,
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
        f.sink.opaque(OpaquePdu {
            kind: OpaqueKind::Unconfirmed,
            session_id: 0,
            description: format!("{} bytes starting with {what}, found by resynchronisation: not decoded until the stream is confirmed back in step", pdu.declared_len),
        });
        return;
    }
    match pdu.kind {
        PduKind::Smb2 => on_smb2_pdu(ctx, sessions, pdu, None, f),
        PduKind::Transform => on_transform(ctx, sessions, pdu, f),
        PduKind::Compressed => on_compressed(ctx, sessions, pdu, 0, None, f),
        PduKind::Smb1 => on_smb1_pdu(pdu, f),
    }
}

/// SMB1 matters for its NEGOTIATE: which dialects a client offers, and
/// whether the server picks one.
fn on_smb1_pdu(pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    let Ok((_, h)) = header_records::parse_smb1_header(pdu.data) else { return };
    if h.command != header_records::Smb1Header::CMD_NEGOTIATE {
        f.sink.opaque(OpaquePdu {
            kind: OpaqueKind::Smb1,
            session_id: 0,
            description: format!("command 0x{:02x} (smbdiag decodes SMB2/3; SMB1 only for negotiation)", h.command),
        });
        return;
    }
    let (dialects, selected, description) = if h.is_response() {
        match negotiate_records::parse_smb1_negotiate_response(pdu.data) {
            Ok((_, r)) if r.dialect_index == negotiate_records::SMB1_NO_DIALECT => (Vec::new(), Some(r.dialect_index), "NEGOTIATE response selecting no dialect".to_string()),
            Ok((_, r)) => (Vec::new(), Some(r.dialect_index), format!("NEGOTIATE response selecting dialect #{}", r.dialect_index)),
            Err(_) => (Vec::new(), None, format!("NEGOTIATE response, status {}", h.status)),
        }
    } else {
        let d = negotiate_records::parse_smb1_negotiate_request(pdu.data).map(|(_, r)| r.dialects).unwrap_or_default();
        let text = format!("NEGOTIATE request offering {}", d.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "));
        (d, None, text)
    };
    f.sink.opaque(OpaquePdu { kind: OpaqueKind::Smb1, session_id: 0, description });
    let ev = Smb1NegotiateEvent { frame: f.frame, ts_ns: f.ts_ns, conn: f.conn, is_response: h.is_response(), dialects: &dialects, selected };
    f.sink.smb1_negotiate(&ev);
}

/// An encrypted message: decrypted with the user's key and decoded like a
/// plain one (marked as decrypted), or left opaque with one note per session
/// saying what it hides. Bytes that fail authentication are never decoded.
fn on_transform(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    let Ok((_, t)) = header_records::parse_transform_header(pdu.data) else { return };
    f.sink.encrypted(f.conn, f.frame);
    let hidden = if f.keys.is_empty() {
        Hidden::NoKey
    } else {
        match ctx.crypto.decrypt(t.session_id, f.dir == Dir::ToServer, pdu.data, f.keys) {
            // Encrypted compressed messages are compressed first (MS-SMB2 3.1.4.4).
            Ok((plain, cipher)) if plain.starts_with(header_records::COMPRESSION_MAGIC) => {
                let inner = Pdu { kind: PduKind::Compressed, data: &plain, declared_len: plain.len(), lost: 0, resynced: pdu.resynced };
                return on_compressed(ctx, sessions, &inner, t.session_id, Some(cipher.name()), f);
            }
            Ok((plain, cipher)) => {
                let inner = Pdu { kind: PduKind::Smb2, data: &plain, declared_len: plain.len(), lost: 0, resynced: pdu.resynced };
                return on_smb2_pdu(ctx, sessions, &inner, Some(cipher.name()), f);
            }
            Err(h) => h,
        }
    };
    if f.dir == Dir::ToClient {
        // It may answer any request outstanding now.
        ctx.pending.mark_hidden();
    }
    f.sink.hidden(f.conn, f.dir);
    // Whole in the capture but cut by the framer's memory bound.
    let too_large = matches!(hidden, Hidden::Failed(DecryptError::Incomplete { .. })) && pdu.is_whole() && pdu.data.len() < pdu.declared_len;
    if too_large && !std::mem::replace(&mut ctx.crypto.too_large_noted, true) {
        f.sink.note(StateNote::EncryptedTooLarge { session_id: t.session_id, size: pdu.declared_len, kept: pdu.data.len() });
    }
    let why = match hidden {
        Hidden::Failed(DecryptError::Incomplete { .. }) if too_large => format!(", not decrypted: larger than the {} bytes smbdiag keeps of one encrypted message", pdu.data.len()),
        Hidden::Failed(DecryptError::Incomplete { have, need }) => format!(", not decrypted: the capture holds {have} of its {need} bytes"),
        Hidden::Failed(_) => ", not decrypted: the key does not fit".to_string(),
        Hidden::NoKey | Hidden::NoPreauth | Hidden::WrongPassword | Hidden::Keytab(_) => String::new(),
    };
    let n = note_hidden(ctx, sessions, t.session_id, hidden, f);
    f.sink.opaque(OpaquePdu {
        kind: OpaqueKind::Encrypted,
        session_id: t.session_id,
        description: format!("SMB3 message {n} of session 0x{:016x} on this connection, {} bytes{why}", t.session_id, t.original_message_size),
    });
}

/// A compressed message: decompressed and decoded like a plain one, its
/// item saying so; one that does not decompress says why and is not decoded.
fn on_compressed(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, session_id: u64, decrypted: Option<&'static str>, f: &mut FrameCtx<'_>) {
    let Ok((_, c)) = header_records::parse_compression_header(pdu.data) else { return };
    let chained = if c.flags & 1 != 0 { "chained, first payload " } else { "" };
    let what = format!("SMB3 message ({chained}{}), {} bytes uncompressed", c.algorithm_name(), c.original_size);
    let result = if pdu.is_whole() && pdu.data.len() < pdu.declared_len {
        Err(format!("larger than the {} bytes smbdiag keeps of one compressed message", pdu.data.len()))
    } else {
        match compression::decompress_message(pdu.data) {
            Ok(plain) if plain.starts_with(header_records::SMB2_MAGIC) => Ok(plain),
            Ok(_) => Err("it does not decompress to an SMB2 message".to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    match result {
        Ok(plain) => {
            f.sink.opaque(OpaquePdu { kind: OpaqueKind::Compressed, session_id, description: format!("{what}, decompressed to {} bytes", plain.len()) });
            let inner = Pdu { kind: PduKind::Smb2, data: &plain, declared_len: plain.len(), lost: 0, resynced: pdu.resynced };
            on_smb2_pdu(ctx, sessions, &inner, decrypted, f);
        }
        Err(why) => {
            // Once per connection: its messages are hidden from the rules, as an encrypted session's without a key.
            if ctx.not_decompressed.is_none() {
                ctx.not_decompressed = Some(f.frame);
                f.sink.note(StateNote::NotDecompressed { frame: f.frame, what: what.clone(), why: why.clone() });
            }
            f.sink.opaque(OpaquePdu { kind: OpaqueKind::Compressed, session_id, description: format!("{what}, not decompressed: {why}") })
        }
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
    // A message too large to keep whole: not the key's fault, and the rest of the session decrypts.
    if let Hidden::Failed(DecryptError::Incomplete { .. }) = hidden {
        return n;
    }
    let (dialect, cipher) = (ctx.crypto.dialect.or(ctx.dialect), ctx.crypto.cipher);
    let session = sessions.session(ctx.session_key(sid));
    // A Kerberos logon names its user only inside the ticket: say so rather than "setup not in the capture".
    let user = session.and_then(|s| match (&s.user, s.auth) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(crate::smb::auth::Authentication::Kerberos)) => {
            Some(format!("not shown: a Kerberos logon{}", s.target_spn.as_deref().map_or(String::new(), |spn| format!(" to {spn}"))).into())
        }
        _ => None,
    });
    ctx.crypto.session(sid).noted = Some(f.frame);
    f.sink.note(StateNote::Hidden { session_id: sid, hidden, user, dialect, cipher });
    n
}

fn on_smb2_pdu(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, decrypted: Option<&'static str>, f: &mut FrameCtx<'_>) {
    let mut off = 0usize;
    // Bounded: each step advances by at least a header, and a PDU holds at
    // most PDU_KEEP_PREFIX bytes (ENCRYPTED_PDU_KEEP once decrypted).
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
    f.sink.note(StateNote::Truncated { offset: off, declared_len: pdu.declared_len, lost: pdu.lost });
}

fn on_message(ctx: &mut ConnCtx, sessions: &mut SessionTable, hdr: &Smb2Header<'_>, msg: &[u8], cut: bool, decrypted: Option<&'static str>, f: &mut FrameCtx<'_>) {
    let is_response = hdr.is_response();
    let body = records::parse_body(hdr, msg);
    // Key derivation needs these messages' raw bytes; nobody pays for it without keys.
    if matches!(hdr.command, Command::NEGOTIATE | Command::SESSION_SETUP) && !f.keys.is_empty() {
        ctx.crypto.on_message(hdr, msg, &body, f.keys);
    } else if let Body::NegotiateResponse(r) = &body {
        ctx.crypto.on_negotiated(r);
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
    let session_key = ctx.session_key(hdr.session_id);
    if let Some(s) = sessions.session_mut(session_key).filter(|_| hdr.flags.is_signed()) {
        s.signed_seen = true;
    }
    let mut negotiate_offer = None;
    // A response: the request it answers (matched once, here). A request: entered in the table.
    let answered = if is_response { match_response(ctx, hdr, &mut m, f) } else { None };
    let no_request = Asked::default();
    let asked = if is_response {
        let asked = answered.as_ref().map_or(&no_request, |r| &r.asked);
        track::fill_context(ctx, sessions, hdr, &body, asked, &mut m);
        if !m.interim {
            track::on_response(ctx, sessions, hdr, &body, asked, f.frame);
        }
        None
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
            ctx.pending.insert(PendingRequest {
                frame: f.frame,
                ts_ns: f.ts_ns,
                cmd: hdr.command,
                msg_id: hdr.message_id,
                seq: 0,
                credit_charge: hdr.credit_charge,
                credits_asked: hdr.credits,
                reused_id: false,
                msg_index: f.sink.messages_on_frame(),
                async_id: None,
                interim_frame: None,
                session_id: hdr.session_id,
                tree: m.tree.clone(),
                file: m.file.clone(),
                asked: asked.clone(),
            });
        }
        Some(asked)
    };
    m.dialect = ctx.dialect;
    if let (Body::SessionSetupResponse(_) | Body::Error(_), Command::SESSION_SETUP) = (&body, hdr.command) {
        // Show the session's identity on the response that settles it.
        if let Some(s) = sessions.session(session_key) {
            m.user = s.user.clone();
            m.auth = s.auth;
            m.spn = s.target_spn.clone();
        }
    }
    if let (Body::ReadResponse(r), Some(_)) = (&body, m.file.as_ref()) {
        f.sink.bytes(f.conn.id, r.data_length as u64, 0);
    }
    if let Body::WriteResponse(w) = &body {
        f.sink.bytes(f.conn.id, 0, w.count as u64);
    }
    let session = sessions.session(session_key);
    let pending = &ctx.pending;
    let (asked, request) = match &asked {
        Some(a) => (a, if hdr.command == Command::CANCEL { None } else { pending.get(hdr.message_id) }),
        None => (answered.as_ref().map_or(&no_request, |r| &r.asked), answered.as_ref()),
    };
    let ev = MsgEvent {
        frame: f.frame,
        ts_ns: f.ts_ns,
        conn: f.conn,
        hdr,
        fields: &m,
        negotiate_offer,
        body: &body,
        asked,
        request,
        pending,
        session_key,
        session,
        sessions: &*sessions,
        kdc: &f.kdc.log,
    };
    f.sink.message(&ev);
    f.sink.store(m);
}

/// The message holds all the bytes its header chain says it has.
fn pdu_complete(msg: &[u8], hdr: &Smb2Header<'_>) -> bool {
    hdr.next_command == 0 || msg.len() >= hdr.next_command as usize
}

/// Match a response to its request; returns the request as it stood before
/// this response (an interim one leaves it in the table).
fn match_response(ctx: &mut ConnCtx, hdr: &Smb2Header<'_>, m: &mut MessageFields, f: &mut FrameCtx<'_>) -> Option<PendingRequest> {
    let interim = hdr.status == NtStatus::PENDING && hdr.flags.is_async();
    let req = ctx.pending.get_mut(hdr.message_id)?;
    if req.cmd != hdr.command {
        return None; // not ours: a capture that missed the real request
    }
    m.request_frame = Some(req.frame);
    // Two capture points: the request as the response's side saw it, never
    // one side's time against the other's clock.
    let req_ts = (f.time_here)(req.frame).unwrap_or(req.ts_ns);
    m.response_time_ns = Some(f.ts_ns - req_ts);
    if interim {
        m.interim = true;
        let mut before = req.clone();
        before.ts_ns = req_ts;
        req.async_id = hdr.async_id();
        req.interim_frame.get_or_insert(f.frame);
        return Some(before);
    }
    let mut req = ctx.pending.remove(hdr.message_id)?;
    f.sink.answered(req.frame, req.msg_index, f.frame);
    req.ts_ns = req_ts;
    Some(req)
}
