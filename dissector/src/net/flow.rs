//! Connection table: which TCP connection a segment belongs to, which side is
//! the client, the per-direction reassembly, and TCP-level observations per
//! segment (retransmissions, duplicate ACKs, zero windows) for the rules.

use ahash::HashMap;

use super::link::{Endpoint, TcpSegment};
use super::reassembly::{Reassembler, StreamChunk};

/// A connection: its number, unique for the capture's lifetime (never
/// reused; it orders connections), and its slot, a small index the flow table
/// hands out while the connection lives and reuses after it ends, so the
/// per-connection tables above it are Vecs (`net::slots::PerConn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    number: u32,
    slot: u32,
}

impl ConnId {
    pub const fn new(number: u32, slot: u32) -> Self {
        ConnId { number, slot }
    }

    pub fn number(self) -> u32 {
        self.number
    }

    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// What one segment tells about TCP itself (for transport diagnoses).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpObservation {
    /// A SYN without ACK (connection attempt), first or retransmitted.
    pub syn: bool,
    pub syn_ack: bool,
    pub rst: bool,
    pub fin: bool,
    /// Payload (or a SYN) at sequence numbers already seen in this direction.
    pub retransmission: bool,
    /// A pure ACK repeating the previous ACK number while data is outstanding.
    pub dup_ack: bool,
    /// TCP keep-alive probe (not a retransmission).
    pub keep_alive: bool,
    /// Data the receiver had already acknowledged, sent again.
    pub spurious_retransmission: bool,
    /// Receive window advertised as zero.
    pub zero_window: bool,
    /// Payload filling a hole shortly after it opened (network reordering).
    pub out_of_order: bool,
}

/// Which stream a chunk of reassembled data belongs to: its connection, the
/// way it travels, and the connection's ends (a chunk released by the other
/// side's ACK travels against the segment that carried the ACK).
#[derive(Clone, Copy, Debug)]
pub struct StreamOf {
    pub conn: ConnId,
    pub dir: Dir,
    pub client: Endpoint,
    pub server: Endpoint,
}

#[derive(Clone, Debug)]
pub struct SegmentInfo {
    pub conn: ConnId,
    pub dir: Dir,
    /// First segment of a connection not seen before.
    pub new_connection: bool,
    pub obs: TcpObservation,
}

/// A hole younger than this, filled without duplicate ACKs, is reordering.
const REORDER_WINDOW_NS: i64 = 3_000_000;
/// Connections tracked at once; the least recently active go first.
pub const MAX_CONNECTIONS: usize = 100_000;

/// Sequence-space bookkeeping of one direction.
#[derive(Debug, Default)]
struct DirTrack {
    syn_seq: Option<u32>,
    /// One past the highest sequence number seen.
    max_end: Option<u32>,
    /// When the newest hole opened (data seen beyond max_end), and dup ACKs since.
    hole_since: Option<i64>,
    dup_acks_since_hole: u32,
    last_ack: Option<u32>,
    last_window: u16,
    fin: bool,
}

fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// One tracked TCP connection.
#[derive(Debug)]
pub struct Connection {
    pub id: ConnId,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: u32,
    pub last_ts_ns: i64,
    /// The capture saw the client's SYN (false: the capture started mid-connection).
    pub saw_syn: bool,
    pub closed: bool,
    pub to_server: Reassembler,
    pub to_client: Reassembler,
    track_to_server: DirTrack,
    track_to_client: DirTrack,
}

#[derive(Debug, Default)]
pub struct FlowTable {
    conns: HashMap<(Endpoint, Endpoint), Connection>,
    next_id: u32,
    /// Slots of connections that ended, for the next new ones.
    free_slots: Vec<u32>,
    /// Slots handed out so far (the next new one, when none is free).
    slots: u32,
    /// Connections dropped to stay under `MAX_CONNECTIONS`.
    pub evicted: u64,
    /// Connections that ended for good (evicted or replaced by a new one on
    /// the same tuple) since the owner last drained this, so per-connection
    /// state elsewhere can go too.
    pub gone: Vec<ConnId>,
}

/// Canonical key: the same for both directions.
fn key(a: Endpoint, b: Endpoint) -> (Endpoint, Endpoint) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn is_smb_port(p: u16) -> bool {
    p == 445 || p == 139
}

