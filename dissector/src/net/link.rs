//! Link, IP and TCP decoding of one captured frame (no state).
//!
//! INTERFACE (owned by the net helper; keep these signatures):
//! `decode(link, data)` → `Decoded::Tcp(TcpSegment)` for TCP over IPv4/IPv6
//! (with extension headers) behind any of the link types below (Ethernet with
//! VLAN and Q-in-Q tags, Linux SLL and SLL2, raw IP, BSD/OpenBSD loopback,
//! Network Monitor NDIS events) and inside GRE, ERSPAN II/III, VXLAN and IP in
//! IP; `Decoded::Udp` for whole UDP datagrams; `Decoded::Fragment` for IP
//! fragments (`net::defrag` reassembles them); `Decoded::Skipped` names layers
//! not opened.

use std::net::IpAddr;

use etherparse::{EtherType, Ethernet2Slice, IpNumber, Ipv6ExtensionSlice, LaxIpSlice, SingleVlanSlice, TcpOptionElement, TcpSlice, UdpSlice};

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
    /// Network Monitor "network event" records (`netsh trace` saved as .cap):
    /// each packet inside an ETW event of the NDIS-PacketCapture provider.
    /// No pcap link type: only Wireshark hands these over.
    NetmonEvent,
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
    /// One fragment of an IP packet; `Reassembly` in `net::defrag` puts them together.
    Fragment(IpFragment<'a>),
    /// Decoded fine but neither TCP nor whole UDP (ARP, ICMP...).
    Other,
    /// Layers smbdiag does not open (named here for the capture's note):
    /// SMB inside, if any, is not seen.
    Skipped(&'static str),
    /// Too short or malformed to decode; the reason is for a note.
    Undecodable(&'static str),
}

/// One fragment of a fragmented IPv4 or IPv6 packet.
#[derive(Clone, Debug)]
pub struct IpFragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Identification (16 bits in IPv4, 32 in IPv6's fragment header).
    pub id: u32,
    /// The protocol of the whole packet's payload.
    pub proto: IpNumber,
    /// Where this fragment's payload goes in the whole payload, in bytes.
    pub offset: u16,
    pub more: bool,
    /// TTL (hop limit) of the fragment: the whole packet had the same.
    pub ttl: u8,
    pub payload: &'a [u8],
}

/// Tunnels inside tunnels: enough for any real setup (ERSPAN of a VXLAN
/// underlay, say), and a bound on crafted frames.
const MAX_NESTING: u8 = 4;
/// IANA's VXLAN port (Linux's own default, 8472, is not what Wireshark reads either).
const VXLAN_PORT: u16 = 4789;

/// The IP packet behind an EtherType, past any VLAN tags.
fn ip_behind(mut ether_type: EtherType, mut rest: &[u8]) -> Result<&[u8], Decoded<'static>> {
    // Q-in-Q and friends: a few tags at most.
    for _ in 0..4 {
        match ether_type {
            EtherType::IPV4 | EtherType::IPV6 => return Ok(rest),
            EtherType::VLAN_TAGGED_FRAME | EtherType::PROVIDER_BRIDGING | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                let vlan = SingleVlanSlice::from_slice(rest).map_err(|_| Decoded::Undecodable("VLAN tag cut short"))?;
                ether_type = vlan.ether_type();
                rest = vlan.payload_slice();
            }
            EtherType(0x8847 | 0x8848) => return Err(Decoded::Skipped("MPLS-labelled frames")),
            EtherType(0x8864) => return Err(Decoded::Skipped("PPPoE session frames")),
            EtherType::MACSEC => return Err(Decoded::Skipped("MACsec (802.1AE) frames")),
            EtherType(0x88e7) => return Err(Decoded::Skipped("802.1ah provider backbone frames")),
            _ => return Err(Decoded::Other),
        }
    }
    Err(Decoded::Skipped("frames with more than four VLAN tags"))
}

/// Decode one frame down to TCP. Never panics.
///
/// Uses etherparse's per-layer slices rather than its whole-packet slicer:
/// this runs on every frame Wireshark shows, and only the TCP path matters.
pub fn decode(link: LinkType, data: &[u8]) -> Decoded<'_> {
    decode_in(link, data, 0)
}

