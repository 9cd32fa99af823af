//! Evidence from the KDC for the rules about Kerberos not being used: the
//! KRB-ERRORs a client got shortly before a SESSION_SETUP, for the name it
//! used (or for its own logon), and what each error means to an administrator.
//! Meanings from RFC 4120 7.5.9 and MS-KILE 3.3.5.

use std::net::IpAddr;

use kerberos_parser::krb5::ErrorCode;

use super::MsgEvent;
use crate::kerberos::messages::{error_name, Principal};
use crate::state::kdc::{KdcErrorSeen, KdcLog};
use crate::state::session::Session;

/// How long before the SESSION_SETUP response a KDC error still explains it:
/// clients ask the KDC right before they send their first SESSION_SETUP.
pub const KDC_EVIDENCE_WINDOW_NS: i64 = 30_000_000_000;
/// Distinct errors named in one finding.
const MAX_NAMED: usize = 3;

/// What a Kerberos error code means and what to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KrbAdvice {
    pub meaning: &'static str,
    pub next_check: &'static str,
}

/// Steps of a normal exchange, never evidence of a failure: the client
/// retries with pre-authentication, or over TCP.
pub fn is_routine(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::KDC_ERR_PREAUTH_REQUIRED | ErrorCode::KRB_ERR_RESPONSE_TOO_BIG)
}

/// The admin's reading of an error code, if we have one.
pub fn advice(code: ErrorCode) -> Option<KrbAdvice> {
    let a = |meaning, next_check| Some(KrbAdvice { meaning, next_check });
    match code {
        ErrorCode::KDC_ERR_S_PRINCIPAL_UNKNOWN => a(
            "no account has that SPN (none is registered for that name: an alias or CNAME?)",
            "`setspn -Q <spn>` for that SPN; for an alias, register it on the server's account (`setspn -S <spn> <server>`) or connect by the server's own name",
        ),
        ErrorCode::KDC_ERR_PRINCIPAL_NOT_UNIQUE => a("several accounts hold that SPN (a duplicate SPN)", "`setspn -X` and `setspn -Q <spn>`, and remove the SPN from all but the server's account"),
        ErrorCode::KDC_ERR_C_PRINCIPAL_UNKNOWN => a("the KDC knows no account of the client's name in that realm", "the user name and realm the client logs on with (`klist`), and that the account exists"),
        ErrorCode::KDC_ERR_PREAUTH_FAILED => a("pre-authentication failed: a wrong password, or a stale one in a keytab or credential cache", "the password the client uses, stale saved credentials (`cmdkey /list`, keytabs), event 4771 on the DC"),
        ErrorCode::KDC_ERR_CLIENT_REVOKED => a("the client's account is disabled, locked out or expired", "the account's state (Get-ADUser -Properties Enabled, LockedOut, AccountExpirationDate), events 4768/4771 on the DC"),
        ErrorCode::KDC_ERR_KEY_EXPIRED => a("the client's password has expired", "change the password, the domain's password policy"),
        ErrorCode::KDC_ERR_ETYPE_NOSUPP => a(
            "the client and the account share no encryption type (RC4 or DES turned off, or an account with no AES keys yet)",
            "msDS-SupportedEncryptionTypes of the accounts, the client's allowed encryption types; reset an old account's password to create AES keys",
        ),
        ErrorCode::KRB_AP_ERR_SKEW => a("the client's clock is off from the KDC's by more than the allowed skew (5 minutes by default)", "time synchronisation of client and DC (w32tm /query /status, `timedatectl`, `chronyc tracking`)"),
        ErrorCode::KDC_ERR_POLICY => a("the KDC's policy refuses the request (logon hours, workstation restrictions, Protected Users, authentication policies)", "the account's logon restrictions and authentication policies, event 4768/4769 on the DC"),
        ErrorCode::KDC_ERR_BADOPTION => a("the KDC refuses an option of the request (often delegation the account may not use)", "delegation settings of the accounts involved, event 4769 on the DC"),
        ErrorCode::KDC_ERR_TGT_REVOKED => a("the client's ticket-granting ticket is no longer valid (account changed or moved)", "`klist purge` on the client and a new logon"),
        ErrorCode::KDC_ERR_WRONG_REALM => a("the request went to the KDC of another realm", "the client's realm configuration and DNS SRV records (_kerberos._tcp)"),
        ErrorCode::KDC_ERR_SVC_UNAVAILABLE => a("the KDC cannot serve the request now", "the KDC's health and logs"),
        ErrorCode::KDC_ERR_NEVER_VALID | ErrorCode::KRB_AP_ERR_TKT_NYV => a("the ticket's validity does not fit the KDC's clock (clock skew)", "time synchronisation of client and DC"),
        ErrorCode::KRB_AP_ERR_TKT_EXPIRED => a("the client presented an expired ticket", "`klist purge` on the client, the ticket lifetime policy"),
        ErrorCode::KRB_AP_ERR_MODIFIED | ErrorCode::KRB_AP_ERR_BAD_INTEGRITY => {
            a("a ticket could not be decrypted: the account's key differs from the one used (a duplicate SPN or a changed password)", "`setspn -X` for duplicate SPNs, the account's password and key version")
        }
        ErrorCode::KRB_ERR_GENERIC => a("a generic failure (the e-text, when present, says more)", "the KDC's logs at that time"),
        _ => None,
    }
}

