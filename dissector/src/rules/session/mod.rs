//! Who you are (session.*). Here, read from response statuses: logons
//! refused and why (account state, trust, aliases), sessions expired or
//! deleted under the client. From the logon's evidence: a fallback to NTLM
//! (`ntlm_fallback`), and a connection given up for want of a Kerberos
//! ticket (`kerberos_failed`).

pub mod kerberos_failed;
pub mod ntlm_fallback;

use ahash::HashMap;

use super::catalog::{self, RuleDef};
use super::kdc_evidence;
use super::responses::{account_rule, Explainer};
use super::status_advice::advice;
use super::{dialect_phrase, secs, session_phrase, user_phrase, MsgEvent};
use crate::limits::{Bound, Limit};
use crate::output::Finding;
use crate::smb::auth::Authentication;
use crate::smb::types::{Command, NtStatus};
use crate::state::session::{Session, SessionKey};

const MAX_KEYS: usize = 4096;

#[derive(Debug, Default)]
pub struct SessionRules {
    /// Last successful logon per session id: (response frame, time), and how
    /// often the session expired since it was first seen.
    logons: HashMap<SessionKey, Logon>,
    /// Sessions the client logged off: LOGOFF request frame and who it was
    /// (the session state forgets them, a later STATUS_USER_SESSION_DELETED
    /// still wants to name them).
    logoffs: HashMap<SessionKey, (u32, String)>,
    logons_bound: Bound,
    logoffs_bound: Bound,
}

static LOGONS_LIMIT: Limit = Limit {
    table: "logons",
    max: MAX_KEYS,
    effect: "the logons kept so far are forgotten, so a session that expires later is reported without its logon frame and age",
};
static LOGOFFS_LIMIT: Limit = Limit {
    table: "logoffs",
    max: MAX_KEYS,
    effect: "the logoffs kept so far are forgotten, so a later STATUS_USER_SESSION_DELETED is not explained by the client's own LOGOFF",
};

#[derive(Clone, Copy, Debug, Default)]
struct Logon {
    frame: u32,
    ts_ns: i64,
    expiries: u32,
}

