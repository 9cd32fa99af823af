//! Credit starvation (MS-SMB2 3.2.4.1.5, 3.2.5.1.4, 3.3.1.2): a client may
//! only send a request for which it holds credits, and the server grants them
//! in its responses. This rule keeps each connection's books from its
//! NEGOTIATE (the client starts with one credit): granted minus charged is the
//! client's balance. A bulk READ/WRITE is starved when the client repeatedly
//! spends its balance below what its next request needs, asks for more than
//! the server grants, and sends its next READ/WRITE only after a response
//! brought credits back: the server's limit, not the client, decides how much
//! is in flight.



use crate::rules::catalog;
use crate::rules::{secs, MsgEvent};
use crate::net::flow::ConnId;
use crate::net::slots::PerConn;
use crate::output::Finding;
use crate::smb::records::Body;
use crate::smb::types::{Command, NtStatus};

/// Stalls at the same credit limit before the finding is conclusive.
const STALLS_MIN: u32 = 8;
/// A limit above this many credits (4 MiB of READ/WRITE in flight with
/// multi-credit requests) is a client using a large window to the full, not a
/// starved one.
const WINDOW_MAX: u64 = 64;

/// The client spent its credits below what its next READ/WRITE needs.
#[derive(Debug, Clone, Copy)]
struct Starved {
    frame: u32,
    ts_ns: i64,
    /// Credits of the request that spent them (its successor needs as many).
    need: u64,
    /// The response that brought the balance back to `need`: frame, time,
    /// whether it granted less than its request asked, the window then.
    refill: Option<(u32, i64, bool, u64)>,
}

#[derive(Debug, Default)]
struct Books {
    /// Credits granted in all (the initial one included) and charged in all.
    granted: u64,
    charged: u64,
    /// The state's number of the first request these books count: answers
    /// to earlier ones are not in them.
    first_seq: u64,
    /// Credits held by unanswered requests.
    out_charge: u64,
    data_in_flight: usize,
    max_in_flight: usize,
    starved: Option<Starved>,
    /// Stalls counted at the current limit (`cap`, the client's window then).
    stalls: u32,
    cap: u64,
    wait_ns: i64,
    /// The first stall at this limit: the request that spent the credits and
    /// the response that granted them back; the latest of both.
    first: Option<(u32, u32)>,
    last: Option<(u32, u32)>,
    most_asked: u16,
    first_data: Option<(u32, i64)>,
    data_requests: u32,
    bytes: u64,
}

#[derive(Debug)]
enum Conn {
    Tracking(Box<Books>),
    /// The books cannot be trusted (messages missing or hidden), or the
    /// finding was raised: nothing more to do on this connection.
    Done,
}

/// One SMB2 message, as the books need it.
#[derive(Debug, Clone, Copy)]
pub struct CreditMsg {
    pub frame: u32,
    pub ts_ns: i64,
    pub is_response: bool,
    pub cmd: Command,
    pub msg_id: u64,
    /// CreditCharge.
    pub charge: u16,
    /// CreditRequest in a request, CreditResponse in a response.
    pub credits: u16,
    /// An interim STATUS_PENDING response.
    pub interim: bool,
    /// Bytes a READ response returned or a WRITE response wrote.
    pub bytes: u64,
    /// The exchange as the state matched it: for a request, its own entry;
    /// for a response, the request it answers (none: not matched).
    pub request: Option<CreditReq>,
    /// The state's number the next request will get.
    pub next_seq: u64,
    /// The state forgot unanswered requests of this connection (its table is bounded).
    pub pending_dropped: bool,
}

/// The request of an exchange, as the books need it.
#[derive(Debug, Clone, Copy)]
pub struct CreditReq {
    pub seq: u64,
    pub charge: u16,
    /// Its CreditRequest.
    pub asked: u16,
    /// A READ or WRITE.
    pub data: bool,
    /// An interim response answered it already (its charge was returned then).
    pub answered: bool,
    /// Its message id was still awaiting an earlier request's answer.
    pub reused_id: bool,
}

#[derive(Debug, Default)]
pub struct CreditRules {
    conns: PerConn<Conn>,
}