fn decode_in(link: LinkType, data: &[u8], depth: u8) -> Decoded<'_> {
    if depth > MAX_NESTING {
        return Decoded::Skipped("tunnels nested more than four deep");
    }
    let ether = |et: &[u8]| EtherType(u16::from_be_bytes([et[0], et[1]]));
    // (IP bytes, whether a bad IP header makes the frame undecodable rather than just not ours)
    let (ip, strict) = match link {
        LinkType::Ethernet => match Ethernet2Slice::from_slice_without_fcs(data) {
            Ok(eth) => match ip_behind(eth.ether_type(), eth.payload_slice()) {
                Ok(ip) => (ip, false),
                Err(d) => return d,
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
                Ok(ip) => (ip, false),
                Err(d) => return d,
            },
            _ => return Decoded::Undecodable("frame too short for a Linux cooked (SLL) header"),
        },
        // SLL2: 20-byte header, protocol first.
        LinkType::LinuxSll2 => match (data.get(0..2), data.get(20..)) {
            (Some(et), Some(rest)) => match ip_behind(ether(et), rest) {
                Ok(ip) => (ip, false),
                Err(d) => return d,
            },
            _ => return Decoded::Undecodable("frame too short for a Linux cooked (SLL2) header"),
        },
        LinkType::NetmonEvent => {
            return match super::netmon::ndis_frame(data) {
                Ok((inner, frame)) => decode_in(inner, frame, depth + 1),
                Err(d) => d,
            }
        }
        LinkType::Unknown(_) => return Decoded::Skipped("frames of a link type smbdiag does not decode"),
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
        let frag = match &net {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                Some((h.identification() as u32, h.fragments_offset().byte_offset(), h.more_fragments()))
            }
            LaxIpSlice::Ipv6(v6) => v6.extensions().clone().into_iter().find_map(|e| match e {
                Ipv6ExtensionSlice::Fragment(f) => Some((f.identification(), f.fragment_offset().byte_offset(), f.more_fragments())),
                _ => None,
            }),
        };
        // A fragment cut by the snaplen cannot be put back together.
        return match frag {
            Some((id, offset, more)) if !ip_payload.incomplete => {
                Decoded::Fragment(IpFragment { src, dst, id, proto: ip_payload.ip_number, offset, more, ttl, payload: ip_payload.payload })
            }
            _ => Decoded::Skipped("IP fragments cut short by the capture's snaplen"),
        };
    }
    transport(IpHead { src, dst, id: ip_id, ttl }, ip_payload.ip_number, ip_payload.payload, declared_ip_payload, depth)
}

/// Decode the payload of a reassembled IP packet (see `net::defrag`).
pub fn reassembled<'a>(f: &IpFragment<'_>, payload: &'a [u8]) -> Decoded<'a> {
    // The identification numbered the fragments, not a packet a copy would repeat.
    transport(IpHead { src: f.src, dst: f.dst, id: None, ttl: f.ttl }, f.proto, payload, payload.len(), 0)
}

/// What the IP header says that the layers above need.
#[derive(Clone, Copy)]
struct IpHead {
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 identification (None for IPv6).
    id: Option<u16>,
    ttl: u8,
}

/// The layer above IP: TCP, UDP (and VXLAN in it), GRE and what it carries.
fn transport(ip: IpHead, proto: IpNumber, payload: &[u8], declared_ip_payload: usize, depth: u8) -> Decoded<'_> {
    let IpHead { src, dst, .. } = ip;
    match proto {
        IpNumber::TCP => tcp(ip, payload, declared_ip_payload),
        IpNumber::UDP => {
            // Header fields only: the caller looks at the ports and nothing else.
            let Ok(u) = UdpSlice::from_slice(payload) else { return Decoded::Other };
            if u.destination_port() == VXLAN_PORT {
                return vxlan(u.payload(), depth);
            }
            Decoded::Udp(UdpDatagram {
                src: Endpoint { addr: src, port: u.source_port() },
                dst: Endpoint { addr: dst, port: u.destination_port() },
                payload: u.payload(),
            })
        }
        IpNumber::GRE => gre(payload, depth),
        // IP in IP (ipip, sit, ip6tnl devices).
        IpNumber::IPV4 | IpNumber::IPV6 => decode_in(LinkType::RawIp, payload, depth + 1),
        IpNumber::ENCAPSULATING_SECURITY_PAYLOAD => Decoded::Skipped("IPsec ESP packets (encrypted)"),
        _ => Decoded::Other,
    }
}

/// VXLAN (RFC 7348): 8-byte header, the I flag set, then an Ethernet frame.
fn vxlan(p: &[u8], depth: u8) -> Decoded<'_> {
    match (p.first(), p.get(8..)) {
        (Some(flags), Some(inner)) if flags & 0x08 != 0 => decode_in(LinkType::Ethernet, inner, depth + 1),
        _ => Decoded::Skipped("UDP port 4789 datagrams that are not VXLAN"),
    }
}

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
/// Transparent Ethernet bridging (gretap devices).
const GRE_PROTO_TEB: u16 = 0x6558;
/// ERSPAN type I (no sequence number, no header) and type II (8-byte header).
const GRE_PROTO_ERSPAN: u16 = 0x88be;
const GRE_PROTO_ERSPAN3: u16 = 0x22eb;

