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
    // The single-view reading on that frame gives way to the two-sided one.
    assert!(!rules(&merged, &[]).iter().any(|(_, r)| r == "transport.syn_unanswered"));
    let s = summary(&merged, &[]);
    assert!(s.contains("Two capture points: client's side: interface 0"), "{s}");
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
    assert!(!rules(&merged, &[]).iter().any(|(_, r)| r.starts_with("path.")), "{:?}", rules(&merged, &[]));
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
