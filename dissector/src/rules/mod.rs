//! Diagnosis rules: the catalog of rule ids and the rules that raise findings.
//!
//! Rules see two kinds of events, in capture order: every TCP segment (after
//! the SMB messages it completed) and every SMB2 message (after state was
//! updated with it). They keep whatever per-connection memory they need and
//! return findings for the current frame; a finding that only a later frame
//! proves is raised on that frame and points back with related frames.

pub mod catalog;
pub mod create;
pub mod decode;
pub mod kdc_evidence;
pub mod negotiate;
pub mod perf;
pub mod responses;
pub mod security;
pub mod session;
pub mod status;
pub mod status_advice;
pub mod transport;
pub mod tree;

pub use crate::state::events::{ConnView, MsgEvent, Smb1NegotiateEvent};

use crate::config::Config;
use crate::limits::Bound;
use crate::net::flow::{ConnId, SegmentInfo};
use crate::net::link::TcpSegment;
use crate::output::Finding;
use crate::state::kdc::KdcLog;
use crate::state::pending::PendingTable;

/// A TCP segment event.
pub struct SegEvent<'a> {
    pub frame: u32,
    pub ts_ns: i64,
    pub conn: ConnView,
    pub seg: &'a TcpSegment<'a>,
    pub info: &'a SegmentInfo,
    /// What KDCs told clients on port 88 (errors, tickets), newest last.
    pub kdc: &'a KdcLog,
    /// On a FIN or RST: the connection's requests still awaiting a response.
    pub pending: Option<&'a PendingTable>,
}

#[derive(Debug, Default)]
pub struct Engine {
    transport: transport::TransportRules,
    negotiate: negotiate::NegotiateRules,
    perf: perf::PerfRules,
    credits: perf::credits::CreditRules,
    session: session::SessionRules,
    tree: tree::TreeRules,
    create: create::CreateRules,
    status: status::StatusRules,
    ntlm_fallback: session::ntlm_fallback::NtlmFallbackRules,
    security: security::SecurityRules,
    kerberos_failed: session::kerberos_failed::KerberosFailedRules,
}

impl Engine {
    pub fn on_segment(&mut self, cfg: &Config, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        let from = out.len();
        self.transport.on_segment(cfg, ev, out);
        let closed = out.len();
        self.negotiate.on_segment(ev, out);
        if out.len() > closed {
            // A NEGOTIATE refused by a close: that close is the refusal, not requests cut off.
            let mut i = from;
            while i < closed {
                if out[i].rule.id == catalog::TRANSPORT_CLOSED_WITH_PENDING.id || out[i].rule.id == catalog::TRANSPORT_RESET_MID_SESSION.id {
                    out.remove(i);
                    break;
                }
                i += 1;
            }
        }
        self.perf.on_segment(ev);
        self.kerberos_failed.on_segment(ev, out);
    }

    pub fn on_message(&mut self, cfg: &Config, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        self.transport.on_message(ev);
        self.negotiate.on_message(ev, out);
        self.perf.on_message(cfg, ev, out);
        self.credits.on_message(ev, out);
        // One family explains a failed response (the others stay quiet on it).
        let why = responses::explainer(ev);
        self.session.on_message(ev, why, out);
        self.tree.on_message(ev, why, out);
        self.create.on_message(ev, why, out);
        self.status.on_message(ev, why, out);
        // Where it ran inside the security rules: a frame's findings keep their order.
        self.ntlm_fallback.on_message(ev, out);
        self.security.on_message(cfg, ev, out);
        self.kerberos_failed.on_message(ev);
    }

    /// The server sent an encrypted message that stays hidden: it may answer
    /// any request outstanding on the connection (the state marks them), and
    /// it hides the credits it grants.
    pub fn on_encrypted_from_server(&mut self, id: ConnId) {
        self.perf.on_encrypted_from_server(id);
        self.credits.on_encrypted(id);
    }

    /// The bounds of every family's tables.
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        self.transport.bounds(f);
        self.perf.bounds(f);
        self.session.bounds(f);
        self.tree.bounds(f);
        self.create.bounds(f);
        self.status.bounds(f);
        self.ntlm_fallback.bounds(f);
        self.security.bounds(f);
        self.kerberos_failed.bounds(f);
    }

    /// A connection ended for good: drop what the rules kept about it.
    pub fn forget(&mut self, id: ConnId) {
        self.transport.forget(id);
        self.negotiate.forget(id);
        self.perf.forget(id);
        self.credits.forget(id);
        self.security.forget(id);
        self.status.forget(id);
        self.kerberos_failed.forget(id);
    }

    /// Connections the rules hold state for (for bounds tests).
    pub fn tracked_connections(&self) -> usize {
        self.transport.len().max(self.negotiate.len()).max(self.perf.len()).max(self.credits.len()).max(self.kerberos_failed.tracked())
    }

    pub fn on_smb1_negotiate(&mut self, cfg: &Config, ev: &Smb1NegotiateEvent<'_>, out: &mut Vec<Finding>) {
        self.transport.on_smb1_negotiate(ev);
        self.negotiate.on_smb1_negotiate(ev, out);
        self.security.on_smb1_negotiate(cfg, ev, out);
    }
}

/// "frame 12", "frames 12, 14 and 19".
pub fn frames_phrase(frames: &[u32]) -> String {
    match frames {
        [] => String::new(),
        [one] => format!("frame {one}"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(u32::to_string).collect();
            format!("frames {} and {last}", init.join(", "))
        }
    }
}

/// Seconds with sensible precision for a sentence.
pub fn secs(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 10.0 {
        format!("{s:.0} s")
    } else if s >= 0.1 {
        format!("{s:.1} s")
    } else if s >= 0.000_1 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// Who a session is, for a sentence: the user when the logon showed it,
/// else how it authenticated and to which name.
pub fn session_phrase(s: Option<&crate::state::session::Session>, id: u64) -> String {
    let Some(s) = s else { return format!("session 0x{id:x}") };
    match (s.user.as_deref(), s.auth.map(crate::smb::auth::Authentication::name), s.target_spn.as_deref()) {
        (Some(u), _, _) => format!("session 0x{id:x} of {u}"),
        (None, Some(a), Some(spn)) => format!("session 0x{id:x} ({a}, ticket for {spn})"),
        (None, Some(a), None) => format!("session 0x{id:x} ({a})"),
        (None, None, _) => format!("session 0x{id:x}"),
    }
}

pub fn user_phrase(s: Option<&crate::state::session::Session>) -> String {
    match s.and_then(|s| s.user.as_deref()) {
        Some(u) => format!("user {u}"),
        None => "the session's user".to_string(),
    }
}

pub fn dialect_phrase(d: Option<crate::smb::types::Dialect>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "an unknown dialect".to_string())
}
