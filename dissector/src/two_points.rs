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
//! Both sides in one pcapng interface (merged without `-I none`): each side is
//! the Ethernet segment its frames crossed (`net::capture_point`), and two
//! segments count as two capture points only when a packet's copies in them
//! also differ in TTL and lie further apart in time than copies on one host
//! ever do (a router capturing its own ports stamps both within microseconds;
//! two machines add the path's delay and their clocks' offset).
//!
//! Narrow hooks: the analyzer hands over each TCP frame with its interface and
//! what the copy filter found; this module answers with findings of its own
//! (`path.*`) and the single-view findings they make obsolete.

use std::collections::BTreeMap;

use ahash::HashMap;

use crate::net::capture_point::{LinkSegments, Point};
use std::collections::VecDeque;

use crate::net::copies::{CopyOf, COPY_WINDOW_NS, POINTS_WINDOW_NS};
use crate::net::link::{Endpoint, TcpFlags, TcpSegment};
use crate::output::Finding;
use crate::smb::types::Command;
use crate::rules::catalog;

/// A packet not seen at the other side this long after it was due there (its
/// time plus the path's delay and the clocks' offset, as measured on the
/// packets seen at both) never got there. Wider than the copy window: a
/// queue on the path adds jitter to the delay.
const ARRIVAL_WINDOW_NS: i64 = 200_000_000;
/// Default slow-response threshold when the configuration gives none.
const SLOW_DEFAULT_NS: i64 = 1_000_000_000;
/// Bare ACKs kept per connection and direction, and data segments kept for
/// telling a retransmission of something that had arrived.
const MAX_ACKS: usize = 64;
const MAX_SENT: usize = 65_536;
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
/// Calls held back while one capture point is known (see `Early`).
const MAX_EARLY: usize = 65_536;

/// One connection attempt (a client SYN to an SMB port) as each interface saw
/// it, kept by interface until the sides are known.
#[derive(Debug, Default)]
struct Attempt {
    /// (capture point, frame) of the client's SYNs.
    syns: Vec<(Point, u32)>,
    /// (capture point, frame) of the server's SYN/ACKs and RSTs.
    answers: Vec<(Point, u32)>,
    reported: bool,
}

impl Attempt {
    fn at(v: &[(Point, u32)], client: ClientSide, side: Side) -> Vec<u32> {
        v.iter().filter(|(p, _)| client.holds(*p) == (side == Side::Client)).map(|&(_, f)| f).collect()
    }
}

/// A data segment seen at its sender's side, waiting for its copy at the other.
#[derive(Debug)]
struct InFlight {
    frame: u32,
    /// Its capture point: whether it is the sender's side is judged
    /// later, once the sides are known.
    point: Point,
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

/// When and in which frame one packet (its first copy's frame) was seen at each side.
#[derive(Clone, Copy, Debug, Default)]
struct AtSides {
    /// (capture point, time, frame) at the first point that saw it and at the other.
    first: Option<(Point, i64, u32)>,
    other: Option<(Point, i64, u32)>,
}

impl AtSides {
    /// (time, frame) at the client's side and at the server's.
    fn sides(&self, client: ClientSide) -> Option<((i64, u32), (i64, u32))> {
        let (a, b) = (self.first?, self.other?);
        let (c, s) = if client.holds(a.0) { (a, b) } else { (b, a) };
        (client.holds(c.0) && !client.holds(s.0)).then_some(((c.1, c.2), (s.1, s.2)))
    }

    /// Its time at a capture point's side (`client`: which side is which).
    fn time_at(&self, client: ClientSide, p: Point) -> Option<i64> {
        [self.first, self.other].into_iter().flatten().find(|s| client.holds(s.0) == client.holds(p)).map(|s| s.1)
    }
}

/// Which capture points are the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientSide {
    /// Every point of this interface (the preference, or the TTLs across interfaces).
    Interface(u32),
    /// This point only (both sides in one interface, told apart by their segments).
    Point(Point),
}

impl ClientSide {
    pub fn holds(self, p: Point) -> bool {
        match self {
            ClientSide::Interface(i) => p.iface == i,
            ClientSide::Point(c) => p == c,
        }
    }
}

/// (client, server) of a connection, as the first view saw it.
type Conn = (Endpoint, Endpoint);

/// What this module reads of a TCP segment, kept by value.
#[derive(Clone, Copy, Debug)]
struct Head {
    src: Endpoint,
    dst: Endpoint,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload_len: u32,
}

impl From<&TcpSegment<'_>> for Head {
    fn from(s: &TcpSegment<'_>) -> Self {
        Head { src: s.src, dst: s.dst, seq: s.seq, ack: s.ack, flags: s.flags, payload_len: s.payload_len }
    }
}

