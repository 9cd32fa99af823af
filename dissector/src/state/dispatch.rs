//! From PDUs to messages: walks compound chains, updates connection state,
//! matches responses to requests and fills the frame's report.

use crate::analyzer::{Config, Reports};
use crate::rules::{ConnView, Engine, MsgEvent};
use crate::summary::Summary;
use crate::output::{Finding, FrameReport, MessageFields, OpaquePdu};
use crate::rules::catalog;
use crate::smb::framing::{Pdu, PduKind};
use crate::smb::records::header_records::{self, Smb2Header, SMB2_HEADER_LEN};
use crate::smb::types::{Command, NtStatus};

use super::pending::PendingRequest;
use super::session::SessionTable;
use super::ConnCtx;

/// The frame being processed and the reports of earlier frames.
pub struct FrameCtx<'a> {
    pub frame: u32,
    pub ts_ns: i64,
    /// The connection of the PDU being processed.
    pub conn: ConnView,
    pub report: &'a mut FrameReport,
    pub reports: &'a mut Reports,
    pub engine: &'a mut Engine,
    pub config: &'a Config,
    pub summary: &'a mut Summary,
}

pub fn note_resync(f: &mut FrameCtx<'_>, skipped: u64) {
    let text = if skipped > 0 {
        format!("{skipped} bytes of this TCP stream are missing from the capture or are not SMB; SMB decoding resumed at the next SMB header in this frame")
    } else {
        "SMB decoding resumed at an SMB header after bytes missing from the capture".to_string()
    };
    push_finding(f, Finding { rule: &catalog::DECODE_RESYNC, text, related_frames: Vec::new() });
}

fn push_finding(f: &mut FrameCtx<'_>, finding: Finding) {
    if !f.report.findings.iter().any(|x| x.rule == finding.rule && x.text == finding.text) {
        f.report.findings.push(finding);
    }
}

pub fn on_pdu(ctx: &mut ConnCtx, sessions: &mut SessionTable, pdu: &Pdu<'_>, f: &mut FrameCtx<'_>) {
    match pdu.kind {
        PduKind::Smb2 => on_smb2_pdu(ctx, sessions, pdu, f),
        PduKind::Transform => {
            if let Ok((_, t)) = header_records::parse_transform_header(pdu.data) {
                f.summary.on_encrypted(f.conn.id, f.conn.client, f.conn.server, f.frame);
                f.report.opaque.push(OpaquePdu {
                    session_id: t.session_id,
                    description: format!("Encrypted SMB3 message, {} bytes, session 0x{:016x}", t.original_message_size, t.session_id),
                });
            }
        }
        PduKind::Compressed => {
            if let Ok((_, c)) = header_records::parse_compression_header(pdu.data) {
                f.report.opaque.push(OpaquePdu {
                    session_id: 0,
                    description: format!("Compressed SMB message ({}), {} bytes uncompressed", c.algorithm_name(), c.original_size),
                });
            }
        }
        PduKind::Smb1 => {}
    }
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
    let text = format!(
        "SMB message at offset {off} of a {}-byte SMB PDU is cut short: {} bytes are missing from the capture, so only its first bytes are decoded",
        pdu.declared_len, pdu.lost
    );
    push_finding(f, Finding { rule: &catalog::DECODE_TRUNCATED, text, related_frames: Vec::new() });
}

fn on_message(ctx: &mut ConnCtx, _sessions: &mut SessionTable, hdr: &Smb2Header<'_>, _msg: &[u8], cut: bool, f: &mut FrameCtx<'_>) {
    let is_response = hdr.is_response();
    let mut m = MessageFields {
        cmd: hdr.command,
        is_response,
        status: if is_response { Some(hdr.status) } else { None },
        msg_id: hdr.message_id,
        async_id: hdr.async_id(),
        session_id: hdr.session_id,
        tree_id: hdr.tree_id(),
        dialect: ctx.dialect,
        truncated: cut,
        ..Default::default()
    };
    if is_response {
        match_response(ctx, hdr, &mut m, f);
    } else if hdr.command != Command::CANCEL {
        // CANCEL reuses the id of the request it cancels and gets no response.
        ctx.pending.insert(
            hdr.message_id,
            PendingRequest {
                frame: f.frame,
                ts_ns: f.ts_ns,
                cmd: hdr.command,
                msg_index: f.report.messages.len(),
                async_id: None,
                interim_frame: None,
            },
        );
    }
    m.summary = summary(&m);
    let ev = MsgEvent { frame: f.frame, ts_ns: f.ts_ns, conn: f.conn, hdr, fields: &m, negotiate_offer: None };
    let mut found = Vec::new();
    f.engine.on_message(f.config, &ev, &mut found);
    f.summary.on_message(f.conn.id, f.conn.client, f.conn.server, f.frame, &m, hdr.flags.is_signed());
    f.report.messages.push(m);
    for x in found {
        push_finding(f, x);
    }
}

fn match_response(ctx: &mut ConnCtx, hdr: &Smb2Header<'_>, m: &mut MessageFields, f: &mut FrameCtx<'_>) {
    let interim = hdr.status == NtStatus::PENDING && hdr.flags.is_async();
    let Some(req) = ctx.pending.get_mut(hdr.message_id) else { return };
    if req.cmd != hdr.command {
        return; // not ours: a capture that missed the real request
    }
    m.request_frame = Some(req.frame);
    m.response_time_ns = Some(f.ts_ns - req.ts_ns);
    if interim {
        m.interim = true;
        req.async_id = hdr.async_id();
        req.interim_frame = Some(f.frame);
        return;
    }
    let req = ctx.pending.remove(hdr.message_id).expect("present");
    let frame = f.frame;
    let target = if req.frame == frame { Some(&mut *f.report) } else { f.reports.get_mut(req.frame) };
    if let Some(msg) = target.and_then(|r| r.messages.get_mut(req.msg_index)) {
        msg.response_frame = Some(frame);
    }
}

fn summary(m: &MessageFields) -> String {
    let mut s = format!("{} {}", m.cmd, if m.is_response { "response" } else { "request" });
    if let Some(st) = m.status {
        if st != NtStatus::SUCCESS {
            s.push(' ');
            s.push_str(&st.to_string());
        }
    }
    s.push_str(&format!(", msg {}", m.msg_id));
    if m.truncated {
        s.push_str(" (cut short in the capture)");
    }
    s
}
