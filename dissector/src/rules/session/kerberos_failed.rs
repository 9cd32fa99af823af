//! session.kerberos_failed: an SMB connection that ends after a successful
//! NEGOTIATE without the client ever sending a SESSION_SETUP, shortly after
//! the KDC refused the same client a ticket for a cifs/ service. The client
//! could not get a ticket and did not fall back to NTLM; without the KDC's
//! answer the capture would show nothing but a connection closed early.
//!
//! State: only connections between their NEGOTIATE and their first other
//! request (normally a few milliseconds), so the map is small; the evidence
//! is looked up in the KDC log only when such a connection ends (FIN or RST).

use crate::limits::{Bound, Limit};
use std::net::IpAddr;

use crate::rules::catalog;
use crate::rules::kdc_evidence::{self, KDC_EVIDENCE_WINDOW_NS};
use crate::rules::{secs, MsgEvent, SegEvent};
use crate::net::flow::{ConnId, Dir};
use crate::net::slots::PerConn;
use crate::output::Finding;
use crate::smb::records::negotiate_records::NegotiateContext;
use crate::smb::records::Body;
use crate::smb::types::{Command, NtStatus};
use crate::state::kdc::{KdcErrorSeen, KdcLog};

/// Connections waiting for their first SESSION_SETUP tracked at once.
const MAX_PENDING: usize = 65_536;
/// Characters of the NEGOTIATE's server name kept.
const MAX_NETNAME: usize = 255;

/// A connection that sent a NEGOTIATE and nothing else yet.
#[derive(Debug)]
struct Pending {
    negotiate_frame: u32,
    negotiate_ts: i64,
    /// The server answered the NEGOTIATE with success.
    negotiated: bool,
    /// The name the client used for the server (SMB 3.1.1 NETNAME context).
    netname: Option<String>,
}

#[derive(Debug, Default)]
pub struct KerberosFailedRules {
    pending: PerConn<Pending>,
    pending_bound: Bound,
}

static PENDING_LIMIT: Limit = Limit {
    table: "connections awaiting their first SESSION_SETUP",
    max: MAX_PENDING,
    effect: "new connections are not followed from NEGOTIATE to SESSION_SETUP, so session.kerberos_failed does not judge them",
};

impl KerberosFailedRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.pending_bound);
    }

    pub fn forget(&mut self, id: ConnId) {
        self.pending.remove(id);
    }

    /// Connections tracked (for bounds tests).
    pub fn tracked(&self) -> usize {
        self.pending.len()
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>) {
        let h = ev.hdr;
        let id = ev.conn.id;
        if h.is_response() {
            if h.command == Command::NEGOTIATE {
                if let Some(p) = self.pending.get_mut(id) {
                    if h.status == NtStatus::SUCCESS {
                        p.negotiated = true;
                    } else {
                        self.pending.remove(id);
                    }
                }
            }
            return;
        }
        if h.command != Command::NEGOTIATE {
            // A SESSION_SETUP (or any later request): the client went on.
            if !self.pending.is_empty() {
                self.pending.remove(id);
            }
            return;
        }
        if self.pending.contains(id) || !self.pending_bound.admit(&PENDING_LIMIT, self.pending.len(), ev.frame) {
            return;
        }
        let netname = match ev.body {
            Body::NegotiateRequest(n) => n.contexts.iter().find_map(|c| match c {
                NegotiateContext::NetName(s) if !s.is_empty() => Some(s.chars().take(MAX_NETNAME).collect()),
                _ => None,
            }),
            _ => None,
        };
        self.pending.get_or_insert_with(id, || Pending { negotiate_frame: ev.frame, negotiate_ts: ev.ts_ns, negotiated: false, netname });
    }

    pub fn on_segment(&mut self, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        let obs = &ev.info.obs;
        if !(obs.fin || obs.rst) || self.pending.is_empty() {
            return;
        }
        // One look per connection: its first FIN or RST.
        let Some(p) = self.pending.remove(ev.conn.id) else { return };
        if !p.negotiated {
            return;
        }
        let errors = errors_before_close(ev.kdc, ev.conn.client.addr, &p, ev.frame, ev.ts_ns);
        let Some((said, next, error_frames)) = kdc_evidence::explain(&errors) else { return };
        let how = if obs.rst { "reset it (TCP RST)" } else { "closed it (TCP FIN)" };
        let after = secs(ev.ts_ns.saturating_sub(p.negotiate_ts));
        let (client, server) = (ev.conn.client.addr, ev.conn.server);
        let head = match ev.info.dir {
            Dir::ToServer => format!(
                "The client {client} gave up on the SMB connection to {server} after NEGOTIATE without logging on (frame {}): it {how} {after} after its NEGOTIATE (frame {}) and never sent a SESSION_SETUP",
                ev.frame, p.negotiate_frame
            ),
            Dir::ToClient => format!(
                "The SMB connection from the client {client} to {server} ended after NEGOTIATE without a logon (frame {}): the server {how} {after} after the client's NEGOTIATE (frame {}), and the client never sent a SESSION_SETUP",
                ev.frame, p.negotiate_frame
            ),
        };
        let spn = errors.first().and_then(|e| e.service.as_ref()).map(|s| s.name.join("/")).unwrap_or_default();
        let mut related = vec![p.negotiate_frame];
        related.extend(error_frames.iter().copied().take(8));
        out.push(Finding {
            rule: &catalog::SESSION_KERBEROS_FAILED,
            text: format!(
                "{head}. It could not get a Kerberos ticket: {said}. The KDC was reachable and refused the ticket, and the client did not fall back to NTLM (it requires Kerberos, NTLM is restricted for it, or it takes this error as final), so the user gets a logon or access error instead of the share. Next check: {next}, then `klist get {spn}` on the client.",
            ),
            related_frames: related,
        });
    }
}

