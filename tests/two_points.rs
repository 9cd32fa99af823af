//! Captures taken at both ends at once (tests/lab/make-captures.sh, two_*: a
//! router namespace between client and server, tcpdump at the client's and at
//! the server's interface, merged with `mergecap -I none`) through the real
//! tshark: where the connection attempts were lost or answered, from what
//! each side saw; each side's file alone keeps its single-view finding; and
//! copies on one host are never taken for two capture points.

mod common;

use std::path::PathBuf;

fn cap(name: &str) -> PathBuf {
    common::lab_captures_dir().join("two_sided").join(name)
}

/// Frames Wireshark selects.
fn frames(cap: &std::path::Path, filter: &str) -> Vec<u32> {
    common::fields(cap, &["-Y", filter], &["frame.number"]).iter().filter_map(|r| r.first()?.parse().ok()).collect()
}

fn rules(cap: &std::path::Path, extra: &[&str]) -> Vec<(u32, String)> {
    common::findings(cap, extra).into_iter().map(|f| (f.frame, f.rule)).collect()
}

fn summary(cap: &std::path::Path, extra: &[&str]) -> String {
    let c = common::readable(cap);
    let mut args = vec!["-r", c.to_str().unwrap(), "-q", "-z", "smbdiag,summary"];
    args.extend_from_slice(extra);
    let out = common::tshark(&args);
    assert!(out.ok, "{}", out.stderr);
    out.stdout
}

const CLIENT_SYN: &str = "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 445";
const PREF: [&str; 2] = ["-o", "smbdiag.client_interface:1"];

fn one(cap: &std::path::Path, extra: &[&str], rule: &str) -> common::FindingRow {
    let mut f: Vec<_> = common::findings(cap, extra).into_iter().filter(|f| f.rule == rule).collect();
    assert_eq!(f.len(), 1, "{}: {rule}: {:?}", cap.display(), rules(cap, extra));
    f.remove(0)
}

fn has_words(text: &str, words: &[&str]) {
    for w in words {
        assert!(text.contains(w), "lacks {w:?}: {text}");
    }
}

#[test]
fn syns_that_reached_the_server_and_got_no_answer_are_the_servers_firewall() {
    let merged = cap("two_blocked_by_server.pcapng");
    let at_client = frames(&merged, &format!("{CLIENT_SYN} && frame.interface_id == 0"));
    let at_server = frames(&merged, &format!("{CLIENT_SYN} && frame.interface_id == 1"));
    assert!(at_client.len() >= 3 && at_server.len() >= 3, "{at_client:?} {at_server:?}");
    // Inferred without the preference: the client's packets have TTL 64 at interface 0, 63 at 1.
    let f = one(&merged, &[], "path.syn_ignored_by_server");
    assert_eq!(f.frame, at_client[2]);
    has_words(&f.text, &["reached the server", "never answered", "host firewall", "interface 0", "1 router(s)", "Get-NetConnectionProfile"]);
    for s in at_client[..3].iter().chain(at_server.iter().filter(|&&s| s < f.frame)) {
        assert!(f.related.contains(s), "frame {s} not related: {:?}", f.related);
    }
    // It counts the server's copies seen by then, not the client's SYNs (the
    // third SYN's copy comes after it).
    let seen = at_server.iter().filter(|&&s| s < f.frame).count();
    let k = if seen >= 3 { "all of them".to_string() } else { format!("{seen} of them so far") };
    has_words(&f.text, &["3 SYNs from 10.99.0.1 to 10.99.1.2:445 left the client", &format!("; {k} reached the server (frame")]);
    // The single-view reading on that frame gives way to the two-sided one.
    assert!(!rules(&merged, &[]).iter().any(|(_, r)| r == "transport.syn_unanswered"));
    let s = summary(&merged, &[]);
    assert!(s.contains("Two capture points: client's side: interface 0"), "{s}");
}

