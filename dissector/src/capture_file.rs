//! Reading pcap and pcapng files into frames for the command-line runner,
//! benchmarks and tests (Wireshark does this itself for the plugin).

use pcap_parser::pcapng::Block;
use pcap_parser::{LegacyPcapSlice, PcapBlockOwned, PcapNGSlice};

use crate::pipeline::FrameInput;
use crate::net::link::LinkType;

/// Call `f` with every packet of a pcap or pcapng file held in memory, in
/// order, numbered from 1 as Wireshark numbers them.
pub fn for_each_frame(data: &[u8], f: &mut dyn FnMut(FrameInput<'_>)) -> Result<(), String> {
    let mut number = 0u32;
    if data.len() >= 4 && data[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        let slice = PcapNGSlice::from_slice(data).map_err(|e| format!("not a pcapng file: {e:?}"))?;
        // Per interface: link type, timestamp units per second, offset.
        let mut ifaces: Vec<(LinkType, u64, i64)> = Vec::new();
        for block in slice {
            let block = block.map_err(|e| format!("pcapng block after frame {number}: {e:?}"))?;
            let PcapBlockOwned::NG(block) = block else { continue };
            match block {
                Block::SectionHeader(_) => ifaces.clear(),
                Block::InterfaceDescription(idb) => {
                    let res = idb.ts_resolution().unwrap_or(1_000_000);
                    ifaces.push((LinkType::from_pcap(idb.linktype.0 as u32), res, idb.if_tsoffset));
                }
                Block::EnhancedPacket(epb) => {
                    number += 1;
                    let (link, res, off) = ifaces.get(epb.if_id as usize).copied().unwrap_or((LinkType::Ethernet, 1_000_000, 0));
                    let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                    let res = res.max(1);
                    let ts_ns = (off as i128 * 1_000_000_000 + (units / res) as i128 * 1_000_000_000 + ((units % res) as i128 * 1_000_000_000) / res as i128) as i64;
                    let caplen = (epb.caplen as usize).min(epb.data.len());
                    f(FrameInput { number, ts_ns, link, data: &epb.data[..caplen], interface: Some(epb.if_id) });
                }
                Block::SimplePacket(spb) => {
                    number += 1;
                    let link = ifaces.first().map(|i| i.0).unwrap_or(LinkType::Ethernet);
                    f(FrameInput { number, ts_ns: 0, link, data: spb.data, interface: Some(0) });
                }
                _ => {}
            }
        }
    } else {
        let slice = LegacyPcapSlice::from_slice(data).map_err(|e| format!("not a pcap file: {e:?}"))?;
        let link = LinkType::from_pcap(slice.header.network.0 as u32);
        let nanos = slice.header.is_nanosecond_precision();
        for block in slice {
            let block = match block {
                Ok(b) => b,
                // A file cut mid-record: stop there, as Wireshark does.
                Err(_) => break,
            };
            if let PcapBlockOwned::Legacy(b) = block {
                number += 1;
                let frac = if nanos { b.ts_usec as i64 } else { b.ts_usec as i64 * 1000 };
                let ts_ns = b.ts_sec as i64 * 1_000_000_000 + frac;
                f(FrameInput { number, ts_ns, link, data: b.data, interface: None });
            }
        }
    }
    Ok(())
}
