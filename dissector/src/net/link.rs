//! Link, IP and TCP decoding of one captured frame (no state).
//!
//! INTERFACE (owned by the net helper; keep these signatures):
//! `decode(link, data)` → `Decoded::Tcp(TcpSegment)` for TCP over IPv4/IPv6
//! behind any of the link types below (Ethernet with VLAN tags, Linux SLL and
//! SLL2, raw IP, BSD/OpenBSD loopback); `Decoded::Udp` for whole UDP datagrams.

use std::net::IpAddr;

use etherparse::{EtherType, Ethernet2Slice, IpNumber, LaxIpSlice, SingleVlanSlice, TcpOptionElement, TcpSlice, UdpSlice};

/// The capture's link-layer type, as Wireshark's wiretap or a pcap header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// Raw IP, version taken from the first nibble.
    RawIp,
    RawIpv4,
    RawIpv6,
    /// BSD loopback: 4-byte address family in host byte order.
    Null,
    /// OpenBSD loopback: 4-byte address family in network byte order.
    Loop,
    LinuxSll,
    LinuxSll2,
    Unknown(u32),
}

impl LinkType {
    /// From a pcap/pcapng LINKTYPE_ number.
    pub fn from_pcap(linktype: u32) -> LinkType {
        match linktype {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::RawIpv4,
            229 => LinkType::RawIpv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Unknown(other),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{}:{}", a, self.port),
            IpAddr::V6(a) => write!(f, "[{}]:{}", a, self.port),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
}

/// One TCP segment as captured.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Raw (unscaled) window field.
    pub window: u16,
    /// Window scale option (SYN segments only).
    pub window_scale: Option<u8>,
    /// SACK blocks (left, right) from the options, at most 4.
    pub sack: Vec<(u32, u32)>,
    /// The payload bytes present in the capture.
    pub payload: &'a [u8],
    /// The payload length the IP header declares; larger than `payload.len()`
    /// when a short snaplen cut the frame.
    pub payload_len: u32,
    /// IPv4 identification (None for IPv6): a sender numbers each packet it
    /// sends, so two frames with the same one are copies of one packet.
    pub ip_id: Option<u16>,
    /// IPv4 TTL or IPv6 hop limit: each router on the way lowers it.
    pub ttl: u8,
    /// TCP timestamp option's TSval, where present.
    pub ts_val: Option<u32>,
}

impl TcpSegment<'_> {
    /// Bytes of payload missing from the capture (snaplen cut).
    pub fn missing(&self) -> u32 {
        self.payload_len.saturating_sub(self.payload.len() as u32)
    }
}

/// One whole UDP datagram (KDC traffic on port 88 is read from these).
#[derive(Clone, Debug)]
pub struct UdpDatagram<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub payload: &'a [u8],
}

#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    /// A UDP datagram the capture holds whole (not cut, not fragmented).
    Udp(UdpDatagram<'a>),
    /// Decoded fine but neither TCP nor whole UDP (ARP, ICMP, IP fragments...).
    Other,
    /// Too short or malformed to decode; the reason is for a note.
    Undecodable(&'static str),
}

/// The IP packet behind an EtherType, past any VLAN tags (None: not IP).
fn ip_behind(mut ether_type: EtherType, mut rest: &[u8]) -> Option<&[u8]> {
    // Q-in-Q and friends: a few tags at most.
    for _ in 0..4 {
        match ether_type {
            EtherType::IPV4 | EtherType::IPV6 => return Some(rest),
            EtherType::VLAN_TAGGED_FRAME | EtherType::PROVIDER_BRIDGING | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                let vlan = SingleVlanSlice::from_slice(rest).ok()?;
                ether_type = vlan.ether_type();
                rest = vlan.payload_slice();
            }
            _ => return None,
        }
    }
    None
}