#[test]
fn with_the_servers_clock_behind_the_one_sided_syn_finding_is_taken_back() {
    // The server's clock 2.5 s behind: its first copy of a SYN lies after the
    // client's third SYN in the file, so one pass has already judged "never
    // answered" (a firewall or a host down) on that frame when the two sides
    // show which firewall. A second pass (and the GUI) shows the stored
    // reports: there the two-sided finding stands alone.
    for merged in [cap("two_blocked_by_server.offset.pcapng"), cap("two_blocked_by_server.offset_one_if.pcapng")] {
        let f = one(&merged, &["-2"], "path.syn_ignored_by_server");
        let two_pass = rules(&merged, &["-2"]);
        assert!(!two_pass.iter().any(|(_, r)| r == "transport.syn_unanswered"), "{}: {two_pass:?}", merged.display());
        // What one pass printed, and what it replaced: the third SYN at the client's side.
        let one_pass = one(&merged, &[], "transport.syn_unanswered");
        assert!(one_pass.frame < f.frame && f.related.contains(&one_pass.frame), "{}: {} {:?}", merged.display(), one_pass.frame, f.related);
        // The summary counts what stands.
        let s = summary(&merged, &["-2"]);
        assert!(!s.contains("transport.syn_unanswered") && s.contains("path.syn_ignored_by_server"), "{s}");
    }
}

#[test]
fn syns_that_never_reached_the_server_were_dropped_on_the_path() {
    let merged = cap("two_blocked_on_path.pcapng");
    // The server's side captured nothing: only the preference says there were two sides.
    assert!(frames(&merged, "frame.interface_id == 1").is_empty());
    let at_client = frames(&merged, CLIENT_SYN);
    let f = one(&merged, &PREF, "path.syn_dropped");
    assert_eq!(f.frame, at_client[2]);
    has_words(&f.text, &["Dropped on the path", "none reached the server's side", "network firewall", "not the server", "as the preference says"]);
    assert_eq!(f.related, at_client[..3].to_vec());
    // Without it, the single-view finding.
    assert_eq!(one(&merged, &[], "transport.syn_unanswered").frame, at_client[2]);
}

#[test]
fn a_reset_the_server_never_sent_was_forged_on_the_path() {
    let merged = cap("two_reset_on_path.pcapng");
    let rst = frames(&merged, "tcp.flags.reset == 1 && ip.src == 10.99.1.2");
    let syn = frames(&merged, CLIENT_SYN);
    let f = one(&merged, &PREF, "path.reset_forged");
    assert_eq!(f.frame, rst[0]);
    has_words(&f.text, &["Reset forged", "never reached the server's side", "the server sent no RST", "not a stopped service"]);
    assert!(f.related.contains(&syn[0]) && f.related.contains(&rst[0]));
    assert!(!rules(&merged, &PREF).iter().any(|(_, r)| r == "transport.connection_refused"));
    // Without the preference nothing tells the sides apart: the single-view reading stays.
    assert_eq!(one(&merged, &[], "transport.connection_refused").frame, rst[0]);
}

#[test]
fn each_sides_file_alone_keeps_its_single_view_finding() {
    for (file, rule, filter, nth) in [
        ("two_blocked_by_server.client.pcap", "transport.syn_unanswered", CLIENT_SYN, 2),
        ("two_blocked_by_server.server.pcap", "transport.syn_unanswered", CLIENT_SYN, 2),
        ("two_blocked_on_path.client.pcap", "transport.syn_unanswered", CLIENT_SYN, 2),
        ("two_reset_on_path.client.pcap", "transport.connection_refused", "tcp.flags.reset == 1", 0),
    ] {
        let c = cap(file);
        let f = one(&c, &[], rule);
        assert_eq!(f.frame, frames(&c, filter)[nth], "{file}");
        assert!(!rules(&c, &[]).iter().any(|(_, r)| r.starts_with("path.")), "{file}");
    }
}

#[test]
fn copies_on_one_host_are_not_two_capture_points() {
    // Same TTL on both interfaces (a bridge and its port), or one interface.
    for name in ["copies_bridge.pcap", "copies_router.pcap", "copies_two_interfaces.pcapng", "copies_bridge_loss.pcap"] {
        let s = summary(&common::lab_captures_dir().join(name), &[]);
        assert!(!s.contains("Two capture points"), "{name}: {s}");
        assert!(s.contains("Packet copies set aside"), "{name}");
    }
}

/// The finding with only the related frames its own text names (tshark gives
/// the related frames per frame, for all its findings together).
fn own_frames(mut f: common::FindingRow) -> common::FindingRow {
    let named = numbers(&f.text);
    f.related.retain(|r| named.contains(&(*r as f64)));
    f.related.sort_unstable();
    f.related.dedup();
    f
}

