//! Decoding below SMB through the real tshark: resynchronisation on a fuzzed
//! capture believes no junk; the lab's share_not_found scenario captured in
//! each encapsulation (tests/lab/make-encap-captures.sh) decodes exactly the
//! SMB2 frames Wireshark decodes and raises the plain capture's findings; a
//! capture smbdiag cannot open says so once; the client's packets of one of
//! them carry an IPv6 Destination Options header, and the finding is the same;
//! the same capture as a `netsh trace` saved in Network Monitor format (each
//! packet in an NDIS-PacketCapture ETW event, tests/lab/netsh_cap.py) gives the
//! same SMB2 and findings.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use smbdiag_core::rules::catalog::{self, Severity};
use smbdiag_core::smb::framing::MAX_RESYNC_NOTES;

/// Frames where the filter matches.
fn frames(cap: &Path, filter: &str) -> BTreeSet<u32> {
    common::fields(cap, &["-Y", filter], &["frame.number"]).iter().filter_map(|r| r.first()?.parse().ok()).collect()
}

fn is_alarm(rule: &str) -> bool {
    catalog::by_id(rule).is_some_and(|r| matches!(r.severity, Severity::Warn | Severity::Error))
}

#[test]
fn fuzzed_smb1_stream_yields_no_invented_smb2_and_few_resync_notes() {
    let cap = common::public_captures_dir().join("zeek-zeek/smb1-OSS-fuzz-54883.pcap");
    // Wireshark sees no SMB2 in it; smbdiag must not either.
    let wireshark_smb2 = frames(&cap, "smb2");
    let smbdiag_msgs = frames(&cap, "smbdiag.cmd");
    assert!(smbdiag_msgs.is_subset(&wireshark_smb2), "smbdiag shows SMB2 messages Wireshark does not: {smbdiag_msgs:?}");
    let found = common::findings(&cap, &[]);
    let alarms: Vec<String> = found.iter().filter(|r| is_alarm(&r.rule)).map(|r| format!("{}@{}: {}", r.rule, r.frame, r.text)).collect();
    assert!(alarms.is_empty(), "{alarms:#?}");
    assert!(!found.iter().any(|r| r.rule == "status.error"));
    let resyncs = found.iter().filter(|r| r.rule == "decode.resync").count();
    // The stream does lose step (it is fuzzed), and says so a bounded number of times (two directions).
    assert!(resyncs >= 1 && resyncs <= 2 * MAX_RESYNC_NOTES as usize, "{resyncs} resync notes");
    assert!(found.iter().any(|r| r.rule == "decode.resync" && r.text.contains("later ones are not noted")));
}

