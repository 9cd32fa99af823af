//! Performance diagnoses (perf.*): responses far slower than usual, and
//! requests the server never answered while the connection carried on, here;
//! the credit books behind perf.credit_starvation in `credits`.

pub mod credits;

use crate::limits::{Bound, Limit};

use ahash::{HashMap, HashSet};
use std::sync::Arc;

use super::catalog;
use super::{secs, MsgEvent, SegEvent};
use crate::config::Config;
use crate::net::flow::{ConnId, Dir};
use crate::net::slots::PerConn;
use crate::output::Finding;
use crate::smb::types::Command;
use crate::state::pending::{PendingRequest, MAX_PENDING_PER_CONN};
use crate::state::session::is_ipc_path;

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

/// A request the rules time: not one that waits by design, nor one on a named pipe.
fn timed(r: &PendingRequest) -> bool {
    !waits_by_design(r.cmd) && !is_pipe(r)
}

fn is_pipe(r: &PendingRequest) -> bool {
    r.tree.as_deref().is_some_and(is_ipc_path)
}

#[derive(Debug, Default)]
struct ConnPerf {
    /// Network round trip from the handshake (SYN → SYN/ACK → ACK as seen here).
    syn_ns: Option<i64>,
    rtt_ns: Option<i64>,
    history: HashMap<Command, Vec<i64>>,
    /// The state's requests entered before this number were cut off by a FIN
    /// or RST: nothing will answer them, and they are not judged.
    closed_mark: u64,
    /// Timed requests outstanding (not on a named pipe), for the most in flight.
    in_flight: usize,
    /// Outstanding requests already reported unanswered (the state's numbers).
    reported: HashSet<u64>,
    /// Last TCP retransmission on the connection: a response that waited on
    /// one is slow because of loss (transport.packet_loss), not the server.
    last_retx_ns: Option<i64>,
    loss_delayed: u32,
    last_slow_frame: Option<u32>,
    small: SmallFiles,
}

/// Where the time of a transfer goes: per-file round trips vs data.
#[derive(Debug, Default)]
struct SmallFiles {
    first_create: Option<u32>,
    first_ns: i64,
    data_files: HashSet<Arc<str>>,
    bytes: u64,
    meta_ns: i64,
    data_ns: i64,
    max_in_flight: usize,
    reported: bool,
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
    conns: PerConn<ConnPerf>,
    breaks_bound: Bound,
    files_bound: Bound,
    /// Oplock/lease break notifications sent by servers, most recent last.
    breaks: std::collections::VecDeque<BreakSent>,
}

/// A break the server sent to a client holding cached access to a file.
#[derive(Debug, Clone)]
struct BreakSent {
    /// The server's endpoint (address and port: a proxy on another port of
    /// the same host is another server).
    server: crate::net::link::Endpoint,
    conn: ConnId,
    client: crate::net::link::Endpoint,
    frame: u32,
    ts_ns: i64,
    file: Option<Arc<str>>,
    /// The holder's acknowledgement: frame and time.
    acked: Option<(u32, i64)>,
}

const MAX_BREAKS: usize = 1024;

static BREAKS_LIMIT: Limit = Limit {
    table: "oplock and lease breaks",
    max: MAX_BREAKS,
    effect: "the oldest break is forgotten for each new one, so a client slow to acknowledge it is not reported by perf.oplock_break_wait",
};
static FILES_LIMIT: Limit = Limit {
    table: "files counted for small-file transfers on one connection",
    max: MAX_TRACKED_FILES,
    effect: "further files are not counted, so perf.small_files gives a lower file count and a higher average size than the transfer had",
};
/// An open that waited this long with a break to another client in between.
const BREAK_WAIT_MIN_NS: i64 = 1_000_000_000;