/// (frame, interface, ip.id, tcp.seq) of the data segments.
fn data_segments(cap: &std::path::Path) -> Vec<(u32, String, String, String)> {
    common::fields(cap, &["-Y", "tcp.len > 0"], &["frame.number", "frame.interface_id", "ip.id", "tcp.seq_raw"])
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone(), r[2].clone(), r[3].clone()))
        .collect()
}

/// Each related frame is a data segment at `side` whose packet (IP id) the other interface never saw.
fn never_at_the_other_side(cap: &std::path::Path, f: &common::FindingRow, side: &str) {
    let segs = data_segments(cap);
    assert!(f.related.len() >= 3, "{:?}", f.related);
    for r in &f.related {
        let (_, iface, id, _) = segs.iter().find(|s| s.0 == *r).unwrap_or_else(|| panic!("frame {r} is no data segment"));
        assert_eq!(iface, side, "frame {r}");
        assert!(!segs.iter().any(|s| &s.2 == id && &s.1 != side), "frame {r}: IP id {id} seen at the other side");
    }
}

#[test]
fn loss_between_the_points_is_told_per_direction() {
    let merged = cap("two_loss_on_path.pcapng");
    let found: Vec<_> = common::findings(&merged, &[]).into_iter().filter(|f| f.rule == "path.loss").collect();
    assert_eq!(found.len(), 2, "{:?}", rules(&merged, &[]));
    // Another finding on the same frame (path.ack_lost: random loss hits ACKs too) adds its own related frames.
    let found: Vec<_> = found.into_iter().map(own_frames).collect();
    let up = found.iter().find(|f| f.text.contains("the client 10.99.0.1 sent")).expect("client to server");
    has_words(&up.text, &["never reached the server's side", "on the way from the client 10.99.0.1 to the server 10.99.1.2", "1 router(s) between them"]);
    let down = found.iter().find(|f| f.text.contains("the server 10.99.1.2 sent")).expect("server to client");
    has_words(&down.text, &["never reached the client's side", "on the way from the server 10.99.1.2 to the client 10.99.0.1"]);
    // Related frames are per frame in tshark's output: the two must sit apart to be told apart.
    assert_ne!(up.frame, down.frame);
    never_at_the_other_side(&merged, up, "0");
    never_at_the_other_side(&merged, down, "1");
    assert!(!up.text.contains("never reaches the server"), "random loss is not a content filter");
}

#[test]
fn nothing_lost_nothing_said() {
    // Both sides saw every packet (a slow server, nothing dropped).
    let merged = cap("two_slow_server.pcapng");
    assert!(summary(&merged, &[]).contains("Two capture points"));
    // Slow, not lost: the only path finding says where the time went.
    assert!(rules(&merged, &[]).iter().all(|(_, r)| !r.starts_with("path.") || r == "path.server_slow"), "{:?}", rules(&merged, &[]));
}

#[test]
fn a_request_that_never_arrives() {
    let merged = cap("two_request_dropped.pcapng");
    let f = one(&merged, &[], "path.loss");
    never_at_the_other_side(&merged, &f, "0");
    // The same bytes each time, the first of them an SMB2 request Wireshark decodes.
    let segs = data_segments(&merged);
    let seq = |fr: u32| segs.iter().find(|s| s.0 == fr).unwrap().3.clone();
    assert!(f.related.iter().all(|&r| seq(r) == seq(f.related[0])), "{:?}", f.related);
    let req = frames(&merged, "smb2 && smb2.flags.response == 0 && frame.interface_id == 0");
    assert!(req.contains(&f.related[0]), "frame {} holds no SMB2 request", f.related[0]);
    has_words(&f.text, &[&format!("The segment of frame {} was sent 3 times", f.related[0]), "a request that never reaches the server", "content filter"]);
}

#[test]
fn no_side_alone_raises_two_sided_findings() {
    for e in std::fs::read_dir(common::lab_captures_dir().join("two_sided")).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "pcap") {
            assert!(!rules(&p, &[]).iter().any(|(_, r)| r.starts_with("path.")), "{}", p.display());
        }
    }
}

