//! The plugin loads into the real tshark and registers the field contract.

mod common;

use smbdiag_core::present::FIELDS;
use smbdiag_core::rules::catalog::RULES;

#[test]
fn tshark_lists_the_plugin() {
    let out = common::tshark(&["-G", "plugins"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.lines().any(|l| l.starts_with("smbdiag.so") && l.contains("dissector")), "plugin not loaded:\n{}", out.stdout);
}

#[test]
fn every_field_and_expert_item_is_registered() {
    let out = common::tshark(&["-G", "fields"]);
    assert!(out.ok, "{}", out.stderr);
    let registered: Vec<&str> = out.stdout.lines().filter_map(|l| l.split('\t').nth(2)).collect();
    // The contract users filter on, by name.
    for name in [
        "smbdiag.rule", "smbdiag.finding", "smbdiag.related_frame", "smbdiag.cmd", "smbdiag.status", "smbdiag.msg_id",
        "smbdiag.session_id", "smbdiag.tree_id", "smbdiag.tree", "smbdiag.file", "smbdiag.dialect", "smbdiag.auth",
        "smbdiag.user", "smbdiag.response_time", "smbdiag.request_frame", "smbdiag.response_frame",
    ] {
        assert!(registered.contains(&name), "{name} not registered");
    }
    for f in FIELDS {
        assert!(registered.contains(&f.abbrev), "{} not registered", f.abbrev);
    }
    for r in RULES {
        let name = format!("smbdiag.{}", r.id);
        assert!(registered.contains(&name.as_str()), "expert item {name} not registered");
    }
    // Types users rely on in filters.
    let ty = |n: &str| out.stdout.lines().find(|l| l.split('\t').nth(2) == Some(n)).and_then(|l| l.split('\t').nth(3)).unwrap_or("").to_string();
    assert_eq!(ty("smbdiag.cmd"), "FT_UINT16");
    assert_eq!(ty("smbdiag.status"), "FT_UINT32");
    assert_eq!(ty("smbdiag.msg_id"), "FT_UINT64");
    assert_eq!(ty("smbdiag.response_time"), "FT_RELATIVE_TIME");
    assert_eq!(ty("smbdiag.related_frame"), "FT_FRAMENUM");
}

#[test]
fn preferences_are_registered() {
    let out = common::tshark(&["-G", "defaultprefs"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("smbdiag.slow_response_ms: 1000"), "slow-response preference missing");
    assert!(out.stdout.contains("smbdiag.enable_perf: TRUE"));
}

#[test]
fn fields_filter_and_print_on_a_real_capture() {
    let cap = common::public_captures_dir().join("zeek-zeek/smb2.pcap");
    let rows = common::fields(&cap, &["-Y", "smbdiag.cmd == 3 && smbdiag.response_time >= 0"], &["frame.number", "smbdiag.cmd", "smbdiag.request_frame"]);
    // TREE_CONNECT responses of this capture, each pointing at its request.
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r[1], "3");
        let req: u32 = r[2].parse().unwrap();
        assert!(req < r[0].parse::<u32>().unwrap());
    }
}

#[test]
fn summary_statistics_print() {
    let cap = common::readable(&common::public_captures_dir().join("zeek-zeek/smb2.pcap"));
    let out = common::tshark(&["-r", cap.to_str().unwrap(), "-q", "-z", "smbdiag,summary"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("smbdiag summary: 1 SMB connection(s)"), "{}", out.stdout);
    assert!(out.stdout.contains("server 10.0.0.12:445"));
    assert!(out.stdout.contains("WRITE"));
}

#[test]
fn summary_names_connection_identity_traffic_errors_and_findings() {
    // The lab's lossy small-file copy: every part of the summary has something to say.
    let cap = common::readable(&common::lab_captures_dir().join("small_files_loss.pcap"));
    let out = common::tshark(&["-r", cap.to_str().unwrap(), "-q", "-z", "smbdiag,summary"]);
    assert!(out.ok, "{}", out.stderr);
    let s = &out.stdout;
    for want in [
        "client 10.99.0.1:",
        "server 10.99.0.2:445",
        "dialect: SMB 3.1.1",
        "messages signed",
        "auth: NTLMv2  users: WORKGROUP\\sdalice",
        "shares: \\\\10.99.0.2\\IPC$, \\\\10.99.0.2\\data",
        "files opened: 102",
        "bytes read: 204800",
        "STATUS_NOT_FOUND x1",
        "transport.packet_loss",
        "perf.small_files",
    ] {
        assert!(s.contains(want), "summary lacks {want:?}:\n{s}");
    }
    // Per-command request counts and percentiles: 100 READs of 100 files.
    assert!(s.lines().any(|l| l.trim_start().starts_with("READ") && l.split_whitespace().nth(1) == Some("100")), "{s}");
}

#[test]
fn statistics_tree_counts_findings_commands_and_statuses() {
    // The same tree Wireshark shows under Statistics → SMB Diagnostics.
    let cap = common::readable(&common::lab_captures_dir().join("small_files_loss.pcap"));
    let out = common::tshark(&["-r", cap.to_str().unwrap(), "-q", "-z", "smbdiag_stats,tree"]);
    assert!(out.ok, "{}", out.stderr);
    let count = |item: &str| -> Option<u64> {
        out.stdout.lines().find(|l| l.trim_start().starts_with(item)).and_then(|l| l[l.find(item)? + item.len()..].split_whitespace().next()?.parse().ok())
    };
    assert_eq!(count("transport.packet_loss"), Some(1), "{}", out.stdout);
    assert_eq!(count("perf.small_files"), Some(1));
    // 100 files read: 100 READ requests and 100 responses.
    assert_eq!(count("READ"), Some(200));
    assert_eq!(count("STATUS_NOT_FOUND"), Some(1));
}

/// How many `rule` findings tshark shows for a lab capture, with extra options.
fn rule_count(capture: &str, rule: &str, extra: &[&str]) -> usize {
    let cap = common::lab_captures_dir().join(capture);
    common::findings(&cap, extra).into_iter().filter(|r| r.rule == rule).count()
}

#[test]
fn loss_threshold_preference_is_honoured() {
    // small_files_loss.pcap loses about 6% of the client's segments: reported at
    // the default 0.5%, not when the threshold is raised to 10%.
    let rules = |extra: &[&str]| rule_count("small_files_loss.pcap", "transport.packet_loss", extra);
    assert_eq!(rules(&[]), 1);
    assert_eq!(rules(&["-o", "smbdiag.loss_rate_permille:100"]), 0);
    assert_eq!(rules(&["-o", "smbdiag.loss_rate_permille:5"]), 1);
}

#[test]
fn family_switch_preference_is_honoured() {
    // A boolean preference: its storage type changed in Wireshark 4.4
    // (gboolean to bool), so check that epan's writes reach the rules.
    let rules = |extra: &[&str]| rule_count("share_not_found.pcap", "tree.share_not_found", extra);
    assert_eq!(rules(&[]), 1);
    assert_eq!(rules(&["-o", "smbdiag.enable_tree:FALSE"]), 0);
    assert_eq!(rules(&["-o", "smbdiag.enable_tree:TRUE"]), 1);
    // Another family switched off leaves the tree rules alone.
    assert_eq!(rules(&["-o", "smbdiag.enable_perf:FALSE"]), 1);
}
