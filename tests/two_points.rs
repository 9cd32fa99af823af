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
