//! Performance diagnoses: responses far slower than usual, and requests the
//! server never answered while the connection carried on.

use std::collections::{BTreeMap, HashMap};

use super::catalog;
use super::{secs, MsgEvent, SegEvent};
use crate::analyzer::Config;
use crate::net::flow::{ConnId, Dir};
use crate::output::Finding;
use crate::smb::types::{Command, NtStatus};

/// Samples of a command's response time kept per connection for its "usual".
const HISTORY: usize = 64;
/// Relative slowness worth a finding: this many times the usual, and at least
/// `REL_MIN_NS` in absolute terms (so sub-millisecond jitter never fires).
const REL_FACTOR: i64 = 20;
const REL_MIN_NS: i64 = 200_000_000;
const REL_MIN_SAMPLES: usize = 8;

/// Commands that wait by design: a slow or missing answer is not a problem.
fn waits_by_design(cmd: Command) -> bool {
    matches!(cmd, Command::CHANGE_NOTIFY | Command::OPLOCK_BREAK | Command::CANCEL | Command::LOCK | Command::ECHO)
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    frame: u32,
    ts_ns: i64,
    cmd: Command,
    msg_id: u64,
    reported: bool,
    pipe: bool,
}

#[derive(Debug, Default)]
struct ConnPerf {
    /// Network round trip from the handshake (SYN → SYN/ACK → ACK as seen here).
    syn_ns: Option<i64>,
    rtt_ns: Option<i64>,
    history: HashMap<Command, Vec<i64>>,
    /// Requests without a final answer, by request frame.
    outstanding: BTreeMap<(u32, u64), Outstanding>,
    by_msg_id: HashMap<u64, (u32, u64)>,
}

impl ConnPerf {
    fn usual(&self, cmd: Command) -> Option<i64> {
        let h = self.history.get(&cmd)?;
        if h.len() < REL_MIN_SAMPLES {
            return None;
        }
        let mut v = h.clone();
        v.sort_unstable();
        Some(v[v.len() / 2])
    }

    fn record(&mut self, cmd: Command, ns: i64) {
        let h = self.history.entry(cmd).or_default();
        if h.len() >= HISTORY {
            h.remove(0);
        }
        h.push(ns);
    }
}

#[derive(Debug, Default)]
pub struct PerfRules {
    conns: HashMap<ConnId, ConnPerf>,
}

impl PerfRules {
    pub fn on_segment(&mut self, ev: &SegEvent<'_>) {
        let c = self.conns.entry(ev.conn.id).or_default();
        let o = &ev.info.obs;
        if o.syn && c.syn_ns.is_none() {
            c.syn_ns = Some(ev.ts_ns);
        } else if c.rtt_ns.is_none() && c.syn_ns.is_some() && ev.info.dir == Dir::ToServer && !o.syn && ev.seg.flags.ack() {
            // The client's ACK of the SYN/ACK closes the handshake: one full round trip.
            c.rtt_ns = c.syn_ns.map(|t| ev.ts_ns - t);
        }
        if o.fin || o.rst {
            // Nothing more will be answered on this connection.
            c.outstanding.clear();
            c.by_msg_id.clear();
        }
    }

    pub fn on_message(&mut self, cfg: &Config, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let c = self.conns.entry(ev.conn.id).or_default();
        let h = ev.hdr;
        let pipe = ev.fields.tree.as_deref().is_some_and(|t| t.to_ascii_uppercase().ends_with("\\IPC$"));
        if !h.is_response() {
            if waits_by_design(h.command) || c.outstanding.len() >= 4096 {
                return;
            }
            let key = (ev.frame, h.message_id);
            c.outstanding.insert(key, Outstanding { frame: ev.frame, ts_ns: ev.ts_ns, cmd: h.command, msg_id: h.message_id, reported: false, pipe });
            c.by_msg_id.insert(h.message_id, key);
            return;
        }
        if h.status == NtStatus::PENDING && h.flags.is_async() {
            return; // interim: the clock runs until the final response
        }
        let Some(key) = c.by_msg_id.remove(&h.message_id) else { return };
        let Some(req) = c.outstanding.remove(&key) else { return };
        let rt = ev.ts_ns - req.ts_ns;
        // Requests issued before this one and still unanswered long after.
        let unanswered_ns = (cfg.unanswered_s * 1e9) as i64;
        let mut stale = Vec::new();
        for (_, o) in c.outstanding.range(..key) {
            if !o.reported && ev.ts_ns - o.ts_ns >= unanswered_ns && !o.pipe {
                stale.push(*o);
            }
        }
        for o in stale {
            if let Some(x) = c.outstanding.get_mut(&(o.frame, o.msg_id)) {
                x.reported = true;
            }
            out.push(Finding {
                rule: &catalog::PERF_UNANSWERED,
                text: format!(
                    "No response to the {} request of frame {} (message id {}) after {}, while the server kept answering later requests on this connection (this {} response to frame {}). The server lost or is stuck on that one request: a hung file-system filter, a blocked backend, or a request the server dropped. Check the server's SMB operational event log or log.smbd, and whether the client cancels and retries.",
                    o.cmd,
                    o.frame,
                    o.msg_id,
                    secs(ev.ts_ns - o.ts_ns),
                    h.command,
                    req.frame
                ),
                related_frames: vec![o.frame],
            });
        }
        if waits_by_design(h.command) || req.pipe {
            return;
        }
        let abs_ns = (cfg.slow_response_s * 1e9) as i64;
        let usual = c.usual(h.command);
        let slow_abs = rt >= abs_ns;
        let slow_rel = usual.is_some_and(|u| rt >= REL_MIN_NS && rt >= REL_FACTOR * u.max(1));
        c.record(h.command, rt);
        if !(slow_abs || slow_rel) {
            return;
        }
        let what = match (&ev.fields.file, &ev.fields.tree) {
            (Some(f), _) => format!("{} of {}", h.command, f),
            (None, Some(t)) => format!("{} on {}", h.command, t),
            (None, None) => h.command.to_string(),
        };
        let usual_text = match usual {
            Some(u) => format!("; the usual {} on this connection takes {}", h.command, secs(u)),
            None => String::new(),
        };
        let rtt_text = match c.rtt_ns {
            Some(r) => format!(" The network round trip is only {} (TCP handshake), so the time was spent in the server, not on the wire.", secs(r)),
            None => String::new(),
        };
        let cause = match h.command {
            Command::CREATE => "Slow opens come from storage latency, antivirus or other filter drivers scanning on open, or an open waiting for another client's oplock/lease break",
            Command::READ | Command::WRITE => "Slow reads and writes come from storage latency or a saturated server disk",
            Command::SESSION_SETUP => "A slow logon points at the server's path to a domain controller (Kerberos/NTLM pass-through)",
            Command::TREE_CONNECT => "A slow tree connect points at the server's share lookup, a preexec script, or DFS",
            Command::QUERY_DIRECTORY => "Slow listings come from large folders, storage latency or filter drivers",
            _ => "The server was slow to process it: storage, filter drivers or load",
        };
        out.push(Finding {
            rule: &catalog::PERF_SLOW_RESPONSE,
            text: format!(
                "Slow response: {what} took {} (request frame {}){usual_text}.{rtt_text} {cause}. Check the server's disk latency and CPU at that time (Get-Counter '\\PhysicalDisk(*)\\Avg. Disk sec/Transfer') and filter drivers (fltmc).",
                secs(rt),
                req.frame
            ),
            related_frames: vec![req.frame],
        });
    }
}