#[test]
fn every_encapsulation_decodes_the_smb2_wireshark_decodes_with_the_same_findings() {
    let lab = common::lab_captures_dir();
    let plain = lab.join("share_not_found.pcap");
    let rules_of = |cap: &Path| -> BTreeSet<String> { common::findings(cap, &[]).into_iter().map(|r| r.rule).collect() };
    let plain_rules = rules_of(&plain);
    assert!(plain_rules.contains("tree.share_not_found"));
    let kinds = ["sll2", "sll", "vlan", "qinq", "gretap", "erspan2", "erspan3", "vxlan", "vxlan_frag", "vxlan6", "ipv6_dstopts"];
    let mut errors = Vec::new();
    for kind in kinds {
        let cap = lab.join(format!("share_not_found_{kind}.pcap"));
        let wireshark_smb2 = frames(&cap, "smb2");
        let smbdiag_msgs = frames(&cap, "smbdiag.cmd");
        if wireshark_smb2.len() < 10 || smbdiag_msgs != wireshark_smb2 {
            errors.push(format!("{kind}: Wireshark decodes SMB2 in frames {wireshark_smb2:?}, smbdiag in {smbdiag_msgs:?}"));
        }
        // The finding on the frame Wireshark's dissectors locate.
        let tree = frames(&cap, "smb2.cmd == 3 && smb2.nt_status == 0xc00000cc");
        let found = common::findings(&cap, &[]);
        let at: Vec<u32> = found.iter().filter(|r| r.rule == "tree.share_not_found").map(|r| r.frame).collect();
        if at.len() != 1 || tree.first() != at.first() {
            errors.push(format!("{kind}: tree.share_not_found at {at:?}, Wireshark's TREE_CONNECT error at {tree:?}"));
        }
        let rules: BTreeSet<String> = found.into_iter().map(|r| r.rule).collect();
        if rules != plain_rules {
            errors.push(format!("{kind}: rules {rules:?}, the plain capture's {plain_rules:?}"));
        }
    }
    // Fragments: the VXLAN underlay's 128-byte MTU fragmented the outer packets, the finding's frame among them.
    let frag = lab.join("share_not_found_vxlan_frag.pcap");
    let reassembled = frames(&frag, "ip.fragment && smb2.cmd == 3 && smb2.nt_status == 0xc00000cc");
    if reassembled.is_empty() {
        errors.push("vxlan_frag: the TREE_CONNECT error response was not fragmented: the capture does not test reassembly".into());
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn ipv6_destination_options_on_the_clients_packets_hide_no_smb() {
    // smbclient over IPv6 with a Destination Options header (one PadN option) on
    // every packet its socket sends (tests/lab/ipv6_exthdr_preload.c); the server's have none.
    let cap = common::lab_captures_dir().join("share_not_found_ipv6_dstopts.pcap");
    let client = frames(&cap, "ipv6.src == fd99::1");
    let dstopts = frames(&cap, "ipv6.dstopts");
    assert!(client.len() >= 10 && dstopts == client, "client frames {client:?}, with Destination Options {dstopts:?}");
    assert!(frames(&cap, "ipv6.src == fd99::2 && ipv6.nxt == 6").len() >= 10, "the server's packets are plain IPv6 TCP");
    // The TREE_CONNECT for "projects": IPv6 next header 60, then the header (TCP next, PadN) before TCP.
    let rows = common::fields(
        &cap,
        &["-Y", "smb2.cmd == 3 && smb2.flags.response == 0 && smb2.tree contains \"projects\""],
        &["frame.number", "ipv6.nxt", "ipv6.dstopts.nxt", "ipv6.opt.type"],
    );
    assert_eq!(rows, vec![vec!["18", "60", "6", "0x01"]]);
    // Wireshark's STATUS_BAD_NETWORK_NAME response and smbdiag's finding: frame 19, naming the request (18).
    assert_eq!(frames(&cap, "smb2.cmd == 3 && smb2.nt_status == 0xc00000cc"), BTreeSet::from([19]));
    let found = common::findings(&cap, &[]);
    let at: Vec<(u32, &str)> = found.iter().filter(|r| is_alarm(&r.rule)).map(|r| (r.frame, r.rule.as_str())).collect();
    assert_eq!(at, vec![(19, "tree.share_not_found")]);
    let r = found.iter().find(|r| r.rule == "tree.share_not_found").unwrap();
    for ev in ["STATUS_BAD_NETWORK_NAME", "TREE_CONNECT to \\\\LABSRV\\projects (frame 18)", "no share named \"projects\"", "Get-SmbShare"] {
        assert!(r.text.contains(ev), "lacks {ev:?}: {}", r.text);
    }
    assert!(r.related.contains(&18), "{:?}", r.related);
    // Nothing skipped: every SMB2 frame Wireshark decodes, smbdiag decodes.
    assert!(!found.iter().any(|r| r.rule == "decode.skipped_frames"), "skipped frames noted");
    assert_eq!(frames(&cap, "smbdiag.cmd"), frames(&cap, "smb2"));
}

#[test]
fn a_capture_whose_link_layer_is_not_decoded_says_so_once() {
    let cap = common::repo_root().join("tests/captures/edited/share_not_found_unknown_link.pcap");
    let total = frames(&cap, "frame").len();
    // One pass: the note on the first frame, counting what was seen by then.
    let one = common::findings(&cap, &[]);
    assert_eq!(one.iter().map(|r| (r.frame, r.rule.as_str())).collect::<Vec<_>>(), vec![(1, "decode.skipped_frames")]);
    assert!(one[0].text.contains("frames of a link type smbdiag does not decode: 1 (first in frame 1)"), "{}", one[0].text);
    // Two passes: the same one note, with the whole capture's count.
    let two = common::findings(&cap, &["-2"]);
    assert_eq!(two.len(), 1);
    let want = format!("frames of a link type smbdiag does not decode: {total} (first in frame 1)");
    assert!(two[0].text.contains(&want), "{}", two[0].text);
}

#[test]
fn a_netsh_trace_in_network_monitor_format_gives_the_pcaps_smb2_and_findings() {
    // tests/lab/netsh_cap.py wrote the lab pcap's frames as NDIS-PacketCapture
    // events (1001) in a Network Monitor 2.3 file, with events that hold no
    // packet before and among them; no Windows machine here makes a real one.
    let lab = common::lab_captures_dir();
    let pcap = lab.join("share_not_found.pcap");
    let cap = lab.join("share_not_found_netsh.cap");
    // Wireshark reads every frame as a network event; the packets are the NDIS fragments it opens as Ethernet.
    let all = frames(&cap, "frame");
    assert_eq!(frames(&cap, "netmon_event"), all, "not read as Network Monitor network events");
    let packets: Vec<u32> = frames(&cap, "etw.ndis.event_id == 1001 && eth").into_iter().collect();
    assert_eq!(packets.len(), frames(&pcap, "frame").len(), "Wireshark opens {packets:?} as packets");
    // Frame, provider, event id of the events that hold no packet.
    let kinds = common::fields(&cap, &["-Y", "!eth"], &["frame.number", "netmon_event.provider_id", "netmon_event.event_desc.id"]);
    let others: BTreeSet<u32> = kinds.iter().filter_map(|k| k[0].parse().ok()).collect();
    assert_eq!(others, all.iter().copied().filter(|f| !packets.contains(f)).collect::<BTreeSet<u32>>());
    let ndis = "2ed6006e-4729-4609-b423-3ee7bcd678ef";
    assert!(kinds.iter().any(|k| k[1] == ndis && k[2] != "1001"), "no NDIS event without a packet: {kinds:?}");
    assert!(kinds.iter().any(|k| k[1] != ndis), "no other provider's event: {kinds:?}");
    assert!(others.iter().any(|&f| f > packets[0]), "no packet-less event among the packets: {others:?}");
    // The pcap's frame n is the .cap's n-th packet.
    let at = |n: u32| packets[n as usize - 1];

    // Wireshark's SMB2, message for message, in both.
    let smb2 = |c: &Path| common::fields(c, &["-Y", "smb2"], &["frame.number", "smb2.cmd", "smb2.nt_status", "smb2.msg_id"]);
    let in_pcap: Vec<Vec<String>> = smb2(&pcap)
        .into_iter()
        .map(|mut r| {
            r[0] = at(r[0].parse().unwrap()).to_string();
            r
        })
        .collect();
    assert!(in_pcap.len() >= 10);
    assert_eq!(smb2(&cap), in_pcap);
    // smbdiag decodes SMB2 on exactly Wireshark's SMB2 frames.
    assert_eq!(frames(&cap, "smbdiag.cmd"), frames(&cap, "smb2"));

    // The finding on Wireshark's TREE_CONNECT error, naming the share and the request, as in the pcap.
    let response = frames(&cap, "smb2.cmd == 3 && smb2.nt_status == 0xc00000cc");
    let request = frames(&cap, "smb2.cmd == 3 && smb2.flags.response == 0 && smb2.tree contains \"projects\"");
    assert_eq!((response.len(), request.len()), (1, 1), "{response:?} {request:?}");
    let (response, request) = (*response.first().unwrap(), *request.first().unwrap());
    let found = common::findings(&cap, &[]);
    let plain = common::findings(&pcap, &[]);
    let tree: Vec<&common::FindingRow> = found.iter().filter(|r| r.rule == "tree.share_not_found").collect();
    assert_eq!(tree.iter().map(|r| r.frame).collect::<Vec<_>>(), vec![response]);
    let r = tree[0];
    assert!(r.text.contains("STATUS_BAD_NETWORK_NAME") && r.text.contains("\\\\10.99.0.2\\projects"), "{}", r.text);
    assert_eq!(r.related, vec![request]);
    let p = plain.iter().find(|p| p.rule == "tree.share_not_found").expect("the pcap's finding");
    assert_eq!(p.related.iter().map(|&f| at(f)).collect::<Vec<_>>(), r.related);
    // The same sentence, the request's frame number aside.
    assert_eq!(r.text, p.text.replace(&format!("(frame {})", p.related[0]), &format!("(frame {request})")));

    // Every finding of the pcap, on the same packets; nothing skipped, nothing on the packet-less events.
    assert!(!found.iter().any(|r| r.rule == "decode.skipped_frames"), "skipped frames noted");
    assert!(found.iter().all(|r| !others.contains(&r.frame)), "a finding on a packet-less event");
    let key = |rows: &[common::FindingRow], map: &dyn Fn(u32) -> u32| -> Vec<(u32, String, Vec<u32>)> {
        rows.iter().map(|r| (map(r.frame), r.rule.clone(), r.related.iter().map(|&f| map(f)).collect())).collect()
    };
    assert_eq!(key(&found, &|f| f), key(&plain, &at));
}
