//! Two capture points: a capture merged from one taken at the client's side
//! and one at the server's (each its own pcapng interface). One side alone
//! cannot say where a packet was lost; both together can.
//!
//! Kept apart from packet copies on one host by design: copies on one host
//! (a bridge and its port, pktmon's layers) carry the same TTL; a packet seen
//! at the client's end and again at the server's has crossed the routers in
//! between, so its TTL dropped. The side that sees the client's packets with
//! the higher TTL is the client's; a preference names it where no router
//! separates the two (or where one side saw nothing at all).
//!
//! Narrow hooks: the analyzer hands over each TCP frame with its interface and
//! what the copy filter found; this module answers with findings of its own
//! (`path.*`) and the single-view findings they make obsolete.

use std::collections::BTreeMap;

use ahash::HashMap;

use crate::net::copies::CopyOf;
use crate::net::link::{Endpoint, TcpSegment};
use crate::output::Finding;
use crate::smb::types::Command;
use crate::rules::catalog;

/// A packet not seen at the other side this long after (on the other side's
/// clock as far as the pairing goes) never got there.
const ARRIVAL_WINDOW_NS: i64 = crate::net::copies::COPY_WINDOW_NS;
/// Data segments lost between the points, per direction, that make loss worth a finding.
const LOST_CONCLUSIVE: usize = 3;
/// The same bytes lost this many times: the path drops them by their content.
const SAME_BYTES_LOST: usize = 3;
/// Data segments waiting to be seen at the other side.
const MAX_IN_FLIGHT: usize = 65_536;

/// Packets whose times at both sides are kept for the time split.
const MAX_TIMES: usize = 200_000;

/// SYNs from the client that make the attempt conclusive (as transport.syn_unanswered).
const SYN_TRIES_CONCLUSIVE: usize = 3;
/// Bounds: connection attempts followed, time samples kept.
const MAX_ATTEMPTS: usize = 10_000;
const MAX_SAMPLES: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Frames kept per attempt and kind.
const MAX_FRAMES: usize = 32;

/// One connection attempt (a client SYN to an SMB port) as each interface saw
/// it, kept by interface until the sides are known.
#[derive(Debug, Default)]
struct Attempt {
    /// (interface, frame) of the client's SYNs.
    syns: Vec<(u32, u32)>,
    /// (interface, frame) of the server's SYN/ACKs and RSTs.
    answers: Vec<(u32, u32)>,
    reported: bool,
}

impl Attempt {
    fn at(v: &[(u32, u32)], client: u32, side: Side) -> Vec<u32> {
        v.iter().filter(|(i, _)| (*i == client) == (side == Side::Client)).map(|&(_, f)| f).collect()
    }
}

/// A data segment seen at its sender's side, waiting for its copy at the other.
#[derive(Debug)]
struct InFlight {
    frame: u32,
    ts_ns: i64,
    to_server: bool,
    /// (client, server) of its connection.
    conn: (Endpoint, Endpoint),
    seq: u32,
}

/// Data segments of one connection and direction lost between the points.
#[derive(Debug, Default)]
struct Lost {
    frames: Vec<u32>,
    /// How many times each lost sequence number was lost, and its first frame.
    by_seq: BTreeMap<u32, (usize, u32)>,
    sent: u64,
    reported: bool,
}

/// When one packet (its first copy's frame) was seen at each side.
#[derive(Clone, Copy, Debug, Default)]
struct AtSides {
    client_ns: Option<i64>,
    server_ns: Option<i64>,
}

