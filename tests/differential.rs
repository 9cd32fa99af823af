//! Differential test against Wireshark's own SMB2 dissector: on every frame of
//! every public capture, the SMB2 messages smbdiag reports (message id,
//! command, non-zero status) equal what `smb2.msg_id`, `smb2.cmd` and
//! `smb2.nt_status` say, with one tshark run per capture.

mod common;

use std::collections::BTreeMap;

/// Frames where Wireshark and smbdiag legitimately differ, with the reason.
const ALLOWED: &[(&str, u32, &str)] = &[
    (
        "smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap",
        193,
        "frame 191 was removed from this capture, cutting a READ response: Wireshark drops the message, smbdiag decodes its header and notes the truncation (decode.truncated)",
    ),
];

/// Captures where Wireshark only decodes SMB when told the port (smbdiag
/// detects SMB by its framing on any port).
const DECODE_AS: &[(&str, &str)] = &[("smb-length-5770__input.pcap", "tcp.port==4445,nbss")];

/// Per frame: the messages (id, command), the non-zero statuses, and whether
/// the status field occurs more often than there are messages (Wireshark
/// reuses `smb2.nt_status` for statuses nested in bodies, e.g. inside a
/// create context; only header statuses are comparable).
type PerFrame = BTreeMap<u32, (Vec<(u64, u16)>, Vec<u32>, bool)>;

fn split<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',').filter(|x| !x.is_empty()).filter_map(|x| x.trim_start_matches("0x").parse().ok().or_else(|| None)).collect()
}

fn hex_list(s: &str) -> Vec<u32> {
    s.split(',').filter(|x| !x.is_empty()).filter_map(|x| u32::from_str_radix(x.trim_start_matches("0x"), 16).ok()).collect()
}

fn collect(rows: &[Vec<String>], base: usize) -> PerFrame {
    let mut m = PerFrame::new();
    for r in rows {
        let frame: u32 = r[0].parse().unwrap();
        let ids: Vec<u64> = split(&r[base]);
        let cmds: Vec<u16> = split(&r[base + 1]);
        let all = hex_list(&r[base + 2]);
        let nested = all.len() > ids.len();
        let mut statuses: Vec<u32> = all.into_iter().filter(|s| *s != 0).collect();
        if ids.is_empty() && statuses.is_empty() {
            continue;
        }
        let mut msgs: Vec<(u64, u16)> = ids.into_iter().zip(cmds).collect();
        msgs.sort();
        statuses.sort();
        m.insert(frame, (msgs, statuses, nested));
    }
    m
}

#[test]
fn smbdiag_messages_match_wireshark_on_the_public_corpus() {
    let caps = common::captures_under(&common::public_captures_dir());
    assert!(caps.len() >= 70, "public corpus not found beside the repo ({} captures)", caps.len());
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let (mut total, mut matched) = (0usize, 0usize);
    for cap in &caps {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let mut extra: Vec<&str> = Vec::new();
        if let Some((_, d)) = DECODE_AS.iter().find(|(n, _)| *n == name) {
            extra.extend_from_slice(&["-d", d]);
        }
        let rows = common::fields(
            cap,
            &extra,
            &["frame.number", "smb2.msg_id", "smb2.cmd", "smb2.nt_status", "smbdiag.msg_id", "smbdiag.cmd", "smbdiag.status"],
        );
        let rows: Vec<Vec<String>> = rows.into_iter().map(|mut r| {
            r.resize(7, String::new());
            r
        }).collect();
        let ws = collect(&rows, 1);
        let sd = collect(&rows, 4);
        let frames: std::collections::BTreeSet<u32> = ws.keys().chain(sd.keys()).copied().collect();
        let mut bad = Vec::new();
        for f in &frames {
            let agree = match (ws.get(f), sd.get(f)) {
                (Some((wm, ws_st, nested)), Some((sm, sd_st, _))) => {
                    wm == sm && if *nested { sd_st.iter().all(|s| ws_st.contains(s)) } else { ws_st == sd_st }
                }
                (None, None) => true,
                _ => false,
            };
            if !agree && !ALLOWED.iter().any(|(n, fr, _)| *n == name && fr == f) {
                bad.push(*f);
            }
        }
        total += frames.len();
        matched += frames.len() - bad.len();
        report.push(format!("{name}: {}/{} frames agree", frames.len() - bad.len(), frames.len()));
        if !bad.is_empty() {
            let f = bad[0];
            failures.push(format!(
                "{name}: {} frames differ, first {f}: wireshark {:?} smbdiag {:?}",
                bad.len(),
                ws.get(&f),
                sd.get(&f)
            ));
        }
    }
    eprintln!("{}\ntotal {matched}/{total}", report.join("\n"));
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}

#[test]
fn one_pass_and_two_pass_agree() {
    for name in ["zeek-zeek/smb2.pcap", "zeek-zeek/smb3_multichannel.pcap", "OISF-suricata-verify/smb3-02-midstream__input.pcap"] {
        let cap = common::public_captures_dir().join(name);
        let f = ["frame.number", "smbdiag.msg_id", "smbdiag.cmd", "smbdiag.status", "smbdiag.request_frame", "smbdiag.response_time", "smbdiag.rule", "smbdiag.finding"];
        let one = common::fields(&cap, &["-Y", "smbdiag"], &f);
        let two = common::fields(&cap, &["-2", "-Y", "smbdiag"], &f);
        assert_eq!(one, two, "{name}: first pass and second pass differ");
    }
}
