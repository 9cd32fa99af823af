//! Copies of one packet in a capture: `pktmon` and `netsh trace` record a
//! packet at several points of the stack, a port mirror copies both directions
//! or several VLANs, a capture of two interfaces of one host (or `tcpdump -i
//! any` on a router or bridge) sees a packet on each. A copy is not a
//! retransmission: it is set aside before flow tracking, so its bytes are
//! decoded once and it counts as neither loss nor a duplicate message.
//!
//! A copy carries the same IP identification, TCP header fields and payload
//! as a frame seen a moment before, whatever the interface or link header. A
//! retransmission is a new packet: its sender gives it a new IP
//! identification (and usually a new TCP timestamp), so it never matches.
//!
//! Segmentation offload makes a copy look different: a capture point above
//! the offload (a bridge, an upper layer of pktmon) sees one large segment, a
//! point below it the wire-sized pieces cut from it, which carry the large
//! one's bytes, ACK and timestamp, and IP identifications counting up from
//! its own. Such a piece is a copy too.
//!
//! Two capture points (the client's side and the server's, merged) see each
//! packet with a lower TTL at the second point, after the path's delay and
//! whatever the two clocks differ by: seconds, not microseconds. Such a copy
//! (another interface or a lower TTL, and an IP identification to tell it
//! from a retransmission) is looked for over a long window. Behind NAT its
//! addresses and ports differ: it is found by everything else (identification,
//! sequence numbers, payload), and the translated connection is mapped back
//! to the first view's addresses (`translated`).

use std::collections::hash_map::Entry;
use std::collections::VecDeque;

use ahash::{HashMap, RandomState};

use super::capture_point::Point;
use super::link::{Endpoint, TcpSegment};

/// Copies made on one host or by a mirror are microseconds apart; a capture
/// merged from two interfaces may add a few milliseconds of timestamping skew.
pub const COPY_WINDOW_NS: i64 = 10_000_000;
/// Without an IP identification (IPv6) and a TCP timestamp, a fast
/// retransmission differs from the original in its time only: be stricter.
const COPY_WINDOW_NO_ID_NS: i64 = 1_000_000;
/// A copy at another capture point: the path's delay plus the clocks' offset.
pub const POINTS_WINDOW_NS: i64 = 60_000_000_000;
/// Translated connections remembered (NAT between capture points).
const MAX_TRANSLATED: usize = 4096;
/// Frames remembered at once (a bound for bursts within the window): 7/8 of
/// 65,536, the most a table of 65,536 slots holds before it doubles.
const MAX_RECENT: usize = 57_344;
/// A payload larger than one Ethernet MTU's may be an offload's large
/// segment that a later capture point sees cut in pieces.
const WIRE_PAYLOAD_MAX: usize = 1460;
/// Large segments remembered at once, with their bytes.
const MAX_LARGE: usize = 16;

/// A recent large segment, kept whole to check the pieces cut from it.
#[derive(Debug)]
struct Large {
    frame: u32,
    ts_ns: i64,
    point: Option<Point>,
    src: Endpoint,
    dst: Endpoint,
    seq: u32,
    ack: u32,
    ip_id: u16,
    ts_val: Option<u32>,
    bytes: Vec<u8>,
}

impl Large {
    /// Whether `seg` is one of the pieces an offload cut from this segment.
    fn cut_into(&self, seg: &TcpSegment<'_>) -> bool {
        let (Some(id), Some(_)) = (seg.ip_id, seg.ts_val) else { return false };
        let Some(piece_len) = std::num::NonZeroUsize::new(seg.payload.len()) else { return false };
        let off = seg.seq.wrapping_sub(self.seq) as usize;
        // Pieces are numbered on from the large segment's own identification.
        let pieces = self.bytes.len().div_ceil(piece_len.get()) as u16;
        (seg.src, seg.dst, seg.ack, seg.ts_val) == (self.src, self.dst, self.ack, self.ts_val)
            && seg.payload_len as usize == seg.payload.len()
            && id.wrapping_sub(self.ip_id) < pieces.max(1)
            && self.bytes.get(off..off + piece_len.get()) == Some(seg.payload)
    }
}