#[derive(Debug, Default)]
pub struct TwoPoints {
    /// The client side's interface, from the preference.
    pub preferred_client: Option<u32>,
    /// Frames per interface.
    frames: BTreeMap<u32, u64>,
    /// Votes for "this interface is the client's side" from TTL drops.
    votes: BTreeMap<u32, i64>,
    /// TTL drop between the sides for the client's packets.
    ttl_drop: Option<i16>,
    /// Time at the server's side minus time at the client's side, per copy:
    /// the client's packets (clock offset + delay) and the server's (clock offset − delay).
    to_server_dt: Vec<i64>,
    to_client_dt: Vec<i64>,
    attempts: HashMap<(Endpoint, Endpoint), Attempt>,
    in_flight: std::collections::VecDeque<InFlight>,
    /// Due at the other side and not seen there, until that side captures
    /// something later (it may have stopped capturing).
    overdue: std::collections::VecDeque<InFlight>,
    /// Overdue segments per (client, server, towards the server, sequence number).
    overdue_bytes: HashMap<(Endpoint, Endpoint, bool, u32), usize>,
    /// First copies that were seen at the other side too.
    arrived: ahash::HashSet<u32>,
    /// Last time each interface captured something.
    last_ts: BTreeMap<u32, i64>,
    /// Per (client, server, towards the server).
    lost: HashMap<(Endpoint, Endpoint, bool), Lost>,
    times: HashMap<u32, AtSides>,
    times_order: std::collections::VecDeque<u32>,
    /// Responses whose copy at the client's side is still to come: response frame → (command, request frame).
    split_due: HashMap<u32, (Command, u32)>,
    /// Per command: (time in the server, time on the network) of each response.
    split: BTreeMap<Command, Vec<(i64, i64)>>,
}

fn is_smb_port(p: u16) -> bool {
    p == 445 || p == 139
}

fn median(v: &[i64]) -> Option<i64> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn frames(v: &[u32]) -> String {
    let s: Vec<String> = v.iter().map(u32::to_string).collect();
    match s.len() {
        0 => String::new(),
        1 => s[0].clone(),
        n => format!("{} and {}", s[..n - 1].join(", "), s[n - 1]),
    }
}

impl TwoPoints {
    /// The client side's interface: the preference, else the TTL evidence.
    pub fn client_interface(&self) -> Option<u32> {
        self.preferred_client.or_else(|| {
            let (&iface, &v) = self.votes.iter().max_by_key(|(_, v)| **v)?;
            (v > 0 && self.votes.values().filter(|&&w| w > 0).count() == 1).then_some(iface)
        })
    }

    /// One TCP frame: `iface` its capture interface, `copy` what the copy
    /// filter found (with the interface of the first copy). Findings go to `out`.
    pub fn on_segment(&mut self, seg: &TcpSegment<'_>, iface: Option<u32>, frame: u32, ts_ns: i64, copy: Option<CopyOf>, out: &mut Vec<Finding>) {
        let Some(i) = iface else { return };
        if self.frames.len() < 64 || self.frames.contains_key(&i) {
            *self.frames.entry(i).or_default() += 1;
        }
        let to_server = is_smb_port(seg.dst.port) && !is_smb_port(seg.src.port);
        let to_client = is_smb_port(seg.src.port) && !is_smb_port(seg.dst.port);
        if !to_server && !to_client {
            return;
        }
        if let Some(c) = copy {
            if let Some(first_iface) = c.first_iface.filter(|&f| f != i) {
                self.learn(to_server, c, first_iface, i);
                self.arrived.insert(c.frame);
            }
        }
        if self.last_ts.len() < 64 || self.last_ts.contains_key(&i) {
            self.last_ts.insert(i, ts_ns);
        }
        self.follow_data(seg, i, frame, ts_ns, to_server, copy.is_some(), out);
        self.note_time(seg, i, frame, ts_ns, copy);
        let f = seg.flags;
        if to_server && f.syn() && !f.ack() {
            self.on_syn(seg, i, frame, out);
        } else if to_client && (f.syn() || f.rst()) {
            self.on_server_answer(seg, i, frame, out);
        }
    }

