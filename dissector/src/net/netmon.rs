//! Network Monitor "network event" frames: what `netsh trace` captures hold
//! once saved in Network Monitor's .cap format. Wireshark hands each frame to
//! dissectors as WTAP_ENCAP_NETMON_NET_NETEVENT: an ETW EVENT_HEADER, the
//! event's buffer context, ExtendedDataCount, UserDataLength, one
//! "Reassembled" byte, extended data items, then the user data. Packets come
//! from the Microsoft-Windows-NDIS-PacketCapture provider as event 1001
//! (MiniportIfIndex, LowerIfIndex, FragmentSize, Fragment), the media in the
//! event's keyword. Layout as Wireshark's netmon and message-analyzer
//! dissectors read it (checked end to end on tests/captures/lab/
//! share_not_found_netsh.cap, written by tests/lab/netsh_cap.py).

use super::link::{Decoded, LinkType};

/// {2ED6006E-4729-4609-B423-3EE7BCD678EF} as it lies in memory (first three fields little-endian).
const NDIS_PACKET_CAPTURE: [u8; 16] = [0x6e, 0x00, 0xd6, 0x2e, 0x29, 0x47, 0x09, 0x46, 0xb4, 0x23, 0x3e, 0xe7, 0xbc, 0xd6, 0x78, 0xef];
const EVENT_PACKET_FRAGMENT: u16 = 1001;
const KW_MEDIA_802_3: u64 = 0x1;
const KW_MEDIA_WIRELESS_WAN: u64 = 0x200;
const KW_MEDIA_NATIVE_802_11: u64 = 0x1_0000;
const KW_PACKET_START: u64 = 0x4000_0000;
const KW_PACKET_END: u64 = 0x8000_0000;

/// EVENT_HEADER (80 bytes), ETW_BUFFER_CONTEXT (4), ExtendedDataCount, UserDataLength,
/// and the byte Network Monitor adds (Wireshark's netmon_event.reassembled).
const FIXED_LEN: usize = 89;
const PROVIDER_AT: usize = 24;
const EVENT_ID_AT: usize = 40;
const KEYWORD_AT: usize = 48;
const EXT_COUNT_AT: usize = 84;
// UserDataLength (86) is not read: see ndis_frame.
/// Each extended data item: Reserved1, ExtType, Reserved2/Linkage, DataSize, then the data.
const EXT_ITEM_HEADER: usize = 8;
/// MiniportIfIndex, LowerIfIndex, FragmentSize.
const FRAGMENT_AT: usize = 12;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

