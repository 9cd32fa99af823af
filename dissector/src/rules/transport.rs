//! Connection-level diagnoses (transport.*): can the client reach SMB at
//! all, is TCP losing or stalling the traffic, and did a connection end
//! with requests unanswered.

use std::collections::VecDeque;

use ahash::HashMap;

use super::catalog;
use super::{frames_phrase, secs, MsgEvent, SegEvent, Smb1NegotiateEvent};
use crate::config::Config;
use crate::limits::{Bound, Limit};
use crate::net::flow::{ConnId, Dir};
use crate::net::slots::PerConn;
use crate::output::Finding;
use crate::smb::types::Command;

/// SYNs (first + retransmissions) with no SYN/ACK that make "unanswered" conclusive.
const SYN_TRIES_CONCLUSIVE: usize = 3;
/// Loss worth a warning: this many retransmissions in one direction...
const LOSS_MIN_RETRANS: u64 = 3;
/// ...making up at least this share of that direction's data segments.
/// Data segments remembered per direction to time retransmissions.
const SEG_HISTORY: usize = 2048;
/// A zero window shorter than this is a blip, not a stall.
const ZERO_WINDOW_MIN_NS: i64 = 50_000_000;

#[derive(Debug, Default)]
struct DirStats {
    data_segments: u64,
    retransmissions: u64,
    dup_acks: u64,
    /// Sum over retransmissions of the time since the original transmission.
    retrans_wait_ns: i64,
    retrans_frames: Vec<u32>,
    /// (sequence number, time) of recent first transmissions.
    sent: VecDeque<(u32, i64)>,
    /// Zero window advertised by this side: (frame, time) it started.
    zero_window_since: Option<(u32, i64)>,
}

#[derive(Debug, Default)]
struct ConnRules {
    /// Endpoints, for findings raised later on another connection's frame.
    ends: Option<(crate::net::link::Endpoint, crate::net::link::Endpoint)>,
    syn_frames: Vec<u32>,
    first_syn_ns: i64,
    syn_ack_seen: bool,
    syn_reported: bool,
    /// Data from either side seen (the connection is established).
    established: bool,
    to_server: DirStats,
    to_client: DirStats,
    loss_reported: bool,
    smb_seen: bool,
    closed_reported: bool,
    responses_seen: u32,
    /// The connection attempt was answered and taken off `open_attempts`.
    attempt_settled: bool,
}

impl ConnRules {
    fn dir(&mut self, d: Dir) -> &mut DirStats {
        match d {
            Dir::ToServer => &mut self.to_server,
            Dir::ToClient => &mut self.to_client,
        }
    }
}

#[derive(Debug, Default)]
pub struct TransportRules {
    /// Per connection, by slot: as many as the flow table holds, which its bound caps.
    conns: PerConn<ConnRules>,
    /// Unanswered connection attempts per (client addr, server endpoint) that
    /// were not yet reported, to report when the client moves on.
    open_attempts: HashMap<(std::net::IpAddr, std::net::IpAddr), ConnId>,
    /// (client, server) pairs that reached port 445: a refused 139 beside it is
    /// a client trying both (macOS, older Windows), not a problem.
    reached_445: ahash::HashSet<(std::net::IpAddr, std::net::IpAddr)>,
    reached_bound: Bound,
}

static REACHED_LIMIT: Limit = Limit {
    table: "client/server pairs seen reaching port 445",
    max: 65_536,
    effect: "a refused connection to port 139 from further pairs is reported as refused, though the client may have reached 445 (clients try both)",
};


fn is_smb_port(p: u16) -> bool {
    p == 445 || p == 139
}