    /// When this data segment (by its first copy's frame) was at this side.
    fn note_time(&mut self, seg: &TcpSegment<'_>, iface: u32, frame: u32, ts_ns: i64, copy: Option<CopyOf>) {
        let Some(client) = self.client_interface() else { return };
        if seg.payload_len == 0 {
            return;
        }
        let key = copy.map_or(frame, |c| c.frame);
        if !self.times.contains_key(&key) {
            if self.times_order.len() >= MAX_TIMES {
                if let Some(old) = self.times_order.pop_front() {
                    self.times.remove(&old);
                }
            }
            self.times_order.push_back(key);
        }
        let t = self.times.entry(key).or_default();
        let slot = if iface == client { &mut t.client_ns } else { &mut t.server_ns };
        slot.get_or_insert(ts_ns);
        if let Some((cmd, rq)) = self.split_due.remove(&key) {
            self.on_response(cmd, rq, key);
        }
    }

    /// A final response (its frame) to the request of `request_frame`: split
    /// the client's wait into the server's time and the network's.
    pub fn on_response(&mut self, cmd: Command, request_frame: u32, response_frame: u32) {
        let (Some(rq), Some(rs)) = (self.times.get(&request_frame), self.times.get(&response_frame)) else { return };
        let (Some(rq_c), Some(rq_s), Some(rs_c), Some(rs_s)) = (rq.client_ns, rq.server_ns, rs.client_ns, rs.server_ns) else {
            // Seen at one side so far: the other side's copy comes next.
            if self.split_due.len() < MAX_ATTEMPTS {
                self.split_due.insert(response_frame, (cmd, request_frame));
            }
            return;
        };
        let in_server = rs_s - rq_s;
        let network = (rs_c - rq_c) - in_server;
        let v = self.split.entry(cmd).or_default();
        if v.len() < MAX_SAMPLES {
            v.push((in_server, network));
        }
    }

    /// Data segments: each first seen at its sender's side must show up at the
    /// other side; those that do not were lost between the two points.
    #[allow(clippy::too_many_arguments)]
    fn follow_data(&mut self, seg: &TcpSegment<'_>, iface: u32, frame: u32, ts_ns: i64, to_server: bool, is_copy: bool, out: &mut Vec<Finding>) {
        let Some(client) = self.client_interface() else { return };
        self.expire(ts_ns, out);
        let at_sender = (iface == client) == to_server;
        if seg.payload_len == 0 || is_copy || !at_sender {
            return;
        }
        let conn = if to_server { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
        if self.lost.len() < MAX_ATTEMPTS || self.lost.contains_key(&(conn.0, conn.1, to_server)) {
            self.lost.entry((conn.0, conn.1, to_server)).or_default().sent += 1;
        }
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            // Too much at once to follow: forget the oldest unjudged.
            self.in_flight.pop_front();
        }
        self.in_flight.push_back(InFlight { frame, ts_ns, to_server, conn, seq: seg.seq });
    }