/// The packet inside a network event record, with its link type; other
/// events (driver, rundown, other providers) are `Decoded::Other`.
pub fn ndis_frame(data: &[u8]) -> Result<(LinkType, &[u8]), Decoded<'static>> {
    let cut = Decoded::Undecodable("Network Monitor event record cut short");
    if data.len() < FIXED_LEN {
        return Err(cut);
    }
    if data[PROVIDER_AT..PROVIDER_AT + 16] != NDIS_PACKET_CAPTURE || u16_at(data, EVENT_ID_AT) != Some(EVENT_PACKET_FRAGMENT) {
        return Err(Decoded::Other);
    }
    let keyword = u64::from_le_bytes(data[KEYWORD_AT..KEYWORD_AT + 8].try_into().unwrap_or_default());
    let ext_count = u16_at(data, EXT_COUNT_AT).unwrap_or(0);
    let mut at = FIXED_LEN;
    for _ in 0..ext_count {
        let Some(size) = u16_at(data, at + 6) else { return Err(cut) };
        at += EXT_ITEM_HEADER + size as usize;
    }
    // The fragment is FragmentSize bytes from there, as Wireshark takes it:
    // UserDataLength (16 bits) is not what bounds it.
    let Some(user) = data.get(at..) else { return Err(cut) };
    let Some(size) = user.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else { return Err(cut) };
    let frame = &user[FRAGMENT_AT.min(user.len())..];
    let frame = &frame[..frame.len().min(size)];
    if keyword & (KW_PACKET_START | KW_PACKET_END) != KW_PACKET_START | KW_PACKET_END {
        // Wireshark does not put these back together either.
        return Err(Decoded::Skipped("NDIS packets split over several ETW events"));
    }
    // Media bits in Wireshark's order: 802.3, then native 802.11, then wireless WAN.
    if keyword & KW_MEDIA_802_3 != 0 {
        Ok((LinkType::Ethernet, frame))
    } else if keyword & KW_MEDIA_NATIVE_802_11 != 0 {
        Err(Decoded::Skipped("802.11 frames (NDIS native Wi-Fi)"))
    } else if keyword & KW_MEDIA_WIRELESS_WAN != 0 {
        Ok((LinkType::RawIp, frame))
    } else {
        Err(Decoded::Skipped("NDIS packets of a media type smbdiag does not decode"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_LEN_AT: usize = 86;

    /// An event record laid out as Wireshark reads it (no real `netsh trace`
    /// .cap file was to be had for an end-to-end test).
    pub(crate) fn ndis_event(keyword: u64, ext: &[&[u8]], frame: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; FIXED_LEN];
        v[PROVIDER_AT..PROVIDER_AT + 16].copy_from_slice(&NDIS_PACKET_CAPTURE);
        v[EVENT_ID_AT..EVENT_ID_AT + 2].copy_from_slice(&EVENT_PACKET_FRAGMENT.to_le_bytes());
        v[KEYWORD_AT..KEYWORD_AT + 8].copy_from_slice(&keyword.to_le_bytes());
        v[EXT_COUNT_AT..EXT_COUNT_AT + 2].copy_from_slice(&(ext.len() as u16).to_le_bytes());
        v[USER_LEN_AT..USER_LEN_AT + 2].copy_from_slice(&((FRAGMENT_AT + frame.len()) as u16).to_le_bytes());
        for e in ext {
            v.extend_from_slice(&[0, 0, 1, 0, 0, 0]);
            v.extend_from_slice(&(e.len() as u16).to_le_bytes());
            v.extend_from_slice(e);
        }
        v.extend_from_slice(&7u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        v.extend_from_slice(frame);
        v
    }

    #[test]
    fn ethernet_packet_in_an_ndis_event() {
        let whole = KW_PACKET_START | KW_PACKET_END;
        let ev = ndis_event(whole | KW_MEDIA_802_3, &[&[9u8; 16]], b"frame");
        assert_eq!(ndis_frame(&ev).unwrap(), (LinkType::Ethernet, &b"frame"[..]));
        let ev = ndis_event(whole | KW_MEDIA_WIRELESS_WAN, &[], b"ip");
        assert_eq!(ndis_frame(&ev).unwrap(), (LinkType::RawIp, &b"ip"[..]));
        let ev = ndis_event(KW_PACKET_START | KW_MEDIA_802_3, &[], b"half");
        assert!(matches!(ndis_frame(&ev), Err(Decoded::Skipped(_))));
        let ev = ndis_event(whole | KW_MEDIA_NATIVE_802_11, &[], b"wifi");
        assert!(matches!(ndis_frame(&ev), Err(Decoded::Skipped(_))));
        // Another provider's event is no packet at all.
        let mut other = ndis_event(whole | KW_MEDIA_802_3, &[], b"frame");
        other[PROVIDER_AT] ^= 1;
        assert!(matches!(ndis_frame(&other), Err(Decoded::Other)));
    }

    /// Offsets written out by hand, as Wireshark 4.0's netmon_event dissector
    /// reads them, not through the constants above.
    #[test]
    fn layout_is_wiresharks() {
        let frame = [0x5au8; 20];
        let mut v = vec![0u8; 89];
        v[0..2].copy_from_slice(&(89u16 + 8 + 4 + 12 + 20).to_le_bytes());
        v[24..40].copy_from_slice(&NDIS_PACKET_CAPTURE);
        v[40..42].copy_from_slice(&1001u16.to_le_bytes());
        v[48..56].copy_from_slice(&0x2_c000_0001u64.to_le_bytes()); // receive path, start, end, 802.3
        v[84..86].copy_from_slice(&1u16.to_le_bytes());
        // UserDataLength too small, as a 16-bit field is for a 64 KiB LSO fragment: Wireshark ignores it.
        v[86..88].copy_from_slice(&12u16.to_le_bytes());
        v[88] = 0; // Reassembled
        v.extend_from_slice(&[0, 0, 3, 0, 0, 0, 4, 0, 1, 0, 0, 0]); // extended item: TS_ID, 4 bytes
        v.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0]);
        v.extend_from_slice(&frame);
        v.extend_from_slice(&[0xee; 3]); // past FragmentSize: not the frame's
        assert_eq!(ndis_frame(&v).unwrap(), (LinkType::Ethernet, &frame[..]));
        // Native 802.11 wins over wireless WAN, as in Wireshark.
        v[48..56].copy_from_slice(&(KW_PACKET_START | KW_PACKET_END | KW_MEDIA_NATIVE_802_11 | KW_MEDIA_WIRELESS_WAN).to_le_bytes());
        assert!(matches!(ndis_frame(&v), Err(Decoded::Skipped(_))));
    }

    #[test]
    fn cut_records_never_panic() {
        let ev = ndis_event(KW_PACKET_START | KW_PACKET_END | KW_MEDIA_802_3, &[&[1u8; 40]], &[0xab; 60]);
        for n in 0..ev.len() {
            let _ = ndis_frame(&ev[..n]);
        }
        let mut x = 0x9e37_79b9u32;
        for _ in 0..2000 {
            let mut v = crate::test_support::garbage(&mut x, 200);
            if v.len() >= FIXED_LEN {
                v[PROVIDER_AT..PROVIDER_AT + 16].copy_from_slice(&NDIS_PACKET_CAPTURE);
                v[EVENT_ID_AT..EVENT_ID_AT + 2].copy_from_slice(&EVENT_PACKET_FRAGMENT.to_le_bytes());
            }
            let _ = ndis_frame(&v);
        }
    }
}