impl CreditRules {
    pub fn forget(&mut self, id: ConnId) {
        self.conns.remove(id);
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The books of a connection are open.
    pub fn tracking(&self, id: ConnId) -> bool {
        matches!(self.conns.get(id), Some(Conn::Tracking(_)))
    }

    /// Encrypted messages hide their credits: the books are lost.
    pub fn on_encrypted(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id) {
            *c = Conn::Done;
        }
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        let bytes = match ev.body {
            Body::ReadResponse(r) => r.data_length as u64,
            Body::WriteResponse(w) => w.count as u64,
            _ => 0,
        };
        let m = CreditMsg {
            frame: ev.frame,
            ts_ns: ev.ts_ns,
            is_response: h.is_response(),
            cmd: h.command,
            msg_id: h.message_id,
            charge: h.credit_charge,
            credits: h.credits,
            interim: h.status == NtStatus::PENDING && h.flags.is_async(),
            bytes,
            request: ev.request.map(|r| CreditReq {
                seq: r.seq,
                charge: r.credit_charge,
                asked: r.credits_asked,
                data: matches!(r.cmd, Command::READ | Command::WRITE),
                answered: h.is_response() && r.interim_frame.is_some(),
                reused_id: r.reused_id,
            }),
            next_seq: ev.pending.next_seq(),
            pending_dropped: ev.pending.dropped() > 0,
        };
        let data = !m.is_response && matches!(h.command, Command::READ | Command::WRITE);
        if let Some(f) = self.on_credit_msg(ev.conn.id, &m, data) {
            out.push(f);
        }
    }

    /// The books' step for one message; a finding when starvation becomes conclusive.
    pub fn on_credit_msg(&mut self, id: ConnId, m: &CreditMsg, data: bool) -> Option<Finding> {
        let c = match self.conns.get_mut(id) {
            Some(c) => c,
            None => {
                // The books open at the connection's first NEGOTIATE, message id 0:
                // the client's own (it holds the one initial credit), or the server's
                // SMB2 answer to an SMB1 NEGOTIATE (which spent that credit).
                if m.cmd != Command::NEGOTIATE || m.msg_id != 0 {
                    return None;
                }
                let first_seq = match (m.is_response, m.request) {
                    (false, Some(r)) => r.seq,
                    _ => m.next_seq,
                };
                let b = Books { granted: 1, charged: u64::from(m.is_response), first_seq, ..Default::default() };
                self.conns.get_or_insert_with(id, || Conn::Tracking(Box::new(b)))
            }
        };
        let Conn::Tracking(b) = c else { return None };
        // A request the state had to forget leaves its credits unaccounted.
        if m.pending_dropped {
            *c = Conn::Done;
            return None;
        }
        let (keep, finding) = if m.is_response { b.on_response(m) } else { b.on_request(m, data) };
        if !keep || finding.is_some() {
            *c = Conn::Done;
        }
        finding
    }
}

impl Books {
    fn balance(&self) -> u64 {
        self.granted.saturating_sub(self.charged)
    }

    /// Returns whether the books still hold, and a finding.
    fn on_request(&mut self, m: &CreditMsg, data: bool) -> (bool, Option<Finding>) {
        if m.cmd == Command::CANCEL {
            return (true, None); // CANCEL costs no credit
        }
        let charge = u64::from(m.charge.max(1));
        // A request beyond the credits granted, or more than the balance: a
        // grant is missing from the capture (or the client misbehaves); a
        // message id used twice: the books cannot tell which one was charged.
        if m.msg_id.saturating_add(charge) > self.granted || charge > self.balance() || m.request.is_some_and(|r| r.reused_id) {
            return (false, None);
        }
        self.charged += charge;
        self.out_charge += charge;
        let mut finding = None;
        let stalled = self.starved.take();
        if data {
            self.data_requests = self.data_requests.saturating_add(1);
            self.first_data.get_or_insert((m.frame, m.ts_ns));
            self.data_in_flight += 1;
            self.max_in_flight = self.max_in_flight.max(self.data_in_flight);
            if let Some(Starved { frame, ts_ns, refill: Some((rf, rts, short, window)), .. }) = stalled {
                // This request could only leave once the response of `rf` granted credits back.
                if short && window <= WINDOW_MAX {
                    if window > self.cap || self.stalls == 0 {
                        // A new (higher) limit: the server is still ramping up; count afresh.
                        self.cap = window;
                        self.stalls = 0;
                        self.wait_ns = 0;
                        self.first = Some((frame, rf));
                    }
                    self.stalls += 1;
                    self.wait_ns = self.wait_ns.saturating_add(rts.saturating_sub(ts_ns).max(0));
                    self.last = Some((frame, rf));
                    self.most_asked = self.most_asked.max(m.credits);
                    if self.stalls >= STALLS_MIN {
                        finding = Some(self.finding(m));
                    }
                } else {
                    self.stalls = 0;
                }
            }
            if self.balance() < charge {
                self.starved = Some(Starved { frame: m.frame, ts_ns: m.ts_ns, need: charge, refill: None });
            }
        }
        (true, finding)
    }

