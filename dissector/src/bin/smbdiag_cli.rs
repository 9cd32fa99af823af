//! Run the smbdiag core over a pcap/pcapng file without Wireshark and print
//! what it reports per frame: `smbdiag-cli FILE [--fields|--summary]`.

use std::fs::File;
use std::io::{BufWriter, Write};

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use smbdiag_core::{Analyzer, Config, FrameInput, LinkType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--rules-md") {
        print!("{}", smbdiag_core::rules::catalog::markdown());
        return;
    }
    let Some(path) = args.get(1) else {
        eprintln!("usage: smbdiag-cli FILE");
        std::process::exit(2);
    };
    let mut an = Analyzer::new(Config::default());
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let res = for_each_frame(path, &mut |input| {
        if let Some(r) = an.dissect(&input) {
            for m in &r.messages {
                let _ = writeln!(out, "{}\t{}\t{}\t{:?}", input.number, m.msg_id, m.cmd.0, m.status.map(|s| s.0));
            }
            for fi in &r.findings {
                let _ = writeln!(out, "{}\t{}\t{}", input.number, fi.rule.id, fi.text);
            }
        }
    });
    if let Err(e) = res {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
}

/// Read every packet of a pcap or pcapng file as a `FrameInput`.
fn for_each_frame(path: &str, f: &mut dyn FnMut(FrameInput<'_>)) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut number = 0u32;
    if data.len() >= 4 && data[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = PcapNgReader::new(&data[..]).map_err(|e| e.to_string())?;
        let mut links: Vec<u32> = Vec::new();
        while let Some(block) = r.next_block() {
            let block = block.map_err(|e| e.to_string())?;
            match block {
                Block::InterfaceDescription(idb) => links.push(u32::from(idb.linktype)),
                Block::EnhancedPacket(epb) => {
                    number += 1;
                    let link = links.get(epb.interface_id as usize).copied().unwrap_or(1);
                    let ts = epb.timestamp.as_nanos() as i64;
                    f(FrameInput { number, ts_ns: ts, link: LinkType::from_pcap(link), data: &epb.data });
                }
                Block::SimplePacket(spb) => {
                    number += 1;
                    let link = links.first().copied().unwrap_or(1);
                    f(FrameInput { number, ts_ns: 0, link: LinkType::from_pcap(link), data: &spb.data });
                }
                _ => {}
            }
        }
    } else {
        let _ = File::open(path);
        let mut r = PcapReader::new(&data[..]).map_err(|e| e.to_string())?;
        let link = u32::from(r.header().datalink);
        while let Some(pkt) = r.next_packet() {
            let pkt = pkt.map_err(|e| e.to_string())?;
            number += 1;
            let ts = pkt.timestamp.as_nanos() as i64;
            f(FrameInput { number, ts_ns: ts, link: LinkType::from_pcap(link), data: &pkt.data });
        }
    }
    Ok(())
}
