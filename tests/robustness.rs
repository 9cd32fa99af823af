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
        if out.stderr.contains("panicked at") {
            problems.push(format!("{}: smbdiag panicked (caught at the FFI boundary): {}", cap.display(), out.stderr));
        }
        if text.lines().any(|l| l.contains("Malformed Packet: SMBDIAG") || l.contains("[Malformed Packet: smbdiag")) {
            problems.push(format!("{}: smbdiag marked a frame malformed", cap.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One mutated copy of a capture, made by editcap in the scratch folder.
fn mutate(cap: &std::path::Path, tag: &str, args: &[&str]) -> std::path::PathBuf {
    let src = common::readable(cap);
    let dst = src.with_file_name(format!("{}.{tag}.pcapng", src.file_name().unwrap().to_string_lossy()));
    let mut cmd = std::process::Command::new("editcap");
    cmd.args(args).arg(&src).arg(&dst);
    let out = cmd.output().expect("editcap (wireshark-common) installed");
    // editcap refuses Network Monitor event frames in every version, in its own
    // words ("can't be written" in 4.0, "can't be saved in a \"pcapng\" file"
    // from 4.4 on); the file is read for its magic only then.
    if !out.status.success() && std::fs::read(&src).unwrap().starts_with(b"GMBU") {
        return mutate_netmon(&src, tag, args);
    }
    assert!(out.status.success(), "editcap {args:?} {}: {}", cap.display(), String::from_utf8_lossy(&out.stderr));
    std::process::Command::new("chmod").arg("a+r").arg(&dst).status().unwrap();
    dst
}

/// What editcap does, for a Network Monitor 2.x file of network events (ETW
/// records), which editcap writes in no format: "-E rate --seed n" changes
/// each byte of each frame's data with that probability, "-s n" cuts each
/// frame's data to n bytes; record headers, trailers and frame table stay valid.
fn mutate_netmon(src: &std::path::Path, tag: &str, args: &[&str]) -> std::path::PathBuf {
    let d = std::fs::read(src).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize;
    let (table_at, table_len) = (u32_at(24), u32_at(28));
    let offsets: Vec<usize> = (0..table_len / 4).map(|i| u32_at(table_at + 4 * i)).collect();
    let (rate, seed, snap) = match args {
        ["-E", r, "--seed", n] => (r.parse::<f64>().unwrap(), n.parse::<u64>().unwrap(), usize::MAX),
        ["-s", n] => (0.0, 0, n.parse().unwrap()),
        _ => panic!("no Network Monitor mutation for {args:?}"),
    };
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = d[..128].to_vec();
    let mut table = Vec::new();
    for (i, &at) in offsets.iter().enumerate() {
        // Records lie one after another: the trailer runs to the next record (or the table).
        let end = offsets.get(i + 1).copied().unwrap_or(table_at);
        let incl = u32_at(at + 12);
        let mut data = d[at + 16..at + 16 + incl].to_vec();
        for b in data.iter_mut() {
            if (rnd() % 1_000_000) as f64 / 1e6 < rate {
                *b = rnd() as u8;
            }
        }
        data.truncate(snap);
        table.extend_from_slice(&(out.len() as u32).to_le_bytes());
        out.extend_from_slice(&d[at..at + 12]);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out.extend_from_slice(&d[at + 16 + incl..end]);
    }
    let table_at = out.len() as u32;
    out[24..28].copy_from_slice(&table_at.to_le_bytes());
    out.extend_from_slice(&table);
    let dst = src.with_file_name(format!("{}.{tag}.cap", src.file_name().unwrap().to_string_lossy()));
    std::fs::write(&dst, out).unwrap();
    std::process::Command::new("chmod").arg("a+r").arg(&dst).status().unwrap();
    dst
}

/// Every capture of the corpus and the lab, with random byte errors
/// (editcap -E 0.02, three seeds) and cut to short snaplens (64/128/256):
/// tshark with the plugin exits cleanly, reports no dissector bug, and
/// finishes within a bound (no hang).
#[test]
fn mutated_and_truncated_captures_never_crash_or_hang() {
    let mut caps = common::captures_under(&common::public_captures_dir());
    caps.extend(common::captures_under(&common::lab_captures_dir()));
    let variants: Vec<(String, Vec<String>)> = [1u32, 2, 3]
        .iter()
        .map(|s| (format!("E{s}"), vec!["-E".to_string(), "0.02".to_string(), "--seed".to_string(), s.to_string()]))
        .chain([64, 128, 256].iter().map(|n| (format!("s{n}"), vec!["-s".to_string(), n.to_string()])))
        .collect();
    let jobs: Vec<(std::path::PathBuf, String, Vec<String>)> =
        caps.iter().flat_map(|c| variants.iter().map(move |(t, a)| (c.clone(), t.clone(), a.clone()))).collect();
    let jobs = std::sync::Mutex::new(jobs.into_iter());
    let problems = std::sync::Mutex::new(Vec::new());
    let runs = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(4) {
            s.spawn(|| loop {
                let Some((cap, tag, args)) = jobs.lock().unwrap().next() else { break };
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let m = mutate(&cap, &tag, &args);
                let start = std::time::Instant::now();
                // -2 exercises the replay path too; "timeout" bounds a hang.
                let out = common::tshark(&["-o", "tcp.check_checksum:FALSE", "-r", m.to_str().unwrap(), "-2", "-Y", "smbdiag", "-T", "fields", "-e", "smbdiag.rule"]);
                let took = start.elapsed();
                let text = format!("{}{}", out.stdout, out.stderr);
                let mut p = problems.lock().unwrap();
                if !out.ok && !out.stderr.contains("appears to be damaged or corrupt") && !out.stderr.contains("cut short in the middle") {
                    p.push(format!("{} [{tag}]: tshark failed: {}", cap.display(), out.stderr));
                }
                // Wireshark's own dissectors trip on mutated bytes too (NEGOEX does,
                // with or without smbdiag): only smbdiag's own count here.
                // A panic is caught at the FFI boundary, but Rust's hook still prints it.
                if out.stderr.contains("panicked at") {
                    p.push(format!("{} [{tag}]: smbdiag panicked (caught): {}", cap.display(), out.stderr));
                }
                if text.contains("Dissector bug, protocol SMBDIAG") {
                    p.push(format!("{} [{tag}]: Dissector bug in smbdiag", cap.display()));
                }
                if took > std::time::Duration::from_secs(60) {
                    p.push(format!("{} [{tag}]: took {took:?}", cap.display()));
                }
                let _ = std::fs::remove_file(&m);
                runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    let runs = runs.into_inner();
    eprintln!("{runs} mutated captures through tshark");
    assert!(runs >= 500, "only {runs} runs");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