    fn on_response(&mut self, m: &CreditMsg) -> (bool, Option<Finding>) {
        self.granted = self.granted.saturating_add(u64::from(m.credits));
        let mut short = false;
        // Only requests these books charged (the state matched the exchange).
        if let Some(r) = m.request.filter(|r| r.seq >= self.first_seq && m.msg_id != u64::MAX) {
            short = m.credits < r.asked;
            if !r.answered {
                self.out_charge = self.out_charge.saturating_sub(u64::from(r.charge.max(1)));
            }
            if !m.interim && r.data {
                self.data_in_flight = self.data_in_flight.saturating_sub(1);
            }
        }
        self.bytes = self.bytes.saturating_add(m.bytes);
        let balance = self.balance();
        let window = balance.saturating_add(self.out_charge);
        if let Some(s) = self.starved.as_mut() {
            if s.refill.is_none() && balance >= s.need && m.credits > 0 {
                s.refill = Some((m.frame, m.ts_ns, short, window));
            }
        }
        (true, None)
    }

    fn finding(&self, m: &CreditMsg) -> Finding {
        let (first_zero, first_refill) = self.first.unwrap_or((m.frame, m.frame));
        let (last_zero, last_refill) = self.last.unwrap_or((m.frame, m.frame));
        let (start_frame, start_ns) = self.first_data.unwrap_or((m.frame, m.ts_ns));
        let elapsed = m.ts_ns.saturating_sub(start_ns).max(1);
        let pct = (self.wait_ns.saturating_mul(100) / elapsed).clamp(0, 100);
        let cmd = if m.cmd == Command::WRITE { "WRITE" } else { "READ" };
        let in_flight = if self.max_in_flight <= 1 { "one request at a time".to_string() } else { format!("at most {} requests at a time", self.max_in_flight) };
        let mut related = vec![first_zero, first_refill, last_zero, last_refill, m.frame];
        related.sort_unstable();
        related.dedup();
        let kib = self.cap.saturating_mul(64);
        let window = if kib >= 1024 && kib / 1024 * 1024 == kib { format!("{} MiB", kib / 1024) } else { format!("{kib} KiB") };
        let credits = if self.cap == 1 { "1 credit".to_string() } else { format!("{} credits", self.cap) };
        Finding {
            rule: &catalog::PERF_CREDIT_STARVATION,
            text: format!(
                "Credit starvation: the server let this client hold at most {credits} ({window} of READ/WRITE in flight at 64 KiB a credit), though the client asked for up to {asked} more, so the transfer went {in_flight} ({n} READ/WRITE requests since frame {start_frame}, {moved} moved so far). {stalls} times the client spent its credits on a {cmd} (first in frame {first_zero}, latest in frame {last_zero}) and could send the next one only after a response granted credits back (frames {first_refill} to {last_refill}): it waited {wait} in all for grants, {pct}% of the {elapsed} since the transfer began. Every round trip carries at most {window}, so the latency between client and server, not bandwidth, sets the speed. Fix: raise the server's credit limit (Windows: Set-SmbServerConfiguration -Smb2CreditsMin / -Smb2CreditsMax, defaults 512 and 8192; Samba: `smb2 max credits`, default 8192; a NAS or proxy in between: its own setting), or shorten the round trip (a closer server, a faster path).",
                asked = self.most_asked,
                n = self.data_requests,
                moved = bytes_phrase(self.bytes),
                stalls = self.stalls,
                wait = secs(self.wait_ns),
                elapsed = secs(elapsed),
            ),
            related_frames: related,
        }
    }
}