    /// Judge the segments whose window to arrive at the other side is over.
    fn expire(&mut self, now_ns: i64, out: &mut Vec<Finding>) {
        // Apart from self for the loop, so a finding can describe the points.
        let mut lost = std::mem::take(&mut self.lost);
        let mut judged = Vec::new();
        while self.in_flight.front().is_some_and(|f| now_ns - f.ts_ns > ARRIVAL_WINDOW_NS) {
            let f = self.in_flight.pop_front().expect("front exists");
            if self.arrived.remove(&f.frame) || self.overdue.len() >= MAX_IN_FLIGHT {
                continue;
            }
            // The same bytes sent again and again and never seen at the other
            // side: lost on the way, even if that side captured nothing since
            // (it had nothing to answer).
            let key = (f.conn.0, f.conn.1, f.to_server, f.seq);
            let n = self.overdue_bytes.entry(key).or_default();
            *n += 1;
            self.overdue.push_back(f);
            if *n == SAME_BYTES_LOST {
                let (same, rest): (Vec<InFlight>, Vec<InFlight>) = std::mem::take(&mut self.overdue).into_iter().partition(|o| (o.conn.0, o.conn.1, o.to_server, o.seq) == key);
                self.overdue = rest.into();
                judged.extend(same);
            }
        }
        let client = self.client_interface();
        let side_last = |to_client_side: bool| -> i64 {
            self.last_ts.iter().filter(|(&i, _)| (Some(i) == client) == to_client_side).map(|(_, &t)| t).max().unwrap_or(i64::MIN)
        };
        let (client_last, server_last) = (side_last(true), side_last(false));
        // Lost once the receiving side was capturing after it left.
        while let Some(f) = self.overdue.front() {
            let receiver_last = if f.to_server { server_last } else { client_last };
            if receiver_last <= f.ts_ns {
                break;
            }
            judged.push(self.overdue.pop_front().expect("front exists"));
        }
        for f in judged {
            if let Some(n) = self.overdue_bytes.get_mut(&(f.conn.0, f.conn.1, f.to_server, f.seq)) {
                *n = n.saturating_sub(1);
            }
            let Some(l) = lost.get_mut(&(f.conn.0, f.conn.1, f.to_server)) else { continue };
            if l.frames.len() < 64 {
                l.frames.push(f.frame);
            }
            if l.by_seq.len() < 1024 || l.by_seq.contains_key(&f.seq) {
                l.by_seq.entry(f.seq).or_insert((0, f.frame)).0 += 1;
            }
            if !l.reported && l.frames.len() >= LOST_CONCLUSIVE {
                l.reported = true;
                let (client, server) = f.conn;
                let (from, to, from_side, to_side) = if f.to_server {
                    (format!("the client {}", client.addr), format!("the server {}", server.addr), "client's", "server's")
                } else {
                    (format!("the server {}", server.addr), format!("the client {}", client.addr), "server's", "client's")
                };
                let mut text = format!(
                    "Lost between the capture points: {n} of {sent} data segments {from} sent on this connection so far (frames {fr} at the {from_side} side) never reached the {to_side} side. They were lost on the way from {from} to {to}, between the two capture points ({w}): a router, switch or link on that stretch drops packets; neither end is at fault.",
                    n = l.frames.len(),
                    sent = l.sent,
                    fr = frames(&l.frames),
                    w = self.describe_points(),
                );
                if let Some((n, first)) = l.by_seq.values().max_by_key(|(n, _)| *n).filter(|(n, _)| *n >= SAME_BYTES_LOST) {
                    text.push_str(&format!(
                        " The segment of frame {first} was sent {n} times and never arrived while other segments did{}: something on the path drops it for what it carries (an IPS, a content filter), not at random.",
                        if f.to_server { ": a request that never reaches the server" } else { "" }
                    ));
                }
                text.push_str(" Next check: interface error and drop counters, and the filtering devices, on the path between the two capture points.");
                out.push(Finding { rule: &catalog::PATH_LOSS, text, related_frames: l.frames.clone() });
            }
        }
        self.lost = lost;
    }

    /// A packet seen at two interfaces: which side is the client's, the clocks.
    fn learn(&mut self, to_server: bool, c: CopyOf, first_iface: u32, iface: u32) {
        // The side a packet reached first (higher TTL) is its sender's.
        if c.ttl_drop != 0 && self.votes.len() < 64 {
            let (upstream, downstream) = if c.ttl_drop > 0 { (first_iface, iface) } else { (iface, first_iface) };
            let client = if to_server { upstream } else { downstream };
            let other = if client == upstream { downstream } else { upstream };
            *self.votes.entry(client).or_default() += 1;
            *self.votes.entry(other).or_default() -= 1;
            if to_server {
                self.ttl_drop = Some(c.ttl_drop.abs());
            }
        }
        let Some(client) = self.client_interface() else { return };
        // dt: server side's time minus client side's.
        let dt = if iface == client { -c.dt_ns } else { c.dt_ns };
        let v = if to_server { &mut self.to_server_dt } else { &mut self.to_client_dt };
        if v.len() < MAX_SAMPLES {
            v.push(dt);
        }
    }

