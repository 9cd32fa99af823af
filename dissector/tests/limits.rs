//! State stays bounded on hostile captures: very many connections (a SYN
//! scan of port 445) and a client piling up requests that are never
//! answered. Frames are generated in memory (Ethernet/IPv4/TCP built by hand
//! here: the core under test is what parses them).

use smbdiag_core::{Analyzer, Config, FrameInput, LinkType};

fn frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&0u32.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// An SMB2 ECHO request with NBSS framing.
fn echo(msg_id: u64) -> Vec<u8> {
    let mut smb = vec![0xfe, b'S', b'M', b'B', 64, 0, 1, 0, 0, 0, 0, 0, 13, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    smb.extend_from_slice(&msg_id.to_le_bytes());
    smb.extend_from_slice(&[0u8; 32]);
    smb.extend_from_slice(&[4, 0, 0, 0]);
    let mut out = vec![0, 0, 0, smb.len() as u8];
    out.extend(smb);
    out
}

/// An SMB2 request with NBSS framing: command, message id, session id, body.
fn request(cmd: u16, msg_id: u64, session_id: u64, body: &[u8]) -> Vec<u8> {
    let mut smb = vec![0xfe, b'S', b'M', b'B', 64, 0, 1, 0, 0, 0, 0, 0];
    smb.extend_from_slice(&cmd.to_le_bytes());
    smb.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    smb.extend_from_slice(&msg_id.to_le_bytes());
    smb.extend_from_slice(&[0u8; 8]);
    smb.extend_from_slice(&session_id.to_le_bytes());
    smb.extend_from_slice(&[0u8; 16]);
    smb.extend_from_slice(body);
    let mut out = (smb.len() as u32).to_be_bytes().to_vec();
    out.extend(smb);
    out
}

/// The `decode.state_limit` notes of a run: (frame, sentence).
fn limit_notes(r: Option<&smbdiag_core::FrameReport>, frame: u32, notes: &mut Vec<(u32, String)>) {
    if let Some(r) = r {
        notes.extend(r.findings.iter().filter(|f| f.rule.id == "decode.state_limit").map(|f| (frame, f.text.clone())));
    }
}

#[test]
fn a_syn_scan_keeps_connection_state_bounded_and_says_so() {
    let mut an = Analyzer::new(Config::default());
    let n = 130_000u32;
    let mut noted = Vec::new();
    for i in 0..n {
        let src = [10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let data = frame(src, 40000, [10, 0, 0, 1], 445, 1000, 0x02, &[]);
        let r = an.dissect(&FrameInput { number: i + 1, ts_ns: i as i64 * 1000, link: LinkType::Ethernet, data: &data, interface: None });
        if let Some(r) = r {
            noted.extend(r.findings.iter().filter(|f| f.rule.id == "decode.state_limit").map(|_| i + 1));
        }
    }
    let (flows, smb, rules) = an.tracked_connections();
    assert!(flows <= smbdiag_core::net::flow::MAX_CONNECTIONS, "flows {flows}");
    assert!(smb <= smbdiag_core::net::flow::MAX_CONNECTIONS, "smb conns {smb}");
    assert!(rules <= smbdiag_core::net::flow::MAX_CONNECTIONS, "rule state {rules}");
    // Slots of dropped connections are reused: the per-connection Vecs stay as bounded as the table.
    assert!(an.connection_slots() <= smbdiag_core::net::flow::MAX_CONNECTIONS, "slots {}", an.connection_slots());
    assert_eq!(noted.len(), 1, "the limit is noted once: {noted:?}");
    assert!(noted[0] > smbdiag_core::net::flow::MAX_CONNECTIONS as u32);
}

#[test]
fn requests_never_answered_keep_pending_state_bounded() {
    let mut an = Analyzer::new(Config::default());
    let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
    let mut seq = 1000u32;
    let mut num = 1;
    let mut push = |an: &mut Analyzer, data: Vec<u8>| {
        an.dissect(&FrameInput { number: num, ts_ns: num as i64 * 1_000_000, link: LinkType::Ethernet, data: &data, interface: None });
        num += 1;
    };
    push(&mut an, frame(c, 50000, s, 445, seq - 1, 0x02, &[]));
    for id in 0..30_000u64 {
        let p = echo(id);
        push(&mut an, frame(c, 50000, s, 445, seq, 0x18, &p));
        seq = seq.wrapping_add(p.len() as u32);
    }
    // Every message was decoded (the framing held up to the end)...
    let last = an.dissect(&FrameInput { number: num - 1, ts_ns: 0, link: LinkType::Ethernet, data: &[], interface: None }).expect("report of the last frame");
    assert_eq!(last.messages.len(), 1);
    assert_eq!(last.messages[0].msg_id, 29_999);
    // ...while the one table of requests waiting for an answer (the state's:
    // the rules keep none) stayed capped.
    let smb = an.pending_requests();
    // And it said so once, from the request it first refused (frame 2 is
    // message id 0).
    let mut notes = Vec::new();
    for f in 1..num {
        limit_notes(an.report(f), f, &mut notes);
    }
    let pending = smbdiag_core::state::pending::MAX_PENDING_PER_CONN as u32;
    let has = |frame: u32, words: &str| notes.iter().any(|(f, t)| *f == frame && t.contains(words) && t.contains(&format!("from frame {frame} on")));
    assert!(has(2 + pending, "requests awaiting a response on one connection"), "{notes:?}");
    assert_eq!(notes.len(), 1, "one note, one table: {notes:?}");
    assert_eq!(smb, smbdiag_core::state::pending::MAX_PENDING_PER_CONN, "pending {smb}");
}

#[test]
fn kdc_streams_and_errors_stay_bounded() {
    use smbdiag_core::kerberos::framing::MAX_RECORD_KEEP;
    use smbdiag_core::state::kdc::{MAX_KDC_ERRORS, MAX_KDC_STREAMS};
    let mut an = Analyzer::new(Config::default());
    let kdc = [10, 0, 0, 1];
    // Every client opens a stream to port 88 and leaves a large record half sent.
    let mut half = 60_000u32.to_be_bytes().to_vec();
    half.extend(std::iter::repeat_n(0x6c, 1400));
    let n = 3 * MAX_KDC_STREAMS as u32;
    for i in 0..n {
        let src = [10, 2, (i >> 8) as u8, i as u8];
        let data = frame(src, 40000, kdc, 88, 1000, 0x18, &half);
        an.dissect(&FrameInput { number: i + 1, ts_ns: i as i64 * 1000, link: LinkType::Ethernet, data: &data, interface: None });
    }
    let (streams, bytes, _) = an.kdc_held();
    assert!(streams <= MAX_KDC_STREAMS, "streams {streams}");
    assert!(bytes <= MAX_KDC_STREAMS * 2 * MAX_RECORD_KEEP, "bytes {bytes}");
    // A KDC answering KRB-ERROR (KRB_ERR_GENERIC, built by hand) over and over.
    let err: Vec<u8> = vec![
        0x7e, 0x3b, 0x30, 0x39, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x1e, 0xa4, 0x11, 0x18, 0x0f, b'2', b'0', b'2', b'6', b'0',
        b'1', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0', b'Z', 0xa5, 0x03, 0x02, 0x01, 0x00, 0xa6, 0x03, 0x02, 0x01, 0x3c, 0xa9, 0x03,
        0x1b, 0x01, b'R', 0xaa, 0x0b, 0x30, 0x09, 0xa0, 0x03, 0x02, 0x01, 0x00, 0xa1, 0x02, 0x30, 0x00,
    ];
    let mut rec = (err.len() as u32).to_be_bytes().to_vec();
    rec.extend_from_slice(&err);
    for i in 0..1000u32 {
        let data = frame(kdc, 88, [10, 3, (i >> 8) as u8, i as u8], 40000, 5000, 0x18, &rec);
        an.dissect(&FrameInput { number: n + i + 1, ts_ns: (n + i) as i64 * 1000, link: LinkType::Ethernet, data: &data, interface: None });
    }
    let (_, _, errors) = an.kdc_held();
    assert_eq!(errors, MAX_KDC_ERRORS);
}

#[test]
fn sessions_beyond_the_bound_are_noted_once_from_the_first_refused() {
    use smbdiag_core::state::session::MAX_SESSIONS;
    let mut an = Analyzer::new(Config::default());
    let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
    let mut seq = 1000u32;
    // SESSION_SETUP requests naming a new session each (a client cycling
    // through ids, or a crafted capture): the body's fixed part, no blob.
    let mut body = vec![25, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 88, 0, 0, 0];
    body.extend_from_slice(&[0u8; 8]);
    let n = MAX_SESSIONS as u32 + 100;
    let mut notes = Vec::new();
    an.dissect(&FrameInput { number: 1, ts_ns: 0, link: LinkType::Ethernet, data: &frame(c, 50001, s, 445, seq - 1, 0x02, &[]), interface: None });
    for i in 0..n {
        let p = request(1, i as u64, 0x1000 + i as u64, &body);
        let data = frame(c, 50001, s, 445, seq, 0x18, &p);
        seq = seq.wrapping_add(p.len() as u32);
        let number = i + 2;
        limit_notes(an.dissect(&FrameInput { number, ts_ns: number as i64 * 1000, link: LinkType::Ethernet, data: &data, interface: None }), number, &mut notes);
    }
    let first_refused = 2 + MAX_SESSIONS as u32;
    let sessions: Vec<_> = notes.iter().filter(|(_, t)| t.contains("table of SMB sessions")).collect();
    assert_eq!(sessions.len(), 1, "{notes:?}");
    assert_eq!(sessions[0].0, first_refused);
    assert!(sessions[0].1.contains(&format!("from frame {first_refused} on: new sessions are not tracked")), "{}", sessions[0].1);
    // Each other table that filled up says so once too: the one table of
    // requests awaiting responses (the rules that time them keep none).
    let pending = smbdiag_core::state::pending::MAX_PENDING_PER_CONN as u32;
    assert!(notes.iter().any(|(f, t)| *f == 2 + pending && t.contains("requests awaiting a response on one connection") && t.contains("stop judging it")), "{notes:?}");
    let mut tables: Vec<&str> = notes.iter().map(|(_, t)| t.split(" is full").next().unwrap()).collect();
    let all = tables.len();
    tables.sort();
    tables.dedup();
    assert_eq!(tables.len(), all, "a table noted twice: {notes:?}");
}

#[test]
fn an_encrypted_message_past_the_kept_bound_is_noted_once() {
    use smbdiag_core::smb::framing::ENCRYPTED_PDU_KEEP;
    let mut keys = smbdiag_core::smb::crypto::keys::KeyTable::default();
    keys.add_preference("1100000000000000,00112233445566778899aabbccddeeff");
    let mut an = Analyzer::new(Config { keys: std::sync::Arc::new(keys), ..Config::default() });
    let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
    let mut seq = 1000u32;
    let mut num = 1;
    let mut notes = Vec::new();
    let push = |an: &mut Analyzer, data: Vec<u8>, notes: &mut Vec<(u32, String)>, num: &mut u32| {
        let r = an.dissect(&FrameInput { number: *num, ts_ns: *num as i64 * 1_000_000, link: LinkType::Ethernet, data: &data, interface: None });
        limit_notes(r, *num, notes);
        *num += 1;
    };
    push(&mut an, frame(c, 50000, s, 445, seq - 1, 0x02, &[]), &mut notes, &mut num);
    // Two transform messages of session 0x11 larger than the bound, sent in 60,000-byte segments.
    let size = ENCRYPTED_PDU_KEEP + 1_000_000;
    let mut pdu = (size as u32).to_be_bytes().to_vec();
    pdu.extend_from_slice(&[0xfd, b'S', b'M', b'B']);
    pdu.extend_from_slice(&[0u8; 32]);
    pdu.extend_from_slice(&((size - 52) as u32).to_le_bytes());
    pdu.extend_from_slice(&[0, 0, 1, 0]);
    pdu.extend_from_slice(&0x11u64.to_le_bytes());
    pdu.resize(4 + size, 0x5a);
    let mut ends = Vec::new();
    for _ in 0..2 {
        for seg in pdu.chunks(60_000) {
            push(&mut an, frame(c, 50000, s, 445, seq, 0x18, seg), &mut notes, &mut num);
            seq = seq.wrapping_add(seg.len() as u32);
        }
        ends.push(num - 1);
    }
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, ends[0]);
    for w in ["0x0000000000000011", &format!("{size} bytes"), &format!("at most {ENCRYPTED_PDU_KEEP} bytes")] {
        assert!(notes[0].1.contains(w), "missing {w:?}: {}", notes[0].1);
    }
}