fn bytes_phrase(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as the state hands them over: requests entered in a pending
    /// table (here a map by message id), responses matched to them.
    struct Sim {
        rules: CreditRules,
        frame: u32,
        ts: i64,
        next_id: u64,
        next_seq: u64,
        pending: std::collections::HashMap<u64, CreditReq>,
        found: Vec<Finding>,
    }

    impl Sim {
        fn new() -> Self {
            Sim { rules: CreditRules::default(), frame: 0, ts: 0, next_id: 0, next_seq: 0, pending: Default::default(), found: Vec::new() }
        }
        #[allow(clippy::too_many_arguments)]
        fn msg(&mut self, is_response: bool, cmd: Command, msg_id: u64, charge: u16, credits: u16, data: bool, bytes: u64) {
            self.frame += 1;
            self.ts += 100_000;
            let request = if is_response {
                self.pending.remove(&msg_id)
            } else {
                let r = CreditReq { seq: self.next_seq, charge, asked: credits, data, answered: false, reused_id: self.pending.contains_key(&msg_id) };
                self.next_seq += 1;
                self.pending.insert(msg_id, r);
                Some(r)
            };
            let m = CreditMsg {
                frame: self.frame,
                ts_ns: self.ts,
                is_response,
                cmd,
                msg_id,
                charge,
                credits,
                interim: false,
                bytes,
                request,
                next_seq: self.next_seq,
                pending_dropped: false,
            };
            if let Some(f) = self.rules.on_credit_msg(ConnId::new(1, 0), &m, data) {
                self.found.push(f);
            }
        }
        /// A request and its answer granting `grant`.
        fn exchange(&mut self, cmd: Command, charge: u16, asked: u16, grant: u16) {
            let id = self.next_id;
            self.next_id += u64::from(charge.max(1));
            let data = matches!(cmd, Command::READ | Command::WRITE);
            self.msg(false, cmd, id, charge, asked, data, 0);
            self.msg(true, cmd, id, charge, grant, false, if data { u64::from(charge) * 65536 } else { 0 });
        }
        fn logon(&mut self, limit: u16) {
            self.exchange(Command::NEGOTIATE, 0, 31, 1);
            self.exchange(Command::SESSION_SETUP, 1, 8192, limit);
        }
    }

    #[test]
    fn a_client_held_to_four_credits_is_starved() {
        let mut s = Sim::new();
        s.logon(4);
        for _ in 0..7 {
            s.exchange(Command::READ, 4, 8189, 4);
        }
        assert!(s.found.is_empty());
        // The 9th READ is the 8th that had to wait for a grant.
        s.exchange(Command::READ, 4, 8189, 4);
        s.exchange(Command::READ, 4, 8189, 4);
        assert_eq!(s.found.len(), 1, "{:?}", s.found.iter().map(|f| &f.text).collect::<Vec<_>>());
        let t = &s.found[0].text;
        assert!(t.contains("at most 4 credits (256 KiB") && t.contains("8189") && t.contains("one request at a time") && t.contains("8 times"), "{t}");
        // Once per connection.
        for _ in 0..20 {
            s.exchange(Command::READ, 4, 8189, 4);
        }
        assert_eq!(s.found.len(), 1);
    }

    #[test]
    fn a_client_given_what_it_asks_is_not_starved() {
        // One request at a time with exactly the credits it asks for: its own choice.
        let mut s = Sim::new();
        s.logon(1);
        for _ in 0..50 {
            s.exchange(Command::READ, 1, 1, 1);
        }
        assert!(s.found.is_empty());
    }

    #[test]
    fn a_large_window_or_spare_credits_are_not_starvation() {
        let mut s = Sim::new();
        s.logon(512);
        for _ in 0..50 {
            s.exchange(Command::READ, 128, 8192, 128);
        }
        assert!(s.found.is_empty());
        // A window above the limit, spent to the last credit: a client using it to the full.
        let mut s = Sim::new();
        s.logon(128);
        for _ in 0..50 {
            s.exchange(Command::READ, 128, 8192, 128);
        }
        assert!(s.found.is_empty());
    }

    #[test]
    fn books_opened_mid_stream_or_inconsistent_are_dropped() {
        let mut s = Sim::new();
        // No NEGOTIATE: the balance is unknown.
        s.next_id = 100;
        for _ in 0..50 {
            s.exchange(Command::READ, 4, 8189, 4);
        }
        assert!(s.found.is_empty() && s.rules.is_empty());
        // A request beyond the credits granted: a grant is missing.
        let mut s = Sim::new();
        s.logon(4);
        s.msg(false, Command::READ, 1000, 4, 8189, true, 0);
        for _ in 0..50 {
            s.exchange(Command::READ, 4, 8189, 4);
        }
        assert!(s.found.is_empty());
        assert!(!s.rules.tracking(ConnId::new(1, 0)));
        // A request the state had to forget: the books close.
        let mut s = Sim::new();
        s.logon(4);
        assert!(s.rules.tracking(ConnId::new(1, 0)));
        s.frame += 1;
        let m = CreditMsg {
            frame: s.frame,
            ts_ns: s.ts,
            is_response: false,
            cmd: Command::READ,
            msg_id: 2,
            charge: 1,
            credits: 1,
            interim: false,
            bytes: 0,
            request: None,
            next_seq: s.next_seq,
            pending_dropped: true,
        };
        assert!(s.rules.on_credit_msg(ConnId::new(1, 0), &m, true).is_none());
        assert!(!s.rules.tracking(ConnId::new(1, 0)));
    }
}