/// Host part of an SPN ("cifs/files.contoso.com@REALM" → "files.contoso.com").
fn spn_host(spn: &str) -> Option<&str> {
    let rest = spn.split_once('/')?.1;
    let host = rest.split(['@', ':', '/']).next()?;
    (!host.is_empty()).then_some(host)
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// The name the client used is not one of the server's own names.
fn alias_evidence(s: &Session) -> Option<(String, String)> {
    let host = spn_host(s.target_spn.as_deref()?)?;
    if is_ip(host) {
        return None;
    }
    let nb = s.server_nb_name.as_deref();
    let dns = s.server_dns_name.as_deref();
    if nb.is_none() && dns.is_none() {
        return None;
    }
    let h = host.to_ascii_lowercase();
    let first = h.split('.').next().unwrap_or(&h).to_string();
    let same = |n: &str| {
        let n = n.to_ascii_lowercase();
        n == h || n == first || n.split('.').next() == Some(first.as_str())
    };
    if nb.is_some_and(same) || dns.is_some_and(same) {
        return None;
    }
    let own = [dns, nb].into_iter().flatten().collect::<Vec<_>>().join(" / ");
    Some((host.to_string(), own))
}

impl SessionRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.logons_bound);
        f(&mut self.logoffs_bound);
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, why: Option<Explainer>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        if h.is_response() && h.command == Command::SESSION_SETUP && h.status == NtStatus::SUCCESS && h.session_id != 0 {
            if !self.logons.contains_key(&ev.session_key) && !self.logons_bound.admit(&LOGONS_LIMIT, self.logons.len(), ev.frame) {
                self.logons.clear(); // bounded: forget old sessions wholesale
            }
            let l = self.logons.entry(ev.session_key).or_default();
            l.frame = ev.frame;
            l.ts_ns = ev.ts_ns;
        }
        if !h.is_response() && h.command == Command::LOGOFF && h.session_id != 0 {
            if !self.logoffs.contains_key(&ev.session_key) && !self.logoffs_bound.admit(&LOGOFFS_LIMIT, self.logoffs.len(), ev.frame) {
                self.logoffs.clear();
            }
            self.logoffs.insert(ev.session_key, (ev.frame, session_phrase(ev.session, h.session_id)));
        }
        if why != Some(Explainer::Session) {
            return;
        }
        let m = ev.fields;
        let status = h.status;
        let req = m.request_frame;
        let related: Vec<u32> = req.into_iter().collect();
        let mut push = |rule: &'static RuleDef, text: String, related_frames: Vec<u32>| out.push(Finding { rule, text, related_frames });
        match status {
            NtStatus::NETWORK_SESSION_EXPIRED => {
                let logon = self.logons.get_mut(&ev.session_key).map(|l| {
                    l.expiries += 1;
                    *l
                });
                let lifetime = match logon {
                    Some(l) => format!(
                        " It expired {} after its logon in frame {}, which is about the lifetime of the ticket the client got",
                        secs(ev.ts_ns - l.ts_ns),
                        l.frame
                    ),
                    None => String::new(),
                };
                let repeat = match logon.map(|l| l.expiries) {
                    Some(n) if n >= 2 => format!(
                        " This is expiry number {n} of this session in the capture: re-authentication works, but the tickets are short-lived, so the client pays a new logon every time (check the ticket lifetime policy: Maximum lifetime for service ticket, or krb5 ticket_lifetime / kinit -l)."
                    ),
                    _ => " Once is normal.".to_string(),
                };
                let mut related = related;
                related.extend(logon.map(|l| l.frame));
                return push(
                    &catalog::SESSION_EXPIRED,
                    format!(
                        "The server answered the {} request (frame {}) with STATUS_NETWORK_SESSION_EXPIRED: {} outlived its Kerberos ticket or the server's session lifetime.{lifetime}. The client is expected to re-authenticate with a new SESSION_SETUP on the same session id and then retry the request.{repeat} Next check: that a SESSION_SETUP on this session follows and succeeds (filter: smb2.sesid == 0x{:x} && smb2.cmd == 1), the client's Kerberos tickets (klist) and the KDC's ticket lifetime policy.",
                        h.command,
                        req.map(|f| f.to_string()).unwrap_or_else(|| "not captured".into()),
                        session_phrase(ev.session, h.session_id),
                        h.session_id
                    ),
                    related,
                );
            }
            NtStatus::USER_SESSION_DELETED => {
                let text = match self.logoffs.get(&ev.session_key) {
                    Some((frame, who)) => format!(
                        "The server answered the {} request with STATUS_USER_SESSION_DELETED: the client itself logged {who} off in frame {frame} (LOGOFF) and then kept using the session id. The server is right; the client (or two parts of one client sharing a session) has a bug, and the request fails until it logs on again. Next check: the client application or SMB client version, and whether a new SESSION_SETUP follows.",
                        h.command
                    ),
                    None => format!(
                        "The server answered the {} request with STATUS_USER_SESSION_DELETED: it no longer knows {}. Likely cause: the server restarted or failed over, the session was closed on the server (Close-SmbSession, idle timeout autodisconnect) or logged off, and the client kept using it. Check the server's event log (SMBServer, System) for restarts at that time and Get-SmbServerConfiguration AutoDisconnectTimeout.",
                        h.command,
                        session_phrase(ev.session, h.session_id)
                    ),
                };
                let mut related = related;
                related.extend(self.logoffs.get(&ev.session_key).map(|l| l.0));
                return push(&catalog::SESSION_DELETED, text, related);
            }
            _ => {}
        }
        match (h.command, status) {
            (Command::SESSION_SETUP, NtStatus::ACCESS_DENIED) => {
                let alias = ev.session.and_then(alias_evidence);
                if let Some((used, own)) = alias {
                    // What the KDC said about the alias, when the capture has it.
                    let kdc = ev.session.and_then(|s| kdc_evidence::evidence(ev, s));
                    let krb = match &kdc {
                        Some((said, _, _)) => format!("Kerberos failed first: {said}"),
                        None => "Kerberos, which needs an SPN for the alias, fell back to NTLM".to_string(),
                    };
                    let mut related = related;
                    related.extend(kdc.map(|k| k.2).unwrap_or_default());
                    push(
                        &catalog::SESSION_ALIAS_REJECTED,
                        format!(
                            "Session setup refused with STATUS_ACCESS_DENIED for {} ({}): the client addressed the server as \"{used}\", but the server calls itself {own} (names from its NTLM CHALLENGE). A server with strict name checking rejects connections to a name that is not its own, such as a DNS CNAME alias; and {krb}. Fix: connect with the server's real name, or register the alias (setspn -S cifs/{used} <server>, netdom computername <server> /add:{used}) or set DisableStrictNameChecking / OptionalNames on the server.",
                            user_phrase(ev.session),
                            ev.session.and_then(|s| s.auth).map_or("NTLM", Authentication::name)
                        ),
                        related,
                    );
                } else {
                    let enc = match m.dialect {
                        Some(d) if !d.is_smb3() => format!(
                            " The connection negotiated {}, which cannot encrypt: a server that requires encryption refuses such clients at session setup (MS-SMB2 3.3.5.5; `smb encrypt = required` on Samba, Set-SmbServerConfiguration -EncryptData $true -RejectUnencryptedAccess $true on Windows).",
                            dialect_phrase(Some(d))
                        ),
                        _ => String::new(),
                    };
                    push(
                        &catalog::SESSION_ACCESS_DENIED,
                        format!(
                            "Session setup refused with STATUS_ACCESS_DENIED for {} ({}).{enc} Other causes: the server refuses guest or anonymous logons, or (on Windows) strict name checking rejected the name the client used. Next check: the server's security event log (4625) and SMBServer log, whether encryption is required, and the name the client connected to.",
                            user_phrase(ev.session),
                            ev.session.and_then(|s| s.auth).map_or("authentication not captured", Authentication::name)
                        ),
                        related,
                    );
                }
            }
            (Command::SESSION_SETUP, s) if account_rule(s).is_some() => {
                let rule = account_rule(s).unwrap_or(&catalog::STATUS_ERROR);
                let a = advice(s);
                // A logon for another domain's account goes through a trust: name that domain.
                let user_domain = ev.session.and_then(|x| x.user.as_deref()).and_then(|u| u.split_once('\\')).map(|(d, _)| d).filter(|d| !d.is_empty());
                let trust = match user_domain {
                    Some(d) if std::ptr::eq(rule, &catalog::SESSION_NO_TRUST) => Some((
                        format!(" The account belongs to domain {d}: if that is not the server's own domain, the server checks the logon through a trust and found no working path to a domain controller of {d}."),
                        format!("on the server `nltest /dsgetdc:{d}` and `nltest /sc_query:{d}`, and the trust itself (Get-ADTrust, netdom trust /verify)"),
                    )),
                    _ => None,
                };
                let next = match &trust {
                    Some((_, n)) => n.as_str(),
                    None => a.map(|a| a.next_check).unwrap_or("the server's security event log (4625) for the failure reason"),
                };
                let trust = trust.as_ref().map(|t| t.0.as_str()).unwrap_or("");
                push(
                    rule,
                    format!(
                        "Logon refused: SESSION_SETUP answered {s} for {} ({}): {}.{trust} Next check: {}.",
                        user_phrase(ev.session),
                        ev.session.and_then(|x| x.auth).map_or("authentication not captured", Authentication::name),
                        a.map(|a| a.meaning).unwrap_or("the account cannot log on"),
                        next.strip_prefix("check ").unwrap_or(next)
                    ),
                    related,
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_is_a_name_not_the_servers_own() {
        let mut s = Session {
            target_spn: Some("cifs/data.contoso.com".into()),
            server_nb_name: Some("MB01".into()),
            server_dns_name: Some("mb01.contoso.com".into()),
            ..Default::default()
        };
        assert_eq!(alias_evidence(&s).map(|x| x.0), Some("data.contoso.com".to_string()));
        s.target_spn = Some("cifs/MB01".into());
        assert_eq!(alias_evidence(&s), None);
        s.target_spn = Some("cifs/10.0.0.5".into());
        assert_eq!(alias_evidence(&s), None);
    }
}