impl TransportRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.reached_bound);
    }

    pub fn forget(&mut self, id: ConnId) {
        self.conns.remove(id);
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn on_segment(&mut self, cfg: &Config, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        let obs = &ev.info.obs;
        let id = ev.conn.id;
        let smb_port = is_smb_port(ev.conn.server.port);
        let pair = (ev.conn.client.addr, ev.conn.server.addr);
        // A new attempt from the same client to the same server: the client
        // moved on from an earlier unanswered one.
        if obs.syn && !obs.retransmission && ev.info.new_connection {
            if let Some(prev) = self.open_attempts.insert(pair, id) {
                if prev != id {
                    self.report_syn_unanswered(prev, ev, out, true);
                }
            }
        }
        if obs.syn_ack && ev.conn.server.port == 445 && (self.reached_445.contains(&pair) || self.reached_bound.admit(&REACHED_LIMIT, self.reached_445.len(), ev.frame)) {
            self.reached_445.insert(pair);
        }
        // A refused 139 beside a reachable 445 is a client trying both.
        let via_445 = obs.rst && ev.conn.server.port == 139 && self.reached_445.contains(&pair);
        let c = self.conns.entry(id);
        c.ends.get_or_insert((ev.conn.client, ev.conn.server));
        if obs.syn {
            if c.syn_frames.is_empty() {
                c.first_syn_ns = ev.ts_ns;
            }
            if c.syn_frames.len() < 16 {
                c.syn_frames.push(ev.frame);
            }
        }
        if obs.syn_ack {
            c.syn_ack_seen = true;
        }
        if !ev.seg.payload.is_empty() || ev.seg.payload_len > 0 {
            c.established = true;
        }
        // SYN retransmitted with no answer: conclusive after the third try.
        let syn_conclusive = smb_port && obs.syn && !c.syn_ack_seen && c.syn_frames.len() == SYN_TRIES_CONCLUSIVE && !c.syn_reported;
        // SYN answered by RST: nothing listens.
        let refused = smb_port && !via_445 && obs.rst && ev.info.dir == Dir::ToClient && !c.syn_ack_seen && !c.syn_frames.is_empty() && !c.established;
        if refused {
            c.syn_reported = true;
            let tries = c.syn_frames.len();
            out.push(Finding {
                rule: &catalog::TRANSPORT_CONNECTION_REFUSED,
                text: format!(
                    "Connection refused: {} answered the SYN from {} with a TCP RST ({} SYN{} sent, first in frame {}). The host is up but nothing accepts connections on port {}: the Server service (LanmanServer) or smbd is stopped, SMB listens on another port, or a firewall rejects rather than drops. Check `Get-Service LanmanServer` / `systemctl status smbd` on the server and `Test-NetConnection {} -Port {}` from the client.",
                    ev.conn.server, ev.conn.client.addr, tries, if tries == 1 { "" } else { "s" }, c.syn_frames[0], ev.conn.server.port, ev.conn.server.addr, ev.conn.server.port
                ),
                related_frames: c.syn_frames.clone(),
            });
        }
        // Once answered, the attempt is no longer pending (checked once per connection).
        let answered_now = (c.syn_ack_seen || c.established) && !c.attempt_settled;
        if answered_now {
            c.attempt_settled = true;
        }
        if syn_conclusive {
            self.report_syn_unanswered(id, ev, out, false);
        }
        if refused {
            self.open_attempts.remove(&pair);
        } else if answered_now && self.open_attempts.get(&pair) == Some(&id) {
            self.open_attempts.remove(&pair);
        }
        let c = self.conns.entry(id);
        Self::loss(c, cfg, ev, out);
        Self::zero_window(c, ev, out);
        Self::reset_or_close(c, ev, out);
    }

    fn report_syn_unanswered(&mut self, id: ConnId, ev: &SegEvent<'_>, out: &mut Vec<Finding>, moved_on: bool) {
        let Some(c) = self.conns.get_mut(id) else { return };
        // Only SMB ports: an unanswered RPC or other port is not this rule's business.
        let port_ok = c.ends.is_some_and(|(_, srv)| is_smb_port(srv.port));
        if !port_ok || c.syn_reported || c.syn_ack_seen || c.established || c.syn_frames.len() < 2 {
            return;
        }
        c.syn_reported = true;
        let tries = c.syn_frames.len();
        let span = ev.ts_ns - c.first_syn_ns;
        let (client, server) = c.ends.unwrap_or((ev.conn.client, ev.conn.server));
        let (client, port_text, server) = (client.addr, format!("port {}", server.port), server.addr);
        let moved = if moved_on {
            format!(" The client gave up on it and opened a new connection to {} in frame {}.", ev.conn.server, ev.frame)
        } else {
            String::new()
        };
        out.push(Finding {
            rule: &catalog::TRANSPORT_SYN_UNANSWERED,
            text: format!(
                "{server} never answered: {tries} SYNs from {client} to {port_text} over {} (frames {}) got no SYN/ACK and no RST.{moved} A firewall is silently dropping SMB, or the host is down or unreachable. On Windows servers off the domain network the Public profile blocks inbound SMB: check `Get-NetConnectionProfile` and the firewall rules for File and Printer Sharing on the server, and `Test-NetConnection {server} -CommonTCPPort SMB` from the client.",
                secs(span),
                frames_phrase(&c.syn_frames).trim_start_matches("frames ").trim_start_matches("frame "),
            ),
            related_frames: c.syn_frames.clone(),
        });
    }

    fn loss(c: &mut ConnRules, cfg: &Config, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        let obs = &ev.info.obs;
        let dir = ev.info.dir;
        let has_data = ev.seg.payload_len > 0;
        let smb_seen = c.smb_seen;
        let d = c.dir(dir);
        if has_data {
            d.data_segments += 1;
            if obs.retransmission {
                d.retransmissions += 1;
                if d.retrans_frames.len() < 8 {
                    d.retrans_frames.push(ev.frame);
                }
                if let Some(&(_, t0)) = d.sent.iter().rev().find(|(s, _)| *s == ev.seg.seq) {
                    d.retrans_wait_ns += ev.ts_ns - t0;
                }
            } else {
                if d.sent.len() >= SEG_HISTORY {
                    d.sent.pop_front();
                }
                d.sent.push_back((ev.seg.seq, ev.ts_ns));
            }
        }
        if obs.dup_ack {
            d.dup_acks += 1;
        }
        if c.loss_reported || !smb_seen {
            return;
        }
        let lossy = |d: &DirStats| d.retransmissions >= LOSS_MIN_RETRANS && d.retransmissions * 1000 >= cfg.loss_rate_permille as u64 * d.data_segments;
        let (lossy_dir, d, other) = if lossy(&c.to_server) {
            (Dir::ToServer, &c.to_server, &c.to_client)
        } else if lossy(&c.to_client) {
            (Dir::ToClient, &c.to_client, &c.to_server)
        } else {
            return;
        };
        let (from, to, from_name, to_name) = match lossy_dir {
            Dir::ToServer => (ev.conn.client, ev.conn.server, "client", "server"),
            Dir::ToClient => (ev.conn.server, ev.conn.client, "server", "client"),
        };
        let text = format!(
            "Packet loss on this SMB connection: {} of {} data segments from the {from_name} {} to the {to_name} {} were retransmitted so far ({:.1}%), with {} duplicate ACKs from the {to_name} (frames {}...). Segments are being lost on the way from {} to {}; each loss stalls the SMB requests waiting on it, about {} so far. Transfers of many small files suffer most, since every CREATE/READ/CLOSE round trip can wait on a retransmission. Check the path between the two for errors and drops: switch and NIC error counters (`Get-NetAdapterStatistics`, `ethtool -S`), duplex mismatches, Wi-Fi, overloaded links or a WAN optimiser.",
            d.retransmissions,
            d.data_segments,
            from.addr,
            to.addr,
            100.0 * d.retransmissions as f64 / d.data_segments.max(1) as f64,
            other.dup_acks,
            d.retrans_frames.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            from.addr,
            to.addr,
            secs(d.retrans_wait_ns),
        );
        let related = d.retrans_frames.clone();
        c.loss_reported = true;
        out.push(Finding { rule: &catalog::TRANSPORT_PACKET_LOSS, text, related_frames: related });
    }

    fn zero_window(c: &mut ConnRules, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        if ev.info.obs.rst || ev.info.obs.syn || ev.info.obs.syn_ack {
            return;
        }
        if !c.smb_seen {
            return;
        }
        let d = c.dir(ev.info.dir);
        match (ev.seg.window == 0, d.zero_window_since) {
            (true, None) => d.zero_window_since = Some((ev.frame, ev.ts_ns)),
            (false, Some((start_frame, start_ns))) => {
                d.zero_window_since = None;
                let stalled = ev.ts_ns - start_ns;
                if stalled >= ZERO_WINDOW_MIN_NS {
                    let (who, addr) = match ev.info.dir {
                        Dir::ToServer => ("client", ev.conn.client.addr),
                        Dir::ToClient => ("server", ev.conn.server.addr),
                    };
                    out.push(Finding {
                        rule: &catalog::TRANSPORT_ZERO_WINDOW,
                        text: format!(
                            "The {who} {addr} advertised a zero TCP receive window for {} (frames {start_frame} to {}): it could not take data as fast as it came, so the sender had to stop. This points at the receiving host (slow storage, CPU, antivirus filter, a full application buffer), not at the network. Check disk latency and CPU on {addr} during the transfer.",
                            secs(stalled),
                            ev.frame
                        ),
                        related_frames: vec![start_frame],
                    });
                }
            }
            _ => {}
        }
    }

    fn reset_or_close(c: &mut ConnRules, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        let obs = &ev.info.obs;
        if !(obs.rst || obs.fin) {
            return;
        }
        if !c.smb_seen || c.closed_reported {
            return;
        }
        let (who, by) = match ev.info.dir {
            Dir::ToServer => ("client", ev.conn.client.addr),
            Dir::ToClient => ("server", ev.conn.server.addr),
        };
        // The requests still unanswered, as the state matched them; those
        // before an encrypted message from the server may have been answered
        // by it (Samba encrypts answers on an encrypt-desired share even to
        // plain requests).
        let mut pending: Vec<(u32, Command)> = ev.pending.map(|p| p.since(p.hidden_mark()).map(|r| (r.frame, r.cmd)).collect()).unwrap_or_default();
        // Requests piled up with not one response: the capture is missing the
        // server's side (a one-directional capture), not the server its answers.
        if pending.is_empty() || c.responses_seen == 0 && pending.len() > 1 {
            return;
        }
        c.closed_reported = true;
        pending.sort();
        let list: Vec<String> = pending.iter().take(5).map(|(f, cmd)| format!("{cmd} (frame {f})")).collect();
        let more = if pending.len() > 5 { format!(" and {} more", pending.len() - 5) } else { String::new() };
        let (rule, what) = if obs.rst {
            (&catalog::TRANSPORT_RESET_MID_SESSION, "reset the SMB connection (TCP RST)")
        } else {
            (&catalog::TRANSPORT_CLOSED_WITH_PENDING, "closed the SMB connection (TCP FIN)")
        };
        let cause = if ev.info.dir == Dir::ToClient {
            "The server dropped the session: smbd/srv2 restarted or crashed, a resource limit, or a middlebox (firewall, IPS, load balancer) cut it. Check the server's event log (SMBServer operational log) or log.smbd at that time, and any device in the path"
        } else {
            "The client abandoned the connection with work in flight: an application timeout or the client's own session timeout (Windows waits about 60 s per request, SessionTimeout). Check the client's SMBClient event logs and whether the server was slow to answer just before"
        };
        out.push(Finding {
            rule,
            text: format!(
                "The {who} {by} {what} in frame {} while {} request{} had no answer: {}{more}. {cause}.",
                ev.frame,
                pending.len(),
                if pending.len() == 1 { "" } else { "s" },
                list.join(", ")
            ),
            related_frames: pending.iter().map(|(f, _)| *f).take(8).collect(),
        });
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>) {
        let c = self.conns.entry(ev.conn.id);
        c.smb_seen = true;
        if ev.hdr.is_response() {
            c.responses_seen = c.responses_seen.saturating_add(1);
        }
    }

    pub fn on_smb1_negotiate(&mut self, ev: &Smb1NegotiateEvent<'_>) {
        let c = self.conns.entry(ev.conn.id);
        c.smb_seen = true;
    }
}