/// A call held back while the capture shows one capture point: most
/// captures have one, and then nothing here can be judged, so the
/// bookkeeping waits. When a second point shows up the calls of the last
/// `POINTS_WINDOW_NS` (as far apart as two points' copies are paired) are
/// replayed in order, as if followed all along; older ones could not have
/// been seen at a point that was not capturing yet.
#[derive(Debug)]
enum Early {
    /// A copy here is of a frame at the same (only) point: its frame and
    /// `or_of` are all that is read of it.
    Segment { head: Head, point: Point, frame: u32, ts_ns: i64, copy_of: Option<(u32, Option<u32>)>, translated: Option<Box<Conn>> },
    Response { cmd: Command, request_frame: u32, response_frame: u32, conn: Conn, ts_ns: i64 },
}

impl Early {
    fn ts_ns(&self) -> i64 {
        match self {
            Early::Segment { ts_ns, .. } | Early::Response { ts_ns, .. } => *ts_ns,
        }
    }
}

/// A data segment at its sender's side, and its frame at the other side once seen.
#[derive(Clone, Copy, Debug)]
struct Sent {
    frame: u32,
    /// Where it was first seen: the sender's side or not is judged once the sides are known.
    point: Point,
    len: u32,
    other: Option<u32>,
}

/// A bare ACK at its sender's side.
#[derive(Clone, Copy, Debug)]
struct BareAck {
    frame: u32,
    point: Point,
    ack: u32,
    arrived: bool,
}

/// A data segment sent again although it had arrived: judged once the
/// receiver's ACKs for it had time to show up at the sender's side.
#[derive(Clone, Copy, Debug)]
struct Resent {
    conn: Conn,
    to_server: bool,
    seq: u32,
    sent: Sent,
    frame: u32,
    ts_ns: i64,
}

#[derive(Debug, Default)]
pub struct TwoPoints {
    /// The client side's interface, from the preference.
    pub preferred_client: Option<u32>,
    /// Frames per capture point.
    frames: BTreeMap<Point, u64>,
    /// Votes for "this point is the client's side" from TTL drops.
    votes: BTreeMap<Point, i64>,
    /// Ethernet segments, telling apart two sides that share one interface.
    pub segments: LinkSegments,
    /// Both sides in one interface: the smallest time between a packet's
    /// copies at the two sides (what tells them from copies on one host).
    one_interface_gap: Option<i64>,
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
    /// Last time each capture point captured something.
    last_ts: BTreeMap<Point, i64>,
    /// Per (client, server, towards the server).
    lost: HashMap<(Endpoint, Endpoint, bool), Lost>,
    times: HashMap<u32, AtSides>,
    times_order: std::collections::VecDeque<u32>,
    /// Responses whose copy at the client's side is still to come: response frame → (command, request frame).
    split_due: HashMap<u32, (Command, u32)>,
    /// Per command: (time in the server, time on the network) of each response.
    split: BTreeMap<Command, Vec<(i64, i64)>>,
    /// The slow-response threshold (from the configuration; 0: the default).
    pub slow_ns: i64,
    /// Smallest time at the server's side minus time at the client's side,
    /// per direction: the clocks' offset plus (towards the server) or minus
    /// (towards the client) the path's delay, without queueing.
    up_min: Option<i64>,
    down_min: Option<i64>,
    /// Connections translated between the points: (client, server) as the
    /// first view saw them → as the other side saw them.
    nat: HashMap<Conn, Conn>,
    /// Connections already given a slow-response finding.
    slow_reported: ahash::HashSet<Conn>,
    /// Data segments at their sender's side, by (connection, towards the server, sequence number).
    sent: HashMap<(Conn, bool, u32), Sent>,
    sent_order: std::collections::VecDeque<(Conn, bool, u32)>,
    /// Bare ACKs at their sender's side, by (connection, towards the server).
    bare_acks: HashMap<(Conn, bool), std::collections::VecDeque<BareAck>>,
    resent: std::collections::VecDeque<Resent>,
    /// (connection, towards the server) already given an ACK-lost finding.
    acks_reported: ahash::HashSet<(Conn, bool)>,
    /// Set once a second capture point (or the preference) makes two sides possible.
    engaged: bool,
    /// The calls held back until then.
    early: VecDeque<Early>,
    /// The latest frame's time, for the responses held back.
    last_frame_ns: i64,
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
    /// The client's side: where both sides share one interface, the TTL and
    /// time evidence (an interface preference cannot name a segment); else the
    /// preference, else the TTL evidence.
    pub fn client_side(&self) -> Option<ClientSide> {
        let voted = || {
            let (&p, &v) = self.votes.iter().max_by_key(|(_, v)| **v)?;
            (v > 0 && self.votes.values().filter(|&&w| w > 0).count() == 1).then_some(p)
        };
        if self.one_interface_gap.is_some() {
            if let Some(p) = voted() {
                return Some(ClientSide::Point(p));
            }
        }
        self.preferred_client.map(ClientSide::Interface).or_else(|| voted().map(|p| ClientSide::Interface(p.iface)))
    }

    /// The capture point of a frame on interface `iface` (None: the file
    /// names no interfaces) with these link-layer bytes.
    pub fn point_of(&mut self, iface: Option<u32>, link: crate::net::link::LinkType, data: &[u8]) -> Option<Point> {
        let iface = iface?;
        Some(Point { iface, segment: self.segments.segment(crate::net::capture_point::ethernet_ends(link, data)) })
    }

