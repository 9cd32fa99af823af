//! A Wireshark exception raised while smbdiag adds its items (here the tree
//! item limit, `gui.max_tree_items`) must unwind C frames only: every run
//! ends, Wireshark reports its usual limit error for that frame, and the
//! frames after it are still analysed and shown. (Before the per-frame items
//! became plain data added by the shim, the exception skipped the Rust frames
//! holding the analyzer's lock and the next frame waited for ever.)

mod common;

use std::collections::BTreeMap;

/// `tshark -V` text split per frame: frame number -> its lines.
fn sections(stdout: &str) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    let mut cur: Option<(u32, String)> = None;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("Frame ").and_then(|r| r.split(':').next()).and_then(|n| n.parse().ok()) {
            if let Some((k, v)) = cur.take() {
                out.insert(k, v);
            }
            cur = Some((n, String::new()));
        }
        if let Some((_, v)) = cur.as_mut() {
            v.push_str(line);
            v.push('\n');
        }
    }
    if let Some((k, v)) = cur {
        out.insert(k, v);
    }
    out
}

#[test]
fn tree_item_limit_never_hangs_and_later_frames_are_still_analysed() {
    let caps = common::captures_under(&common::lab_captures_dir());
    assert!(!caps.is_empty());
    let limits = [50u32, 130, 250, 500];
    let jobs = std::sync::Mutex::new(caps.into_iter());
    let problems = std::sync::Mutex::new(Vec::new());
    // Runs where a frame after smbdiag's own limit report still shows a finding.
    let shown_after_limit = std::sync::Mutex::new(Vec::new());
    let limit_reports = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(cap) = jobs.lock().unwrap().next() else {
                    break;
                };
                let r = common::readable(&cap);
                let r = r.to_str().unwrap();
                // Where the findings are without a limit (the default is far above any frame here).
                let expected = common::findings(&cap, &[]);
                let frames = common::fields(&cap, &[], &["frame.number"]).len();
                for &n in &limits {
                    let limit = format!("gui.max_tree_items:{n}");
                    let name = format!("{} at {limit}", cap.file_name().unwrap().to_string_lossy());
                    let Some(out) = common::tshark_bounded(60, &["-r", r, "-o", &limit, "-V"]) else {
                        problems.lock().unwrap().push(format!("{name}: did not end within 60 s (hang)"));
                        continue;
                    };
                    let mut p = Vec::new();
                    if !out.ok {
                        p.push(format!("{name}: tshark failed: {}", out.stderr));
                    }
                    let secs = sections(&out.stdout);
                    if secs.len() != frames {
                        p.push(format!("{name}: {} of {frames} frames printed", secs.len()));
                    }
                    let mut first_limit: Option<u32> = None;
                    for (&f, text) in &secs {
                        for l in text.lines().filter(|l| l.contains("Dissector bug, protocol SMBDIAG")) {
                            // Only Wireshark's own limit report, never a bug of smbdiag's.
                            if !l.contains(&format!("would put more than {n} items in the tree")) {
                                p.push(format!("{name}: frame {f}: {l}"));
                            }
                            first_limit.get_or_insert(f);
                            limit_reports.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    for e in &expected {
                        let Some(text) = secs.get(&e.frame) else {
                            continue;
                        };
                        let cut = text.contains("Dissector bug, protocol SMBDIAG");
                        // A frame smbdiag added all its items to shows each finding.
                        if !cut && !text.contains(&format!("Rule: {}\n", e.rule)) {
                            p.push(format!("{name}: frame {}: finding {} missing", e.frame, e.rule));
                        }
                        if !cut && first_limit.is_some_and(|l| l < e.frame) {
                            shown_after_limit.lock().unwrap().push(format!("{name}: {} on frame {}", e.rule, e.frame));
                        }
                    }
                    problems.lock().unwrap().extend(p);
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The limits chosen do cut smbdiag's own items short somewhere, and a
    // finding on a later frame of the same run still appears.
    assert!(limit_reports.into_inner() > 0, "no run hit the limit inside smbdiag");
    let shown = shown_after_limit.into_inner().unwrap();
    assert!(!shown.is_empty(), "no finding shown after a limit report");
    eprintln!("findings shown after smbdiag's limit report: {}", shown.join("; "));
}
