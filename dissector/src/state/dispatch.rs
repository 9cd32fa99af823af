//! From PDUs to messages: walks compound chains, updates connection state,
//! matches responses to requests, and hands each message to the `Sink`.

use crate::net::flow::Dir;
use crate::output::{MessageFields, OpaquePdu};
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
}

pub fn on_pdu(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    match pdu.kind {
        PduKind::Smb2 => on_smb2_pdu(ctx, sessions, pdu, f),
        PduKind::Transform => {
            if let Ok((_, t)) = header_records::parse_transform_header(pdu.data) {
                f.sink.encrypted(f.conn, f.dir, f.frame);
                f.sink.opaque(OpaquePdu {
                    session_id: t.session_id,
                    description: format!("Encrypted SMB3 message, {} bytes, session 0x{:016x}", t.original_message_size, t.session_id),
                });
            }
        }
        PduKind::Compressed => {
            if let Ok((_, c)) = header_records::parse_compression_header(pdu.data) {
                f.sink.opaque(OpaquePdu {
                    session_id: 0,
                    description: format!("Compressed SMB message ({}), {} bytes uncompressed", c.algorithm_name(), c.original_size),
                });
            }
        }
        PduKind::Smb1 => on_smb1_pdu(pdu, f),
    }
}

/// SMB1 matters for its NEGOTIATE: which dialects a client offers, and
/// whether the server picks one.
fn on_smb1_pdu(pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    let Ok((_, h)) = header_records::parse_smb1_header(pdu.data) else { return };
    if h.command != header_records::Smb1Header::CMD_NEGOTIATE {
        f.sink.opaque(OpaquePdu { session_id: 0, description: format!("SMB1 command 0x{:02x} (smbdiag decodes SMB2/3; SMB1 only for negotiation)", h.command) });
        return;
    }
    let (dialects, selected, description) = if h.is_response() {
        match negotiate_records::parse_smb1_negotiate_response(pdu.data) {
            Ok((_, r)) if r.dialect_index == negotiate_records::SMB1_NO_DIALECT => (Vec::new(), Some(r.dialect_index), "SMB1 NEGOTIATE response selecting no dialect".to_string()),
            Ok((_, r)) => (Vec::new(), Some(r.dialect_index), format!("SMB1 NEGOTIATE response selecting dialect #{}", r.dialect_index)),
            Err(_) => (Vec::new(), None, format!("SMB1 NEGOTIATE response, status {}", h.status)),
        }
    } else {
        let d = negotiate_records::parse_smb1_negotiate_request(pdu.data).map(|(_, r)| r.dialects).unwrap_or_default();
        let text = format!("SMB1 NEGOTIATE request offering {}", d.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "));
        (d, None, text)
    };
    f.sink.opaque(OpaquePdu { session_id: 0, description });
    let ev = Smb1NegotiateEvent { frame: f.frame, ts_ns: f.ts_ns, conn: f.conn, is_response: h.is_response(), dialects: &dialects, selected };
    f.sink.smb1_negotiate(&ev);
}

fn on_smb2_pdu(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
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
        on_message(ctx, sessions, &hdr, &rest[..msg_len], cut, f);
        if next == 0 || next < SMB2_HEADER_LEN || next % 8 != 0 || msg_end >= pdu.data.len() {
            break;
        }
        off = msg_end;
    }
}

fn note_truncated(f: &mut FrameCtx<'_>, pdu: &Pdu<'_>, off: usize) {
    f.sink.note(StateNote::Truncated { offset: off, declared_len: pdu.declared_len, lost: pdu.lost });
}

fn on_message(ctx: &mut ConnCtx, sessions: &mut SessionTable, hdr: &Smb2Header<'_>, msg: &[u8], cut: bool, f: &mut FrameCtx<'_>) {
    let is_response = hdr.is_response();
    let body = records::parse_body(hdr, msg);
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
        ..Default::default()
    };
    let session_key = ctx.session_key(hdr.session_id);
    if let Some(s) = sessions.session_mut(session_key).filter(|_| hdr.flags.is_signed()) {
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
                    msg_index: f.sink.messages_on_frame(),
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
    let ev = MsgEvent { frame: f.frame, ts_ns: f.ts_ns, conn: f.conn, hdr, fields: &m, negotiate_offer, body: &body, asked: &asked, session_key, session, sessions: &*sessions, kdc: &f.kdc.log };
    f.sink.message(&ev);
    f.sink.store(m);
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
    f.sink.answered(req.frame, req.msg_index, f.frame);
    Some(req)
}
