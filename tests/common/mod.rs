//! Running the real tshark with the built plugin loaded.
//!
//! Wireshark ignores personal plugins when run as root, so as root tshark runs
//! as `nobody` (setpriv) with HOME set to a scratch folder that holds the
//! plugin under `.local/lib/wireshark/plugins/<major.minor>/epan/`; captures
//! are copied there so that user can read them. As a normal user it runs
//! directly with the scratch HOME.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Scratch {
    pub home: PathBuf,
    /// A HOME without the plugin: Wireshark alone, to tell its own failures from smbdiag's.
    pub bare_home: PathBuf,
    pub as_nobody: bool,
}

fn target_dir() -> PathBuf {
    // The test binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("test exe");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The public corpus bundled with the repository (`tests/captures/public`,
/// provenance and licences in its MANIFEST.md).
pub fn public_captures_dir() -> PathBuf {
    repo_root().join("tests/captures/public")
}

/// The lab's captures; SMBDIAG_LAB_CAPTURES points the tests at a freshly
/// regenerated set (`SDLAB_OUT=dir tests/lab/make-captures.sh`) before it replaces the committed one.
pub fn lab_captures_dir() -> PathBuf {
    std::env::var_os("SMBDIAG_LAB_CAPTURES").map(PathBuf::from).unwrap_or_else(|| repo_root().join("tests/captures/lab"))
}

pub fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let so = target_dir().join("libsmbdiag.so");
        assert!(so.exists(), "{} not built", so.display());
        let home = std::env::temp_dir().join(format!("smbdiag-test-{}", std::process::id()));
        let ver = format!("{}.{}", env!("SMBDIAG_WS_MAJOR"), env!("SMBDIAG_WS_MINOR"));
        let plugdir = home.join(format!(".local/lib/wireshark/plugins/{ver}/epan"));
        std::fs::create_dir_all(&plugdir).unwrap();
        std::fs::create_dir_all(home.join("caps")).unwrap();
        // An empty global plugin folder: a smbdiag.so installed globally (by
        // scripts/setup.sh as root, say) must not stand in for the one under test.
        std::fs::create_dir_all(home.join("no-global-plugins")).unwrap();
        std::fs::copy(&so, plugdir.join("smbdiag.so")).unwrap();
        let bare_home = home.join("bare-home");
        std::fs::create_dir_all(&bare_home).unwrap();
        let as_nobody = unsafe { libc::geteuid() } == 0;
        if as_nobody {
            // nobody must be able to read the plugin and write its own config dirs.
            Command::new("chmod").args(["-R", "a+rwX"]).arg(&home).status().unwrap();
            // The temp folder must let nobody through; add that, never take anything away.
            Command::new("chmod").arg("o+x").arg(std::env::temp_dir()).status().ok();
        }
        Scratch { home, bare_home, as_nobody }
    })
}

/// A capture path tshark (possibly as nobody) can read.
pub fn readable(capture: &Path) -> PathBuf {
    let s = scratch();
    if !s.as_nobody {
        return capture.to_path_buf();
    }
    let name = capture.to_string_lossy().replace(['/', '\\'], "_");
    let dst = s.home.join("caps").join(name);
    if !dst.exists() {
        std::fs::copy(capture, &dst).unwrap();
        Command::new("chmod").arg("a+r").arg(&dst).status().unwrap();
    }
    dst
}

pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub ok: bool,
    /// The signal that ended tshark (6 when it aborted), if one did.
    pub signal: Option<i32>,
}

/// Which tshark runs: with the plugin under test, or Wireshark alone (same
/// user, same empty global plugin folder, a HOME without the plugin).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Plugin {
    Loaded,
    Absent,
}

/// Run tshark with the plugin; arguments as given (capture paths must come from `readable`).
pub fn tshark(args: &[&str]) -> Output {
    let out = tshark_command(Plugin::Loaded, args).output().expect("run tshark (is it installed?)");
    output(out.status, out.stdout, out.stderr)
}

/// `tshark`, killed (SIGKILL: a hung tshark may ignore SIGTERM) when it has
/// not ended after `limit`: None then, and only then. A tshark that ends by a
/// signal of its own (an abort) is an Output with `signal` set, never a hang.
pub fn tshark_bounded(limit: std::time::Duration, plugin: Plugin, args: &[&str]) -> Option<Output> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = tshark_command(plugin, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tshark (is it installed?)");
    // Both pipes are drained while waiting: tshark -V fills a pipe long before it ends.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + limit;
    // setpriv and env exec tshark, so the child is tshark itself.
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for tshark") {
            break Some(st);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    status.map(|st| output(st, out, err))
}

fn output(status: std::process::ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>) -> Output {
    use std::os::unix::process::ExitStatusExt;
    Output {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        ok: status.success(),
        signal: status.signal(),
    }
}

