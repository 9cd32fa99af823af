//! IP reassembly, bounded: fragments of one packet are put back together
//! with etherparse's `IpDefragBuf`; this module keeps the bounds its pool
//! leaves to the caller (packets in flight, age).

use std::net::IpAddr;

use ahash::HashMap;
use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber};

use super::link::IpFragment;

/// Packets being reassembled at once; past this the oldest is dropped.
pub const MAX_PACKETS: usize = 256;
/// A packet whose fragments are not all in after this long is dropped (ns);
/// Linux gives up after 30 s (ipfrag_time).
const MAX_AGE_NS: i64 = 30_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: IpNumber,
}

#[derive(Debug)]
struct Partial {
    buf: IpDefragBuf,
    first_ts_ns: i64,
    fragments: u32,
}

/// Reassembly of IPv4 and IPv6 packets across frames.
#[derive(Debug, Default)]
pub struct Defrag {
    partial: HashMap<Key, Partial>,
    /// Fragments of packets given up on (too old, too many in flight,
    /// inconsistent): their bytes were not decoded.
    pub dropped_fragments: u64,
}

impl Defrag {
    /// Add a fragment; the whole IP payload once its last missing piece arrives.
    pub fn add(&mut self, f: &IpFragment<'_>, ts_ns: i64) -> Option<Vec<u8>> {
        self.expire(ts_ns);
        let key = Key { src: f.src, dst: f.dst, id: f.id, proto: f.proto };
        if !self.partial.contains_key(&key) && self.partial.len() >= MAX_PACKETS {
            if let Some(oldest) = self.partial.iter().min_by_key(|(_, p)| p.first_ts_ns).map(|(k, _)| *k) {
                self.drop_packet(&oldest);
            }
        }
        let p = self.partial.entry(key).or_insert_with(|| Partial {
            buf: IpDefragBuf::new(f.proto, Vec::new(), Vec::new()),
            first_ts_ns: ts_ns,
            fragments: 0,
        });
        p.fragments += 1;
        let offset = IpFragOffset::try_new(f.offset / 8).ok();
        let added = offset.is_some_and(|o| f.offset % 8 == 0 && p.buf.add(o, f.more, f.payload).is_ok());
        if !added {
            self.drop_packet(&key);
            return None;
        }
        if p.buf.is_complete() {
            let p = self.partial.remove(&key)?;
            return Some(p.buf.take_bufs().0);
        }
        None
    }

    /// Packets in flight (for bounds tests).
    pub fn len(&self) -> usize {
        self.partial.len()
    }

    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    fn drop_packet(&mut self, key: &Key) {
        if let Some(p) = self.partial.remove(key) {
            self.dropped_fragments += p.fragments as u64;
        }
    }

    fn expire(&mut self, now: i64) {
        let before = self.partial.len();
        let mut dropped = 0u64;
        self.partial.retain(|_, p| {
            let keep = now.saturating_sub(p.first_ts_ns) <= MAX_AGE_NS;
            if !keep {
                dropped += p.fragments as u64;
            }
            keep
        });
        if self.partial.len() != before {
            self.dropped_fragments += dropped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u16, more: bool, payload: &[u8]) -> IpFragment<'_> {
        IpFragment { src: [10, 0, 0, 1].into(), dst: [10, 0, 0, 2].into(), id, proto: IpNumber::TCP, offset, more, ttl: 64, payload }
    }

    #[test]
    fn out_of_order_fragments_make_the_packet() {
        let whole: Vec<u8> = (0..40u8).collect();
        let mut d = Defrag::default();
        assert!(d.add(&frag(7, 16, true, &whole[16..32]), 0).is_none());
        assert!(d.add(&frag(7, 32, false, &whole[32..]), 1).is_none());
        assert_eq!(d.add(&frag(7, 0, true, &whole[..16]), 2), Some(whole));
        assert!(d.is_empty());
    }

    #[test]
    fn bounded_in_count_and_age() {
        let mut d = Defrag::default();
        for id in 0..(MAX_PACKETS as u32 + 50) {
            d.add(&frag(id, 0, true, &[0; 8]), id as i64);
        }
        assert_eq!(d.len(), MAX_PACKETS);
        assert_eq!(d.dropped_fragments, 50);
        // Long after: all given up on when the next fragment comes.
        d.add(&frag(99_999, 0, true, &[0; 8]), MAX_AGE_NS * 2);
        assert_eq!(d.len(), 1);
        assert_eq!(d.dropped_fragments, MAX_PACKETS as u64 + 50);
        // A misaligned middle fragment is refused, its packet dropped.
        assert!(d.add(&frag(99_999, 8, true, &[0; 5]), MAX_AGE_NS * 2).is_none());
        assert!(d.is_empty());
    }
}
