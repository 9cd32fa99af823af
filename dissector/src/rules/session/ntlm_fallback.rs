//! session.ntlm_fallback: a logon that settled on NTLM although Kerberos was
//! on offer, with the likeliest reason (the KDC's own answer when the capture
//! holds it, else the name the client asked a ticket for). Raised once per
//! session, on the final SESSION_SETUP response.

use ahash::HashSet;

use crate::limits::{Bound, Limit};
use crate::output::Finding;
use crate::rules::{catalog, kdc_evidence, MsgEvent};
use crate::smb::auth::Authentication;
use crate::smb::types::{Command, NtStatus};
use crate::state::session::{Session, SessionKey};

const MAX_KEYS: usize = 65_536;

static REPORTED_LIMIT: Limit = Limit {
    table: "sessions session.ntlm_fallback has reported",
    max: MAX_KEYS,
    effect: "session.ntlm_fallback does not judge further sessions",
};

#[derive(Debug, Default)]
pub struct NtlmFallbackRules {
    reported: HashSet<SessionKey>,
    reported_bound: Bound,
}

impl NtlmFallbackRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.reported_bound);
    }

    /// The first time this session is judged (it is reported once).
    fn first_time(&mut self, key: SessionKey, frame: u32) -> bool {
        !self.reported.contains(&key) && self.reported_bound.admit(&REPORTED_LIMIT, self.reported.len(), frame) && self.reported.insert(key)
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        let Some(s) = ev.session else { return };
        let final_setup = h.is_response() && h.command == Command::SESSION_SETUP && h.status != NtStatus::MORE_PROCESSING_REQUIRED && !ev.fields.interim;
        if final_setup && s.kerberos_offered && s.auth.is_some_and(Authentication::is_ntlm) && self.first_time(s.key, ev.frame) {
            let name = s.target_spn.as_deref().map(|t| t.split_once('/').map(|x| x.1).unwrap_or(t)).unwrap_or("");
            // The KDC's own answer, when the capture holds the client's port-88 exchange, beats a guess.
            let kdc = kdc_evidence::evidence(ev, s);
            let why = if let Some((said, _, _)) = &kdc {
                format!("{said}. The KDC was reachable and refused the ticket, so the client fell back to NTLM")
            } else if name.is_empty() {
                "the client did not say which name it used (no MsvAvTargetName); a missing SPN for that name or an unreachable KDC is the usual reason".to_string()
            } else if name.parse::<std::net::IpAddr>().is_ok() {
                format!("the client addressed the server by IP address ({name}), and no Kerberos SPN exists for an address by default")
            } else if own_name(s, name) {
                // The server's own name has its SPN; the client never got as far as asking.
                let realm = s.user.as_deref().and_then(|u| u.split_once('\\').map(|x| x.0).or_else(|| u.split_once('@').map(|x| x.1)));
                format!(
                    "the client asked for cifs/{name}, the server's own name (its NTLM CHALLENGE says so), which has an SPN, so the likely reason is that the client could not get a ticket at all: no KDC reachable for the account's realm{}, an account Kerberos cannot serve there (a local or another forest's account), or a tool that only does NTLM",
                    realm.map(|r| format!(" ({r})")).unwrap_or_default()
                )
            } else {
                format!("the client asked for cifs/{name}: no SPN is registered for that name (an alias or CNAME?), the client could not reach a KDC, or the client does not do Kerberos at all (many tools use NTLM only)")
            };
            let next = match &kdc {
                Some((_, next, _)) => next.clone(),
                None if own_name(s, name) => format!("`klist` on the client and `klist get cifs/{name}`, and whether the client finds a KDC for the account's domain (nltest /dsgetdc:<domain>)"),
                None => "connect by the server's DNS name, `setspn -Q cifs/<name>` for the name used, `klist get cifs/<name>` on the client".to_string(),
            };
            let mut related: Vec<u32> = s.setup_frame.into_iter().collect();
            related.extend(kdc.map(|(_, _, frames)| frames).unwrap_or_default());
            out.push(Finding {
                rule: &catalog::SESSION_NTLM_FALLBACK,
                text: format!(
                    "NTLM instead of Kerberos for session 0x{:x} ({}): Kerberos was on offer but not used; {why}. NTLM is weaker and, with strict name checking, aliases fail with it. Next check: {next}.",
                    s.key.id,
                    s.user.as_deref().unwrap_or("user not captured")
                ),
                related_frames: related,
            });
        }
    }
}

/// The name the client used is one the server gives itself in its NTLM
/// CHALLENGE (DNS or NetBIOS computer name, or the DNS name's first label).
fn own_name(s: &Session, name: &str) -> bool {
    let host = name.split('@').next().unwrap_or(name).trim_end_matches('.');
    let dns = s.server_dns_name.as_deref().map(|d| d.trim_end_matches('.'));
    !host.is_empty()
        && (dns.is_some_and(|d| d.eq_ignore_ascii_case(host) || d.split('.').next().is_some_and(|l| l.eq_ignore_ascii_case(host)))
            || s.server_nb_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(host)))
}
