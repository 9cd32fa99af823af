//! Captures holding each packet more than once (tests/lab/make-captures.sh,
//! copies_*: `tcpdump -i any` on a bridged server and on a router, two
//! interfaces of one host merged) through the real tshark: smbdiag decodes
//! each packet once — the same SMB messages and findings as one capture
//! point's view alone, no loss, the summary counting the copies Wireshark's
//! own fields show — and still reports real loss among copies.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Frames per capture point, as Wireshark tells the points apart (`field`).
fn frames_by_point(cap: &Path, field: &str) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for row in common::fields(cap, &["-Y", "tcp"], &[field]) {
        *by.entry(row[0].clone()).or_insert(0) += 1;
    }
    by
}

/// The copies the summary says it set aside.
fn copies_in_summary(cap: &Path) -> Option<usize> {
    let c = common::readable(cap);
    let out = common::tshark(&["-r", c.to_str().unwrap(), "-q", "-z", "smbdiag,summary"]);
    assert!(out.ok, "{}", out.stderr);
    let line = out.stdout.lines().find(|l| l.trim_start().starts_with("packet copies set aside: "))?;
    line.trim_start().trim_start_matches("packet copies set aside: ").split(' ').next()?.parse().ok()
}

/// smbdiag's messages, in order: command, message id, and status where shown.
fn messages(cap: &Path) -> Vec<String> {
    common::fields(cap, &["-Y", "smbdiag.message"], &["smbdiag.cmd", "smbdiag.msg_id", "smbdiag.status"]).into_iter().map(|r| r.join("|")).collect()
}

fn rules(cap: &Path) -> Vec<String> {
    let mut r: Vec<String> = common::findings(cap, &[]).into_iter().map(|f| f.rule).collect();
    r.sort();
    r
}

/// One capture point's frames alone, written by tshark.
fn one_point(cap: &Path, filter: &str, name: &str) -> PathBuf {
    let c = common::readable(cap);
    let out_path = common::scratch().home.join("caps").join(format!("{name}.pcapng"));
    let _ = std::fs::remove_file(&out_path);
    let out = common::tshark(&["-r", c.to_str().unwrap(), "-Y", filter, "-w", out_path.to_str().unwrap()]);
    assert!(out.ok, "{}", out.stderr);
    out_path
}

/// The copies capture decodes as its fullest capture point's view alone does,
/// and the summary counts as copies every frame beyond the view with the
/// fewest frames (where an offload's large segment stands for its pieces).
fn check(name: &str, point_field: &str) {
    let cap = common::lab_captures_dir().join(name);
    let by = frames_by_point(&cap, point_field);
    assert_eq!(by.len(), 2, "{name}: two capture points by {point_field}: {by:?}");
    let total: usize = by.values().sum();
    let fewest = *by.values().min().unwrap();
    assert_eq!(copies_in_summary(&cap), Some(total - fewest), "{name}: {by:?}");
    let (fullest, _) = by.iter().max_by_key(|(_, n)| **n).unwrap();
    let alone = one_point(&cap, &format!("tcp && {point_field} == {fullest}"), name);
    let (both, one) = (messages(&cap), messages(&alone));
    assert!(both.len() > 40, "{name}: {} messages", both.len());
    assert_eq!(both, one, "{name}: the copies changed what was decoded");
    assert_eq!(rules(&cap), rules(&alone), "{name}: the copies changed the findings");
    // Copies on one host are never two capture points.
    assert!(!rules(&cap).iter().any(|r| r.starts_with("path.")), "{name}");
}

#[test]
fn bridge_and_its_port_with_tcpdump_any() {
    // The bridge device sees the server's 64 KiB offload segments, the port their wire-sized pieces.
    check("copies_bridge.pcap", "sll.ifindex");
    assert!(!rules(&common::lab_captures_dir().join("copies_bridge.pcap")).contains(&"transport.packet_loss".to_string()));
}

#[test]
fn router_in_and_out_with_tcpdump_any() {
    // Each packet as it came in and, one TTL lower, as it went out.
    check("copies_router.pcap", "ip.ttl");
}

#[test]
fn two_interfaces_of_one_host_merged() {
    check("copies_two_interfaces.pcapng", "frame.interface_id");
}

#[test]
fn real_loss_among_copies_is_still_reported_on_real_retransmissions() {
    let name = "copies_bridge_loss.pcap";
    check(name, "sll.ifindex");
    let cap = common::lab_captures_dir().join(name);
    let loss: Vec<_> = common::findings(&cap, &[]).into_iter().filter(|f| f.rule == "transport.packet_loss").collect();
    assert_eq!(loss.len(), 1, "{name}");
    assert!(loss[0].text.contains("from the client 10.99.0.1 to the server 10.99.0.2"), "{}", loss[0].text);
    // Each frame it names is a new packet (an IP identification not seen
    // before) carrying bytes sent before: a retransmission, not a copy.
    let rows = common::fields(&cap, &["-Y", "tcp.len > 0 && ip.src == 10.99.0.1"], &["frame.number", "ip.id", "tcp.seq_raw"]);
    let related = loss[0].related.clone();
    assert!(related.len() >= 3, "{related:?}");
    for f in related {
        let Some(pos) = rows.iter().position(|r| r[0] == f.to_string()) else { panic!("frame {f} is no client data segment") };
        let (id, seq) = (&rows[pos][1], &rows[pos][2]);
        assert!(!rows[..pos].iter().any(|r| &r[1] == id), "frame {f}: IP id {id} seen before: a copy");
        assert!(rows[..pos].iter().any(|r| &r[2] == seq), "frame {f}: sequence {seq} never sent before");
    }
}

#[test]
fn a_capture_merged_with_itself_reads_as_the_capture() {
    // The issue's reproduction: mergecap of a healthy capture with itself.
    let src = common::lab_captures_dir().join("healthy.pcap");
    let dup = std::env::temp_dir().join(format!("smbdiag-dup-{}.pcapng", std::process::id()));
    let st = std::process::Command::new("mergecap").arg("-w").arg(&dup).arg(&src).arg(&src).status().expect("mergecap");
    assert!(st.success());
    let frames = common::fields(&src, &["-Y", "tcp"], &["frame.number"]).len();
    assert_eq!(copies_in_summary(&dup), Some(frames));
    assert_eq!(messages(&dup), messages(&src));
    assert_eq!(rules(&dup), rules(&src));
    assert!(!rules(&dup).contains(&"transport.packet_loss".to_string()));
    assert!(!rules(&dup).iter().any(|r| r.starts_with("path.")));
    let _ = std::fs::remove_file(&dup);
}