/// "cifs/files.lab.test" without the realm; "krbtgt/LAB.TEST (its own logon)".
fn service_phrase(p: &Principal) -> String {
    let name = p.name.join("/");
    if p.is_tgt() {
        format!("{name} (its own logon)")
    } else {
        name
    }
}

/// The host names `a` and `b` are the same: ignoring case and a final dot,
/// or one is the other's first label (a short name for the FQDN).
pub(crate) fn same_host(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
    let short_of = |s: &str, l: &str| !s.is_empty() && l.as_bytes().get(s.len()) == Some(&b'.') && l.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s));
    a.eq_ignore_ascii_case(b) || short_of(a, b) || short_of(b, a)
}

/// The error's client principal is the session's user, or either is unknown.
/// (A TGT error of the machine account says nothing about the user's logon.)
fn same_account(client: Option<&Principal>, user: Option<&str>) -> bool {
    let (Some(c), Some(u)) = (client, user) else { return true };
    // "DOMAIN\user", "user@REALM" or "user".
    let u = u.rsplit('\\').next().unwrap_or(u);
    let u = u.split('@').next().unwrap_or(u);
    c.name.first().is_none_or(|n| u.is_empty() || n.eq_ignore_ascii_case(u))
}

/// The names the client used for the server in this session: the SPN it
/// aimed at, and the server part of its trees' paths.
fn names_used(ev: &MsgEvent<'_>, s: &Session) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Some(t) = s.target_spn.as_deref() {
        let host = t.split_once('/').map(|x| x.1).unwrap_or(t);
        names.push(host.split([':', '@']).next().unwrap_or(host).to_string());
    }
    for ((sid, _), tree) in ev.sessions.trees.iter() {
        if *sid == s.key {
            if let Some(server) = tree.path.trim_start_matches('\\').split('\\').next().filter(|x| !x.is_empty()) {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(server)) {
                    names.push(server.to_string());
                }
            }
        }
    }
    names
}

/// The KDC's errors that explain why the session's client got no ticket:
/// same client address, shortly before the session's first SESSION_SETUP,
/// for the name it used (or its TGT), and not followed by a ticket for the
/// same service. Oldest first.
pub fn errors_for_session<'a>(ev: &MsgEvent<'a>, s: &Session) -> Vec<&'a KdcErrorSeen> {
    let log: &'a KdcLog = ev.kdc;
    if log.errors.is_empty() {
        return Vec::new();
    }
    let client: IpAddr = ev.conn.client.addr;
    let before = s.setup_frame.unwrap_or(ev.frame);
    let names = names_used(ev, s);
    let about_us = |p: &Principal| p.is_tgt() || p.host().is_some_and(|h| names.iter().any(|n| same_host(h, n)));
    let same_service = |a: &Principal, b: &Principal| (a.is_tgt() && b.is_tgt()) || a.host().zip(b.host()).is_some_and(|(x, y)| same_host(x, y));
    log.errors
        .iter()
        .filter(|e| e.client == client && e.frame < before && (0..=KDC_EVIDENCE_WINDOW_NS).contains(&ev.ts_ns.saturating_sub(e.ts_ns)))
        .filter(|e| !is_routine(e.error.code))
        .filter(|e| e.service.as_ref().is_some_and(about_us) && same_account(e.error.client.as_ref(), s.user.as_deref()))
        .filter(|e| {
            // A ticket for the same service afterwards: the client got past this error.
            let svc = e.service.as_ref();
            !log.tickets.iter().any(|t| t.client == client && t.frame > e.frame && t.frame < before && t.service.as_ref().zip(svc).is_some_and(|(a, b)| same_service(a, b)))
        })
        .collect()
}

