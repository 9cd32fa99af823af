//! A finding's first line is a headline that fits Wireshark's 240-byte label
//! (the rule's title and the names it is about); the whole sentence stays in
//! `smbdiag.finding` and the details beneath; the expert item says the
//! headline and, when it fits, the next check.

mod common;

use smbdiag_core::rules::catalog::RULES;

#[test]
fn every_finding_line_is_a_whole_headline_and_the_sentence_stays_whole() {
    let mut long = 0;
    let mut problems = Vec::new();
    for cap in common::captures_under(&common::lab_captures_dir()) {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let found = common::findings(&cap, &[]);
        if found.is_empty() {
            continue;
        }
        let r = common::readable(&cap);
        let out = common::tshark(&["-r", r.to_str().unwrap(), "-V", "-Y", "smbdiag.rule"]);
        assert!(out.ok, "{}", out.stderr);
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("    Finding")).collect();
        for l in &lines {
            let title_ok = RULES.iter().any(|r| l.starts_with(&format!("    Finding: {}", r.title)));
            if l.contains("[truncated]") || !title_ok || l.trim_start().len() > 239 {
                problems.push(format!("{name}: {l}"));
            }
        }
        if lines.len() != found.len() {
            problems.push(format!("{name}: {} finding lines for {} findings", lines.len(), found.len()));
        }
        // The field keeps the sentence whole (labels only are cut).
        long += found.iter().filter(|f| f.text.len() > 240 && f.text.trim_end().ends_with('.')).count();
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(long >= 10, "only {long} findings longer than a label kept whole");
}

/// The names that matter, on the lab's cases: share, file, user.
#[test]
fn headlines_name_the_share_file_and_user() {
    let cases = [
        ("share_not_found.pcap", "Finding: Share not found (STATUS_BAD_NETWORK_NAME) — \\\\10.99.0.2\\projects"),
        ("file_access_denied.pcap", "Finding: Opening a file denied (CREATE STATUS_ACCESS_DENIED) — \\\\10.99.0.2\\data\\payroll.xlsx, user WORKGROUP\\sdalice"),
        ("account_locked.pcap", "Finding: Logon failed: account locked out — user WORKGROUP\\sdbob, STATUS_ACCOUNT_LOCKED_OUT"),
    ];
    for (cap, line) in cases {
        let r = common::readable(&common::lab_captures_dir().join(cap));
        let out = common::tshark(&["-r", r.to_str().unwrap(), "-V", "-Y", "smbdiag.rule"]);
        assert!(out.stdout.lines().any(|l| l == format!("    {line}")), "{cap}: no line {line:?} in\n{}", out.stdout);
    }
    // The expert item: headline and next check, short enough for the dialog and -z expert.
    let r = common::readable(&common::lab_captures_dir().join("account_locked.pcap"));
    let out = common::tshark(&["-r", r.to_str().unwrap(), "-q", "-z", "expert,error"]);
    assert!(out.ok, "{}", out.stderr);
    let row = out.stdout.lines().find(|l| l.contains("smbdiag.session.account_locked") || l.contains("Logon failed: account locked out"));
    let row = row.unwrap_or_else(|| panic!("no expert row in\n{}", out.stdout));
    assert!(row.contains("Logon failed: account locked out — user WORKGROUP\\sdbob"), "{row}");
}