#[test]
fn a_slow_response_is_split_into_server_time_and_network_time() {
    // smbd's share connect script sleeps 2 s: the time is the server's.
    let s = summary(&cap("two_slow_server.pcapng"), &[]);
    let split = &s[s.find("Response time split").unwrap_or_else(|| panic!("no split: {s}"))..];
    let line = split.lines().find(|l| l.trim_start().starts_with("TREE_CONNECT")).unwrap_or_else(|| panic!("no TREE_CONNECT: {split}"));
    let ms: Vec<f64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    // responses, server p50, network p50
    assert!(ms.len() == 3 && ms[1] > 1900.0 && ms[2] < 5.0, "{line}");
    assert!(line.trim_end().ends_with("server"), "{line}");
    // One side alone has no split to give.
    assert!(!summary(&cap("two_slow_server.client.pcap"), &[]).contains("Response time split"));
}

/// The frame holding the same packet (IP id, sequence number) at the other interface.
fn copy_at(cap: &std::path::Path, frame: u32) -> u32 {
    let segs = data_segments(cap);
    let me = segs.iter().find(|s| s.0 == frame).unwrap_or_else(|| panic!("frame {frame}"));
    segs.iter().find(|s| s.1 != me.1 && s.2 == me.2 && s.3 == me.3).unwrap_or_else(|| panic!("frame {frame} at one side only")).0
}

/// The numbers in a text line, in order (times in ms in the summary).
fn numbers(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).filter_map(|w| w.parse().ok()).collect()
}

#[test]
fn slow_in_the_server_and_slow_on_the_network_are_different_findings() {
    // The router holds every packet 600 ms each way (NFQUEUE); the server answers at once.
    let delayed = cap("two_delay_on_path.pcapng");
    let f = one(&delayed, &[], "path.network_slow");
    // Wireshark decodes each message at its first copy only: find the other by IP id.
    let rq_c = frames(&delayed, "smb2.cmd == 0 && smb2.flags.response == 0")[0];
    let rs_s = frames(&delayed, "smb2.cmd == 0 && smb2.flags.response == 1")[0];
    let (rq_s, rs_c) = (copy_at(&delayed, rq_c), copy_at(&delayed, rs_s));
    // Raised where the client got the first slow response (the NEGOTIATE's), with both sides' frames.
    assert_eq!(f.frame, rs_c);
    assert_eq!(f.related, { let mut v = vec![rq_c, rq_s, rs_s, rs_c]; v.sort(); v });
    has_words(&f.text, &["Slow on the network", "the NEGOTIATE response reached the client's side 1.2", "on the network between the two capture points", "one-way delay between the points about 0.60", "The server answered promptly"]);
    assert!(!rules(&delayed, &[]).iter().any(|(_, r)| r == "path.server_slow" || r == "path.loss"), "{:?}", rules(&delayed, &[]));
    let s = summary(&delayed, &[]);
    let line = s.lines().find(|l| l.trim_start().starts_with("TREE_CONNECT") && l.trim_end().ends_with("network")).unwrap_or_else(|| panic!("{s}"));
    let ms = numbers(line);
    assert!(ms[1] < 50.0 && ms[2] > 1150.0, "{line}");

    // smbd's share connect script sleeps 2 s; the network is quick.
    let slow = cap("two_slow_server.pcapng");
    let f = one(&slow, &[], "path.server_slow");
    let rq_c = frames(&slow, "smb2.cmd == 3 && smb2.flags.response == 0 && smb2.tree contains \"data\"")[0];
    let rs_s = *frames(&slow, "smb2.cmd == 3 && smb2.flags.response == 1").iter().find(|&&r| r > rq_c).unwrap();
    let (rq_s, rs_c) = (copy_at(&slow, rq_c), copy_at(&slow, rs_s));
    assert_eq!(f.frame, rs_c);
    assert_eq!(f.related, { let mut v = vec![rq_c, rq_s, rs_s, rs_c]; v.sort(); v });
    has_words(&f.text, &["Slow in the server", "the TREE_CONNECT response reached the client's side 2.0", "passed in the server", "The network delivered promptly", "the server 10.99.1.2 was slow"]);
    assert!(!rules(&slow, &[]).iter().any(|(_, r)| r == "path.network_slow"));
}

