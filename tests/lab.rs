//! The lab's captures (tests/lab/make-captures.sh: real smbd and smbclient in
//! network namespaces) through the real tshark with the plugin: each
//! scenario's expected findings on the exact frame Wireshark's own dissector
//! locates, with their evidence; no warning or error that is not expected.

mod common;

use std::path::Path;

use smbdiag_core::rules::catalog::{self, Severity};

struct Expect {
    rule: String,
    filter: String,
    pick: String,
    evidence: Vec<String>,
}

fn read_expect(path: &Path) -> Vec<Expect> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 4, "{}: bad line {l:?}", path.display());
            Expect { rule: c[0].into(), filter: c[1].into(), pick: c[2].into(), evidence: c[3].split(';').map(str::to_string).collect() }
        })
        .collect()
}

/// Frames Wireshark's dissectors select with the filter.
fn wireshark_frames(cap: &Path, keys: &[String], filter: &str) -> Vec<u32> {
    let mut extra: Vec<&str> = keys.iter().map(String::as_str).collect();
    extra.extend_from_slice(&["-Y", filter]);
    common::fields(cap, &extra, &["frame.number"]).iter().filter_map(|r| r.first()?.parse().ok()).collect()
}

/// The session keys recorded beside an encrypted scenario (`<name>.keys`), as
/// tshark options filling Wireshark's SMB2 key table, which both Wireshark and
/// smbdiag read. Session id and session key only: smbdiag derives the rest.
pub fn key_options(cap: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(cap.with_extension("keys")) else { return Vec::new() };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ["-o".to_string(), format!("uat:smb2_seskey_list:{},{},\"\",\"\"", f[0], f[1])]
        })
        .collect()
}

fn is_alarm(rule: &str) -> bool {
    catalog::by_id(rule).is_some_and(|r| matches!(r.severity, Severity::Warn | Severity::Error))
}

fn check_scenario(expect_file: &Path) -> Vec<String> {
    // A capture merged from several interfaces is a pcapng; a netsh trace in Network Monitor format a .cap.
    let cap = ["pcap", "pcapng", "cap"].map(|x| expect_file.with_extension(x)).into_iter().find(|p| p.exists()).unwrap_or_else(|| expect_file.with_extension("pcap"));
    let name = cap.file_name().unwrap().to_string_lossy().into_owned();
    let expects = read_expect(expect_file);
    let keys = key_options(&cap);
    let found = common::findings(&cap, &keys.iter().map(String::as_str).collect::<Vec<_>>());
    let mut errors = Vec::new();
    let mut accounted = Vec::new();
    for e in &expects {
        assert!(catalog::by_id(&e.rule).is_some(), "{name}: unknown rule {}", e.rule);
        let frames = wireshark_frames(&cap, &keys, &e.filter);
        if frames.is_empty() {
            errors.push(format!("{name}: Wireshark finds no frame for {:?}: the capture does not show the scenario", e.filter));
            continue;
        }
        let ok_frame = |f: u32| -> bool {
            match e.pick.as_str() {
                "first" => frames.first() == Some(&f),
                "last" => frames.last() == Some(&f),
                "any" => frames.contains(&f),
                p => p.strip_prefix("nth:").and_then(|n| n.parse::<usize>().ok()).and_then(|n| frames.get(n - 1)) == Some(&f),
            }
        };
        match found.iter().find(|r| r.rule == e.rule && ok_frame(r.frame)) {
            Some(r) => {
                accounted.push((r.frame, r.rule.clone()));
                for ev in &e.evidence {
                    if !r.text.contains(ev.as_str()) {
                        errors.push(format!("{name}: {} on frame {} lacks evidence {ev:?}: {}", e.rule, r.frame, r.text));
                    }
                }
                if r.related.is_empty() && e.rule != "security.smb1" && e.rule != "transport.packet_loss" || r.related.iter().any(|&f| f == 0) {
                    // Every finding but the per-connection ones points at its evidence.
                    errors.push(format!("{name}: {} on frame {} names no related frame", e.rule, r.frame));
                }
            }
            None => {
                let got: Vec<String> = found.iter().map(|r| format!("{}@{}", r.rule, r.frame)).collect();
                errors.push(format!("{name}: expected {} on the {} of frames {:?} ({}); smbdiag raised {got:?}", e.rule, e.pick, frames, e.filter));
            }
        }
    }
    for r in &found {
        if is_alarm(&r.rule) && !accounted.contains(&(r.frame, r.rule.clone())) {
            errors.push(format!("{name}: unexpected {} on frame {}: {}", r.rule, r.frame, r.text));
        }
    }
    errors
}

#[test]
fn every_lab_scenario_raises_exactly_its_findings() {
    let dir = common::lab_captures_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "expect"))
        .collect();
    files.sort();
    assert!(files.len() >= 19, "lab scenarios missing: {}", files.len());
    let mut errors = Vec::new();
    let mut with_findings = 0;
    for f in &files {
        if !read_expect(f).is_empty() {
            with_findings += 1;
        }
        errors.extend(check_scenario(f));
    }
    assert!(with_findings >= 15);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn clean_captures_raise_no_alarm() {
    // The healthy, clean-transfer and posture captures: notes at most.
    for name in ["healthy", "small_files_clean", "large_file_clean", "signing_required", "encryption_required"] {
        let cap = common::lab_captures_dir().join(format!("{name}.pcap"));
        let alarms: Vec<String> =
            common::findings(&cap, &[]).into_iter().filter(|r| is_alarm(&r.rule)).map(|r| format!("{}@{}: {}", r.rule, r.frame, r.text)).collect();
        assert!(alarms.is_empty(), "{name}: {alarms:#?}");
    }
}

#[test]
fn signing_required_session_is_not_called_unsigned() {
    let cap = common::lab_captures_dir().join("signing_required.pcap");
    let f = common::findings(&cap, &[]);
    assert!(!f.iter().any(|r| r.rule == "security.unsigned_session"), "signed session reported unsigned");
    // While the same client against the default server is.
    let cap = common::lab_captures_dir().join("healthy.pcap");
    assert!(common::findings(&cap, &[]).iter().any(|r| r.rule == "security.unsigned_session"));
}
