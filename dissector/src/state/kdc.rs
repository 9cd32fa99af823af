//! What KDCs told clients, from port-88 traffic: the last errors and tickets
//! issued, each with the service the client asked for, for the rules to
//! match against SMB sessions. Per TCP stream the two record framers and the
//! client's last request (a KRB-ERROR often leaves the service out: the
//! request names it).

use std::collections::VecDeque;
use std::net::IpAddr;

use ahash::HashMap;

use crate::kerberos::framing::RecordFramer;
use crate::kerberos::messages::{self, KdcError, KdcMessage, Principal};
use crate::kerberos::KDC_PORT;
use crate::limits::{Bound, Limit};
use crate::net::flow::{ConnId, Dir};
use crate::net::link::Endpoint;
use crate::net::reassembly::StreamChunk;

/// KDC errors kept (the newest); older ones are long past any SESSION_SETUP.
pub const MAX_KDC_ERRORS: usize = 256;
/// Tickets issued kept (the newest), to tell an error the client got past.
pub const MAX_KDC_TICKETS: usize = 256;
/// Port-88 TCP streams read at once; the least recently active go first.
/// Each holds at most two records of `framing::MAX_RECORD_KEEP` bytes.
pub const MAX_KDC_STREAMS: usize = 1024;
/// UDP client/KDC pairs whose last request is remembered.
pub const MAX_KDC_UDP_PAIRS: usize = 256;

static ERRORS_LIMIT: Limit = Limit {
    table: "KDC errors",
    max: MAX_KDC_ERRORS,
    effect: "the oldest KDC error is forgotten for each new one, so a SESSION_SETUP long after its client's KDC exchange is judged without the KDC's answer",
};
static TICKETS_LIMIT: Limit = Limit {
    table: "KDC tickets",
    max: MAX_KDC_TICKETS,
    effect: "the oldest ticket issued is forgotten for each new one, so a KDC error the client later got past may be quoted as evidence",
};
static STREAMS_LIMIT: Limit = Limit {
    table: "port-88 TCP streams",
    max: MAX_KDC_STREAMS,
    effect: "the least recently active streams are dropped, and a KDC message split across the drop is not read",
};
static UDP_LIMIT: Limit = Limit {
    table: "port-88 UDP client/KDC pairs",
    max: MAX_KDC_UDP_PAIRS,
    effect: "the oldest pair's last request is forgotten, so a later KDC error to it does not name the service asked for",
};

/// A KRB-ERROR sent to a client.
#[derive(Clone, Debug)]
pub struct KdcErrorSeen {
    pub frame: u32,
    pub ts_ns: i64,
    /// The client's address (the side that is not the KDC).
    pub client: IpAddr,
    pub error: KdcError,
    /// The service the client asked for: the error's own sname, else the
    /// request's on the same stream.
    pub service: Option<Principal>,
    /// The request the error answers, when seen.
    pub request_frame: Option<u32>,
}

/// An AS-REP or TGS-REP sent to a client: it got a ticket.
#[derive(Clone, Debug)]
pub struct TicketSeen {
    pub frame: u32,
    pub ts_ns: i64,
    pub client: IpAddr,
    pub service: Option<Principal>,
}

/// The newest KDC errors and tickets, oldest first.
#[derive(Debug, Default)]
pub struct KdcLog {
    pub errors: VecDeque<KdcErrorSeen>,
    pub tickets: VecDeque<TicketSeen>,
    errors_bound: Bound,
    tickets_bound: Bound,
}

