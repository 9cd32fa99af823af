//! The rule table. Rule ids are user-facing (filters, expert items named
//! `smbdiag.<id>`, docs/rules.md): never rename one.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Chat,
    Note,
    Warn,
    Error,
}

/// Expert-info group, as Wireshark groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Sequence,
    ResponseCode,
    Security,
    Protocol,
    Malformed,
    Undecoded,
    Comment,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RuleDef {
    pub id: &'static str,
    pub severity: Severity,
    pub group: Group,
    /// Short title (expert-info summary).
    pub title: &'static str,
    /// For docs/rules.md: when it fires (the evidence), the likely cause and the next check.
    pub explain: &'static str,
    /// For docs/rules.md: a capture (and frame) in the repo where it fires.
    pub example: &'static str,
}

macro_rules! rules {
    ($( $konst:ident = ($id:literal, $sev:ident, $grp:ident, $title:literal, $explain:literal, $example:literal); )*) => {
        $( pub static $konst: RuleDef = RuleDef { id: $id, severity: Severity::$sev, group: Group::$grp, title: $title, explain: $explain, example: $example }; )*
        /// Every rule, in a fixed order (the front end registers them by index).
        pub static RULES: &[&RuleDef] = &[ $( &$konst, )* ];
    };
}

rules! {
    TRANSPORT_SYN_UNANSWERED = ("transport.syn_unanswered", Error, Sequence,
        "SYNs to an SMB port retransmitted with no answer",
        "The client sent a SYN to port 445 (or 139) and retransmitted it with no SYN/ACK and no RST. Raised on the third SYN (the evidence is conclusive: two retransmissions), or on the client's next connection attempt to the same server when it gave up after fewer; related frames are the SYNs. Likely cause: a firewall silently drops SMB (on Windows, the Public network profile blocks inbound SMB off the domain network), or the host is down or unreachable. Next check: `Test-NetConnection <server> -CommonTCPPort SMB` from the client, `Get-NetConnectionProfile` and the File and Printer Sharing firewall rules on the server.",
        "tests/captures/lab/port_blocked.pcap");
    TRANSPORT_CONNECTION_REFUSED = ("transport.connection_refused", Error, Sequence,
        "SYN to an SMB port answered by RST",
        "The server answered the client's SYN to port 445 (or 139) with a TCP RST: the host is up but nothing accepts connections there. Raised on the RST; related frames are the SYNs. Likely cause: the Server service (LanmanServer) or smbd is stopped, SMB listens on another port, or a firewall rejects. Next check: `Get-Service LanmanServer` or `systemctl status smbd` on the server, `Test-NetConnection <server> -Port 445`.",
        "tests/captures/lab/port_closed.pcap");
    NEGOTIATE_REJECTED = ("negotiate.rejected", Error, Protocol,
        "The server would not agree on an SMB dialect",
        "The client's NEGOTIATE was answered by a TCP RST, a TCP FIN, an error status (STATUS_NOT_SUPPORTED from Samba) or an SMB1 response selecting no dialect. The finding names the dialects offered and the answer; related frame: the NEGOTIATE request. Likely cause: SMB2/3 disabled on the server (SMB3 is a dialect of SMB2: `EnableSMB2Protocol = False` disables SMB3 too), a server minimum protocol above the client's maximum, or an SMB1-only client against a server without SMB1. Next check: `Get-SmbServerConfiguration | Select EnableSMB1Protocol, EnableSMB2Protocol` on the server, `server min protocol` in smb.conf, the client's maximum protocol.",
        "tests/captures/lab/dialect_rejected_smb3_only.pcap");
    TRANSPORT_PACKET_LOSS = ("transport.packet_loss", Warn, Sequence,
        "SMB connection losing TCP segments",
        "Retransmissions in one direction of an SMB connection reached at least 3 and 0.5% of that direction's data segments. The finding says which direction loses (the sender of the retransmissions), the counts and rate so far, the duplicate ACKs of the receiver, and how long retransmitted segments waited (time from the original send to the retransmission, summed); related frames are the first retransmissions. Raised once per connection, when the threshold is crossed. Likely cause: a faulty or overloaded link, switch port, NIC or Wi-Fi; per-file round trips make transfers of many small files suffer most. Next check: error and drop counters along the path (`Get-NetAdapterStatistics`, `ethtool -S`, switch ports), duplex settings.",
        "tests/captures/lab/small_files_loss.pcap");
    TRANSPORT_ZERO_WINDOW = ("transport.zero_window", Warn, Sequence,
        "SMB connection stalled by a zero TCP window",
        "One side of an SMB connection advertised a zero receive window for at least 50 ms; raised when the window reopens, with the duration. Likely cause: the receiving host cannot keep up (slow storage, CPU, filter drivers), not the network. Next check: disk latency and CPU on the host that advertised the zero window.",
        "none yet in the repo's captures");
    TRANSPORT_RESET_MID_SESSION = ("transport.reset_mid_session", Warn, Sequence,
        "SMB connection reset with requests unanswered",
        "A TCP RST ended an SMB connection while requests were still waiting for their responses. The finding names who reset it and the outstanding requests (related frames). Likely cause: from the server, smbd or the Server service restarted or crashed, or a middlebox cut the connection; from the client, an application or session timeout. Next check: the server's SMBServer event logs or log.smbd at that time, and firewalls, IPS or load balancers in the path.",
        "tests/captures/lab/rst_mid_session.pcap");
    TRANSPORT_CLOSED_WITH_PENDING = ("transport.closed_with_pending", Warn, Sequence,
        "SMB connection closed with requests unanswered",
        "A TCP FIN closed an SMB connection while requests were still waiting for their responses. The finding names who closed it and the outstanding requests (related frames). Likely cause: the client gave up on a slow server (request timeout), or the server ended the session. Next check: the response times of the requests before, the server's logs, the client's SMBClient event logs.",
        "none yet in the repo's captures");
    PERF_SLOW_RESPONSE = ("perf.slow_response", Warn, Sequence,
        "SMB response far slower than usual",
        "A final response came at least the slow-response threshold (preference, default 1 s) after its request, or at least 200 ms and 20 times that command's median on the same connection (with 8 or more samples). The clock stops at the final response, not at a STATUS_PENDING interim one; CHANGE_NOTIFY, LOCK, OPLOCK_BREAK, ECHO, CANCEL and named-pipe traffic on IPC$ wait by design and are left out. The finding gives the command, file or share, the time, the usual time and the network round trip from the TCP handshake, so server time is told apart from network time; related frame: the request. Next check: the server's disk latency and CPU, filter drivers (`fltmc`), and oplock/lease breaks to other clients.",
        "tests/captures/lab/slow_response.pcap");
    PERF_UNANSWERED = ("perf.unanswered", Warn, Sequence,
        "SMB request never answered while the connection carried on",
        "A request had no response for longer than the unanswered threshold (10 s) while the server answered later requests on the same connection; raised on the response that makes it conclusive, related frame: the request. Requests that wait by design (CHANGE_NOTIFY, LOCK, OPLOCK_BREAK, ECHO, CANCEL, named pipes) are left out, and a capture that simply ends is not evidence. Likely cause: the server lost or is stuck on that request (hung filter driver, blocked backend). Next check: the server's SMB operational log or log.smbd, and whether the client cancels and retries.",
        "none yet in the repo's captures");
    DECODE_TRUNCATED = ("decode.truncated", Note, Malformed,
        "SMB message cut short by the capture (snaplen or missing segments)",
        "An SMB PDU whose NBSS length announces more bytes than the capture holds: a short snaplen or segments the capture missed. Only the part present is decoded, so fields past the cut are absent rather than wrong. Next check: capture with a full snaplen (`tcpdump -s 0`, or `-s 0` in dumpcap) and a large buffer.",
        "OISF-suricata-verify/smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap");
    DECODE_RESYNC = ("decode.resync", Note, Undecoded,
        "Bytes missing from the capture; SMB decoding resumed at the next header",
        "Part of a TCP stream is missing from the capture (the capture started mid-connection or dropped packets), so smbdiag skipped to the next SMB header instead of decoding the wrong bytes. Messages in the skipped bytes are not shown, so their responses have no request. Next check: capture from before the connection opens, with a large capture buffer.",
        "OISF-suricata-verify/smb3-02-midstream__input.pcap");
}