#[test]
fn acks_lost_on_the_way_back() {
    // The router drops the server's bare ACKs; the TREE_CONNECT waits 1 s in smbd.
    let merged = cap("two_ack_lost.pcapng");
    // Own frames only: perf.slow_response (the 1 s in smbd) sits on the same frame.
    let f = own_frames(one(&merged, &[], "path.ack_lost"));
    // The client's own retransmission (Wireshark: spurious, the server had it).
    let again = frames(&merged, "tcp.analysis.spurious_retransmission && tcp.dstport == 445 && frame.interface_id == 0");
    assert!(f.related.contains(&again[0]), "{:?} {again:?}", f.related);
    // Raised once the ACKs had their time (200 ms) to show up at the client's side.
    assert!(f.frame > again[0]);
    has_words(&f.text, &["ACKs lost on the way back", "the client 10.99.0.1 sent the data of frame", "had reached the server's side the first time", "lost on the way from the server 10.99.1.2 to the client 10.99.0.1", "1 router(s) between them"]);
    // Related: the first transmission at both sides (same bytes), the retransmission,
    // and the server's bare ACKs (at its side) that the client's side never saw.
    let segs = data_segments(&merged);
    let seq_of = |fr: u32| segs.iter().find(|s| s.0 == fr).map(|s| s.3.clone());
    let acks = common::fields(&merged, &["-Y", "tcp.srcport == 445 && tcp.len == 0 && tcp.flags.syn == 0"], &["frame.number", "frame.interface_id", "ip.id"]);
    let mut data = 0;
    let mut lost = 0;
    for r in &f.related {
        if let Some(seq) = seq_of(*r) {
            assert_eq!(Some(seq), seq_of(again[0]), "frame {r}: other bytes");
            data += 1;
        } else {
            let a = acks.iter().find(|a| a[0] == r.to_string()).unwrap_or_else(|| panic!("frame {r}: neither the data nor a bare ACK"));
            assert_eq!(a[1], "1", "frame {r}: the server's ACK at the server's side");
            assert!(!acks.iter().any(|b| b[2] == a[2] && b[1] == "0"), "frame {r}: that ACK did reach the client's side");
            lost += 1;
        }
    }
    assert!(data == 3 && lost >= 1, "{:?}", f.related);
    // The data itself all arrived: no loss of data between the points.
    assert!(!rules(&merged, &[]).iter().any(|(_, r)| r == "path.loss"));
}

#[test]
fn behind_nat_the_two_views_pair_by_sequence_numbers_and_payloads() {
    let merged = cap("two_nat.pcapng");
    // The router translated the client: its address at the server's side is the router's.
    assert!(!frames(&merged, "ip.src == 10.99.1.254 && frame.interface_id == 1").is_empty());
    assert!(frames(&merged, "ip.addr == 10.99.0.1 && frame.interface_id == 1").is_empty());
    let f = one(&merged, &[], "path.loss");
    never_at_the_other_side(&merged, &f, "0");
    has_words(&f.text, &["the client 10.99.0.1 (seen as 10.99.1.254 at the server's side: NAT between the capture points)", "never reached the server's side", "a request that never reaches the server"]);
    // The two views are one connection: each SMB message decoded once, each finding once.
    let all = rules(&merged, &[]);
    for r in ["transport.packet_loss", "security.unsigned_session"] {
        assert!(all.iter().filter(|(_, x)| x == r).count() <= 1, "{all:?}");
    }
    let s = summary(&merged, &[]);
    assert!(s.contains("Two capture points") && s.contains("NEGOTIATE               1"), "{s}");
}

