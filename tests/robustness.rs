//! tshark with the plugin survives every capture: exit 0, no "Dissector bug",
//! no malformed-packet marks of smbdiag's own.

mod common;

#[test]
fn every_public_capture_runs_clean() {
    let caps = common::captures_under(&common::public_captures_dir());
    assert!(!caps.is_empty());
    let mut problems = Vec::new();
    for cap in caps.iter().chain(common::captures_under(&common::lab_captures_dir()).iter()) {
        let r = common::readable(cap);
        let out = common::tshark(&["-r", r.to_str().unwrap(), "-2", "-V", "-Y", "smbdiag"]);
        let text = format!("{}{}", out.stdout, out.stderr);
        if !out.ok {
            problems.push(format!("{}: tshark failed: {}", cap.display(), out.stderr));
        }
        if text.contains("Dissector bug") {
            problems.push(format!("{}: Dissector bug", cap.display()));
        }
        if text.lines().any(|l| l.contains("Malformed Packet: SMBDIAG") || l.contains("[Malformed Packet: smbdiag")) {
            problems.push(format!("{}: smbdiag marked a frame malformed", cap.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