/// Both steps for a session: its KDC errors, explained (sentence, next
/// check, error frames). For session.ntlm_fallback and session.alias_rejected.
pub fn evidence(ev: &MsgEvent<'_>, s: &Session) -> Option<(String, String, Vec<u32>)> {
    explain(&errors_for_session(ev, s))
}

/// The errors in a sentence ("the KDC answered KDC_ERR_S_PRINCIPAL_UNKNOWN
/// (frames 27 and 39) to the client's request for a ticket to
/// cifs/files.lab.test: no account has that SPN ..."), the next check of
/// the first, and the error frames. None without errors.
pub fn explain(errors: &[&KdcErrorSeen]) -> Option<(String, String, Vec<u32>)> {
    let first = errors.first()?;
    // Group by (code, service), in order of first appearance.
    let mut groups: Vec<(&KdcErrorSeen, Vec<u32>)> = Vec::new();
    for e in errors {
        match groups.iter_mut().find(|(g, _)| g.error.code == e.error.code && g.service == e.service) {
            Some((_, frames)) => frames.push(e.frame),
            None => groups.push((e, vec![e.frame])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .take(MAX_NAMED)
        .map(|(e, frames)| {
            let meaning = advice(e.error.code).map(|a| a.meaning).unwrap_or("a code smbdiag has no reading for (RFC 4120 7.5.9, MS-KILE)");
            let etext = e.error.etext.as_deref().map(|t| format!(" (e-text \"{t}\")")).unwrap_or_default();
            format!(
                "the KDC answered {}{etext} ({}) to the client's request for a ticket to {}: {meaning}",
                error_name(e.error.code),
                super::frames_phrase(frames),
                e.service.as_ref().map(service_phrase).unwrap_or_default()
            )
        })
        .collect();
    let next = advice(first.error.code).map(|a| a.next_check).unwrap_or("the KDC's logs and the error code's meaning");
    let next = match &first.service {
        Some(p) => next.replace("<spn>", &p.name.join("/")),
        None => next.to_string(),
    };
    Some((parts.join("; "), next, errors.iter().map(|e| e.frame).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::FrameInput;
    use crate::kerberos::KDC_PORT;
    use crate::net::link::{self, Decoded};

    // The lab capture kerberos_ntlm_fallback.pcap: smbclient to files.lab.test (a
    // CNAME), two TGS-REQs answered KDC_ERR_S_PRINCIPAL_UNKNOWN (frames 27, 39), NTLM in frame 48.
    use crate::test_support::lab_capture;

    fn is_kdc_frame(f: &FrameInput<'_>) -> bool {
        matches!(link::decode(f.link, f.data), Decoded::Tcp(s) if s.src.port == KDC_PORT || s.dst.port == KDC_PORT)
    }

    /// The ntlm_fallback findings (frame, text, related) after `edit` changed
    /// or dropped (None) each frame.
    fn fallback(cap: &[u8], edit: &mut dyn FnMut(&FrameInput<'_>) -> Option<Vec<u8>>) -> Vec<(u32, String, Vec<u32>)> {
        crate::test_support::findings_of(cap, "session.ntlm_fallback", edit)
    }

    #[test]
    fn kdc_errors_explain_the_fallback() {
        let got = fallback(&lab_capture("kerberos_ntlm_fallback.pcap"), &mut |f| Some(f.data.to_vec()));
        let [(48, text, related)] = got.as_slice() else { panic!("{got:?}") };
        assert!(text.contains("the KDC answered KDC_ERR_S_PRINCIPAL_UNKNOWN (frames 27 and 39) to the client's request for a ticket to cifs/files.lab.test: no account has that SPN"), "{text}");
        assert!(!text.contains("could not reach a KDC"), "{text}");
        assert!(related.contains(&27) && related.contains(&39), "{related:?}");
    }

    #[test]
    fn without_the_requests_the_errors_name_no_service_and_prove_nothing() {
        // Samba's KRB-ERROR leaves sname empty: only the request says what was asked.
        let got = fallback(&lab_capture("kerberos_ntlm_fallback.pcap"), &mut |f| (![23, 24, 33, 34].contains(&f.number)).then(|| f.data.to_vec()));
        let [(48, text, _)] = got.as_slice() else { panic!("{got:?}") };
        assert!(!text.contains("KDC_ERR") && text.contains("could not reach a KDC"), "{text}");
    }

    #[test]
    fn cut_or_garbled_kdc_traffic_never_gives_a_wrong_finding() {
        let cap = lab_capture("kerberos_ntlm_fallback.pcap");
        let ok = |got: &[(u32, String, Vec<u32>)]| {
            let [(48, text, _)] = got else { return false };
            // Either the right evidence or none at all.
            !text.contains("KDC_ERR") || text.contains("KDC_ERR_S_PRINCIPAL_UNKNOWN") && text.contains("cifs/files.lab.test: no account")
        };
        // Snaplen cuts of every port-88 frame.
        for keep in [54, 60, 70, 100, 300, 1000] {
            let got = fallback(&cap, &mut |f| Some(if is_kdc_frame(f) { f.data[..keep.min(f.data.len())].to_vec() } else { f.data.to_vec() }));
            assert!(ok(&got), "snaplen {keep}: {got:?}");
        }
        // Flipped bytes in the port-88 payloads (past Ethernet, IP and TCP headers).
        for (i, pos) in [70usize, 75, 90, 120, 200, 400].iter().enumerate() {
            let got = fallback(&cap, &mut |f| {
                let mut d = f.data.to_vec();
                if is_kdc_frame(f) && *pos < d.len() {
                    d[*pos] ^= 0x5a + i as u8;
                }
                Some(d)
            });
            assert!(ok(&got), "byte {pos}: {got:?}");
        }
    }

    #[test]
    fn kdc_errors_over_udp() {
        use crate::kerberos::real_bytes::*;
        use crate::smb::records::test_util::hex;
        use etherparse::PacketBuilder;
        // The same exchange as UDP datagrams (one message each, no record mark).
        let req = [hex(TGS_REQ_PART1), hex(TGS_REQ_PART2)].concat();
        let err = hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN);
        let udp = |to_kdc: bool, msg: &[u8]| {
            let (c, k) = ([10, 99, 0, 1], [10, 99, 0, 2]);
            let b = if to_kdc { PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(c, k, 64).udp(41224, KDC_PORT) } else { PacketBuilder::ethernet2([2; 6], [1; 6]).ipv4(k, c, 64).udp(KDC_PORT, 41224) };
            let mut v = Vec::new();
            b.write(&mut v, &msg[4..]).expect("frame");
            v
        };
        let got = fallback(&lab_capture("kerberos_ntlm_fallback.pcap"), &mut |f| match f.number {
            24 => Some(udp(true, &req)),
            27 => Some(udp(false, &err)),
            _ if is_kdc_frame(f) => None,
            _ => Some(f.data.to_vec()),
        });
        let [(48, text, related)] = got.as_slice() else { panic!("{got:?}") };
        assert!(text.contains("KDC_ERR_S_PRINCIPAL_UNKNOWN (frame 27)") && text.contains("cifs/files.lab.test"), "{text}");
        assert!(related.contains(&27));
    }

    #[test]
    fn healthy_kerberos_raises_nothing() {
        let got = fallback(&lab_capture("kerberos_healthy.pcap"), &mut |f| Some(f.data.to_vec()));
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn host_names_compare_loosely() {
        assert!(same_host("files.lab.test", "FILES.lab.test."));
        assert!(same_host("files", "files.lab.test"));
        assert!(same_host("files.lab.test", "files"));
        assert!(!same_host("files2.lab.test", "files"));
        assert!(!same_host("files.lab.test", "labdc.lab.test"));
    }

    #[test]
    fn client_principal_must_be_the_user() {
        let p = |n: &str| Principal { name: vec![n.to_string()], realm: "LAB.TEST".into() };
        assert!(same_account(Some(&p("sdalice")), Some("sdalice@LAB.TEST")));
        assert!(same_account(Some(&p("SDALICE")), Some("LAB\\sdalice")));
        assert!(!same_account(Some(&p("CLIENT1$")), Some("LAB\\sdalice")));
        assert!(same_account(None, Some("sdalice")) && same_account(Some(&p("x")), None));
    }

    #[test]
    fn routine_errors_and_unknown_codes() {
        assert!(is_routine(ErrorCode::KDC_ERR_PREAUTH_REQUIRED) && is_routine(ErrorCode::KRB_ERR_RESPONSE_TOO_BIG));
        assert!(!is_routine(ErrorCode::KDC_ERR_S_PRINCIPAL_UNKNOWN));
        assert!(advice(ErrorCode(99)).is_none());
        for c in [ErrorCode::KRB_AP_ERR_SKEW, ErrorCode::KDC_ERR_C_PRINCIPAL_UNKNOWN, ErrorCode::KDC_ERR_PREAUTH_FAILED, ErrorCode::KDC_ERR_CLIENT_REVOKED, ErrorCode::KDC_ERR_ETYPE_NOSUPP] {
            assert!(advice(c).is_some(), "{c:?}");
        }
    }
}