    fn on_syn(&mut self, seg: &TcpSegment<'_>, iface: u32, frame: u32, out: &mut Vec<Finding>) {
        if self.attempts.len() >= MAX_ATTEMPTS && !self.attempts.contains_key(&(seg.src, seg.dst)) {
            return;
        }
        let where_ = self.describe_points();
        let client_iface = self.client_interface();
        let a = self.attempts.entry((seg.src, seg.dst)).or_default();
        if a.syns.len() < MAX_FRAMES {
            a.syns.push((iface, frame));
        }
        let Some(ci) = client_iface.filter(|&c| c == iface) else { return };
        let client_syns = Attempt::at(&a.syns, ci, Side::Client);
        let server_syns = Attempt::at(&a.syns, ci, Side::Server);
        let server_answers = Attempt::at(&a.answers, ci, Side::Server);
        if a.reported || client_syns.len() < SYN_TRIES_CONCLUSIVE {
            return;
        }
        let (client, server) = (seg.src, seg.dst);
        let (rule, text, mut related) = match (server_syns.is_empty(), server_answers.first()) {
            (true, _) => (
                &catalog::PATH_SYN_DROPPED,
                format!(
                    "Dropped on the path: {n} SYNs from {c} to {s} left the client (frames {cf} at the client's side) and none reached the server's side ({w}). Something between the two capture points drops SMB: a network firewall or router ACL blocking TCP port {p}, not the server. Next check: the firewalls and ACLs on the path for TCP {p} from {ca} to {sa} (`Test-NetConnection {sa} -Port {p}` from the client, a traceroute to see the hops).",
                    n = client_syns.len(),
                    c = client.addr,
                    s = server,
                    cf = frames(&client_syns),
                    w = where_,
                    p = server.port,
                    ca = client.addr,
                    sa = server.addr,
                ),
                client_syns.clone(),
            ),
            (false, None) => (
                &catalog::PATH_SYN_IGNORED_BY_SERVER,
                format!(
                    "The server drops the connection attempts: {n} SYNs from {c} to {s} (frames {cf} at the client's side) reached the server (frames {sf} at the server's side, {w}) and it never answered, neither SYN/ACK nor RST. The network delivers them; the server's own host firewall discards them (on Windows, the Public network profile blocks File and Printer Sharing). Next check on {sa}: `Get-NetConnectionProfile`, `Get-NetFirewallRule -DisplayGroup \"File and Printer Sharing\"`, or iptables/nftables INPUT rules for TCP {p}.",
                    n = client_syns.len(),
                    c = client.addr,
                    s = server,
                    cf = frames(&client_syns),
                    sf = frames(&server_syns),
                    w = where_,
                    sa = server.addr,
                    p = server.port,
                ),
                client_syns.iter().chain(&server_syns).copied().collect(),
            ),
            // The server answered: whatever happens to the answer is another story.
            (false, Some(_)) => return,
        };
        a.reported = true;
        related.sort_unstable();
        out.push(Finding { rule, text, related_frames: related });
    }

    fn on_server_answer(&mut self, seg: &TcpSegment<'_>, iface: u32, frame: u32, out: &mut Vec<Finding>) {
        let client_iface = self.client_interface();
        let where_ = self.describe_points();
        let Some(a) = self.attempts.get_mut(&(seg.dst, seg.src)) else { return };
        if a.answers.len() < MAX_FRAMES {
            a.answers.push((iface, frame));
        }
        let Some(ci) = client_iface.filter(|&c| c == iface) else { return };
        let client_syns = Attempt::at(&a.syns, ci, Side::Client);
        // A reset the client received for an attempt the server's side never
        // saw: the server cannot have sent it.
        if !seg.flags.rst() || a.reported || client_syns.is_empty() || !Attempt::at(&a.syns, ci, Side::Server).is_empty() {
            return;
        }
        a.reported = true;
        let mut related = client_syns.clone();
        related.push(frame);
        out.push(Finding {
            rule: &catalog::PATH_RESET_FORGED,
            text: format!(
                "Reset forged on the path: the client {c} received a TCP RST in the name of {s} (frame {frame}) answering its SYN (frames {cf} at the client's side), but the SYN never reached the server's side ({w}) and the server sent no RST. Something between the two capture points rejects SMB by resetting the connection in the server's name: a firewall with a reject rule, an IPS. It is not the server and not a stopped service. Next check: the firewalls and IPS on the path for TCP {p} from {c} to {sa}.",
                c = seg.dst.addr,
                s = seg.src,
                cf = frames(&client_syns),
                w = where_,
                p = seg.src.port,
                sa = seg.src.addr,
            ),
            related_frames: related,
        });
    }

