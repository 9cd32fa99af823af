//! Per-connection summary statistics (`tshark -z smbdiag,summary`): who talked
//! to whom, with which dialect and security, which shares and files, how many
//! requests of each command and how fast, which errors, and the findings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::net::flow::ConnId;
use crate::net::link::Endpoint;
use crate::output::{Finding, MessageFields};
use crate::smb::types::{Command, Dialect, NtStatus};

#[derive(Debug, Default)]
struct ConnSummary {
    client: Option<Endpoint>,
    server: Option<Endpoint>,
    first_frame: u32,
    dialect: Option<Dialect>,
    /// Messages of established sessions (not NEGOTIATE/SESSION_SETUP), and how many were signed.
    session_msgs: u64,
    signed_msgs: u64,
    encrypted_pdus: u64,
    users: BTreeSet<String>,
    auths: BTreeSet<String>,
    trees: BTreeSet<String>,
    files: BTreeSet<String>,
    opens: u64,
    bytes_read: u64,
    bytes_written: u64,
    requests: BTreeMap<Command, u64>,
    response_ns: BTreeMap<Command, Vec<i64>>,
    errors: BTreeMap<NtStatus, u64>,
}

/// Packet copies set aside (net::copies): per connection, and the first one.
#[derive(Debug, Default)]
struct Copies {
    per_conn: BTreeMap<ConnId, u64>,
    total: u64,
    /// (copy frame, frame it copies) of the first copy.
    first: Option<(u32, u32)>,
}

/// Bound on distinct names listed per connection.
const MAX_NAMES: usize = 64;
/// Bound on connections whose copies are counted apart (the total counts all).
const MAX_CONN_COPIES: usize = 100_000;
/// Bound on response-time samples kept per command and connection.
const MAX_SAMPLES: usize = 100_000;

#[derive(Debug, Default)]
pub struct Summary {
    conns: BTreeMap<ConnId, ConnSummary>,
    findings: BTreeMap<&'static str, (u64, Vec<u32>)>,
    copies: Copies,
}

fn bounded_insert(set: &mut BTreeSet<String>, v: &str) {
    // Look first: this runs for every message, and most names are known already.
    if set.len() < MAX_NAMES && !set.contains(v) {
        set.insert(v.to_string());
    }
}

impl Summary {
    pub fn on_message(&mut self, conn: ConnId, client: Endpoint, server: Endpoint, frame: u32, m: &MessageFields, signed: bool) {
        let c = self.conns.entry(conn).or_default();
        if c.client.is_none() {
            c.client = Some(client);
            c.server = Some(server);
            c.first_frame = frame;
        }
        if let Some(d) = m.dialect {
            c.dialect = Some(d);
        }
        if m.session_id != 0 && m.cmd != crate::smb::types::Command::NEGOTIATE && m.cmd != crate::smb::types::Command::SESSION_SETUP {
            c.session_msgs += 1;
            c.signed_msgs += signed as u64;
        }
        if let Some(u) = &m.user {
            bounded_insert(&mut c.users, u);
        }
        if let Some(a) = m.auth {
            bounded_insert(&mut c.auths, a.name());
        }
        if let Some(t) = &m.tree {
            bounded_insert(&mut c.trees, t);
        }
        if !m.is_response {
            *c.requests.entry(m.cmd).or_default() += 1;
            return;
        }
        if m.interim {
            return;
        }
        if let Some(f) = &m.file {
            bounded_insert(&mut c.files, f);
        }
        let status = m.status.unwrap_or_default();
        if status.is_error() {
            *c.errors.entry(status).or_default() += 1;
        } else if m.cmd == Command::CREATE {
            c.opens += 1;
        }
        if let Some(rt) = m.response_time_ns {
            let v = c.response_ns.entry(m.cmd).or_default();
            if v.len() < MAX_SAMPLES {
                v.push(rt);
            }
        }
    }

    pub fn on_bytes(&mut self, conn: ConnId, read: u64, written: u64) {
        let c = self.conns.entry(conn).or_default();
        c.bytes_read += read;
        c.bytes_written += written;
    }

    pub fn on_encrypted(&mut self, conn: ConnId, client: Endpoint, server: Endpoint, frame: u32) {
        let c = self.conns.entry(conn).or_default();
        if c.client.is_none() {
            c.client = Some(client);
            c.server = Some(server);
            c.first_frame = frame;
        }
        c.encrypted_pdus += 1;
    }

    /// A frame set aside as a copy of an earlier one (`conn`: its connection, when tracked).
    pub fn on_copy(&mut self, conn: Option<ConnId>, frame: u32, of: u32) {
        let c = &mut self.copies;
        c.total += 1;
        c.first.get_or_insert((frame, of));
        if let Some(id) = conn.filter(|id| c.per_conn.len() < MAX_CONN_COPIES || c.per_conn.contains_key(id)) {
            *c.per_conn.entry(id).or_default() += 1;
        }
    }