/// What makes two frames the same packet: its ends (kept in `Seen`) and these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Identity {
    ip_id: Option<u16>,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    ts_val: Option<u32>,
    payload_len: u32,
    /// Hash of every field above and of the captured payload bytes (headers
    /// compared exactly above): the key of the entry that ignores the ends,
    /// and with them that of the entry that does not.
    rest_hash: u64,
}

#[derive(Clone, Copy, Debug)]
struct Seen {
    frame: u32,
    ts_ns: i64,
    ttl: u8,
    point: Option<Point>,
    /// The packet's own ends (the key of a translation-proof entry has none).
    ends: (Endpoint, Endpoint),
    /// Without an identification or a timestamp: an earlier frame at the
    /// same point with every header field and the payload the same (a
    /// retransmission, a duplicate ACK). A copy far away may be of either.
    earlier: Option<u32>,
}

/// A frame found to be a copy of an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyOf {
    /// The frame holding the first copy seen (the one decoded).
    pub frame: u32,
    /// This copy's time minus the first's.
    pub dt_ns: i64,
    /// The first copy's TTL minus this one's: routers between the two capture
    /// points (0 for copies on one host, a mirror, a bridge).
    pub ttl_drop: i16,
    /// Where the first copy was captured (pcapng interface and Ethernet segment), if known.
    pub first_point: Option<Point>,
    /// The first copy's (source, destination) when this copy's differ: NAT
    /// between the two capture points.
    pub first_ends: Option<(Endpoint, Endpoint)>,
    /// Another frame this copy may be a copy of just as well: the same
    /// segment sent twice with nothing (no IP identification, no TCP
    /// timestamp) to tell the two transmissions apart.
    pub or_of: Option<u32>,
}

#[derive(Debug)]
pub struct CopyFilter {
    /// Frames remembered, by their identity's hash (computed once per frame:
    /// hashing the large identity for every lookup, insert and removal cost
    /// about 2,000 instructions a frame). The identity itself is kept and
    /// compared, so two packets whose hashes collide are never taken for
    /// copies; the later one replaces the earlier, as an equal identity does.
    /// The ends are compared from `Seen`, not kept twice: the table is the
    /// plugin's largest (tens of thousands of entries).
    recent: HashMap<u64, (Identity, Seen)>,
    /// Insertion order, to forget what fell out of the window.
    order: VecDeque<(i64, u32, u64)>,
    hasher: RandomState,
    large: VecDeque<Large>,
    /// Connections seen translated at a second capture point: (source,
    /// destination) there → as the first view saw them.
    translated: HashMap<(Endpoint, Endpoint), (Endpoint, Endpoint)>,
    /// Copies set aside so far.
    pub set_aside: u64,
}

impl Default for CopyFilter {
    fn default() -> Self {
        CopyFilter { recent: HashMap::default(), order: VecDeque::new(), hasher: RandomState::new(), large: VecDeque::new(), translated: HashMap::default(), set_aside: 0 }
    }
}

/// The bytes of a payload that go into its identity: its two ends. The
/// headers (addresses, IP id, sequence and acknowledgement numbers, window,
/// timestamp, length) already tell segments apart; the payload only guards
/// against equal headers over other data, and hashing every byte of every
/// frame cost about 1,400 instructions a full-sized frame (half of what the
/// plugin spent on a frame of a bulk transfer).
fn sample(payload: &[u8]) -> (&[u8], &[u8]) {
    const END: usize = 64;
    if payload.len() <= 2 * END {
        (payload, &[])
    } else {
        (&payload[..END], &payload[payload.len() - END..])
    }
}

