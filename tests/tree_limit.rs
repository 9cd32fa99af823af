//! A Wireshark exception raised while smbdiag adds its items (here the tree
//! item limit, `gui.max_tree_items`) must unwind C frames only: every run
//! ends, Wireshark reports its usual limit error for that frame, and the
//! frames after it are still analysed and shown. (Before the per-frame items
//! became plain data added by the shim, the exception skipped the Rust frames
//! holding the analyzer's lock and the next frame waited for ever.)
//!
//! Wireshark 4.6 itself aborts (SIGABRT, "Unhandled exception ... Adding
//! frame.encoding") on some frames that reach the limit: its frame dissector
//! adds that item outside any TRY. smbdiag, a postdissector, runs after it and
//! cannot cause or prevent that; such a run counts as Wireshark's own only when
//! Wireshark without the plugin ends the same way after the same frames, and
//! every frame printed before it is still checked.

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

/// How a run that did not succeed ended: the signal, and stderr's last line
/// (Wireshark's "Unhandled exception (...)" on an abort).
fn ending(out: &common::Output) -> (Option<i32>, String) {
    (out.signal, out.stderr.lines().last().unwrap_or("").to_string())
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
    // Runs that Wireshark without smbdiag ends the same way (see the module comment).
    let wireshark_own = std::sync::Mutex::new(Vec::new());
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
                    // -l: each frame is flushed once printed, so a run that aborts still shows every frame before it.
                    let args = ["-r", r, "-o", &limit, "-V", "-l"];
                    // Every run here takes about a second; 60 s leaves room for a busy machine.
                    let bound = std::time::Duration::from_secs(60);
                    let Some(out) = common::tshark_bounded(bound, common::Plugin::Loaded, &args) else {
                        problems.lock().unwrap().push(format!("{name}: did not end within 60 s (hang)"));
                        continue;
                    };
                    let mut p = Vec::new();
                    let secs = sections(&out.stdout);
                    // The frames a complete run prints; fewer only where Wireshark alone stops there too.
                    let mut printed = frames;
                    if !out.ok {
                        let alone = common::tshark_bounded(bound, common::Plugin::Absent, &args);
                        match alone {
                            Some(a) if !a.ok && ending(&a) == ending(&out) => {
                                printed = sections(&a.stdout).len();
                                wireshark_own.lock().unwrap().push(format!("{name}: {:?} after frame {printed}", ending(&a)));
                            }
                            _ => p.push(format!("{name}: tshark failed (signal {:?}), not without smbdiag: {}", out.signal, out.stderr)),
                        }
                    }
                    if secs.len() != printed {
                        p.push(format!("{name}: {} of {printed} frames printed", secs.len()));
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
    let own = wireshark_own.into_inner().unwrap();
    if !own.is_empty() {
        eprintln!("runs Wireshark ends the same way without smbdiag ({}):\n{}", own.len(), own.join("\n"));
    }
    let shown = shown_after_limit.into_inner().unwrap();
    assert!(!shown.is_empty(), "no finding shown after a limit report");
    eprintln!("findings shown after smbdiag's limit report: {}", shown.join("; "));
}