impl KdcLog {
    fn push_error(&mut self, e: KdcErrorSeen) {
        if !self.errors_bound.admit(&ERRORS_LIMIT, self.errors.len(), e.frame) {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
    }

    fn push_ticket(&mut self, t: TicketSeen) {
        if !self.tickets_bound.admit(&TICKETS_LIMIT, self.tickets.len(), t.frame) {
            self.tickets.pop_front();
        }
        self.tickets.push_back(t);
    }
}

/// The client's last request on a stream or UDP pair.
#[derive(Clone, Debug)]
struct LastRequest {
    frame: u32,
    service: Option<Principal>,
}

#[derive(Debug, Default)]
struct KdcStream {
    to_server: RecordFramer,
    to_client: RecordFramer,
    request: Option<LastRequest>,
    last_frame: u32,
}

#[derive(Debug, Default)]
pub struct KdcState {
    streams: HashMap<ConnId, KdcStream>,
    udp: HashMap<(Endpoint, Endpoint), (u32, LastRequest)>,
    pub log: KdcLog,
    /// Streams dropped to stay under `MAX_KDC_STREAMS`.
    pub streams_evicted: u64,
    streams_bound: Bound,
    udp_bound: Bound,
}

/// Where one message was seen.
#[derive(Clone, Copy)]
struct At {
    frame: u32,
    ts_ns: i64,
    client: IpAddr,
}

impl KdcState {
    /// Is this a segment or datagram to or from a KDC? (The only test other traffic pays.)
    #[inline]
    pub fn is_kdc(a: Endpoint, b: Endpoint) -> bool {
        a.port == KDC_PORT || b.port == KDC_PORT
    }

    /// The client of a segment or datagram to or from the KDC: the side not on port 88.
    #[inline]
    pub fn client_of(src: Endpoint, dst: Endpoint) -> IpAddr {
        if dst.port == KDC_PORT {
            src.addr
        } else {
            dst.addr
        }
    }

    /// Stream bytes of one direction of a port-88 TCP connection. The
    /// direction only picks the framer: what a message is tells who sent it.
    pub fn on_tcp(&mut self, conn: ConnId, dir: Dir, client: IpAddr, chunk: StreamChunk<'_>, frame: u32, ts_ns: i64) {
        if !self.streams.contains_key(&conn) && !self.streams_bound.admit(&STREAMS_LIMIT, self.streams.len(), frame) {
            self.evict();
        }
        let s = self.streams.entry(conn).or_default();
        s.last_frame = frame;
        let at = At { frame, ts_ns, client };
        let KdcStream { to_server, to_client, request, .. } = s;
        let framer = match dir {
            Dir::ToServer => to_server,
            Dir::ToClient => to_client,
        };
        let log = &mut self.log;
        framer.feed(chunk, &mut |rec| {
            if let Some(m) = messages::read_message(rec.data, rec.is_whole()) {
                on_message(log, request, m, at);
            }
        });
    }

    /// One UDP datagram from `from` to `to`, one of them on port 88.
    pub fn on_udp(&mut self, from: Endpoint, to: Endpoint, payload: &[u8], frame: u32, ts_ns: i64) {
        let to_kdc = to.port == KDC_PORT;
        let (client, kdc) = if to_kdc { (from, to) } else { (to, from) };
        // A datagram holds one whole message (no record mark on UDP).
        let Some(m) = messages::read_message(payload, true) else { return };
        let key = (client, kdc);
        if !self.udp.contains_key(&key) && !self.udp_bound.admit(&UDP_LIMIT, self.udp.len(), frame) {
            if let Some(oldest) = self.udp.iter().min_by_key(|(_, (f, _))| *f).map(|(k, _)| *k) {
                self.udp.remove(&oldest);
            }
        }
        let mut request = self.udp.get(&key).map(|(_, r)| r.clone());
        on_message(&mut self.log, &mut request, m, At { frame, ts_ns, client: client.addr });
        match request {
            Some(r) => {
                self.udp.insert(key, (frame, r));
            }
            None => {
                self.udp.remove(&key);
            }
        }
    }

    /// The bounds of the port-88 tables.
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.streams_bound);
        f(&mut self.udp_bound);
        f(&mut self.log.errors_bound);
        f(&mut self.log.tickets_bound);
    }

    /// A connection ended for good.
    pub fn forget(&mut self, conn: ConnId) {
        self.streams.remove(&conn);
    }

    /// Streams held and bytes buffered (for bounds tests).
    pub fn held(&self) -> (usize, usize) {
        (self.streams.len(), self.streams.values().map(|s| s.to_server.buffered() + s.to_client.buffered()).sum())
    }

    /// Drop the tenth of streams least recently active.
    fn evict(&mut self) {
        let mut by_age: Vec<(ConnId, u32)> = self.streams.iter().map(|(k, s)| (*k, s.last_frame)).collect();
        by_age.sort_by_key(|(_, f)| *f);
        for (k, _) in by_age.into_iter().take(MAX_KDC_STREAMS / 10 + 1) {
            self.streams.remove(&k);
            self.streams_evicted += 1;
        }
    }
}