/// Look a rule up by id.
pub fn by_id(id: &str) -> Option<&'static RuleDef> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// Position of a rule in `RULES` (the front end's expert-item index).
pub fn index_of(rule: &RuleDef) -> usize {
    RULES.iter().position(|r| std::ptr::eq(*r, rule)).expect("rule in RULES")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(r.id.split('.').count() == 2, "{} must be group.name", r.id);
            assert!(r.id.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit()));
        }
    }
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Chat => "chat",
            Severity::Note => "note",
            Severity::Warn => "warning",
            Severity::Error => "error",
        }
    }
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Sequence => "Sequence",
            Group::ResponseCode => "Response code",
            Group::Security => "Security",
            Group::Protocol => "Protocol",
            Group::Malformed => "Malformed",
            Group::Undecoded => "Undecoded",
            Group::Comment => "Comment",
        }
    }
}

/// docs/rules.md, generated from the table (`smbdiag-cli --rules-md`); a test
/// keeps the committed file equal to this.
pub fn markdown() -> String {
    let mut s = String::from(
        "# smbdiag rules\n\n\
         Generated from `dissector/src/rules/catalog.rs` by `cargo run -p smbdiag-core --bin smbdiag-cli -- --rules-md > docs/rules.md`;\n\
         a test fails when this file and the code differ. Each finding carries `smbdiag.rule` (the id below),\n\
         `smbdiag.finding` (the sentence) and `smbdiag.related_frame` (evidence frames), and raises the expert item\n\
         `smbdiag.<id>` with the severity and group shown. Filter with e.g. `smbdiag.rule == \"tree.share_not_found\"`\n\
         or `smbdiag.rule matches \"^session\"`.\n\n\
         | rule | severity | group | title |\n| --- | --- | --- | --- |\n",
    );
    for r in RULES {
        s.push_str(&format!("| [`{}`](#{}) | {} | {} | {} |\n", r.id, r.id.replace('.', ""), r.severity.name(), r.group.name(), r.title));
    }
    for r in RULES {
        s.push_str(&format!(
            "\n## {}\n\n*{}*, group {}: {}.\n\n{}\n\nExample: `{}`\n",
            r.id,
            r.severity.name(),
            r.group.name(),
            r.title,
            r.explain,
            r.example
        ));
    }
    s
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn docs_rules_md_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::markdown(),
            "docs/rules.md is out of date: run `cargo run -p smbdiag-core --bin smbdiag-cli -- --rules-md > docs/rules.md`"
        );
    }
}
