//! Where a frame was captured: its pcapng interface and, within it, the
//! Ethernet segment it crossed (the hosts whose MAC addresses it carries).
//!
//! Two capture files merged without `-I none` share one interface (mergecap
//! folds identical interface descriptions), so the interface no longer says
//! which side a frame was taken at. A router between the two sides rewrites
//! the Ethernet addresses: the client's side sees the client and its gateway,
//! the server's side the router's other port and the server. Hosts that talk
//! to each other on one segment are grouped here, so each side keeps an
//! identity of its own from its first frame; whether two segments are two
//! capture points is for the copies to show (`two_points`).

use ahash::HashMap;
use etherparse::Ethernet2Slice;

use super::link::LinkType;

/// An Ethernet (MAC) address.
pub type Mac = [u8; 6];

/// A group of hosts seen talking to each other at the link layer; 0 for
/// frames without Ethernet addresses (raw IP, cooked captures, netsh events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Segment(pub u16);

/// One capture point as far as a frame can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    /// The pcapng interface (frame.interface_id).
    pub iface: u32,
    pub segment: Segment,
}

/// Segments told apart at once, and MAC addresses remembered: a capture of a
/// whole LAN has many; two capture points need two.
const MAX_SEGMENTS: u16 = 64;
const MAX_MACS: usize = 1024;

/// Source and destination MAC of an Ethernet frame.
pub fn ethernet_ends(link: LinkType, data: &[u8]) -> Option<(Mac, Mac)> {
    if link != LinkType::Ethernet {
        return None;
    }
    let eth = Ethernet2Slice::from_slice_without_fcs(data).ok()?;
    Some((eth.source(), eth.destination()))
}

#[derive(Debug, Default)]
pub struct LinkSegments {
    by_mac: HashMap<Mac, Segment>,
    /// The first two addresses of each segment, to name it.
    names: Vec<(Mac, Mac)>,
}

fn mac(m: &Mac) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

impl LinkSegments {
    /// The segment of a frame with these Ethernet ends: the one either
    /// address was seen in before, else a new one.
    pub fn segment(&mut self, ends: Option<(Mac, Mac)>) -> Segment {
        let Some((src, dst)) = ends else { return Segment(0) };
        if let Some(&s) = self.by_mac.get(&src).or_else(|| self.by_mac.get(&dst)) {
            for m in [src, dst] {
                if self.by_mac.len() < MAX_MACS {
                    self.by_mac.entry(m).or_insert(s);
                }
            }
            return s;
        }
        if self.names.len() >= MAX_SEGMENTS as usize || self.by_mac.len() + 2 > MAX_MACS {
            return Segment(0);
        }
        self.names.push((src, dst));
        let s = Segment(self.names.len() as u16);
        self.by_mac.insert(src, s);
        self.by_mac.insert(dst, s);
        s
    }

    /// The segment in words: the two addresses first seen in it.
    pub fn describe(&self, s: Segment) -> Option<String> {
        let (a, b) = self.names.get((s.0 as usize).checked_sub(1)?)?;
        Some(format!("{} and {}", mac(a), mac(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_of_a_router_is_its_own_segment_in_both_directions() {
        let (client, gw, rtr, server) = ([1; 6], [2; 6], [3; 6], [4; 6]);
        let mut l = LinkSegments::default();
        let a = l.segment(Some((client, gw)));
        let b = l.segment(Some((rtr, server)));
        assert_ne!(a, b);
        assert_eq!(l.segment(Some((gw, client))), a);
        assert_eq!(l.segment(Some((server, rtr))), b);
        // Another client on the server's LAN: the server's segment.
        assert_eq!(l.segment(Some(([5; 6], server))), b);
        assert_eq!(l.segment(None), Segment(0));
        assert_eq!(l.describe(a).as_deref(), Some("01:01:01:01:01:01 and 02:02:02:02:02:02"));
    }

    #[test]
    fn segments_are_bounded() {
        let mut l = LinkSegments::default();
        for i in 0..1000u16 {
            let [x, y] = i.to_be_bytes();
            l.segment(Some(([0, 0, 0, 0, x, y], [1, 0, 0, 0, x, y])));
        }
        assert!(l.names.len() <= MAX_SEGMENTS as usize && l.by_mac.len() <= MAX_MACS);
    }

    #[test]
    fn only_ethernet_frames_have_ends() {
        let mut f = vec![2u8; 6];
        f.extend([1u8; 6]);
        f.extend([0x08, 0x00]);
        assert_eq!(ethernet_ends(LinkType::Ethernet, &f), Some(([1; 6], [2; 6])));
        assert_eq!(ethernet_ends(LinkType::RawIp, &f), None);
        assert_eq!(ethernet_ends(LinkType::Ethernet, &f[..10]), None);
    }
}