impl CopyFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether this segment is a copy of one seen within the window; if not,
    /// it is remembered as a first copy.
    pub fn check(&mut self, seg: &TcpSegment<'_>, point: Option<Point>, frame: u32, ts_ns: i64) -> Option<CopyOf> {
        let id = self.identity(seg);
        let has_id = id.ip_id.is_some_and(|i| i != 0);
        let window = if has_id || id.ts_val.is_some() { COPY_WINDOW_NS } else { COPY_WINDOW_NO_ID_NS };
        self.expire(ts_ns);
        let ends = (seg.src, seg.dst);
        let id_hash = self.hasher.hash_one((id.rest_hash, seg.src, seg.dst));
        // Only a packet with an identification is looked for behind NAT.
        let untranslated_hash = has_id.then_some(id.rest_hash);
        // The entry keyed with the ends must have them; the one keyed without may have any.
        let lookup = |h: u64, ends: Option<(Endpoint, Endpoint)>| self.recent.get(&h).filter(|(k, s)| *k == id && ends.map_or(true, |e| s.ends == e)).map(|(_, s)| *s);
        let found = lookup(id_hash, Some(ends)).or_else(|| untranslated_hash.and_then(|h| lookup(h, None)));
        if let Some(first) = found {
            let dt_ns = ts_ns - first.ts_ns;
            // Another capture point: another interface or Ethernet segment, or a router between.
            let other_point = first.point != point || first.ttl != seg.ttl;
            let same_ends = first.ends == (seg.src, seg.dst);
            // Far apart in time only across points: a retransmission is sent
            // where the original was. With an identification or a TCP
            // timestamp the copy names its transmission; without (IPv6, no
            // timestamps) the sequence and acknowledgement numbers, window and
            // payload do, unless the same segment was sent twice (`or_of`).
            let long = other_point && (same_ends || has_id);
            if (same_ends && dt_ns.abs() <= window) || (long && dt_ns.abs() <= POINTS_WINDOW_NS) {
                self.set_aside += 1;
                let first_ends = (!same_ends).then_some(first.ends);
                if let Some(ends) = first_ends {
                    // The first view of the connection names it; a reply first
                    // seen translated maps back to it.
                    let own = (seg.src, seg.dst);
                    let canon = self.translated.get(&ends).copied().unwrap_or(ends);
                    if canon != own && !self.translated.contains_key(&own) && self.translated.len() < MAX_TRANSLATED {
                        self.translated.insert(own, canon);
                        self.translated.insert((own.1, own.0), (canon.1, canon.0));
                    }
                }
                return Some(CopyOf { frame: first.frame, dt_ns, ttl_drop: first.ttl as i16 - seg.ttl as i16, first_point: first.point, first_ends, or_of: first.earlier });
            }
        }
        if let Some(l) = self.large.iter().find(|l| (ts_ns - l.ts_ns).abs() <= COPY_WINDOW_NS && l.cut_into(seg)) {
            self.set_aside += 1;
            return Some(CopyOf { frame: l.frame, dt_ns: ts_ns - l.ts_ns, ttl_drop: 0, first_point: l.point, first_ends: None, or_of: None });
        }
        if seg.payload.len() > WIRE_PAYLOAD_MAX && seg.payload_len as usize == seg.payload.len() {
            self.remember_large(seg, point, frame, ts_ns);
        }
        let earlier = found.filter(|o| !has_id && id.ts_val.is_none() && o.point == point && o.ttl == seg.ttl).map(|o| o.frame);
        let seen = Seen { frame, ts_ns, ttl: seg.ttl, point, ends: (seg.src, seg.dst), earlier };
        for h in [Some(id_hash), untranslated_hash] {
            let Some(h) = h else { break };
            if self.order.len() >= MAX_RECENT {
                self.forget_oldest();
            }
            self.recent.insert(h, (id, seen));
            self.order.push_back((ts_ns, frame, h));
        }
        None
    }

    /// The first view's (source, destination) of a connection seen translated
    /// (NAT between two capture points), for a frame with these ends.
    pub fn untranslated(&self, src: Endpoint, dst: Endpoint) -> Option<(Endpoint, Endpoint)> {
        self.translated.get(&(src, dst)).copied()
    }

    fn remember_large(&mut self, seg: &TcpSegment<'_>, point: Option<Point>, frame: u32, ts_ns: i64) {
        let Some(ip_id) = seg.ip_id else { return };
        // Reuse the oldest entry's buffer: this runs on every large frame of a bulk transfer.
        let mut bytes = if self.large.len() >= MAX_LARGE { self.large.pop_front().map(|l| l.bytes).unwrap_or_default() } else { Vec::new() };
        bytes.clear();
        bytes.extend_from_slice(seg.payload);
        self.large.push_back(Large { frame, ts_ns, point, src: seg.src, dst: seg.dst, seq: seg.seq, ack: seg.ack, ip_id, ts_val: seg.ts_val, bytes });
    }

    fn identity(&self, seg: &TcpSegment<'_>) -> Identity {
        Identity {
            ip_id: seg.ip_id,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags.0,
            window: seg.window,
            ts_val: seg.ts_val,
            payload_len: seg.payload_len,
            rest_hash: self.hasher.hash_one((seg.ip_id, seg.seq, seg.ack, seg.flags.0, seg.window, seg.ts_val, seg.payload_len, sample(seg.payload))),
        }
    }

    /// Forget frames older than the window (capture time runs forward in the
    /// main; a frame out of order only keeps an entry a little longer).
    fn expire(&mut self, now_ns: i64) {
        while self.order.front().is_some_and(|&(t, _, _)| now_ns - t > POINTS_WINDOW_NS) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, frame, h)) = self.order.pop_front() {
            // Only if that entry is still the one this frame put there.
            if let Entry::Occupied(e) = self.recent.entry(h) {
                if e.get().1.frame == frame {
                    e.remove();
                }
            }
        }
    }

    /// Frames remembered (for bounds tests).
    pub fn held(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::link::TcpFlags;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint { addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port }
    }

    fn at(iface: u32) -> Option<Point> {
        Some(Point { iface, segment: Default::default() })
    }

    fn seg(ip_id: Option<u16>, seq: u32, payload: &[u8]) -> TcpSegment<'_> {
        TcpSegment {
            src: ep(1, 50000),
            dst: ep(2, 445),
            seq,
            ack: 7,
            flags: TcpFlags(TcpFlags::ACK),
            window: 500,
            window_scale: None,
            sack: vec![],
            payload,
            payload_len: payload.len() as u32,
            ip_id,
            ttl: 64,
            ts_val: None,
        }
    }

    #[test]
    fn a_copy_is_recognised_and_a_retransmission_is_not() {
        let mut f = CopyFilter::new();
        assert_eq!(f.check(&seg(Some(10), 100, b"abc"), None, 1, 0), None);
        // The same packet on another interface 20 µs later, one router further on.
        let mut routed = seg(Some(10), 100, b"abc");
        routed.ttl = 63;
        assert_eq!(f.check(&routed, None, 2, 20_000), Some(CopyOf { frame: 1, dt_ns: 20_000, ttl_drop: 1, first_point: None, first_ends: None, or_of: None }));
        // The sender's retransmission: same bytes, a new IP identification.
        assert_eq!(f.check(&seg(Some(11), 100, b"abc"), None, 3, 40_000), None);
        // Same headers, other bytes: not the same packet.
        assert_eq!(f.check(&seg(Some(12), 200, b"xyz"), None, 4, 50_000), None);
        assert_eq!(f.check(&seg(Some(12), 200, b"xyZ"), None, 5, 60_000), None);
        assert_eq!(f.set_aside, 1);
    }

    #[test]
    fn pieces_cut_from_an_offloaded_segment_are_copies() {
        let big: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
        let mut large = seg(Some(100), 1000, &big);
        large.ts_val = Some(5);
        let mut f = CopyFilter::new();
        assert_eq!(f.check(&large, None, 1, 0), None);
        let piece = |id: u16, at: usize, len: usize| {
            let mut p = seg(Some(id), 1000 + at as u32, &big[at..at + len]);
            p.ts_val = Some(5);
            p
        };
        assert_eq!(f.check(&piece(100, 0, 1448), None, 2, 10_000).map(|c| c.frame), Some(1));
        assert_eq!(f.check(&piece(101, 1448, 1448), None, 3, 11_000).map(|c| c.frame), Some(1));
        assert_eq!(f.check(&piece(102, 2896, 1104), None, 4, 12_000).map(|c| c.frame), Some(1));
        // The sender's own retransmission of a piece: a fresh identification.
        assert_eq!(f.check(&piece(140, 1448, 1448), None, 5, 50_000), None);
        // Other bytes at that place: not a piece of it.
        let mut other = piece(101, 1448, 1448);
        let changed = [0u8; 1448];
        other.payload = &changed;
        assert_eq!(f.check(&other, None, 6, 60_000), None);
    }

    #[test]
    fn a_copy_at_another_point_is_found_seconds_later_and_through_nat() {
        let mut f = CopyFilter::new();
        f.check(&seg(Some(10), 100, b"abc"), at(0), 1, 0);
        // At the server's side, one router on, 2.5 s later on its clock.
        let mut there = seg(Some(10), 100, b"abc");
        there.ttl = 63;
        assert_eq!(f.check(&there, at(1), 2, 2_500_000_000).map(|c| c.frame), Some(1));
        // Behind NAT: the client's address and port translated, all else the same.
        f.check(&seg(Some(20), 200, b"def"), at(0), 3, 3_000_000_000);
        let mut nat = seg(Some(20), 200, b"def");
        (nat.ttl, nat.src) = (63, ep(254, 61000));
        let c = f.check(&nat, at(1), 4, 3_000_100_000).expect("a copy");
        assert_eq!((c.frame, c.first_ends), (3, Some((ep(1, 50000), ep(2, 445)))));
        assert_eq!(f.untranslated(ep(2, 445), ep(254, 61000)), Some((ep(2, 445), ep(1, 50000))));
        // A retransmission (new identification) at the same point is never a copy, however near.
        assert_eq!(f.check(&seg(Some(21), 200, b"def"), at(0), 5, 3_000_200_000), None);
    }

    #[test]
    fn the_same_identity_long_after_is_not_a_copy() {
        let mut f = CopyFilter::new();
        f.check(&seg(Some(10), 100, b"abc"), None, 1, 0);
        // IP identifications wrap: 16 bits, reused within seconds on a busy host.
        assert_eq!(f.check(&seg(Some(10), 100, b"abc"), None, 2, COPY_WINDOW_NS + 1), None);
        // Kept for a copy at another capture point: by its ends, and without them.
        assert!(f.held() <= 2);
    }

    #[test]
    fn without_identification_the_window_is_short() {
        let v6 = |a: u16| Endpoint { addr: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a)), port: 445 };
        let mut f = CopyFilter::new();
        let mut s = seg(None, 100, b"abc");
        (s.src, s.dst) = (v6(1), v6(2));
        f.check(&s, None, 1, 0);
        assert!(f.check(&s, None, 2, 500_000).is_some());
        assert!(f.check(&s, None, 3, 5_000_000).is_none(), "5 ms later without id: a fast retransmission, not a copy");
    }

    #[test]
    fn without_identification_a_copy_at_another_point_is_found_seconds_later() {
        let v6 = |a: u16, port: u16| Endpoint { addr: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a)), port };
        let keyless = |ttl: u8, payload: &'static [u8]| {
            let mut s = seg(None, 100, payload);
            (s.src, s.dst, s.ttl) = (v6(1, 50000), v6(2, 445), ttl);
            s
        };
        let mut f = CopyFilter::new();
        assert_eq!(f.check(&keyless(64, b"abc"), at(0), 1, 0), None);
        // At the server's side, one router on, its clock 2.5 s ahead: the same segment.
        let c = f.check(&keyless(63, b"abc"), at(1), 2, 2_500_000_000).expect("a copy");
        assert_eq!((c.frame, c.or_of), (1, None));
        // Sent again at the client's side, byte for byte: not a copy (same point), but
        // a copy at the other side may now be of either transmission.
        assert_eq!(f.check(&keyless(64, b"abc"), at(0), 3, 3_000_000_000), None);
        let c = f.check(&keyless(63, b"abc"), at(1), 4, 5_500_000_000).expect("a copy");
        assert_eq!((c.frame, c.or_of), (3, Some(1)));
        // Other bytes at the other side: no copy.
        assert_eq!(f.check(&keyless(63, b"abd"), at(1), 5, 5_600_000_000), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut f = CopyFilter::new();
        for i in 0..(MAX_RECENT as u32 + 1000) {
            f.check(&seg(Some(i as u16), i, b"a"), None, i + 1, 0);
        }
        assert!(f.held() <= MAX_RECENT);
    }
}