impl PerfRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.breaks_bound);
        f(&mut self.files_bound);
    }

    pub fn forget(&mut self, id: ConnId) {
        self.conns.remove(id);
    }

    /// Encrypted answers cannot be matched to requests: the state marks the
    /// outstanding ones, which are not judged; the count in flight starts afresh.
    pub fn on_encrypted_from_server(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id) {
            c.in_flight = 0;
            c.reported.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn on_segment(&mut self, ev: &SegEvent<'_>) {
        let c = self.conns.entry(ev.conn.id);
        let o = &ev.info.obs;
        if o.syn && c.syn_ns.is_none() {
            c.syn_ns = Some(ev.ts_ns);
        } else if c.rtt_ns.is_none() && c.syn_ns.is_some() && ev.info.dir == Dir::ToServer && !o.syn && ev.seg.flags.ack() {
            // The client's ACK of the SYN/ACK closes the handshake: one full round trip.
            c.rtt_ns = c.syn_ns.map(|t| ev.ts_ns - t);
        }
        if o.retransmission {
            c.last_retx_ns = Some(ev.ts_ns);
        }
        if o.fin || o.rst {
            // Nothing more will be answered on this connection.
            if let Some(p) = ev.pending {
                c.closed_mark = p.next_seq();
            }
            c.in_flight = 0;
            c.reported.clear();
        }
    }

    pub fn on_message(&mut self, cfg: &Config, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        if h.command == Command::OPLOCK_BREAK {
            if h.is_response() && h.message_id == u64::MAX {
                // Unsolicited: the server breaks a client's oplock or lease.
                if !self.breaks_bound.admit(&BREAKS_LIMIT, self.breaks.len(), ev.frame) {
                    self.breaks.pop_front();
                }
                self.breaks.push_back(BreakSent {
                    server: ev.conn.server,
                    conn: ev.conn.id,
                    client: ev.conn.client,
                    frame: ev.frame,
                    ts_ns: ev.ts_ns,
                    file: ev.fields.file.clone(),
                    acked: None,
                });
            } else if !h.is_response() {
                if let Some(b) = self.breaks.iter_mut().rev().find(|b| b.conn == ev.conn.id && b.acked.is_none()) {
                    b.acked = Some((ev.frame, ev.ts_ns));
                }
            }
        }
        let c = self.conns.entry(ev.conn.id);
        // The exchange as the state matched it; requests cut off by a FIN/RST
        // or perhaps answered by a hidden message are not judged.
        let Some(req) = ev.request else { return };
        let mark = c.closed_mark.max(ev.pending.hidden_mark());
        if req.seq < mark || waits_by_design(req.cmd) {
            return;
        }
        if !h.is_response() {
            if !is_pipe(req) {
                c.in_flight += 1;
                c.small.max_in_flight = c.small.max_in_flight.max(c.in_flight);
            }
            return;
        }
        // Interim: the clock runs until the final response (the state keeps its frame).
        if ev.fields.interim {
            return;
        }
        if !is_pipe(req) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
        c.reported.remove(&req.seq);
        let rt = ev.ts_ns - req.ts_ns;
        // Requests issued before this one and still unanswered long after.
        let unanswered_ns = (cfg.unanswered_s * 1e9) as i64;
        let mut stale: Vec<&PendingRequest> = Vec::new();
        for o in ev.pending.since(mark).take_while(|o| o.seq < req.seq) {
            // Only when the answered request came well after the stale one: a burst
            // answered together after a stall is slowness, not a lost request.
            if timed(o) && !c.reported.contains(&o.seq) && ev.ts_ns - o.ts_ns >= unanswered_ns && req.ts_ns - o.ts_ns >= unanswered_ns / 2 {
                stale.push(o);
            }
        }
        stale.sort_by_key(|o| (o.frame, o.msg_id));
        if c.reported.len() + stale.len() > MAX_PENDING_PER_CONN {
            // Those the state forgot (its table is bounded) can go.
            c.reported.retain(|s| ev.pending.since(*s).next().is_some_and(|r| r.seq == *s));
        }
        for o in stale {
            c.reported.insert(o.seq);
            // An open held up by a break the server sent another client after it.
            let holder = if o.cmd == Command::CREATE {
                self.breaks.iter().rev().find(|b| b.server == ev.conn.server && b.conn != ev.conn.id && b.ts_ns >= o.ts_ns && b.acked.is_none())
            } else {
                None
            };
            let (cause, mut related) = match (o.interim_frame, holder) {
                (_, Some(b)) => (
                    format!(
                        "{} It is most likely waiting for the oplock/lease break the server sent in frame {} to {}{}, which that client has not acknowledged: the open completes when it does, or when the server's break timeout (about 35 s) expires. Check that client (is it hung or unreachable?) and the handle it holds (Get-SmbOpenFile on Windows, smbstatus on Samba).",
                        o.interim_frame.map(|f| format!("The server acknowledged it with an interim STATUS_PENDING in frame {f}, so it has the request and is working on it.")).unwrap_or_default(),
                        b.frame,
                        b.client,
                        b.file.as_deref().map(|f| format!(" for {f}")).unwrap_or_default()
                    ),
                    vec![o.frame, b.frame],
                ),
                (Some(f), None) => (
                    format!(
                        "The server acknowledged it with an interim STATUS_PENDING in frame {f}, so it has the request and is still working on it: it is blocked server-side (a lock or oplock held elsewhere, a hung file-system filter, slow storage). Check the server's open handles (Get-SmbOpenFile, smbstatus) and its SMB operational log or log.smbd."
                    ),
                    vec![o.frame, f],
                ),
                (None, None) => (
                    "The server lost or is stuck on that one request: a hung file-system filter, a blocked backend, or a request the server dropped. Check the server's SMB operational event log or log.smbd, and whether the client cancels and retries.".to_string(),
                    vec![o.frame],
                ),
            };
            related.dedup();
            out.push(Finding {
                rule: &catalog::PERF_UNANSWERED,
                text: format!(
                    "No final response to the {} request of frame {} (message id {}) after {}, while the server kept answering later requests on this connection (this {} response to frame {}). {cause}",
                    o.cmd,
                    o.frame,
                    o.msg_id,
                    secs(ev.ts_ns - o.ts_ns),
                    h.command,
                    req.frame
                ),
                related_frames: related,
            });
        }
        if is_pipe(req) {
            return;
        }
        small_files(c, &mut self.files_bound, ev, req, rt, out);
        if h.command == Command::CREATE && rt >= BREAK_WAIT_MIN_NS {
            let during = self.breaks.iter().rev().find(|b| b.server == ev.conn.server && b.conn != ev.conn.id && b.ts_ns >= req.ts_ns && b.ts_ns <= ev.ts_ns);
            if let Some(b) = during {
                out.push(break_wait_finding(ev, req, rt, b));
                return;
            }
        }
        // A compound's later responses share the first one's wait: judge the chain once.
        if h.flags.is_related() {
            return;
        }
        if c.last_retx_ns.is_some_and(|t| t >= req.ts_ns) {
            // Waited on a retransmission: loss, reported by transport.packet_loss.
            c.loss_delayed += 1;
            return;
        }
        let abs_ns = (cfg.slow_response_s * 1e9) as i64;
        // The usual time (a median: a sort) only matters for a response slow enough to judge.
        let usual = if rt >= REL_MIN_NS || rt >= abs_ns { c.usual(h.command) } else { None };
        let slow_abs = rt >= abs_ns;
        let slow_rel = usual.is_some_and(|u| rt >= REL_MIN_NS && rt >= REL_FACTOR * u.max(1));
        c.record(h.command, rt);
        if !(slow_abs || slow_rel) {
            return;
        }
        // Several requests answered together after one stall: one finding per frame.
        if c.last_slow_frame == Some(ev.frame) {
            return;
        }
        c.last_slow_frame = Some(ev.frame);
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
            Command::NEGOTIATE => "A slow NEGOTIATE means the server was slow to take the connection on: smbd forking and loading its configuration, reverse DNS lookups of the client, or an overloaded server",
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

/// Files moved on a connection before the per-file round trips are judged.
const SMALL_FILES_MIN: usize = 50;
/// Average bytes per file below which a file counts as small.
const SMALL_FILE_BYTES: u64 = 64 * 1024;
const MAX_TRACKED_FILES: usize = 4096;

fn small_files(c: &mut ConnPerf, files_bound: &mut Bound, ev: &MsgEvent<'_>, req: &PendingRequest, rt: i64, out: &mut Vec<Finding>) {
    use crate::smb::records::Body;
    let s = &mut c.small;
    match ev.hdr.command {
        Command::CREATE | Command::CLOSE | Command::QUERY_INFO | Command::QUERY_DIRECTORY | Command::SET_INFO | Command::FLUSH => {
            if ev.hdr.command == Command::CREATE && s.first_create.is_none() {
                s.first_create = Some(req.frame);
                s.first_ns = req.ts_ns;
            }
            s.meta_ns += rt;
        }
        Command::READ | Command::WRITE => {
            s.data_ns += rt;
            let n = match ev.body {
                Body::ReadResponse(r) => r.data_length as u64,
                Body::WriteResponse(w) => w.count as u64,
                _ => 0,
            };
            s.bytes += n;
            if let Some(f) = &ev.fields.file {
                if n > 0 && !s.data_files.contains(f) && files_bound.admit(&FILES_LIMIT, s.data_files.len(), ev.frame) {
                    s.data_files.insert(f.clone());
                }
            }
        }
        _ => return,
    }
    let files = s.data_files.len();
    if s.reported || files < SMALL_FILES_MIN || s.bytes / files as u64 >= SMALL_FILE_BYTES || s.meta_ns <= s.data_ns {
        return;
    }
    s.reported = true;
    let total = (s.meta_ns + s.data_ns).max(1);
    let meta_pct = s.meta_ns * 100 / total;
    let in_flight = if s.max_in_flight <= 2 {
        format!(" The client kept at most {} request(s) in flight, so every round trip is paid in full, one file after another.", s.max_in_flight)
    } else {
        String::new()
    };
    out.push(Finding {
        rule: &catalog::PERF_SMALL_FILES,
        text: format!(
            "Many small files: {files} files moved so far on this connection, {} per file on average ({} in all, over {}). {meta_pct}% of the time spent waiting on the server went to per-file operations (CREATE, QUERY_INFO, CLOSE, directory listings) and {}% to READ/WRITE.{in_flight} Per-file round trips, not bandwidth, set the speed: any latency or packet loss is multiplied by the number of files. Next check: copy in parallel (robocopy /MT:16), archive the files before copying, and look for loss (transport.packet_loss) or latency on the path.",
            bytes_phrase(s.bytes / files as u64),
            bytes_phrase(s.bytes),
            secs(ev.ts_ns - s.first_ns),
            100 - meta_pct
        ),
        related_frames: s.first_create.into_iter().collect(),
    });
}

fn bytes_phrase(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 10 * 1024 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

fn break_wait_finding(ev: &MsgEvent<'_>, req: &PendingRequest, rt: i64, b: &BreakSent) -> Finding {
    let file = ev.fields.file.as_deref().or(b.file.as_deref()).unwrap_or("the file");
    let ack = match b.acked {
        Some((f, t)) if t <= ev.ts_ns => format!(
            "The holder acknowledged the break in frame {f}, {} after it was sent: a slow client (busy, paging, or flushing cached writes first)",
            secs(t - b.ts_ns)
        ),
        _ if rt >= 30_000_000_000 => "The holder never acknowledged the break, so the server waited for its break timeout (about 35 s on Windows and Samba) before letting this open through: the holding client is hung, asleep or unreachable".to_string(),
        _ => "The holder's acknowledgement is not in the capture (captured elsewhere, or lost)".to_string(),
    };
    let mut related = vec![req.frame, b.frame];
    if let Some((f, _)) = b.acked {
        related.push(f);
    }
    Finding {
        rule: &catalog::PERF_LEASE_BREAK_WAIT,
        text: format!(
            "CREATE of {file} waited {} (request frame {}) behind an oplock break: another connection, from {}, held cached access to the file, and the server sent it an oplock/lease break in frame {} and held this open until the break was settled. {ack}. This is the classic \"Office file opens slowly\". Next check: which application holds the file on {} (Get-SmbOpenFile on the server, smbstatus -L on Samba); if clients cannot answer breaks, turn off oplocks/leases for the share.",
            secs(rt),
            req.frame,
            b.client,
            b.frame,
            b.client.addr
        ),
        related_frames: related,
    }
}