/// The lab's namespaces share one clock: each `*.offset*` file is a scenario's
/// server-side file shifted 2.5 s with `editcap -t 2.5` before merging, as a
/// server whose clock is 2.5 s ahead would have stamped it. Far beyond the
/// copy window (10 ms): the views pair only once the offset is known.
#[test]
fn clocks_that_differ_are_measured_and_allowed_for() {
    let shifted = cap("two_slow_server.offset.pcapng");
    let s = summary(&shifted, &[]);
    let line = s.lines().find(|l| l.starts_with("Two capture points")).unwrap_or_else(|| panic!("{s}"));
    let offset = line.split("clock reads ").nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("{line}"));
    assert!((offset - 2500.0).abs() < 5.0, "{line}");
    // The split takes each time on one side's clock: unchanged by the offset.
    let tc = s.lines().find(|l| l.trim_start().starts_with("TREE_CONNECT") && l.trim_end().ends_with("server")).unwrap_or_else(|| panic!("{s}"));
    let ms = numbers(tc);
    assert!(ms[1] > 1900.0 && ms[2] < 5.0, "{tc}");
    // The same findings as without the offset, nothing lost.
    let mut a: Vec<String> = rules(&shifted, &[]).into_iter().map(|r| r.1).collect();
    let mut b: Vec<String> = rules(&cap("two_slow_server.pcapng"), &[]).into_iter().map(|r| r.1).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // The ACKs lost on the way back, although the client's retransmission comes
    // 2.3 s before the first transmission's copy at the server's side in the
    // file, and before any packet pairs up to say which side is which.
    let acks = cap("two_ack_lost.offset.pcapng");
    let f = own_frames(one(&acks, &[], "path.ack_lost"));
    // The client's retransmission: the same sequence number again at its side, under a new IP id.
    let client_data: Vec<_> = data_segments(&acks).into_iter().filter(|d| d.1 == "0").collect();
    let (first, again) = client_data.iter().enumerate().find_map(|(i, d)| client_data[..i].iter().find(|e| e.3 == d.3).map(|e| (e.0, d.0))).expect("a retransmission");
    for fr in [first, again, copy_at(&acks, first)] {
        assert!(f.related.contains(&fr), "frame {fr}: {:?}", f.related);
    }
    let server_acks = common::fields(&acks, &["-Y", "tcp.srcport == 445 && tcp.len == 0 && tcp.flags.syn == 0"], &["frame.number", "frame.interface_id", "ip.id"]);
    let lost: Vec<_> = server_acks.iter().filter(|a| f.related.contains(&a[0].parse().unwrap())).collect();
    assert!(!lost.is_empty() && lost.iter().all(|a| a[1] == "1" && !server_acks.iter().any(|b| b[2] == a[2] && b[1] == "0")), "{lost:?}");
    has_words(&f.text, &["ACKs lost on the way back", "had reached the server's side the first time"]);

    let dropped = cap("two_request_dropped.offset.pcapng");
    let f = one(&dropped, &[], "path.loss");
    never_at_the_other_side(&dropped, &f, "0");
    has_words(&f.text, &["was sent 3 times", "a request that never reaches the server"]);
}

/// (frame, rule, related frames) of the path findings.
fn path_findings(cap: &std::path::Path) -> Vec<(u32, String, Vec<u32>)> {
    common::findings(cap, &[]).into_iter().filter(|f| f.rule.starts_with("path.")).map(|f| (f.frame, f.rule, f.related)).collect()
}

/// Ethernet source addresses of the frames of one interface of a two-interface merge.
fn macs_of_interface(cap: &std::path::Path, iface: u32) -> Vec<String> {
    let mut m: Vec<String> = common::fields(cap, &["-Y", &format!("tcp && frame.interface_id == {iface}")], &["eth.src"]).into_iter().map(|r| r[0].clone()).collect();
    m.sort();
    m.dedup();
    m
}

/// mergecap without `-I none` folds the two sides (both files say the same of
/// their interface) into one. The sides are then told apart by the Ethernet
/// segments their frames crossed (a router rewrites the addresses), once a
/// packet's copies in two segments differ in TTL and lie further apart than
/// copies on one host ever do (here 2.5 s of clock offset): the same path
/// findings on the same frames as the merge that keeps each side its interface.
#[test]
fn both_sides_on_one_interface_give_the_findings_of_two_interfaces() {
    for (name, expected) in [
        ("two_slow_server.offset", "path.server_slow"),
        ("two_slow_server.behind", "path.server_slow"),
        ("two_request_dropped.offset", "path.loss"),
        ("two_blocked_by_server.offset", "path.syn_ignored_by_server"),
        ("two_loss_on_path.offset", "path.loss"),
        ("two_delay_on_path.offset", "path.network_slow"),
        ("two_ack_lost.offset", "path.server_slow"),
        ("two_nat.offset", "path.loss"),
    ] {
        let two_if = cap(&format!("{name}.pcapng"));
        let one_if = cap(&format!("{name}_one_if.pcapng"));
        assert_eq!(frames(&one_if, "frame.interface_id != 0"), Vec::<u32>::new(), "{name}: one interface");
        let want = path_findings(&two_if);
        assert!(want.iter().any(|f| f.1 == expected), "{name}: {want:?}");
        assert_eq!(path_findings(&one_if), want, "{name}");
        // The findings say how the sides were told apart, naming each side's addresses.
        let f = common::findings(&one_if, &[]).into_iter().find(|f| f.rule == expected).unwrap();
        let (client_macs, server_macs) = (macs_of_interface(&two_if, 0), macs_of_interface(&two_if, 1));
        let at = |w: &str| f.text.find(w).unwrap_or_else(|| panic!("{name}: no {w:?}: {}", f.text));
        let client_part = &f.text[at("client's side: the frames")..at("server's side: the frames")];
        assert!(client_macs.iter().all(|m| client_part.contains(m.as_str())), "{name}: {client_macs:?}: {}", f.text);
        assert!(server_macs.iter().all(|m| f.text.contains(m.as_str()) && !client_part.contains(m.as_str())), "{name}: {server_macs:?}: {}", f.text);
        has_words(&f.text, &["both sides in interface 0, told apart by their Ethernet addresses", "copies made on one host lie microseconds apart", "1 router(s) between them"]);
        // 2.5 s of offset, give or take the path's delay (600 ms each way in two_delay_on_path).
        let gap: f64 = f.text.split("which lie ").nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{}", f.text));
        assert!((1.8..=3.2).contains(&gap), "{name}: {gap}");
        let s = summary(&one_if, &[]);
        assert!(s.contains("Two capture points: client's side: the frames between Ethernet addresses"), "{name}: {s}");
    }
    // Neither side alone gives a path finding (no_side_alone_raises_two_sided_findings); the
    // one-interface files hold exactly the two sides' frames.
    let one_if = cap("two_slow_server.offset_one_if.pcapng");
    let n = |c: &std::path::Path| frames(c, "frame").len();
    assert_eq!(n(&one_if), n(&cap("two_slow_server.client.pcap")) + n(&cap("two_slow_server.server.pcap")));
}