    /// The capture points in words: interfaces, routers between, clocks.
    fn describe_points(&self) -> String {
        let Some(client) = self.client_interface() else { return String::new() };
        let server: Vec<String> = self.frames.keys().filter(|&&i| i != client).map(|i| i.to_string()).collect();
        let mut s = format!(
            "client's side: interface {client}{}, server's side: {}",
            if self.preferred_client.is_some() { " (as the preference says)" } else { " (its packets there have the higher TTL)" },
            if server.is_empty() { "the other interface, which captured nothing".to_string() } else { format!("interface {}", server.join(", ")) }
        );
        if let Some(d) = self.ttl_drop {
            s.push_str(&format!("; {d} router(s) between them"));
        }
        s
    }

    /// A paragraph for the summary, when the capture holds two capture points.
    pub fn summary(&self) -> Option<String> {
        self.client_interface()?;
        let mut s = format!("Two capture points: {}.", self.describe_points());
        if let (Some(up), Some(down)) = (median(&self.to_server_dt), median(&self.to_client_dt)) {
            // up = offset + delay, down = offset − delay.
            let offset = (up + down) / 2;
            let delay = (up - down) / 2;
            s.push_str(&format!(
                " The server side's clock reads {:+.3} ms against the client side's (estimated from {} packets seen at both), one-way network delay between them about {:.3} ms.",
                offset as f64 / 1e6,
                self.to_server_dt.len() + self.to_client_dt.len(),
                delay as f64 / 1e6
            ));
        }
        if !self.split.is_empty() {
            s.push_str("\n  Response time split (server: from the request's arrival to the response's departure at the server's side; network: the rest of the client's wait):");
            s.push_str(&format!("\n  {:<16} {:>9} {:>14} {:>14}  {}", "command", "responses", "server p50", "network p50", "mostly"));
            for (cmd, v) in &self.split {
                let p50 = |f: fn(&(i64, i64)) -> i64| median(&v.iter().map(f).collect::<Vec<_>>()).unwrap_or(0);
                let (srv, net) = (p50(|x| x.0), p50(|x| x.1));
                s.push_str(&format!(
                    "\n  {:<16} {:>9} {:>11.3} ms {:>11.3} ms  {}",
                    cmd.to_string(),
                    v.len(),
                    srv as f64 / 1e6,
                    net as f64 / 1e6,
                    if srv >= net { "server" } else { "network" }
                ));
            }
        }
        Some(s)
    }