/// GRE (RFC 2784/2890) and the ERSPAN types Cisco and Linux put in it.
fn gre(p: &[u8], depth: u8) -> Decoded<'_> {
    let Some(h) = p.get(..4) else { return Decoded::Undecodable("GRE header cut short") };
    let flags = u16::from_be_bytes([h[0], h[1]]);
    let proto = u16::from_be_bytes([h[2], h[3]]);
    // Version 1 is PPTP's enhanced GRE; routing (RFC 1701) is obsolete.
    if flags & 0x7 != 0 || flags & GRE_ROUTING != 0 {
        return Decoded::Skipped("GRE packets of version 1 (PPTP) or with source routing");
    }
    let len = 4 + [GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE].iter().filter(|&&b| flags & b != 0).count() * 4;
    let Some(inner) = p.get(len..) else { return Decoded::Undecodable("GRE header cut short") };
    match proto {
        0x0800 | 0x86dd => decode_in(LinkType::RawIp, inner, depth + 1),
        GRE_PROTO_TEB => decode_in(LinkType::Ethernet, inner, depth + 1),
        GRE_PROTO_ERSPAN if flags & GRE_SEQUENCE == 0 => decode_in(LinkType::Ethernet, inner, depth + 1),
        GRE_PROTO_ERSPAN => match inner.get(8..) {
            Some(frame) => decode_in(LinkType::Ethernet, frame, depth + 1),
            None => Decoded::Undecodable("ERSPAN type II header cut short"),
        },
        GRE_PROTO_ERSPAN3 => {
            // 12-byte header; the O flag (last bit) adds an 8-byte platform subheader;
            // the frame type (5 bits of byte 10) is 0 for Ethernet.
            let (Some(&b10), Some(&b11)) = (inner.get(10), inner.get(11)) else {
                return Decoded::Undecodable("ERSPAN type III header cut short");
            };
            if (b10 >> 2) & 0x1f != 0 {
                return Decoded::Skipped("ERSPAN type III frames that are not Ethernet");
            }
            match inner.get(if b11 & 1 != 0 { 20 } else { 12 }..) {
                Some(frame) => decode_in(LinkType::Ethernet, frame, depth + 1),
                None => Decoded::Undecodable("ERSPAN type III header cut short"),
            }
        }
        _ => Decoded::Skipped("GRE packets carrying neither IP nor Ethernet nor ERSPAN"),
    }
}