/// Decode one frame down to TCP. Never panics.
///
/// Uses etherparse's per-layer slices rather than its whole-packet slicer:
/// this runs on every frame Wireshark shows, and only the TCP path matters.
pub fn decode(link: LinkType, data: &[u8]) -> Decoded<'_> {
    let ether = |et: &[u8]| EtherType(u16::from_be_bytes([et[0], et[1]]));
    // (IP bytes, whether a bad IP header makes the frame undecodable rather than just not ours)
    let (ip, strict) = match link {
        LinkType::Ethernet => match Ethernet2Slice::from_slice_without_fcs(data) {
            Ok(eth) => match ip_behind(eth.ether_type(), eth.payload_slice()) {
                Some(ip) => (ip, false),
                None => return Decoded::Other,
            },
            Err(_) => return Decoded::Undecodable("frame too short for an Ethernet header"),
        },
        LinkType::RawIp | LinkType::RawIpv4 | LinkType::RawIpv6 => (data, true),
        // The 4-byte address family is redundant with the IP version nibble,
        // and its byte order depends on the capturing machine: rely on the nibble.
        LinkType::Null | LinkType::Loop => match data.get(4..) {
            Some(ip) => (ip, true),
            None => return Decoded::Undecodable("no valid IP header after the loopback header"),
        },
        // SLL: 16-byte header, protocol (an EtherType) in its last two bytes.
        LinkType::LinuxSll => match (data.get(14..16), data.get(16..)) {
            (Some(et), Some(rest)) => match ip_behind(ether(et), rest) {
                Some(ip) => (ip, false),
                None => return Decoded::Other,
            },
            _ => return Decoded::Undecodable("frame too short for a Linux cooked (SLL) header"),
        },
        // SLL2: 20-byte header, protocol first.
        LinkType::LinuxSll2 => match (data.get(0..2), data.get(20..)) {
            (Some(et), Some(rest)) => match ip_behind(ether(et), rest) {
                Some(ip) => (ip, false),
                None => return Decoded::Other,
            },
            _ => return Decoded::Undecodable("frame too short for a Linux cooked (SLL2) header"),
        },
        LinkType::Unknown(_) => return Decoded::Other,
    };
    let net = match LaxIpSlice::from_slice(ip) {
        Ok((net, _)) => net,
        Err(_) if strict && matches!(link, LinkType::Null | LinkType::Loop) => {
            return Decoded::Undecodable("no valid IP header after the loopback header")
        }
        Err(_) if strict => return Decoded::Undecodable("no valid IP header"),
        Err(_) => return Decoded::Other,
    };
    let (src, dst, ip_payload, declared_ip_payload, ip_id, ttl) = match &net {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            // total_len 0 is what TSO captures show: trust the captured length.
            let declared = if pl.incomplete && h.total_len() != 0 {
                (h.total_len() as usize).saturating_sub(h.ihl() as usize * 4 + v4.extensions().auth.map_or(0, |a| a.slice().len()))
            } else {
                pl.payload.len()
            };
            (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), pl, declared, Some(h.identification()), h.ttl())
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let pl = v6.payload();
            let declared = if pl.incomplete && h.payload_length() != 0 {
                (h.payload_length() as usize).saturating_sub(v6.extensions().slice().len())
            } else {
                pl.payload.len()
            };
            (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), pl, declared, None, h.hop_limit())
        }
    };
    if ip_payload.fragmented {
        return Decoded::Other;
    }
    if ip_payload.ip_number == IpNumber::UDP {
        // Header fields only: the caller looks at the ports and nothing else.
        return match UdpSlice::from_slice(ip_payload.payload) {
            Ok(u) => Decoded::Udp(UdpDatagram {
                src: Endpoint { addr: src, port: u.source_port() },
                dst: Endpoint { addr: dst, port: u.destination_port() },
                payload: u.payload(),
            }),
            Err(_) => Decoded::Other,
        };
    }
    if ip_payload.ip_number != IpNumber::TCP {
        return Decoded::Other;
    }
    let tcp = match TcpSlice::from_slice(ip_payload.payload) {
        Ok(t) => t,
        Err(_) => return Decoded::Undecodable("TCP header cut short or invalid"),
    };
    let hlen = tcp.data_offset() as usize * 4;
    let payload = tcp.payload();
    let payload_len = declared_ip_payload.saturating_sub(hlen).max(payload.len()) as u32;
    let mut window_scale = None;
    let mut sack = Vec::new();
    // Most segments carry only NOP, NOP, timestamps: nothing to look for there.
    let opts = tcp.options();
    let timestamps_only = opts.len() == 12 && opts[..3] == [1, 1, 8];
    let mut ts_val = timestamps_only.then(|| u32::from_be_bytes([opts[4], opts[5], opts[6], opts[7]]));
    for opt in tcp.options_iterator().take_while(|_| !timestamps_only) {
        match opt {
            Ok(TcpOptionElement::WindowScale(w)) => window_scale = Some(w),
            Ok(TcpOptionElement::Timestamp(v, _)) => ts_val = Some(v),
            Ok(TcpOptionElement::SelectiveAcknowledgement(first, rest)) => {
                sack.push(first);
                sack.extend(rest.iter().flatten().copied());
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let mut flags = 0u8;
    for (on, bit) in [
        (tcp.fin(), TcpFlags::FIN),
        (tcp.syn(), TcpFlags::SYN),
        (tcp.rst(), TcpFlags::RST),
        (tcp.psh(), TcpFlags::PSH),
        (tcp.ack(), TcpFlags::ACK),
        (tcp.urg(), TcpFlags::URG),
    ] {
        if on {
            flags |= bit;
        }
    }
    Decoded::Tcp(TcpSegment {
        src: Endpoint { addr: src, port: tcp.source_port() },
        dst: Endpoint { addr: dst, port: tcp.destination_port() },
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(flags),
        window: tcp.window_size(),
        window_scale,
        sack,
        payload,
        payload_len,
        ip_id,
        ttl,
        ts_val,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(50000, 445, 1000, 65535)
            .ack(77);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let f = tcp_frame(b"hello");
        let Decoded::Tcp(s) = decode(LinkType::Ethernet, &f) else { panic!("not tcp") };
        assert_eq!(s.src.port, 50000);
        assert_eq!(s.dst.port, 445);
        assert_eq!(s.seq, 1000);
        assert_eq!(s.ack, 77);
        assert!(s.flags.ack());
        assert_eq!(s.payload, b"hello");
        assert_eq!(s.payload_len, 5);
        assert_eq!(s.ttl, 64);
        assert!(s.ip_id.is_some() && s.ts_val.is_none());
    }

    #[test]
    fn ip_identification_ttl_and_timestamp() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 63)
            .tcp(50000, 445, 1, 100)
            .options(&[TcpOptionElement::Noop, TcpOptionElement::Noop, TcpOptionElement::Timestamp(0x01020304, 9)])
            .unwrap();
        let mut f = Vec::new();
        b.write(&mut f, b"x").unwrap();
        f[18..20].copy_from_slice(&0xbeefu16.to_be_bytes());
        let Decoded::Tcp(s) = decode(LinkType::Ethernet, &f) else { panic!() };
        assert_eq!((s.ip_id, s.ttl, s.ts_val), (Some(0xbeef), 63, Some(0x01020304)));
        // IPv6 has no identification.
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6([1; 16], [2; 16], 7).tcp(445, 50000, 5, 100);
        let mut f = Vec::new();
        b.write(&mut f, &[]).unwrap();
        let Decoded::Tcp(s) = decode(LinkType::Ethernet, &f) else { panic!() };
        assert_eq!((s.ip_id, s.ttl), (None, 7));
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut f = tcp_frame(b"");
        f.extend_from_slice(&[0u8; 6]); // pad to the 60-byte minimum
        let Decoded::Tcp(s) = decode(LinkType::Ethernet, &f) else { panic!() };
        assert!(s.payload.is_empty());
        assert_eq!(s.payload_len, 0);
    }

    #[test]
    fn snaplen_cut_keeps_declared_length() {
        let f = tcp_frame(&[0xaa; 1000]);
        let cut = &f[..14 + 20 + 20 + 100];
        let Decoded::Tcp(s) = decode(LinkType::Ethernet, cut) else { panic!() };
        assert_eq!(s.payload.len(), 100);
        assert_eq!(s.payload_len, 1000);
        assert_eq!(s.missing(), 900);
    }

    #[test]
    fn vlan_sll_sll2_loopback_raw() {
        let f = tcp_frame(b"xyz");
        let ip = &f[14..];
        // 802.1Q tag inserted after the MACs.
        let mut vlan = f[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        vlan.extend_from_slice(ip);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        for (lt, frame) in [
            (LinkType::Ethernet, &vlan),
            (LinkType::LinuxSll, &sll),
            (LinkType::LinuxSll2, &sll2),
            (LinkType::Null, &null),
            (LinkType::RawIp, &ip.to_vec()),
        ] {
            match decode(lt, frame) {
                Decoded::Tcp(s) => assert_eq!(s.payload, b"xyz", "{lt:?}"),
                other => panic!("{lt:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn udp_datagram_whole_or_other() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(50000, 88);
        let mut f = Vec::new();
        b.write(&mut f, b"krb").unwrap();
        let Decoded::Udp(u) = decode(LinkType::Ethernet, &f) else { panic!() };
        assert_eq!((u.src.port, u.dst.port, u.payload), (50000, 88, &b"krb"[..]));
        // Cut by the snaplen: not a whole datagram.
        assert!(matches!(decode(LinkType::Ethernet, &f[..f.len() - 1]), Decoded::Other));
    }

    #[test]
    fn ipv6() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6([1; 16], [2; 16], 64).tcp(445, 50000, 5, 100).syn();
        let mut f = Vec::new();
        b.write(&mut f, &[]).unwrap();
        let Decoded::Tcp(s) = decode(LinkType::Ethernet, &f) else { panic!() };
        assert!(s.flags.syn());
        assert_eq!(s.src.port, 445);
    }

    #[test]
    fn garbage_never_panics() {
        let f = tcp_frame(b"payload");
        for n in 0..f.len() {
            let _ = decode(LinkType::Ethernet, &f[..n]);
            let _ = decode(LinkType::LinuxSll2, &f[..n]);
            let _ = decode(LinkType::Null, &f[..n]);
        }
        let mut x = 0x12345678u32;
        for _ in 0..2000 {
            let v = crate::test_support::garbage(&mut x, 64);
            let _ = decode(LinkType::RawIp, &v);
            let _ = decode(LinkType::Ethernet, &v);
        }
    }
}