impl FlowTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Track one segment; stream data for either direction goes to `sink`.
    /// Client/server: the SYN sender is the client, the SYN/ACK sender the
    /// server; without a handshake, the side on port 445 or 139 is the server,
    /// else the lower port.
    pub fn on_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        frame: u32,
        ts_ns: i64,
        sink: &mut dyn FnMut(StreamOf, StreamChunk<'_>),
    ) -> SegmentInfo {
        let k = key(seg.src, seg.dst);
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        // A fresh SYN on a tuple whose connection ended (or with another ISN) is a new connection.
        if pure_syn {
            if let Some(c) = self.conns.get(&k) {
                let same_attempt = c.track_to_server.syn_seq == Some(seg.seq) && seg.src == c.client;
                if !same_attempt && (c.closed || c.track_to_server.syn_seq.is_some() || c.track_to_server.max_end.is_some()) {
                    if let Some(old) = self.conns.remove(&k) {
                        self.end(old.id);
                    }
                }
            }
        }
        if self.conns.len() >= MAX_CONNECTIONS && !self.conns.contains_key(&k) {
            self.evict();
        }
        // One lookup for the common case (a segment of a known connection).
        let mut new_connection = false;
        let (next_id, free_slots, slots) = (&mut self.next_id, &mut self.free_slots, &mut self.slots);
        let c = self.conns.entry(k).or_insert_with(|| {
            new_connection = true;
            let client_is_src = if seg.flags.syn() {
                !seg.flags.ack()
            } else if is_smb_port(seg.dst.port) != is_smb_port(seg.src.port) {
                is_smb_port(seg.dst.port)
            } else {
                seg.dst.port <= seg.src.port
            };
            let (client, server) = if client_is_src { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
            let slot = free_slots.pop().unwrap_or_else(|| {
                *slots += 1;
                *slots - 1
            });
            let id = ConnId::new(*next_id, slot);
            *next_id += 1;
            Connection {
                id,
                client,
                server,
                first_frame: frame,
                last_ts_ns: ts_ns,
                saw_syn: pure_syn,
                closed: false,
                to_server: Reassembler::new(),
                to_client: Reassembler::new(),
                track_to_server: DirTrack::default(),
                track_to_client: DirTrack::default(),
            }
        });
        c.last_ts_ns = ts_ns;
        let dir = if seg.src == c.client { Dir::ToServer } else { Dir::ToClient };
        let id = c.id;
        let (mine, theirs, my_r, their_r) = match dir {
            Dir::ToServer => (&mut c.track_to_server, &mut c.track_to_client, &mut c.to_server, &mut c.to_client),
            Dir::ToClient => (&mut c.track_to_client, &mut c.track_to_server, &mut c.to_client, &mut c.to_server),
        };
        let f = seg.flags;
        let mut obs = TcpObservation {
            syn: pure_syn,
            syn_ack: f.syn() && f.ack(),
            rst: f.rst(),
            fin: f.fin(),
            zero_window: seg.window == 0 && !f.rst() && !f.syn(),
            ..Default::default()
        };
        let len = seg.payload_len;
        // Sequence analysis of this direction.
        if f.syn() {
            if mine.syn_seq == Some(seg.seq) {
                obs.retransmission = true;
            }
            mine.syn_seq = Some(seg.seq);
            mine.max_end.get_or_insert(seg.seq.wrapping_add(1));
        } else if len > 0 {
            let end = seg.seq.wrapping_add(len);
            match mine.max_end {
                // A keep-alive: one byte (or none) just below the next sequence number.
                Some(max) if len <= 1 && seg.seq.wrapping_add(1) == max => obs.keep_alive = true,
                // Data the receiver had already acknowledged: sent again needlessly
                // (a late ACK, not a loss).
                Some(max) if seq_lt(seg.seq, max) && theirs.last_ack.is_some_and(|a| !seq_lt(a, end)) => {
                    obs.spurious_retransmission = true;
                }
                Some(max) if seq_lt(seg.seq, max) => {
                    let fills_recent_hole = mine.hole_since.is_some_and(|t| ts_ns - t < REORDER_WINDOW_NS) && mine.dup_acks_since_hole == 0;
                    if fills_recent_hole {
                        obs.out_of_order = true;
                    } else {
                        obs.retransmission = true;
                    }
                    if seq_lt(max, end) {
                        mine.max_end = Some(end);
                    }
                }
                Some(max) => {
                    if seq_lt(max, seg.seq) {
                        mine.hole_since = Some(ts_ns);
                        mine.dup_acks_since_hole = 0;
                    }
                    mine.max_end = Some(end);
                }
                None => mine.max_end = Some(end),
            }
        }
        // ACK analysis: duplicate ACKs signal the other direction's losses.
        if f.ack() {
            let pure = len == 0 && !f.syn() && !f.fin() && !f.rst();
            let outstanding = theirs.max_end.is_some_and(|m| seq_lt(seg.ack, m));
            if pure && mine.last_ack == Some(seg.ack) && mine.last_window == seg.window && outstanding {
                obs.dup_ack = true;
                theirs.dup_acks_since_hole += 1;
            }
            mine.last_ack = Some(seg.ack);
            mine.last_window = seg.window;
        }
        if f.fin() {
            mine.fin = true;
        }
        let closed_now = f.rst() || (mine.fin && theirs.fin);
        // Reassembly: this segment's bytes, then what its ACK proves about the other direction.
        let (client, server) = (c.client, c.server);
        let of = |dir| StreamOf { conn: id, dir, client, server };
        my_r.push(seg.seq, seg.payload, seg.payload_len, f.syn(), &mut |chunk| sink(of(dir), chunk));
        let other = match dir {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        };
        if f.ack() {
            their_r.peer_ack(seg.ack, &mut |chunk| sink(of(other), chunk));
        }
        if f.fin() || f.rst() {
            my_r.finish(&mut |chunk| sink(of(dir), chunk));
        }
        if closed_now {
            their_r.finish(&mut |chunk| sink(of(other), chunk));
            c.closed = true;
        }
        SegmentInfo { conn: id, dir, new_connection, obs }
    }

    /// The connection a segment's endpoints belong to, if tracked.
    pub fn lookup(&self, a: Endpoint, b: Endpoint) -> Option<&Connection> {
        self.conns.get(&key(a, b))
    }

    /// Slots handed out so far: how long the per-connection Vecs above may grow.
    pub fn slots(&self) -> usize {
        self.slots as usize
    }

    /// Number of connections tracked.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Rough bytes held (connections and reassembly buffers).
    pub fn memory_estimate(&self) -> usize {
        self.conns.values().map(|c| std::mem::size_of::<Connection>() + c.to_server.buffered() + c.to_client.buffered()).sum()
    }

    /// A connection ended for good: its slot goes back for reuse (the
    /// per-connection tables tell its data from a new holder's by the id).
    fn end(&mut self, id: ConnId) {
        self.free_slots.push(id.slot);
        self.gone.push(id);
    }

    /// Drop the tenth of connections least recently active (closed ones first).
    fn evict(&mut self) {
        let mut by_age: Vec<((Endpoint, Endpoint), (bool, i64))> = self.conns.iter().map(|(k, c)| (*k, (!c.closed, c.last_ts_ns))).collect();
        by_age.sort_by_key(|(_, a)| *a);
        for (k, _) in by_age.into_iter().take(MAX_CONNECTIONS / 10 + 1) {
            if let Some(c) = self.conns.remove(&k) {
                self.end(c.id);
            }
            self.evicted += 1;
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

    fn seg<'a>(src: Endpoint, dst: Endpoint, seq: u32, ack: u32, flags: u8, payload: &'a [u8]) -> TcpSegment<'a> {
        TcpSegment { src, dst, seq, ack, flags: TcpFlags(flags), window: 1000, window_scale: None, sack: vec![], payload, payload_len: payload.len() as u32, ip_id: None, ttl: 64, ts_val: None }
    }

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;

    #[test]
    fn handshake_directions_and_data() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut got = Vec::new();
        let mut sink = |o: StreamOf, ch: StreamChunk<'_>| got.push((o.conn, o.dir, format!("{ch:?}")));
        let i1 = t.on_segment(&seg(c, s, 100, 0, S, b""), 1, 0, &mut sink);
        let i2 = t.on_segment(&seg(s, c, 900, 101, S | A, b""), 2, 1, &mut sink);
        let i3 = t.on_segment(&seg(c, s, 101, 901, A, b"hi"), 3, 2, &mut sink);
        assert!(i1.new_connection && i1.obs.syn);
        assert_eq!(i2.dir, Dir::ToClient);
        assert!(i2.obs.syn_ack);
        assert_eq!(i3.dir, Dir::ToServer);
        assert_eq!(got.len(), 1);
        assert_eq!(t.lookup(c, s).unwrap().client, c);
    }

    #[test]
    fn syn_retransmission_and_new_attempt() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        let a = t.on_segment(&seg(c, s, 100, 0, S, b""), 1, 0, &mut sink);
        let b = t.on_segment(&seg(c, s, 100, 0, S, b""), 2, 1_000_000_000, &mut sink);
        assert!(!a.obs.retransmission && b.obs.retransmission);
        assert_eq!(a.conn, b.conn);
        let n = t.on_segment(&seg(c, s, 5000, 0, S, b""), 3, 2_000_000_000, &mut sink);
        assert_ne!(n.conn, a.conn);
        assert!(n.new_connection);
    }

    #[test]
    fn an_ended_connections_slot_goes_to_the_next_new_one() {
        let (c, s, c2) = (ep(1, 50000), ep(2, 445), ep(3, 50001));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        let a = t.on_segment(&seg(c, s, 100, 0, S, b""), 1, 0, &mut sink).conn;
        let other = t.on_segment(&seg(c2, s, 100, 0, S, b""), 2, 0, &mut sink).conn;
        assert_ne!(a.slot(), other.slot());
        // A new SYN on the tuple ends the first connection; the new one takes its slot.
        let b = t.on_segment(&seg(c, s, 9000, 0, S, b""), 3, 1, &mut sink).conn;
        assert_eq!(t.gone, vec![a]);
        assert_eq!(b.slot(), a.slot());
        assert!(b != a && b.number() > other.number());
    }

    #[test]
    fn midstream_server_by_port() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        let i = t.on_segment(&seg(s, c, 1, 1, A, b"x"), 1, 0, &mut sink);
        assert_eq!(i.dir, Dir::ToClient);
    }

    #[test]
    fn retransmission_and_dup_acks() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        t.on_segment(&seg(s, c, 1000, 1, A, b"aaaa"), 1, 0, &mut sink);
        // 1004..1008 lost; later data opens a hole.
        t.on_segment(&seg(s, c, 1008, 1, A, b"cccc"), 2, 10, &mut sink);
        let d1 = t.on_segment(&seg(c, s, 1, 1004, A, b""), 3, 20, &mut sink);
        let d2 = t.on_segment(&seg(c, s, 1, 1004, A, b""), 4, 30, &mut sink);
        assert!(!d1.obs.dup_ack && d2.obs.dup_ack);
        let r = t.on_segment(&seg(s, c, 1004, 1, A, b"bbbb"), 5, 50_000_000, &mut sink);
        assert!(r.obs.retransmission);
        // Bytes the client already acknowledged: sent again needlessly.
        let again = t.on_segment(&seg(s, c, 1000, 1, A, b"aaaa"), 6, 60_000_000, &mut sink);
        assert!(again.obs.spurious_retransmission && !again.obs.retransmission);
    }

    #[test]
    fn data_released_by_an_ack_names_the_connection_ends_not_the_acks_sender() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let got = std::cell::RefCell::new(Vec::new());
        let mut sink = |o: StreamOf, ch: StreamChunk<'_>| got.borrow_mut().push((o, format!("{ch:?}")));
        t.on_segment(&seg(c, s, 100, 0, S, b""), 1, 0, &mut sink);
        t.on_segment(&seg(s, c, 1000, 101, S | A, b""), 2, 1, &mut sink);
        // The server's bytes 1001..1005 never reach the capture; 1005.. waits behind the hole.
        t.on_segment(&seg(s, c, 1005, 101, A, b"late"), 3, 2, &mut sink);
        assert!(got.borrow().is_empty());
        // The client's ACK past the hole proves the loss and releases the server's data.
        t.on_segment(&seg(c, s, 101, 1009, A, b""), 4, 3, &mut sink);
        let got = got.into_inner();
        assert!(!got.is_empty());
        for (o, _) in &got {
            assert_eq!((o.dir, o.client, o.server), (Dir::ToClient, c, s), "{got:?}");
        }
    }

    #[test]
    fn resending_acknowledged_data_is_spurious() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        t.on_segment(&seg(s, c, 1000, 1, A, b"aaaa"), 1, 0, &mut sink);
        t.on_segment(&seg(c, s, 1, 1004, A, b""), 2, 10, &mut sink);
        let r = t.on_segment(&seg(s, c, 1000, 1, A, b"aaaa"), 3, 50_000_000, &mut sink);
        assert!(r.obs.spurious_retransmission && !r.obs.retransmission);
    }

    #[test]
    fn keep_alive_is_not_retransmission() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        t.on_segment(&seg(c, s, 1000, 1, A, b"aaaa"), 1, 0, &mut sink);
        // Keep-alive: one byte at next-1 (here the last byte sent again).
        let k = t.on_segment(&seg(c, s, 1003, 1, A, b"a"), 2, 30_000_000_000, &mut sink);
        assert!(k.obs.keep_alive && !k.obs.retransmission);
    }

    #[test]
    fn quick_reorder_is_not_retransmission() {
        let (c, s) = (ep(1, 50000), ep(2, 445));
        let mut t = FlowTable::new();
        let mut sink = |_: StreamOf, _: StreamChunk<'_>| {};
        t.on_segment(&seg(s, c, 1000, 1, A, b"aaaa"), 1, 0, &mut sink);
        t.on_segment(&seg(s, c, 1008, 1, A, b"cccc"), 2, 10, &mut sink);
        let r = t.on_segment(&seg(s, c, 1004, 1, A, b"bbbb"), 3, 20, &mut sink);
        assert!(r.obs.out_of_order && !r.obs.retransmission);
    }
}