fn tshark_command(plugin: Plugin, args: &[&str]) -> Command {
    let s = scratch();
    let home = match plugin {
        Plugin::Loaded => &s.home,
        Plugin::Absent => &s.bare_home,
    };
    let mut argv: Vec<String> = Vec::new();
    if s.as_nobody {
        argv.extend(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env"].map(String::from));
        argv.push(format!("HOME={}", home.display()));
        argv.push(format!("WIRESHARK_PLUGIN_DIR={}", s.home.join("no-global-plugins").display()));
    }
    argv.push("tshark".into());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if !s.as_nobody {
        cmd.env("HOME", home);
        cmd.env("WIRESHARK_PLUGIN_DIR", s.home.join("no-global-plugins"));
    }
    cmd.args(args).current_dir(&s.home);
    cmd
}

/// `tshark -r CAP [-2] [-Y FILTER] -T fields -e ...` as rows of columns
/// (multiple occurrences joined by ','). `extra` goes before the fields.
pub fn fields(capture: &Path, extra: &[&str], names: &[&str]) -> Vec<Vec<String>> {
    let cap = readable(capture);
    let cap = cap.to_string_lossy().into_owned();
    // Defaults first: tshark keeps the last -E of a kind, so callers may override.
    let mut args: Vec<&str> = vec!["-r", &cap];
    args.extend_from_slice(&["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "quote=n"]);
    args.extend_from_slice(extra);
    for n in names {
        args.push("-e");
        args.push(n);
    }
    let out = tshark(&args);
    assert!(out.ok, "tshark failed on {}: {}", capture.display(), out.stderr);
    let aggregator = last_option(&args, "aggregator=").unwrap_or(",");
    out.stdout
        .lines()
        .map(|l| l.split('\t').enumerate().map(|(i, v)| normalise_field(v, names.get(i).copied().unwrap_or(""), aggregator)).collect())
        .collect()
}

/// The value of the last `-E KEY...` option (tshark keeps the last one).
fn last_option<'a>(args: &[&'a str], key: &str) -> Option<&'a str> {
    args.windows(2).rev().find_map(|w| if w[0] == "-E" { w[1].strip_prefix(key) } else { None })
}

/// From Wireshark 4.4 on, tshark's `-T fields` output escapes backslashes in
/// strings (`\\srv\share` prints as `\\\\srv\\share`) and prints booleans
/// as True/False instead of 1/0. This brings a 4.4+ value back to the 4.0
/// form, so the tests compare exactly the same values on every version.
/// `aggregator` separates the occurrences of one field.
pub fn normalise_field(value: &str, field: &str, aggregator: &str) -> String {
    let version: (u32, u32) = (env!("SMBDIAG_WS_MAJOR").parse().unwrap(), env!("SMBDIAG_WS_MINOR").parse().unwrap());
    if version < (4, 4) {
        return value.to_string();
    }
    if boolean_fields().contains(field) {
        let one = |v: &str| match v {
            "True" => "1".to_string(),
            "False" => "0".to_string(),
            other => other.to_string(),
        };
        return value.split(aggregator).map(one).collect::<Vec<_>>().join(aggregator);
    }
    unescape_backslashes(value)
}

/// `\\` back to `\`; tshark 4.4+ escapes nothing else that these tests print.
fn unescape_backslashes(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                // Any other escape would be a change this normalisation does not know: keep it visible.
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Abbreviations of every FT_BOOLEAN field (from `tshark -G fields`), asked once.
fn boolean_fields() -> &'static std::collections::HashSet<String> {
    static B: OnceLock<std::collections::HashSet<String>> = OnceLock::new();
    B.get_or_init(|| {
        let out = tshark(&["-G", "fields"]);
        assert!(out.ok, "tshark -G fields failed: {}", out.stderr);
        out.stdout
            .lines()
            .filter_map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                (c.first() == Some(&"F") && c.get(3) == Some(&"FT_BOOLEAN")).then(|| c[2].to_string())
            })
            .collect()
    })
}

/// Findings as (frame, rule, finding text, related frames).
pub struct FindingRow {
    pub frame: u32,
    pub rule: String,
    pub text: String,
    pub related: Vec<u32>,
}

/// Every finding tshark shows for a capture, one row per finding.
pub fn findings(capture: &Path, extra: &[&str]) -> Vec<FindingRow> {
    // Rules and sentences come aggregated per frame; the separator is chosen
    // so a sentence (which may hold commas) splits cleanly.
    let cap = readable(capture);
    let cap = cap.to_string_lossy().into_owned();
    let mut args: Vec<&str> = vec!["-r", &cap];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "-Y", "smbdiag.rule", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=\u{1f}", "-E", "quote=n",
        "-e", "frame.number", "-e", "smbdiag.rule", "-e", "smbdiag.finding", "-e", "smbdiag.related_frame",
    ]);
    let out = tshark(&args);
    assert!(out.ok, "tshark failed on {}: {}", capture.display(), out.stderr);
    let mut rows = Vec::new();
    for line in out.stdout.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame: u32 = cols[0].parse().unwrap();
        let rules: Vec<&str> = cols.get(1).map(|c| c.split('\u{1f}').collect()).unwrap_or_default();
        let texts: Vec<String> = cols.get(2).map(|c| c.split('\u{1f}').map(|t| normalise_field(t, "smbdiag.finding", "\u{1f}")).collect()).unwrap_or_default();
        let related: Vec<u32> = cols.get(3).map(|c| c.split('\u{1f}').filter_map(|x| x.parse().ok()).collect()).unwrap_or_default();
        for (i, r) in rules.iter().enumerate() {
            rows.push(FindingRow {
                frame,
                rule: r.to_string(),
                text: texts.get(i).cloned().unwrap_or_default(),
                // Related frames of all findings of the frame (Wireshark flattens them).
                related: related.clone(),
            });
        }
    }
    rows
}

/// Every capture file under a folder, sorted.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(ext) = p.extension().and_then(|e| e.to_str()) {
                if ["pcap", "pcapng", "cap"].contains(&ext) {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

/// Install the repo's configuration profile (profiles/smbdiag) in the scratch
/// HOME, for `tshark -C smbdiag`.
pub fn install_profile() {
    let s = scratch();
    let dst = s.home.join(".config/wireshark/profiles/smbdiag");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(repo_root().join("profiles/smbdiag")).unwrap().flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    if s.as_nobody {
        Command::new("chmod").args(["-R", "a+rwX"]).arg(s.home.join(".config")).status().unwrap();
    }
}