    /// The time at which the packet first seen in `frame` was seen at the
    /// side of capture point `p` (its own copy there), once the two sides are
    /// known: a response timed against its request on one clock.
    pub fn time_at_side_of(&self, frame: u32, p: Point) -> Option<i64> {
        let client = self.client_side()?;
        self.times.get(&frame)?.time_at(client, p)
    }

    /// One TCP frame: `point` where it was captured, `copy` what the copy
    /// filter found (with the point of the first copy). Findings go to `out`.
    /// `translated`: the frame's own (source, destination) when NAT between
    /// the points made them differ from `seg`'s (the first view's).
    #[allow(clippy::too_many_arguments)]
    pub fn on_segment(&mut self, seg: &TcpSegment<'_>, point: Option<Point>, frame: u32, ts_ns: i64, copy: Option<CopyOf>, translated: Option<(Endpoint, Endpoint)>, out: &mut Vec<Finding>) {
        let Some(i) = point else { return };
        if self.frames.len() < 64 || self.frames.contains_key(&i) {
            *self.frames.entry(i).or_default() += 1;
        }
        self.last_frame_ns = ts_ns;
        let smb = is_smb_port(seg.dst.port) != is_smb_port(seg.src.port);
        if !self.engage() {
            if smb {
                let copy_of = copy.map(|c| (c.frame, c.or_of));
                self.hold(Early::Segment { head: seg.into(), point: i, frame, ts_ns, copy_of, translated: translated.map(Box::new) });
            }
            return;
        }
        self.segment(&Head::from(seg), i, frame, ts_ns, copy, translated, out);
    }

    /// Whether two sides are possible; replays what was held back the first time.
    fn engage(&mut self) -> bool {
        if self.engaged {
            return true;
        }
        if self.frames.len() < 2 && self.preferred_client.is_none() {
            return false;
        }
        self.engaged = true;
        // One point so far: nothing to judge yet, so nothing is found here.
        let mut out = Vec::new();
        for e in std::mem::take(&mut self.early) {
            match e {
                Early::Segment { head, point, frame, ts_ns, copy_of, translated } => {
                    let copy = copy_of.map(|(frame, or_of)| CopyOf { frame, dt_ns: 0, ttl_drop: 0, first_point: Some(point), first_ends: None, or_of });
                    self.segment(&head, point, frame, ts_ns, copy, translated.map(|b| *b), &mut out);
                }
                Early::Response { cmd, request_frame, response_frame, conn, .. } => out.extend(self.response(cmd, request_frame, response_frame, conn)),
            }
        }
        debug_assert!(out.is_empty(), "findings from one capture point: {out:?}");
        true
    }

