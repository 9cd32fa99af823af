//! Run the smbdiag core over a pcap/pcapng file without Wireshark and print
//! what it reports per frame: `smbdiag-cli FILE [--summary] [--keys KEYS] [--ntlm-passwords P] [--keytab FILE]`
//! (KEYS, P and FILE as the preferences smbdiag.session_keys, smbdiag.ntlm_passwords and smbdiag.keytab take them).

use std::io::{BufWriter, Write};

use smbdiag_core::capture_file::for_each_frame as for_each_frame_in;
use smbdiag_core::{Analyzer, Config, FrameInput, LinkType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--rules-md") {
        print!("{}", smbdiag_core::rules::catalog::markdown());
        return;
    }
    if args.get(1).map(String::as_str) == Some("--profile") {
        let Some(dir) = args.get(2) else { usage() };
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for (name, text) in smbdiag_core::profile::files() {
            std::fs::write(format!("{dir}/{name}"), text).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("--bench") {
        let Some(path) = args.get(2) else { usage() };
        bench(path, args.get(3).and_then(|n| n.parse().ok()).unwrap_or(3));
        return;
    }
    let Some(path) = args.get(1) else { usage() };
    let mut config = Config::default();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    if arg("--keys").is_some() || arg("--ntlm-passwords").is_some() || arg("--keytab").is_some() {
        let mut t = smbdiag_core::smb::crypto::keys::KeyTable::default();
        t.add_preference(arg("--keys").map_or("", String::as_str));
        t.add_ntlm_preference(arg("--ntlm-passwords").map_or("", String::as_str));
        t.add_keytab_file(arg("--keytab").map_or("", String::as_str));
        for e in &t.errors {
            eprintln!("{e}");
        }
        config.keys = std::sync::Arc::new(t);
    }
    let mut an = Analyzer::new(config);
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let res = for_each_frame(path, &mut |input| {
        if let Some(r) = an.dissect(&input) {
            for m in &r.messages {
                let _ = writeln!(out, "{}\t{}\t{}\t{:?}{}", input.number, m.msg_id, m.cmd.0, m.status.map(|s| s.0), m.decrypted.map(|c| format!("\tdecrypted {c}")).unwrap_or_default());
            }
            for fi in &r.findings {
                let _ = writeln!(out, "{}\t{}\t{}", input.number, fi.rule.id, fi.text);
            }
        }
    });
    if let Err(e) = res {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
    if args.iter().any(|a| a == "--summary") {
        let _ = write!(out, "{}", an.summary_text());
    }
}

fn usage() -> ! {
    eprintln!("usage: smbdiag-cli FILE [--summary] [--keys KEYS] [--ntlm-passwords P] [--keytab FILE] | --bench FILE [ROUNDS] | --rules-md | --profile DIR");
    std::process::exit(2);
}

/// The core alone over a capture held in memory: throughput in MB/s and
/// frames/s (best of ROUNDS), and what it keeps afterwards.
fn bench(path: &str, rounds: u32) {
    let data = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    // Decode the file once into owned frames so only the core is timed.
    let mut frames: Vec<(u32, i64, LinkType, Vec<u8>)> = Vec::new();
    if let Err(e) = for_each_frame_in(&data, &mut |i| frames.push((i.number, i.ts_ns, i.link, i.data.to_vec()))) {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
    let bytes: usize = frames.iter().map(|f| f.3.len()).sum();
    let mut best = f64::MAX;
    let mut kept = 0;
    for _ in 0..rounds.max(1) {
        let mut an = Analyzer::new(Config::default());
        let t = std::time::Instant::now();
        for (number, ts_ns, link, d) in &frames {
            std::hint::black_box(an.dissect(&FrameInput { number: *number, ts_ns: *ts_ns, link: *link, data: d, interface: None }));
        }
        best = best.min(t.elapsed().as_secs_f64());
        kept = an.reports().len();
    }
    println!(
        "{path}: {} frames, {:.1} MB in {:.3} s: {:.0} MB/s, {:.0} frames/s; {} frames with a report",
        frames.len(),
        bytes as f64 / 1e6,
        best,
        bytes as f64 / 1e6 / best,
        frames.len() as f64 / best,
        kept
    );
}

fn for_each_frame(path: &str, f: &mut dyn FnMut(FrameInput<'_>)) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    for_each_frame_in(&data, f)
}
