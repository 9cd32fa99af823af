//! Decode depth against two independent references: Wireshark's SMB2
//! dissector (share paths, file names, NTLM users, dialects) on every public
//! capture, and Zeek's expected smb_mapping.log / smb_files.log.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

/// (capture, frame, field, reason) where smbdiag and Wireshark legitimately differ.
const ALLOWED: &[(&str, u32, &str, &str)] = &[(
    "smb2-async__input.pcap",
    5,
    "file",
    "SET_INFO renaming the open: Wireshark shows the new name on the rename request, smbdiag the name the open had when the request was sent (later messages show the new name in both)",
)];

fn decode_as(name: &str) -> Vec<&'static str> {
    if name == "smb-length-5770__input.pcap" {
        vec!["-d", "tcp.port==4445,nbss"]
    } else {
        vec![]
    }
}

fn list(s: &str) -> Vec<String> {
    s.split('\u{1f}').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

fn rows(cap: &Path, names: &[&str]) -> Vec<Vec<String>> {
    let name = cap.file_name().unwrap().to_string_lossy().into_owned();
    let mut extra = decode_as(&name);
    extra.extend_from_slice(&["-E", "aggregator=\u{1f}"]);
    common::fields(cap, &extra, names)
        .into_iter()
        .map(|mut r| {
            r.resize(names.len(), String::new());
            r
        })
        .collect()
}

#[test]
fn trees_files_users_and_dialects_match_wireshark() {
    let caps = common::captures_under(&common::public_captures_dir());
    assert!(caps.len() >= 70);
    let mut failures = Vec::new();
    let mut counts = [(0usize, 0usize); 4];
    for cap in &caps {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let f = [
            "frame.number", "smb2.cmd", "smb2.tree", "smbdiag.tree", "smb2.filename", "smbdiag.file", "ntlmssp.auth.username",
            "ntlmssp.auth.domain", "smbdiag.user", "smb2.dialect", "smb2.flags.response", "smbdiag.dialect", "smb.cmd",
        ];
        for r in rows(cap, &f) {
            let frame: u32 = r[0].parse().unwrap();
            let allowed = |field: &str| ALLOWED.iter().any(|(c, fr, fl, _)| *c == name && *fr == frame && *fl == field);
            let cmds = list(&r[1]);
            // Share paths: every one Wireshark shows, smbdiag shows.
            let ws_tree = list(&r[2]);
            if !ws_tree.is_empty() {
                counts[0].1 += 1;
                let sd: BTreeSet<String> = list(&r[3]).into_iter().collect();
                if ws_tree.iter().all(|t| sd.contains(t)) || allowed("tree") {
                    counts[0].0 += 1;
                } else {
                    failures.push(format!("{name} frame {frame}: tree {ws_tree:?} vs smbdiag {sd:?}"));
                }
            }
            // File names: Wireshark also names directory entries (QUERY_DIRECTORY)
            // and names found in QUERY_INFO output; those are not the message's open.
            let ws_files = list(&r[4]);
            if !ws_files.is_empty() && !cmds.iter().any(|c| c == "14" || c == "16") {
                counts[1].1 += 1;
                let sd = list(&r[5]);
                let ok = ws_files.iter().all(|w| {
                    let w = w.trim_start_matches('\\');
                    // The share root: Wireshark "\" or "" (4.6 prints "<share>"), smbdiag the share path.
                    w.is_empty() || w == "<share>" || sd.iter().any(|s| s.to_lowercase().ends_with(&w.to_lowercase()))
                });
                if ok || allowed("file") {
                    counts[1].0 += 1;
                } else {
                    failures.push(format!("{name} frame {frame}: file {ws_files:?} vs smbdiag {sd:?}"));
                }
            }
            // NTLM users of SMB2 sessions (smbdiag decodes SMB1 only for negotiation;
            // Wireshark writes "NULL" for an empty name or domain).
            let user = r[6].clone();
            if !user.is_empty() && r[12].is_empty() && user != "NULL" {
                counts[2].1 += 1;
                let domain = if r[7] == "NULL" { String::new() } else { r[7].clone() };
                let want = if domain.is_empty() { user.clone() } else { format!("{domain}\\{user}") };
                if list(&r[8]).contains(&want) || allowed("user") {
                    counts[2].0 += 1;
                } else {
                    failures.push(format!("{name} frame {frame}: user {want:?} vs smbdiag {:?}", r[8]));
                }
            }
            // Dialect chosen, on NEGOTIATE responses (the SMB2 wildcard answer to an
            // SMB1 negotiate does not set the connection's dialect).
            if cmds == ["0"] && r[10] == "1" && !r[9].is_empty() && r[9] != "0x02ff" {
                counts[3].1 += 1;
                if list(&r[11]).contains(&r[9]) || allowed("dialect") {
                    counts[3].0 += 1;
                } else {
                    failures.push(format!("{name} frame {frame}: dialect {} vs smbdiag {:?}", r[9], r[11]));
                }
            }
        }
    }
    eprintln!("trees {:?} files {:?} users {:?} dialects {:?}", counts[0], counts[1], counts[2], counts[3]);
    assert!(counts.iter().all(|(_, n)| *n > 0), "each kind must be exercised: {counts:?}");
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn kerberos_spns_match_wireshark() {
    // Every SMB2 session setup carrying a Kerberos AP-REQ: smbdiag names the
    // service principal the client asked for, as Wireshark decodes it.
    let mut checked = 0;
    for cap in common::captures_under(&common::public_captures_dir()) {
        let rows = common::fields(
            &cap,
            &["-Y", "smb2.cmd == 1 && smb2.flags.response == 0 && kerberos.SNameString", "-E", "aggregator=,"],
            &["frame.number", "kerberos.SNameString", "kerberos.realm", "smbdiag.spn", "smbdiag.auth"],
        );
        for r in rows {
            let want = format!("{}@{}", r[1].replace(',', "/"), r[2].split(',').next().unwrap_or(""));
            assert_eq!(r.get(3), Some(&want), "{} frame {}: Wireshark SPN {want}, smbdiag {:?}", cap.display(), r[0], r.get(3));
            assert_eq!(r.get(4).map(String::as_str), Some("Kerberos"));
            checked += 1;
        }
    }
    assert!(checked >= 1, "no Kerberos session setup in the corpus");
}

/// Zeek's logs: `#fields` header, then tab-separated rows.
fn zeek_column(log: &Path, column: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut idx = None;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("#fields\t") {
            idx = h.split('\t').position(|c| c == column);
        } else if !line.starts_with('#') {
            if let Some(v) = idx.and_then(|i| line.split('\t').nth(i)) {
                // Zeek escapes backslashes in its logs.
                out.push(v.replace("\\\\", "\\"));
            }
        }
    }
    out
}

#[test]
fn shares_and_files_match_zeek_logs() {
    let pub_dir = common::public_captures_dir();
    let exp = pub_dir.join("zeek-zeek/expected");
    let cases = [
        ("scripts.base.protocols.smb.smb2", "zeek-zeek/smb2.pcap"),
        ("scripts.base.protocols.smb.smb3", "zeek-zeek/smb3.pcap"),
        ("scripts.base.protocols.smb.smb2-read-write", "zeek-zeek/smb2readwrite.pcap"),
        ("scripts.base.protocols.smb.smb3-multichannel", "zeek-zeek/smb3_multichannel.pcap"),
        ("scripts.base.protocols.smb.smb2-create-delete-on-close", "zeek-zeek/smb2.delete-on-close-perms-delete-existing.pcap"),
        ("scripts.base.protocols.smb.smb1", "zeek-zeek/smb1.pcap"),
    ];
    let mut checked = 0;
    for (folder, capname) in cases {
        let cap = pub_dir.join(capname);
        let r = common::fields(&cap, &["-2", "-E", "aggregator=\u{1f}"], &["smbdiag.tree", "smbdiag.file"]);
        let trees: BTreeSet<String> = r.iter().flat_map(|x| list(x.first().map(String::as_str).unwrap_or(""))).collect();
        let files: BTreeSet<String> = r.iter().flat_map(|x| list(x.get(1).map(String::as_str).unwrap_or(""))).collect();
        let mapping = exp.join(folder).join("smb_mapping.log");
        if mapping.exists() {
            for path in zeek_column(&mapping, "path") {
                // Zeek saw the share only inside encrypted traffic it cannot read? Then so can't we.
                checked += 1;
                assert!(trees.contains(&path), "{capname}: Zeek maps {path}, smbdiag trees {trees:?}");
            }
        }
        let smb_files = exp.join(folder).join("smb_files.log");
        if smb_files.exists() {
            for name in zeek_column(&smb_files, "name") {
                if name == "<share_root>" || name == "-" {
                    continue;
                }
                checked += 1;
                assert!(
                    files.iter().any(|f| f.to_lowercase().ends_with(&name.to_lowercase())),
                    "{capname}: Zeek opened {name}, smbdiag files {files:?}"
                );
            }
        }
    }
    assert!(checked >= 10, "only {checked} Zeek entries checked");
}