    fn hold(&mut self, e: Early) {
        let now = e.ts_ns();
        while self.early.front().is_some_and(|f| now - f.ts_ns() > POINTS_WINDOW_NS) || self.early.len() >= MAX_EARLY {
            self.early.pop_front();
        }
        self.early.push_back(e);
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(&mut self, seg: &Head, i: Point, frame: u32, ts_ns: i64, copy: Option<CopyOf>, translated: Option<(Endpoint, Endpoint)>, out: &mut Vec<Finding>) {
        let to_server = is_smb_port(seg.dst.port) && !is_smb_port(seg.src.port);
        let to_client = is_smb_port(seg.src.port) && !is_smb_port(seg.dst.port);
        if !to_server && !to_client {
            return;
        }
        let conn = if to_server { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
        if let Some((src, dst)) = translated {
            if self.nat.len() < MAX_ATTEMPTS {
                self.nat.insert(conn, if to_server { (src, dst) } else { (dst, src) });
            }
        }
        if let Some(c) = copy {
            if let Some(first) = c.first_point.filter(|&f| f != i) {
                // A copy of one of two identical transmissions (no IP id, no
                // TCP timestamp): neither is lost, and neither says when it
                // arrived or that the other was sent again needlessly.
                if c.or_of.is_none() {
                    self.learn(to_server, c, first, i);
                }
                // A copy at the same side (two segments of one side) is no arrival.
                if self.client_side().map_or(true, |cs| cs.holds(first) != cs.holds(i)) {
                    self.arrived.insert(c.frame);
                    if let Some(other) = c.or_of {
                        self.arrived.insert(other);
                    } else {
                        self.on_arrival(seg, conn, to_server, c.frame, frame);
                    }
                }
            }
        } else {
            self.on_departure(seg, conn, to_server, i, frame, ts_ns);
        }
        self.judge_resent(ts_ns, out);
        if self.last_ts.len() < 64 || self.last_ts.contains_key(&i) {
            self.last_ts.insert(i, ts_ns);
        }
        self.follow_data(seg, i, frame, ts_ns, to_server, copy.is_some(), out);
        self.note_time(seg, i, frame, ts_ns, copy, out);
        let f = seg.flags;
        if to_server && f.syn() && !f.ack() {
            self.on_syn(seg, i, frame, out);
        } else if to_client && (f.syn() || f.rst()) {
            self.on_server_answer(seg, i, frame, out);
        }
    }

    /// When this data segment (by its first copy's frame) was at this side.
    fn note_time(&mut self, seg: &Head, iface: Point, frame: u32, ts_ns: i64, copy: Option<CopyOf>, out: &mut Vec<Finding>) {
        if seg.payload_len == 0 || copy.is_some_and(|c| c.or_of.is_some()) {
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
        match t.first {
            None => t.first = Some((iface, ts_ns, frame)),
            Some(f) if f.0 != iface && t.other.is_none() => t.other = Some((iface, ts_ns, frame)),
            _ => {}
        }
        if let Some((cmd, rq)) = self.split_due.remove(&key) {
            let conn = if is_smb_port(seg.src.port) { (seg.dst, seg.src) } else { (seg.src, seg.dst) };
            out.extend(self.response(cmd, rq, key, conn));
        }
    }

    /// A final response (its frame) to the request of `request_frame`: split
    /// the client's wait into the server's time and the network's.
    /// `conn`: (client, server) of its connection. A slow one gives a finding
    /// saying where the time went.
    pub fn on_response(&mut self, cmd: Command, request_frame: u32, response_frame: u32, conn: Conn) -> Option<Finding> {
        // No capture point at all (the file names no interfaces): nothing to time.
        if self.frames.is_empty() {
            return None;
        }
        if !self.engage() {
            self.hold(Early::Response { cmd, request_frame, response_frame, conn, ts_ns: self.last_frame_ns });
            return None;
        }
        self.response(cmd, request_frame, response_frame, conn)
    }

    fn response(&mut self, cmd: Command, request_frame: u32, response_frame: u32, conn: Conn) -> Option<Finding> {
        let (Some(&rq), Some(&rs)) = (self.times.get(&request_frame), self.times.get(&response_frame)) else { return None };
        let sides = self.client_side().and_then(|c| Some((rq.sides(c)?, rs.sides(c)?)));
        let Some((((rq_c, rq_cf), (rq_s, rq_sf)), ((rs_c, rs_cf), (rs_s, rs_sf)))) = sides else {
            // Seen at one side so far: the other side's copy comes next.
            if self.split_due.len() < MAX_ATTEMPTS {
                self.split_due.insert(response_frame, (cmd, request_frame));
            }
            return None;
        };
        // Each difference on one side's clock: the offset between them cancels.
        let in_server = rs_s - rq_s;
        let wait = rs_c - rq_c;
        let network = wait - in_server;
        let v = self.split.entry(cmd).or_default();
        if v.len() < MAX_SAMPLES {
            v.push((in_server, network));
        }
        let slow = if self.slow_ns > 0 { self.slow_ns } else { SLOW_DEFAULT_NS };
        if wait < slow || self.slow_reported.contains(&conn) || self.slow_reported.len() >= MAX_ATTEMPTS {
            return None;
        }
        self.slow_reported.insert(conn);
        let secs = |ns: i64| format!("{:.3} s", ns as f64 / 1e9);
        let head = format!(
            "the {cmd} response reached the client's side {w} after its request (frames {a} and {d} at the client's side, {c}); {srv} of it passed in the server (the request arrived in frame {b} and the response left in frame {e} at the server's side) and {net} on the network between the two capture points ({pts}).",
            w = secs(wait),
            a = rq_cf,
            d = rs_cf,
            c = self.name_client(conn),
            srv = secs(in_server),
            b = rq_sf,
            e = rs_sf,
            net = secs(network),
            pts = self.describe_points(),
        );
        let (rule, text) = if in_server >= network {
            (
                &catalog::PATH_SERVER_SLOW,
                format!(
                    "Slow in the server: {head} The network delivered promptly; the server {s} was slow to answer. Next check on {s}: its disk latency and CPU, the scripts and name lookups that command makes it run (share connect scripts, ACL lookups in the domain), its SMB log at that time.",
                    s = conn.1.addr
                ),
            )
        } else {
            let one_way = match (self.up_min, self.down_min) {
                (Some(up), Some(down)) => format!(" (one-way delay between the points about {})", secs((up - down) / 2)),
                _ => String::new(),
            };
            (
                &catalog::PATH_NETWORK_SLOW,
                format!(
                    "Slow on the network: {head} The server answered promptly; the path between the capture points held the packets{one_way}: a long or congested link, a VPN, a shaping or queueing device. Next check: the round-trip time on that path (ping and traceroute from {c} to {s}), the load of its links and the queues of the devices on it.",
                    c = conn.0.addr,
                    s = conn.1.addr
                ),
            )
        };
        let mut related = vec![rq_cf, rq_sf, rs_sf, rs_cf];
        related.sort_unstable();
        related.dedup();
        Some(Finding { rule, text, related_frames: related })
    }

    /// The client of a connection in words, with its address at the server's
    /// side when NAT between the points translated it.
    fn name_client(&self, conn: Conn) -> String {
        match self.nat.get(&conn) {
            Some(t) if t.0.addr != conn.0.addr => format!("the client {} (seen as {} at the server's side: NAT between the capture points)", conn.0.addr, t.0.addr),
            _ => format!("the client {}", conn.0.addr),
        }
    }

    /// The server of a connection in words, with its address at the client's
    /// side when NAT translated it (a published server).
    fn name_server(&self, conn: Conn) -> String {
        match self.nat.get(&conn) {
            Some(t) if t.1.addr != conn.1.addr => format!("the server {} (seen as {} at the server's side: NAT between the capture points)", conn.1.addr, t.1.addr),
            _ => format!("the server {}", conn.1.addr),
        }
    }

    /// The time at the server's side minus the time at the client's side for
    /// a packet on its way (`to_server`): offset plus or minus delay, from
    /// the packets seen at both. None before any was.
    fn due_shift(&self, to_server: bool) -> Option<i64> {
        let (mine, other) = if to_server { (self.up_min, self.down_min) } else { (self.down_min, self.up_min) };
        let dt = mine.or(other)?;
        // Towards the server a packet shows up there dt later; towards the client, dt earlier.
        Some(if to_server { dt } else { -dt })
    }

    /// A packet seen at its sender's side: a data segment, kept to tell a
    /// retransmission of something that had arrived; a bare ACK.
    ///
    /// Kept whatever its point: the sides may be known only once the first
    /// copies pair up (seconds in, with the clocks apart); judged then.
    fn on_departure(&mut self, seg: &Head, conn: Conn, to_server: bool, iface: Point, frame: u32, ts_ns: i64) {
        if self.client_side().is_some_and(|c| c.holds(iface) != to_server) {
            return;
        }
        let f = seg.flags;
        if seg.payload_len == 0 {
            if f.ack() && !f.syn() && !f.fin() && !f.rst() && (self.bare_acks.len() < MAX_ATTEMPTS || self.bare_acks.contains_key(&(conn, to_server))) {
                let q = self.bare_acks.entry((conn, to_server)).or_default();
                if q.len() >= MAX_ACKS {
                    q.pop_front();
                }
                q.push_back(BareAck { frame, point: iface, ack: seg.ack, arrived: false });
            }
            return;
        }
        let key = (conn, to_server, seg.seq);
        match self.sent.get(&key) {
            // Sent again: whether the first had arrived may show only later
            // (the other side's clock ahead puts its copy further on in the file).
            Some(&s) if s.len == seg.payload_len && s.point == iface => {
                if !self.acks_reported.contains(&(conn, to_server)) && self.resent.len() < MAX_ATTEMPTS {
                    self.resent.push_back(Resent { conn, to_server, seq: seg.seq, sent: s, frame, ts_ns });
                }
            }
            _ => {
                if self.sent_order.len() >= MAX_SENT {
                    if let Some(old) = self.sent_order.pop_front() {
                        self.sent.remove(&old);
                    }
                }
                if self.sent.insert(key, Sent { frame, point: iface, len: seg.payload_len, other: None }).is_none() {
                    self.sent_order.push_back(key);
                }
            }
        }
    }

    /// A packet's copy at the other side (`frame`; its first copy `first`).
    fn on_arrival(&mut self, seg: &Head, conn: Conn, to_server: bool, first: u32, frame: u32) {
        if seg.payload_len > 0 {
            if let Some(s) = self.sent.get_mut(&(conn, to_server, seg.seq)).filter(|s| s.frame == first) {
                s.other.get_or_insert(frame);
            }
        } else if let Some(a) = self.bare_acks.get_mut(&(conn, to_server)).and_then(|q| q.iter_mut().rev().find(|a| a.frame == first)) {
            a.arrived = true;
        }
    }

    /// Data sent again although it had arrived: were the receiver's ACKs for
    /// it lost on the way back? Judged once they had time to show up.
    fn judge_resent(&mut self, now_ns: i64, out: &mut Vec<Finding>) {
        while let Some(r) = self.resent.front().copied() {
            let (Some(shift), Some(client)) = (self.due_shift(!r.to_server), self.client_side()) else { break };
            // The ACKs travel the other way: from the receiver's clock to the sender's.
            if now_ns - r.ts_ns <= shift.abs() + ARRIVAL_WINDOW_NS {
                break;
            }
            self.resent.pop_front();
            // Sent again at the sender's side (kept before the sides were known).
            let at_sender = client.holds(r.sent.point) == r.to_server;
            if !at_sender || self.acks_reported.contains(&(r.conn, r.to_server)) || self.acks_reported.len() >= MAX_ATTEMPTS {
                continue;
            }
            let end = r.seq.wrapping_add(r.sent.len);
            let lost: Vec<u32> = self
                .bare_acks
                .get(&(r.conn, !r.to_server))
                .map(|q| q.iter().filter(|a| !a.arrived && client.holds(a.point) != r.to_server && (a.ack.wrapping_sub(end) as i32) >= 0).map(|a| a.frame).collect())
                .unwrap_or_default();
            // The first transmission's copy at the other side, by now.
            let other = self.sent.get(&(r.conn, r.to_server, r.seq)).filter(|s| s.frame == r.sent.frame).and_then(|s| s.other);
            // It never arrived (loss, not ACKs), or no ACK of the receiver's
            // went missing (the sender was merely impatient).
            let (Some(other), false) = (other, lost.is_empty()) else { continue };
            self.acks_reported.insert((r.conn, r.to_server));
            let (client, server) = (self.name_client(r.conn), self.name_server(r.conn));
            let (sender, receiver, s_side, r_side) = if r.to_server { (client, server, "client's", "server's") } else { (server, client, "server's", "client's") };
            let text = format!(
                "ACKs lost on the way back: {sender} sent the data of frame {first} again in frame {again} (at the {s_side} side), although it had reached the {r_side} side the first time (frame {other}). The receiver acknowledged it (frame{pl} {acks} at the {r_side} side) and {none} reached the {s_side} side: lost on the way from {receiver} to {sender}, between the two capture points ({pts}). The data got through; the way back drops packets (here its ACKs): a router, link or firewall towards the sender, or a return route other than the way there. Next check: the drop counters and filtering rules on the way back, and whether the return path is the one the data takes.",
                first = r.sent.frame,
                again = r.frame,
                pl = if lost.len() > 1 { "s" } else { "" },
                acks = frames(&lost),
                none = if lost.len() > 1 { "none of them" } else { "it never" },
                pts = self.describe_points(),
            );
            let mut related = vec![r.sent.frame, other, r.frame];
            related.extend(&lost);
            related.sort_unstable();
            out.push(Finding { rule: &catalog::PATH_ACK_LOST, text, related_frames: related });
        }
    }

    /// Data segments: each first seen at its sender's side must show up at the
    /// other side; those that do not were lost between the two points.
    #[allow(clippy::too_many_arguments)]
    fn follow_data(&mut self, seg: &Head, iface: Point, frame: u32, ts_ns: i64, to_server: bool, is_copy: bool, out: &mut Vec<Finding>) {
        self.expire(ts_ns, out);
        if seg.payload_len == 0 || is_copy {
            return;
        }
        let conn = if to_server { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            // Too much at once to follow: forget the oldest unjudged.
            self.in_flight.pop_front();
        }
        self.in_flight.push_back(InFlight { frame, point: iface, ts_ns, to_server, conn, seq: seg.seq });
    }

    /// Judge the segments whose window to arrive at the other side is over.
    fn expire(&mut self, now_ns: i64, out: &mut Vec<Finding>) {
        // Apart from self for the loop, so a finding can describe the points.
        let mut lost = std::mem::take(&mut self.lost);
        let mut judged = Vec::new();
        // Due at the other side at its time plus the shift there; before any
        // packet was seen at both sides, nothing is judged.
        let client = self.client_side();
        while self.in_flight.front().is_some_and(|f| self.due_shift(f.to_server).is_some_and(|s| now_ns - (f.ts_ns + s) > ARRIVAL_WINDOW_NS)) {
            let f = self.in_flight.pop_front().expect("front exists");
            // Only a packet seen first at its sender's side can go missing on the way.
            if client.is_some_and(|c| c.holds(f.point)) != f.to_server {
                self.arrived.remove(&f.frame);
                continue;
            }
            let key3 = (f.conn.0, f.conn.1, f.to_server);
            if lost.len() < MAX_ATTEMPTS || lost.contains_key(&key3) {
                lost.entry(key3).or_default().sent += 1;
            }
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
        let side_last = |to_client_side: bool| -> i64 {
            self.last_ts.iter().filter(|(&i, _)| client.is_some_and(|c| c.holds(i)) == to_client_side).map(|(_, &t)| t).max().unwrap_or(i64::MIN)
        };
        let (client_last, server_last) = (side_last(true), side_last(false));
        // Lost once the receiving side was capturing after it was due there.
        while let Some(f) = self.overdue.front() {
            let receiver_last = if f.to_server { server_last } else { client_last };
            if receiver_last <= f.ts_ns + self.due_shift(f.to_server).unwrap_or(0) {
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
                let (client, server) = (self.name_client(f.conn), self.name_server(f.conn));
                let (from, to, from_side, to_side) = if f.to_server { (client, server, "client's", "server's") } else { (server, client, "server's", "client's") };
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
    fn learn(&mut self, to_server: bool, c: CopyOf, first_iface: Point, iface: Point) {
        // In one interface, copies on one host are microseconds apart: only
        // copies further apart than that are two sides.
        let one_host = first_iface.iface == iface.iface && c.dt_ns.abs() <= COPY_WINDOW_NS;
        if first_iface.iface == iface.iface && !one_host && c.ttl_drop != 0 {
            self.one_interface_gap = Some(self.one_interface_gap.map_or(c.dt_ns.abs(), |g| g.min(c.dt_ns.abs())));
        }
        // The side a packet reached first (higher TTL) is its sender's.
        if c.ttl_drop != 0 && !one_host && self.votes.len() < 64 {
            let (upstream, downstream) = if c.ttl_drop > 0 { (first_iface, iface) } else { (iface, first_iface) };
            let client = if to_server { upstream } else { downstream };
            let other = if client == upstream { downstream } else { upstream };
            *self.votes.entry(client).or_default() += 1;
            *self.votes.entry(other).or_default() -= 1;
            if to_server {
                self.ttl_drop = Some(c.ttl_drop.abs());
            }
        }
        let Some(client) = self.client_side() else { return };
        if client.holds(iface) == client.holds(first_iface) {
            return;
        }
        // dt: server side's time minus client side's.
        let dt = if client.holds(iface) { -c.dt_ns } else { c.dt_ns };
        let (v, min) = if to_server { (&mut self.to_server_dt, &mut self.up_min) } else { (&mut self.to_client_dt, &mut self.down_min) };
        if v.len() < MAX_SAMPLES {
            v.push(dt);
        }
        *min = Some(min.map_or(dt, |m| m.min(dt)));
    }

    fn on_syn(&mut self, seg: &Head, iface: Point, frame: u32, out: &mut Vec<Finding>) {
        if self.attempts.len() >= MAX_ATTEMPTS && !self.attempts.contains_key(&(seg.src, seg.dst)) {
            return;
        }
        let where_ = self.describe_points();
        let client_iface = self.client_side();
        let a = self.attempts.entry((seg.src, seg.dst)).or_default();
        if a.syns.len() < MAX_FRAMES {
            a.syns.push((iface, frame));
        }
        let Some(ci) = client_iface.filter(|c| c.holds(iface)) else { return };
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
                    "The server drops the connection attempts: {n} SYNs from {c} to {s} left the client (frames {cf} at the client's side); {k} reached the server ({fw} {sf} at the server's side, {w}) and it never answered, neither SYN/ACK nor RST. The network delivers them; the server's own host firewall discards them (on Windows, the Public network profile blocks File and Printer Sharing). Next check on {sa}: `Get-NetConnectionProfile`, `Get-NetFirewallRule -DisplayGroup \"File and Printer Sharing\"`, or iptables/nftables INPUT rules for TCP {p}.",
                    n = client_syns.len(),
                    c = client.addr,
                    s = server,
                    cf = frames(&client_syns),
                    // The server's copies come later in the file (the path's delay, a clock ahead).
                    k = if server_syns.len() >= client_syns.len() { "all of them".to_string() } else { format!("{} of them so far", server_syns.len()) },
                    fw = if server_syns.len() == 1 { "frame" } else { "frames" },
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

    fn on_server_answer(&mut self, seg: &Head, iface: Point, frame: u32, out: &mut Vec<Finding>) {
        let client_iface = self.client_side();
        let where_ = self.describe_points();
        let Some(a) = self.attempts.get_mut(&(seg.dst, seg.src)) else { return };
        if a.answers.len() < MAX_FRAMES {
            a.answers.push((iface, frame));
        }
        let Some(ci) = client_iface.filter(|c| c.holds(iface)) else { return };
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
        let Some(client) = self.client_side() else { return String::new() };
        let mut s = match client {
            ClientSide::Interface(ci) => {
                // Points are ordered by interface first: one entry per interface.
                let mut server: Vec<String> = self.frames.keys().filter(|p| p.iface != ci).map(|p| p.iface.to_string()).collect();
                server.dedup();
                format!(
                    "client's side: interface {ci}{}, server's side: {}",
                    if self.preferred_client == Some(ci) { " (as the preference says)" } else { " (its packets there have the higher TTL)" },
                    if server.is_empty() { "the other interface, which captured nothing".to_string() } else { format!("interface {}", server.join(", ")) }
                )
            }
            ClientSide::Point(cp) => {
                let seg = |p: &Point| self.segments.describe(p.segment).map_or_else(|| "the frames without Ethernet addresses".to_string(), |m| format!("the frames between Ethernet addresses {m}"));
                let server: Vec<String> = self.frames.keys().filter(|p| !client.holds(**p)).map(seg).collect();
                format!(
                    "client's side: {} (its packets there have the higher TTL), server's side: {}; both sides in interface {}, told apart by their Ethernet addresses and by each packet's copies, which lie {:.3} s or more apart (copies made on one host lie microseconds apart)",
                    seg(&cp),
                    server.join("; "),
                    cp.iface,
                    self.one_interface_gap.unwrap_or(0) as f64 / 1e9
                )
            }
        };
        if let Some(d) = self.ttl_drop {
            s.push_str(&format!("; {d} router(s) between them"));
        }
        s
    }

    /// A paragraph for the summary, when the capture holds two capture points.
    pub fn summary(&self) -> Option<String> {
        self.client_side()?;
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
        s.push_str("\n  Response times in the connection tables are each taken at one side, on its clock: a response against its request as the side that read the response first saw it (the client's wait there, the server's time at the server's side); the split below puts both sides together.");
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

    fn pt(iface: u32) -> Option<Point> {
        Some(Point { iface, segment: Default::default() })
    }

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
        Some(CopyOf { frame, dt_ns: 20_000, ttl_drop, first_point: pt(first_iface), first_ends: None, or_of: None })
    }

    #[test]
    fn the_side_with_the_higher_ttl_for_the_clients_packets_is_the_clients() {
        let mut p = TwoPoints::default();
        let mut out = Vec::new();
        // Server-side interface 0 listed first in the file, client-side 1.
        p.on_segment(&syn(64), pt(1), 1, 0, None, None, &mut out);
        p.on_segment(&syn(63), pt(0), 2, 0, copy_of(1, 1, 1), None, &mut out);
        assert_eq!(p.client_side(), Some(ClientSide::Interface(1)));
        for f in 3..=6 {
            let (iface, ttl, copy) = if f % 2 == 1 { (1, 64, None) } else { (0, 63, copy_of(f - 1, 1, 1)) };
            p.on_segment(&syn(ttl), pt(iface), f, 0, copy, None, &mut out);
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
            p.on_segment(&syn(64), pt(f % 2), f, 0, (f % 2 == 0).then(|| CopyOf { frame: f - 1, dt_ns: 5, ttl_drop: 0, first_point: pt(1), first_ends: None, or_of: None }), None, &mut out);
        }
        assert_eq!(p.client_side(), None);
        assert!(out.is_empty() && p.summary().is_none());
    }

    #[test]
    fn a_reset_for_a_syn_the_server_never_saw_is_forged() {
        let mut p = TwoPoints { preferred_client: Some(0), ..Default::default() };
        let mut out = Vec::new();
        p.on_segment(&syn(64), pt(0), 1, 0, None, None, &mut out);
        let mut rst = syn(64);
        (rst.src, rst.dst, rst.flags) = (ep(2, 445), ep(1, 50000), TcpFlags(TcpFlags::RST | TcpFlags::ACK));
        p.on_segment(&rst, pt(0), 2, 0, None, None, &mut out);
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
        p.on_segment(&data(1, 1), pt(0), 1, 0, None, None, &mut out);
        p.on_segment(&data(1, 1), pt(1), 2, 10, Some(CopyOf { frame: 1, dt_ns: 10, ttl_drop: 1, first_point: pt(0), first_ends: None, or_of: None }), None, &mut out);
        let mut ack = syn(63);
        (ack.src, ack.dst, ack.flags) = (ep(2, 445), ep(1, 50000), TcpFlags(TcpFlags::ACK));
        for (k, f) in [3u32, 5, 7].into_iter().enumerate() {
            let t = (k as i64 + 1) * 50 * ms;
            p.on_segment(&data(100 * f, f as u16), pt(0), f, t, None, None, &mut out);
            p.on_segment(&ack, pt(1), f + 1, t + 20 * ms, None, None, &mut out);
        }
        p.on_segment(&ack, pt(1), 9, 500 * ms, None, None, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(std::ptr::eq(out[0].rule, &catalog::PATH_LOSS));
        assert_eq!(out[0].related_frames, vec![3, 5, 7]);
        assert!(out[0].text.contains("3 of 4 data segments the client 10.0.0.1 sent"), "{}", out[0].text);
    }

    /// Data segments at the first point, then (after `gap_ns`) the second
    /// point's first frames: what the first point showed alone is replayed.
    fn lost_before_the_second_point(gap_ns: i64) -> Vec<Finding> {
        let mut p = TwoPoints::default();
        let mut out = Vec::new();
        let ms = 1_000_000;
        let data = |seq: u32, id: u16| {
            let mut d = syn(64);
            (d.flags, d.seq, d.ip_id, d.payload, d.payload_len) = (TcpFlags(TcpFlags::ACK), seq, Some(id), b"req", 3);
            d
        };
        for f in 1..=3u32 {
            p.on_segment(&data(100 * f, f as u16), pt(0), f, (f as i64 - 1) * 50 * ms, None, None, &mut out);
        }
        assert!(p.in_flight.is_empty() && p.early.len() == 3, "one point: held back, not followed");
        p.on_segment(&data(400, 4), pt(0), 4, gap_ns, None, None, &mut out);
        p.on_segment(&data(400, 4), pt(1), 5, gap_ns + 10, Some(CopyOf { frame: 4, dt_ns: 10, ttl_drop: 1, first_point: pt(0), first_ends: None, or_of: None }), None, &mut out);
        let mut ack = syn(63);
        (ack.src, ack.dst, ack.flags) = (ep(2, 445), ep(1, 50000), TcpFlags(TcpFlags::ACK));
        p.on_segment(&ack, pt(1), 6, gap_ns + 500 * ms, None, None, &mut out);
        assert!(p.early.is_empty());
        out
    }

    #[test]
    fn what_one_point_saw_is_judged_once_the_second_shows_up() {
        let out = lost_before_the_second_point(1_000_000_000);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(std::ptr::eq(out[0].rule, &catalog::PATH_LOSS));
        assert_eq!(out[0].related_frames, vec![1, 2, 3]);
    }

    #[test]
    fn what_one_point_saw_long_before_the_second_captured_is_not_judged() {
        // The other point was not capturing then: its missing copies say nothing.
        assert!(lost_before_the_second_point(POINTS_WINDOW_NS + 1_000_000_000).is_empty());
    }
}