/// The same two sides folded into one interface with one clock (the lab's
/// namespaces share it): each packet's copies lie microseconds apart, as a
/// router capturing both its ports would stamp them. By design that is one
/// host's copies, never two capture points: copies set aside, no path finding.
#[test]
fn copies_microseconds_apart_in_one_interface_are_one_host() {
    let t = cap("two_slow_server.client.pcap");
    let merged = common::scratch().home.join("caps").join("two_slow_server.same_clock_one_if.pcapng");
    let _ = std::fs::remove_file(&merged);
    let st = std::process::Command::new("mergecap").arg("-w").arg(&merged).arg(&t).arg(cap("two_slow_server.server.pcap")).status().expect("mergecap");
    assert!(st.success());
    assert!(frames(&merged, "frame.interface_id != 0").is_empty());
    let s = summary(&merged, &[]);
    assert!(!s.contains("Two capture points") && s.contains("Packet copies set aside"), "{s}");
    assert!(path_findings(&merged).is_empty(), "{:?}", path_findings(&merged));
}

/// (command, message id) → response time, of each response smbdiag timed,
/// with the Ethernet source of its frame.
fn response_times(cap: &std::path::Path) -> Vec<(String, (String, String), String)> {
    let mut v = Vec::new();
    for r in common::fields(cap, &["-Y", "smbdiag.response_time"], &["eth.src", "smbdiag.cmd", "smbdiag.msg_id", "smbdiag.response_time"]) {
        let split = |i: usize| r[i].split(',').map(str::to_string).collect::<Vec<_>>();
        let (cmds, ids, rts) = (split(1), split(2), split(3));
        // Only frames whose every message is timed pair up one to one.
        if cmds.len() == rts.len() {
            for ((c, id), rt) in cmds.into_iter().zip(ids).zip(rts) {
                v.push((r[0].clone(), (c, id), rt));
            }
        }
    }
    v
}