    pub fn on_finding(&mut self, frame: u32, f: &Finding) {
        let e = self.findings.entry(f.rule.id).or_default();
        e.0 += 1;
        if e.1.len() < 10 {
            e.1.push(frame);
        }
    }

    /// A finding taken back from an earlier frame (a later one replaced it).
    pub fn on_withdrawn(&mut self, frame: u32, f: &Finding) {
        if let Some(e) = self.findings.get_mut(f.rule.id) {
            e.0 = e.0.saturating_sub(1);
            e.1.retain(|&x| x != frame);
            if e.0 == 0 {
                self.findings.remove(f.rule.id);
            }
        }
    }

    /// The report, stable for diffing: connections in order of first frame.
    pub fn render(&self, capture_points: Option<&str>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "==================================================================");
        let _ = writeln!(s, "smbdiag summary: {} SMB connection(s)", self.conns.len());
        let mut conns: Vec<(&ConnId, &ConnSummary)> = self.conns.iter().collect();
        conns.sort_by_key(|(_, c)| c.first_frame);
        for (i, (id, c)) in conns.iter().enumerate() {
            let ep = |e: &Option<Endpoint>| e.map(|e| e.to_string()).unwrap_or_else(|| "?".into());
            let _ = writeln!(s, "\nConnection {}: client {} -> server {} (first frame {})", i + 1, ep(&c.client), ep(&c.server), c.first_frame);
            let _ = writeln!(
                s,
                "  dialect: {}  signing: {}  encryption: {}",
                c.dialect.map(|d| d.to_string()).unwrap_or_else(|| "unknown".into()),
                match (c.signed_msgs, c.session_msgs) {
                    (_, 0) => "no session traffic seen".to_string(),
                    (n, t) if n == t => format!("all {t} messages signed"),
                    (0, t) => format!("none of {t} messages signed"),
                    (n, t) => format!("{n} of {t} messages signed"),
                },
                if c.encrypted_pdus > 0 { format!("yes ({} encrypted PDUs)", c.encrypted_pdus) } else { "not seen".into() }
            );
            let join = |set: &BTreeSet<String>| if set.is_empty() { "-".to_string() } else { set.iter().cloned().collect::<Vec<_>>().join(", ") };
            let _ = writeln!(s, "  auth: {}  users: {}", join(&c.auths), join(&c.users));
            let _ = writeln!(s, "  shares: {}", join(&c.trees));
            if let Some(n) = self.copies.per_conn.get(id) {
                let _ = writeln!(s, "  packet copies set aside: {n} (the same packet captured more than once: decoded once, not counted as retransmissions)");
            }
            let _ = writeln!(s, "  files opened: {}  distinct names: {}  bytes read: {}  bytes written: {}", c.opens, c.files.len(), c.bytes_read, c.bytes_written);
            if !c.requests.is_empty() {
                let _ = writeln!(s, "  {:<16} {:>8} {:>12} {:>12} {:>12}", "command", "requests", "p50", "p95", "max");
                for (cmd, n) in &c.requests {
                    let (p50, p95, max) = match c.response_ns.get(cmd) {
                        Some(v) if !v.is_empty() => {
                            let mut v = v.clone();
                            v.sort_unstable();
                            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
                            (fmt_ms(q(0.5)), fmt_ms(q(0.95)), fmt_ms(*v.last().unwrap_or(&0)))
                        }
                        _ => ("-".into(), "-".into(), "-".into()),
                    };
                    let _ = writeln!(s, "  {:<16} {:>8} {:>12} {:>12} {:>12}", cmd.to_string(), n, p50, p95, max);
                }
            }
            if !c.errors.is_empty() {
                let _ = writeln!(s, "  statuses other than success (routine ones included):");
                for (st, n) in &c.errors {
                    let _ = writeln!(s, "    {st} x{n}");
                }
            }
        }
        if let Some(p) = capture_points {
            let _ = writeln!(s, "\n{p}");
        }
        if let Some((frame, of)) = self.copies.first {
            let _ = writeln!(
                s,
                "\nPacket copies set aside: {} frame(s) held a packet already captured a moment before (first: frame {frame}, a copy of frame {of}): several capture points on one host, a port mirror or a merged capture. Each was decoded once.",
                self.copies.total
            );
        }
        let _ = writeln!(s, "\nFindings by rule:");
        if self.findings.is_empty() {
            let _ = writeln!(s, "  none");
        }
        for (rule, (n, frames)) in &self.findings {
            let list: Vec<String> = frames.iter().map(u32::to_string).collect();
            let _ = writeln!(s, "  {rule:<32} x{n}  frames {}{}", list.join(", "), if *n as usize > frames.len() { ", ..." } else { "" });
        }
        let _ = writeln!(s, "==================================================================");
        s
    }
}

fn fmt_ms(ns: i64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}