fn on_message(log: &mut KdcLog, request: &mut Option<LastRequest>, m: KdcMessage, at: At) {
    match m {
        KdcMessage::Request { service, .. } => *request = Some(LastRequest { frame: at.frame, service }),
        KdcMessage::Reply { .. } => {
            let req = request.take();
            log.push_ticket(TicketSeen { frame: at.frame, ts_ns: at.ts_ns, client: at.client, service: req.and_then(|r| r.service) });
        }
        KdcMessage::Error(error) => {
            let req = request.take();
            let service = error.service.clone().or_else(|| req.as_ref().and_then(|r| r.service.clone()));
            log.push_error(KdcErrorSeen { frame: at.frame, ts_ns: at.ts_ns, client: at.client, error, service, request_frame: req.map(|r| r.frame) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kerberos::real_bytes::*;
    use crate::smb::records::test_util::hex;
    use kerberos_parser::krb5::ErrorCode;
    use std::net::Ipv4Addr;

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint { addr: IpAddr::V4(Ipv4Addr::new(10, 99, 0, last)), port }
    }

    #[test]
    fn error_takes_the_service_from_the_request_on_its_stream() {
        let (c, k) = (ep(1, 41224), ep(2, 88));
        let mut st = KdcState::default();
        let (a, b, e) = (hex(TGS_REQ_PART1), hex(TGS_REQ_PART2), hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN));
        assert_eq!(KdcState::client_of(k, c), c.addr);
        st.on_tcp(ConnId::new(1, 0), Dir::ToServer, c.addr, StreamChunk::Data(&a), 23, 0);
        st.on_tcp(ConnId::new(1, 0), Dir::ToServer, c.addr, StreamChunk::Data(&b), 24, 1);
        st.on_tcp(ConnId::new(1, 0), Dir::ToClient, c.addr, StreamChunk::Data(&e), 27, 2);
        let got = st.log.errors.back().expect("an error");
        assert_eq!((got.frame, got.request_frame, got.client), (27, Some(24), c.addr));
        assert_eq!(got.error.code, ErrorCode::KDC_ERR_S_PRINCIPAL_UNKNOWN);
        assert_eq!(got.service.as_ref().map(|p| p.to_string()).as_deref(), Some("cifs/files.lab.test@LAB.TEST"));
        // Nothing held once the exchange is over.
        assert_eq!(st.held().1, 0);
    }

    #[test]
    fn udp_datagrams_pair_by_endpoints() {
        let (c, k) = (ep(1, 50000), ep(2, 88));
        let mut st = KdcState::default();
        let req: Vec<u8> = [hex(TGS_REQ_PART1), hex(TGS_REQ_PART2)].concat();
        let e = hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN);
        st.on_udp(c, k, &req[4..], 5, 0);
        st.on_udp(k, c, &e[4..], 6, 1);
        let got = st.log.errors.back().expect("an error");
        assert_eq!(got.request_frame, Some(5));
        assert_eq!(got.service.as_ref().and_then(|p| p.host()), Some("files.lab.test"));
    }

    #[test]
    fn bounded() {
        let (c, k) = (ep(1, 41224), ep(2, 88));
        let mut st = KdcState::default();
        let e = hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN);
        for i in 0..(MAX_KDC_STREAMS as u32 * 2) {
            st.on_tcp(ConnId::new(i, i), Dir::ToClient, c.addr, StreamChunk::Data(&e), i + 1, i as i64);
            // Half a record left waiting on every stream.
            st.on_tcp(ConnId::new(i, i), Dir::ToClient, c.addr, StreamChunk::Data(&e[..100]), i + 1, i as i64);
        }
        assert!(st.log.errors.len() == MAX_KDC_ERRORS);
        assert!(st.held().0 <= MAX_KDC_STREAMS && st.streams_evicted > 0);
        let req: Vec<u8> = [hex(TGS_REQ_PART1), hex(TGS_REQ_PART2)].concat();
        for i in 0..1000u16 {
            st.on_udp(ep(3, 1000 + i), k, &req[4..], i as u32, 0);
        }
        assert!(st.udp.len() <= MAX_KDC_UDP_PAIRS);
    }
}