/// A merged capture decodes each response at its first copy, at whichever
/// side stamped it first. Its response time is taken at that side, against
/// the request's copy there: on one clock, so exactly what that side's own
/// file gives, never a request's time at one side against a response's at the other.
#[test]
fn response_times_in_a_merged_capture_are_each_sides_own() {
    let mut sides_seen = (0, 0);
    for (scenario, merged) in [
        ("two_slow_server", "two_slow_server.pcapng"),
        ("two_slow_server", "two_slow_server.offset_one_if.pcapng"),
        ("two_slow_server", "two_slow_server.behind.pcapng"),
        ("two_delay_on_path", "two_delay_on_path.pcapng"),
        ("two_delay_on_path", "two_delay_on_path.offset_one_if.pcapng"),
    ] {
        let alone = |side: &str| -> std::collections::HashMap<(String, String), String> {
            response_times(&cap(&format!("{scenario}.{side}.pcap"))).into_iter().map(|(_, k, rt)| (k, rt)).collect()
        };
        let (at_client, at_server) = (alone("client"), alone("server"));
        let client_macs: Vec<String> = common::fields(&cap(&format!("{scenario}.client.pcap")), &["-Y", "tcp"], &["eth.src"]).into_iter().map(|r| r[0].clone()).collect();
        let rows = response_times(&cap(merged));
        assert!(rows.len() >= 10, "{merged}: {rows:?}");
        for (mac, key, rt) in rows {
            let client_side = client_macs.contains(&mac);
            let want = if client_side { &at_client } else { &at_server };
            assert_eq!(Some(&rt), want.get(&key), "{merged}: {key:?} read at the {} side", if client_side { "client's" } else { "server's" });
            if client_side {
                sides_seen.0 += 1;
            } else {
                sides_seen.1 += 1;
            }
        }
    }
    // Both cases met: responses read first at the client's side and at the server's.
    assert!(sides_seen.0 > 0 && sides_seen.1 > 0, "{sides_seen:?}");

    // The summary's per-command table for the client-first merge is the client's file's, and says so.
    let table_line = |c: &std::path::Path| summary(c, &[]).lines().find(|l| l.trim_start().starts_with("TREE_CONNECT") && l.contains("ms") && !l.trim_end().ends_with("server")).map(str::to_string);
    let merged = cap("two_slow_server.offset_one_if.pcapng");
    assert_eq!(table_line(&merged), table_line(&cap("two_slow_server.client.pcap")));
    assert!(summary(&merged, &[]).contains("Response times in the connection tables are each taken at one side, on its clock"));
}

/// IPv6 with TCP timestamps off (tests/lab/make-captures.sh two_v6_*): no IP
/// identification, no TCP timestamp. With the server's clock 2.5 s ahead the
/// copies pair only by ends, sequence and acknowledgement numbers, window and
/// payload, across points (a retransmission is sent where the original was):
/// the same findings as the same-clock merge, none of the server's copies
/// taken for retransmissions.
#[test]
fn ipv6_without_timestamps_pairs_across_a_clock_offset() {
    for (name, expected) in [("two_v6_slow_server", "path.server_slow"), ("two_v6_request_dropped", "path.loss")] {
        let same_clock = cap(&format!("{name}.pcapng"));
        assert!(frames(&same_clock, "ip").is_empty() && frames(&same_clock, "tcp.options.timestamp.tsval").is_empty(), "{name}: IPv6 without timestamps");
        let mut want: Vec<String> = rules(&same_clock, &[]).into_iter().map(|r| r.1).collect();
        want.sort();
        assert!(want.iter().any(|r| r == expected), "{name}: {want:?}");
        for merged in [format!("{name}.offset.pcapng"), format!("{name}.offset_one_if.pcapng")] {
            let m = cap(&merged);
            let mut got: Vec<String> = rules(&m, &[]).into_iter().map(|r| r.1).collect();
            got.sort();
            assert_eq!(got, want, "{merged}");
            let s = summary(&m, &[]);
            let line = s.lines().find(|l| l.starts_with("Two capture points")).unwrap_or_else(|| panic!("{merged}: {s}"));
            let offset: f64 = line.split("clock reads ").nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"));
            assert!((offset - 2500.0).abs() < 5.0, "{line}");
        }
    }
    // The dropped request: its three transmissions at the client's side, the same bytes, never at the server's.
    let m = cap("two_v6_request_dropped.offset.pcapng");
    let f = one(&m, &[], "path.loss");
    let at_server = common::fields(&m, &["-Y", "tcp.len > 0 && frame.interface_id == 1"], &["tcp.seq_raw"]);
    let segs = common::fields(&m, &["-Y", "tcp.len > 0"], &["frame.number", "frame.interface_id", "tcp.seq_raw"]);
    for r in &f.related {
        let s = segs.iter().find(|s| s[0] == r.to_string()).unwrap_or_else(|| panic!("frame {r}"));
        assert_eq!(s[1], "0", "frame {r}");
        assert!(!at_server.iter().any(|a| a[0] == s[2]), "frame {r} reached the server's side");
    }
    has_words(&f.text, &["was sent 3 times", "a request that never reaches the server"]);
}