    /// Single-view findings on this frame that the two-sided ones replace.
    pub fn superseded(found: &[Finding]) -> &'static [&'static str] {
        if found.iter().any(|f| std::ptr::eq(f.rule, &catalog::PATH_RESET_FORGED)) {
            &["transport.connection_refused"]
        } else if found.iter().any(|f| std::ptr::eq(f.rule, &catalog::PATH_SYN_DROPPED) || std::ptr::eq(f.rule, &catalog::PATH_SYN_IGNORED_BY_SERVER)) {
            &["transport.syn_unanswered"]
        } else {
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::link::TcpFlags;
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint { addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port }
    }

    fn syn(ttl: u8) -> TcpSegment<'static> {
        TcpSegment {
            src: ep(1, 50000),
            dst: ep(2, 445),
            seq: 100,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 500,
            window_scale: None,
            sack: vec![],
            payload: b"",
            payload_len: 0,
            ip_id: Some(1),
            ttl,
            ts_val: None,
        }
    }

    fn copy_of(frame: u32, first_iface: u32, ttl_drop: i16) -> Option<CopyOf> {
        Some(CopyOf { frame, dt_ns: 20_000, ttl_drop, first_iface: Some(first_iface) })
    }

    #[test]
    fn the_side_with_the_higher_ttl_for_the_clients_packets_is_the_clients() {
        let mut p = TwoPoints::default();
        let mut out = Vec::new();
        // Server-side interface 0 listed first in the file, client-side 1.
        p.on_segment(&syn(64), Some(1), 1, 0, None, &mut out);
        p.on_segment(&syn(63), Some(0), 2, 0, copy_of(1, 1, 1), &mut out);
        assert_eq!(p.client_interface(), Some(1));
        for f in 3..=6 {
            let (iface, ttl, copy) = if f % 2 == 1 { (1, 64, None) } else { (0, 63, copy_of(f - 1, 1, 1)) };
            p.on_segment(&syn(ttl), Some(iface), f, 0, copy, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert!(std::ptr::eq(out[0].rule, &catalog::PATH_SYN_IGNORED_BY_SERVER));
        assert_eq!(out[0].related_frames, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn copies_with_the_same_ttl_name_no_side() {
        let mut p = TwoPoints::default();
        let mut out = Vec::new();
        for f in 1..=6 {
            p.on_segment(&syn(64), Some(f % 2), f, 0, (f % 2 == 0).then(|| CopyOf { frame: f - 1, dt_ns: 5, ttl_drop: 0, first_iface: Some(1) }), &mut out);
        }
        assert_eq!(p.client_interface(), None);
        assert!(out.is_empty() && p.summary().is_none());
    }

    #[test]
    fn a_reset_for_a_syn_the_server_never_saw_is_forged() {
        let mut p = TwoPoints { preferred_client: Some(0), ..Default::default() };
        let mut out = Vec::new();
        p.on_segment(&syn(64), Some(0), 1, 0, None, &mut out);
        let mut rst = syn(64);
        (rst.src, rst.dst, rst.flags) = (ep(2, 445), ep(1, 50000), TcpFlags(TcpFlags::RST | TcpFlags::ACK));
        p.on_segment(&rst, Some(0), 2, 0, None, &mut out);
        assert_eq!(out.len(), 1);
        assert!(std::ptr::eq(out[0].rule, &catalog::PATH_RESET_FORGED));
        assert_eq!(out[0].related_frames, vec![1, 2]);
    }

    #[test]
    fn data_seen_leaving_and_never_arriving_was_lost_between() {
        let mut p = TwoPoints { preferred_client: Some(0), ..Default::default() };
        let mut out = Vec::new();
        let ms = 1_000_000;
        let data = |seq: u32, id: u16| {
            let mut d = syn(64);
            (d.flags, d.seq, d.ip_id, d.payload, d.payload_len) = (TcpFlags(TcpFlags::ACK), seq, Some(id), b"req", 3);
            d
        };
        // Frame 1 arrives (its copy is frame 2); frames 3, 5, 7 never do, while
        // the server's side keeps capturing (its ACKs, frames 4, 6, 8).
        p.on_segment(&data(1, 1), Some(0), 1, 0, None, &mut out);
        p.on_segment(&data(1, 1), Some(1), 2, 10, Some(CopyOf { frame: 1, dt_ns: 10, ttl_drop: 1, first_iface: Some(0) }), &mut out);
        let mut ack = syn(63);
        (ack.src, ack.dst, ack.flags) = (ep(2, 445), ep(1, 50000), TcpFlags(TcpFlags::ACK));
        for (k, f) in [3u32, 5, 7].into_iter().enumerate() {
            let t = (k as i64 + 1) * 50 * ms;
            p.on_segment(&data(100 * f, f as u16), Some(0), f, t, None, &mut out);
            p.on_segment(&ack, Some(1), f + 1, t + 20 * ms, None, &mut out);
        }
        p.on_segment(&ack, Some(1), 9, 500 * ms, None, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(std::ptr::eq(out[0].rule, &catalog::PATH_LOSS));
        assert_eq!(out[0].related_frames, vec![3, 5, 7]);
        assert!(out[0].text.contains("3 of 4 data segments the client 10.0.0.1 sent"), "{}", out[0].text);
    }
}