/// The TCP segment in an IP payload.
fn tcp(ip: IpHead, ip_payload: &[u8], declared_ip_payload: usize) -> Decoded<'_> {
    let IpHead { src, dst, id: ip_id, ttl } = ip;
    let tcp = match TcpSlice::from_slice(ip_payload) {
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

    /// An IPv4 packet around `payload` with protocol `proto`, from 10.98.0.1 to 10.98.0.2.
    fn outer_ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let h = etherparse::Ipv4Header::new(payload.len() as u16, 64, IpNumber(proto), [10, 98, 0, 1], [10, 98, 0, 2]).unwrap();
        let mut v = Vec::new();
        h.write(&mut v).unwrap();
        v.extend_from_slice(payload);
        v
    }

    fn eth(ether_type: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![2u8; 12];
        v.extend_from_slice(&ether_type.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn tunnels_gre_erspan_vxlan_qinq() {
        let inner = tcp_frame(b"smb");
        let inner_ip = &inner[14..];
        let gre = |flags: u16, proto: u16, extra: &[u8], body: &[u8]| {
            let mut g = flags.to_be_bytes().to_vec();
            g.extend_from_slice(&proto.to_be_bytes());
            g.extend_from_slice(extra);
            g.extend_from_slice(body);
            eth(0x0800, &outer_ipv4(47, &g))
        };
        let mut erspan3 = vec![0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        erspan3.extend_from_slice(&[0u8; 8]); // O flag: platform subheader
        erspan3.extend_from_slice(&inner);
        let mut vx = 50000u16.to_be_bytes().to_vec();
        vx.extend_from_slice(&VXLAN_PORT.to_be_bytes());
        vx.extend_from_slice(&((8 + 8 + inner.len()) as u16).to_be_bytes());
        vx.extend_from_slice(&[0, 0, 0x08, 0, 0, 0, 0, 42, 0, 0, 0]);
        vx.truncate(16);
        vx.extend_from_slice(&inner);
        let mut qinq = vec![2u8; 12];
        qinq.extend_from_slice(&[0x88, 0xa8, 0, 100, 0x81, 0x00, 0, 10, 0x08, 0x00]);
        qinq.extend_from_slice(inner_ip);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("gretap", gre(0, GRE_PROTO_TEB, &[], &inner)),
            ("gre with key and sequence", gre(GRE_KEY | GRE_SEQUENCE, 0x0800, &[0; 8], inner_ip)),
            ("erspan type I", gre(0, GRE_PROTO_ERSPAN, &[], &inner)),
            ("erspan type II", gre(GRE_SEQUENCE, GRE_PROTO_ERSPAN, &[0; 4], &[&[0x10u8, 0, 0, 1, 0, 0, 0, 0][..], &inner].concat())),
            ("erspan type III", gre(GRE_SEQUENCE, GRE_PROTO_ERSPAN3, &[0; 4], &erspan3)),
            ("vxlan", eth(0x0800, &outer_ipv4(17, &vx))),
            ("ip in ip", eth(0x0800, &outer_ipv4(4, inner_ip))),
            ("q-in-q", qinq),
        ];
        for (name, frame) in cases {
            match decode(LinkType::Ethernet, &frame) {
                Decoded::Tcp(s) => assert_eq!((s.payload, s.dst.port), (&b"smb"[..], 445), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        // What is not opened says so.
        assert!(matches!(decode(LinkType::Ethernet, &gre(0, 0x880b, &[], &inner)), Decoded::Skipped(_)));
        assert!(matches!(decode(LinkType::Ethernet, &eth(0x8847, inner_ip)), Decoded::Skipped(_)));
        assert!(matches!(decode(LinkType::Unknown(105), &inner), Decoded::Skipped(_)));
        // Tunnels in tunnels stop at a bound.
        let mut nested = inner_ip.to_vec();
        for _ in 0..10 {
            nested = outer_ipv4(4, &nested);
        }
        assert!(matches!(decode(LinkType::RawIp, &nested), Decoded::Skipped(_)));
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        // Hop-by-hop and destination options before TCP.
        let tcp_only = tcp_frame(b"six");
        let tcp_bytes = &tcp_only[14 + 20..];
        let mut ext = vec![60u8, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop → dest options, PadN
        ext.extend_from_slice(&[6u8, 0, 1, 4, 0, 0, 0, 0]); // dest options → TCP
        ext.extend_from_slice(tcp_bytes);
        let mut v6 = vec![0x60, 0, 0, 0];
        v6.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        v6.extend_from_slice(&[0, 64]);
        v6.extend_from_slice(&[1u8; 16]);
        v6.extend_from_slice(&[2u8; 16]);
        v6.extend_from_slice(&ext);
        match decode(LinkType::Ethernet, &eth(0x86dd, &v6)) {
            Decoded::Tcp(s) => assert_eq!(s.payload, b"six"),
            other => panic!("{other:?}"),
        }
        // IPv4 fragments: each comes out as a fragment with its place.
        let ip = &tcp_only[14..];
        let body = &ip[20..];
        let mut first = ip[..20].to_vec();
        first[6] = 0x20; // more fragments
        first.extend_from_slice(&body[..16]);
        first[2..4].copy_from_slice(&36u16.to_be_bytes());
        let Decoded::Fragment(f) = decode(LinkType::RawIp, &first) else { panic!("not a fragment") };
        assert_eq!((f.offset, f.more, f.payload.len(), f.proto), (0, true, 16, IpNumber::TCP));
        let whole = body.to_vec();
        match reassembled(&f, &whole) {
            Decoded::Tcp(s) => assert_eq!(s.payload, b"six"),
            other => panic!("{other:?}"),
        }
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
        // Tunnel headers in front of garbage: GRE (each protocol), VXLAN, IP in IP.
        for proto in [0x0800u16, GRE_PROTO_TEB, GRE_PROTO_ERSPAN, GRE_PROTO_ERSPAN3] {
            for flags in [0u16, GRE_SEQUENCE, GRE_KEY | GRE_CHECKSUM] {
                for _ in 0..200 {
                    let mut g = flags.to_be_bytes().to_vec();
                    g.extend_from_slice(&proto.to_be_bytes());
                    let n = (x % 80) as usize;
                    g.extend(crate::test_support::garbage(&mut x, n));
                    let _ = decode(LinkType::RawIp, &outer_ipv4(47, &g));
                    let _ = decode(LinkType::RawIp, &outer_ipv4(4, &g));
                }
            }
        }
    }
}
