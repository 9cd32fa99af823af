//! The shipped configuration profile (profiles/smbdiag) in the real tshark:
//! it loads without complaint, colours smbdiag errors and warnings, its
//! filter buttons compile, and its columns show the smbdiag fields.

mod common;

fn unescape(s: &str) -> String {
    s.replace("\\x22", "\"").replace("\\x5c", "\\")
}

#[test]
fn profile_colours_columns_and_buttons_work() {
    common::install_profile();
    let lab = common::lab_captures_dir();
    // Colouring: the share-not-found warning and the refused connection's error.
    for (cap, frame, want) in [("share_not_found.pcap", "19", "smbdiag warning"), ("port_closed.pcap", "2", "smbdiag error"), ("healthy.pcap", "14", "smbdiag note")] {
        let c = common::readable(&lab.join(cap));
        let c = c.to_string_lossy();
        let out = common::tshark(&["-C", "smbdiag", "--color", "-r", &c, "-Y", &format!("frame.number == {frame}"), "-T", "fields", "-e", "frame.coloring_rule.name"]);
        assert!(out.ok, "{}", out.stderr);
        assert!(!out.stderr.contains("Could not compile"), "colorfilters do not compile: {}", out.stderr);
        assert_eq!(out.stdout.trim(), want, "{cap} frame {frame}");
    }
    // Columns: the default output carries the rule, tree and finding columns.
    let c = common::readable(&lab.join("share_not_found.pcap"));
    let c = c.to_string_lossy();
    let out = common::tshark(&["-C", "smbdiag", "-r", &c, "-Y", "frame.number == 19"]);
    assert!(out.stdout.contains("tree.share_not_found") && out.stdout.contains("\\\\10.99.0.2\\projects") && out.stdout.contains("Share not found"), "{}", out.stdout);
    // Buttons: each expression is a valid display filter and the family ones select something somewhere.
    let text = std::fs::read_to_string(common::repo_root().join("profiles/smbdiag/dfilter_buttons")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| l.starts_with('"')) {
        let fields: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
        assert_eq!(fields.len(), 4, "{line}");
        let expr = unescape(fields[2]);
        let out = common::tshark(&["-C", "smbdiag", "-r", &c, "-Y", &expr]);
        assert!(out.ok && !out.stderr.contains("rror"), "button {} filter {expr:?}: {}", fields[1], out.stderr);
        n += 1;
    }
    assert!(n >= 8);
    let tree_button = text.lines().find(|l| l.contains("\"tree\"")).map(|l| unescape(l.split("\",\"").nth(2).unwrap())).unwrap();
    let out = common::tshark(&["-C", "smbdiag", "-r", &c, "-Y", &tree_button, "-T", "fields", "-e", "frame.number"]);
    assert_eq!(out.stdout.trim(), "19");
}