/// The KDC's refusals of a ticket to a cifs/ service for this client, after
/// the connection's NEGOTIATE and at most `KDC_EVIDENCE_WINDOW_NS` before its
/// end, for the name the client used when the NEGOTIATE names it, that no
/// ticket (for the same service, or one whose service is unknown) followed.
/// Routine steps (pre-authentication required, response too big) are not
/// evidence. Oldest first.
fn errors_before_close<'a>(log: &'a KdcLog, client: IpAddr, p: &Pending, end_frame: u32, end_ts: i64) -> Vec<&'a KdcErrorSeen> {
    if log.errors.is_empty() {
        return Vec::new();
    }
    let host_of = |e: &KdcErrorSeen| e.service.as_ref().filter(|s| s.service().eq_ignore_ascii_case("cifs")).and_then(|s| s.host().map(str::to_string));
    log.errors
        .iter()
        .filter(|e| e.client == client && e.frame > p.negotiate_frame && e.frame < end_frame)
        .filter(|e| (0..=KDC_EVIDENCE_WINDOW_NS).contains(&end_ts.saturating_sub(e.ts_ns)))
        .filter(|e| !kdc_evidence::is_routine(e.error.code))
        .filter(|e| match (host_of(e), p.netname.as_deref()) {
            (None, _) => false,
            (Some(h), Some(n)) => kdc_evidence::same_host(&h, n),
            (Some(_), None) => true,
        })
        .filter(|e| {
            let host = host_of(e).unwrap_or_default();
            !log.tickets.iter().any(|t| {
                t.client == client
                    && t.frame > e.frame
                    && t.frame < end_frame
                    && t.service.as_ref().is_none_or(|s| s.service().eq_ignore_ascii_case("cifs") && s.host().is_some_and(|x| kdc_evidence::same_host(x, &host)))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::FrameInput;
    use crate::kerberos::messages::{KdcError, Principal};
    use crate::state::kdc::TicketSeen;
    use kerberos_parser::krb5::ErrorCode;

    const S: i64 = 1_000_000_000;

    fn cifs(host: &str) -> Option<Principal> {
        Some(Principal { name: vec!["cifs".into(), host.into()], realm: "LAB.TEST".into() })
    }

    fn err(frame: u32, ts_ns: i64, client: [u8; 4], code: ErrorCode, service: Option<Principal>) -> KdcErrorSeen {
        let error = KdcError { code, service: None, client: None, etext: None };
        KdcErrorSeen { frame, ts_ns, client: IpAddr::from(client), error, service, request_frame: None }
    }

    #[test]
    fn which_errors_count() {
        let c = [10, 99, 0, 1];
        let p = Pending { negotiate_frame: 10, negotiate_ts: 0, negotiated: true, netname: Some("files.lab.test".into()) };
        let mut log = KdcLog::default();
        log.errors.push_back(err(5, 0, c, ErrorCode::KRB_AP_ERR_SKEW, cifs("files.lab.test"))); // before the NEGOTIATE
        log.errors.push_back(err(11, S, c, ErrorCode::KDC_ERR_PREAUTH_REQUIRED, cifs("files.lab.test"))); // routine
        log.errors.push_back(err(12, S, c, ErrorCode::KRB_AP_ERR_SKEW, cifs("other.lab.test"))); // another server
        log.errors.push_back(err(13, S, c, ErrorCode::KRB_AP_ERR_SKEW, Some(Principal { name: vec!["krbtgt".into(), "LAB.TEST".into()], realm: "LAB.TEST".into() })));
        log.errors.push_back(err(14, S, [10, 99, 0, 3], ErrorCode::KRB_AP_ERR_SKEW, cifs("files.lab.test"))); // another client
        log.errors.push_back(err(15, 2 * S, c, ErrorCode::KRB_AP_ERR_SKEW, cifs("FILES"))); // the one
        let got = |log: &KdcLog, end_ts| errors_before_close(log, IpAddr::from(c), &p, 20, end_ts).iter().map(|e| e.frame).collect::<Vec<_>>();
        assert_eq!(got(&log, 3 * S), vec![15]);
        // Too long before the end.
        assert!(got(&log, 2 * S + KDC_EVIDENCE_WINDOW_NS + 1).is_empty());
        // Without a NETNAME any cifs/ service counts.
        let p2 = Pending { netname: None, ..p };
        assert_eq!(errors_before_close(&log, IpAddr::from(c), &p2, 20, 3 * S).iter().map(|e| e.frame).collect::<Vec<_>>(), vec![12, 15]);
        // A ticket for the service afterwards: the client got past the error.
        log.tickets.push_back(TicketSeen { frame: 16, ts_ns: 2 * S, client: IpAddr::from(c), service: cifs("files.lab.test") });
        assert!(got(&log, 3 * S).is_empty());
    }

    use crate::test_support::lab_capture;

    /// The session.kerberos_failed findings (frame, text, related) after
    /// `edit` changed or dropped (None) each frame.
    fn run(cap: &[u8], edit: &mut dyn FnMut(&FrameInput<'_>) -> Option<Vec<u8>>) -> Vec<(u32, String, Vec<u32>)> {
        crate::test_support::findings_of(cap, "session.kerberos_failed", edit)
    }

    fn all(f: &FrameInput<'_>) -> Option<Vec<u8>> {
        Some(f.data.to_vec())
    }

    #[test]
    fn skew_then_close_after_negotiate() {
        let got = run(&lab_capture("kerberos_clock_skew_kdc.pcap"), &mut all);
        let [(42, text, related)] = got.as_slice() else { panic!("{got:?}") };
        assert!(text.starts_with("The client 10.99.0.1 gave up on the SMB connection to 10.99.0.2:445 after NEGOTIATE without logging on (frame 42)"), "{text}");
        assert!(text.contains("KRB_AP_ERR_SKEW (frames 27 and 39) to the client's request for a ticket to cifs/labdc.lab.test"), "{text}");
        assert_eq!(related, &[4, 27, 39]);
    }

    #[test]
    fn no_kdc_errors_or_no_close_is_no_evidence() {
        let cap = lab_capture("kerberos_clock_skew_kdc.pcap");
        // Without the KDC's errors: a connection closed early, nothing more.
        assert!(run(&cap, &mut |f| (![27, 39].contains(&f.number)).then(|| f.data.to_vec())).is_empty());
        // The capture ending before the close is not evidence.
        assert!(run(&cap, &mut |f| (f.number < 42).then(|| f.data.to_vec())).is_empty());
        // A SESSION_SETUP sent (here: the NEGOTIATE response dropped, so
        // nothing was negotiated) is not this case either.
        assert!(run(&cap, &mut |f| (f.number != 6).then(|| f.data.to_vec())).is_empty());
    }

    #[test]
    fn quiet_where_the_client_logged_on_or_no_kdc() {
        for name in ["kerberos_ntlm_fallback.pcap", "kerberos_healthy.pcap", "kerberos_clock_skew_server.pcap", "client_gives_up.pcap", "dialect_rejected.pcap"] {
            let got = run(&lab_capture(name), &mut all);
            assert!(got.is_empty(), "{name}: {got:?}");
        }
    }
}
