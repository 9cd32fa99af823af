//! Diagnoses read from response statuses: reaching the share (tree), who you
//! are (session), opening files (create), and a generic note for any other
//! error status. Routine statuses stay quiet (status_advice::is_routine).

use ahash::HashMap;

use super::catalog::{self, RuleDef};
use super::status_advice::{advice, is_routine};
use super::{secs, ConnView, MsgEvent};
use crate::config::Config;
use crate::limits::{Bound, Limit};
use crate::smb::auth::Authentication;
use crate::net::flow::ConnId;
use crate::output::Finding;
use crate::smb::records::file_records::FileOp;
use crate::smb::records::Body;
use crate::smb::types::{Command, CtlCode, Dialect, InfoType, NtStatus};
use crate::state::session::{Session, SessionKey};
use crate::state::track::Asked;

/// Earlier attempts kept per (server, share) for repeated tree connects.
const MAX_ATTEMPTS: usize = 16;
const MAX_KEYS: usize = 4096;

#[derive(Debug, Default)]
pub struct StatusRules {
    /// Failed tree connects by (server address, share path): request frames.
    tree_failures: HashMap<(String, String), Vec<u32>>,
    /// Last successful logon per session id: (response frame, time), and how
    /// often the session expired since it was first seen.
    logons: HashMap<SessionKey, Logon>,
    /// Connections where a CREATE was answered STATUS_PATH_NOT_COVERED: a DFS
    /// referral failing there is evidence, not the routine probe clients make
    /// before every share.
    dfs_redirected: HashMap<ConnId, u32>,
    /// Sessions the client logged off: LOGOFF request frame and who it was
    /// (the session state forgets them, a later STATUS_USER_SESSION_DELETED
    /// still wants to name them).
    logoffs: HashMap<SessionKey, (u32, String)>,
    /// Durable handles the server granted, by persistent file id.
    durable_grants: HashMap<u64, DurableGrant>,
    logons_bound: Bound,
    logoffs_bound: Bound,
    grants_bound: Bound,
    dfs_bound: Bound,
    tree_failures_bound: Bound,
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
static GRANTS_LIMIT: Limit = Limit {
    table: "durable handles granted",
    max: MAX_KEYS,
    effect: "the grants kept so far are forgotten, so create.durable_handle_lost does not quote when an earlier handle was granted",
};
static DFS_LIMIT: Limit = Limit {
    table: "connections with a DFS redirect",
    max: MAX_KEYS,
    effect: "DFS referral failures on further connections are taken for the routine probe and not reported",
};
static TREE_FAILURES_LIMIT: Limit = Limit {
    table: "shares with failed tree connects",
    max: MAX_KEYS,
    effect: "failures on further shares are reported without the earlier attempts as evidence",
};

#[derive(Clone, Copy, Debug)]
struct DurableGrant {
    frame: u32,
    ts_ns: i64,
    timeout_ms: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Logon {
    frame: u32,
    ts_ns: i64,
    expiries: u32,
}

/// Who a session is, for a sentence: the user when the logon showed it,
/// else how it authenticated and to which name.
fn session_phrase(s: Option<&Session>, id: u64) -> String {
    let Some(s) = s else { return format!("session 0x{id:x}") };
    match (s.user.as_deref(), s.auth.map(Authentication::name), s.target_spn.as_deref()) {
        (Some(u), _, _) => format!("session 0x{id:x} of {u}"),
        (None, Some(a), Some(spn)) => format!("session 0x{id:x} ({a}, ticket for {spn})"),
        (None, Some(a), None) => format!("session 0x{id:x} ({a})"),
        (None, None, _) => format!("session 0x{id:x}"),
    }
}

fn user_phrase(s: Option<&Session>) -> String {
    match s.and_then(|s| s.user.as_deref()) {
        Some(u) => format!("user {u}"),
        None => "the session's user".to_string(),
    }
}

fn dialect_phrase(d: Option<Dialect>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "an unknown dialect".to_string())
}

/// Client-side names that are probes, not files a user asked for: Explorer
/// and Office look for these in every folder, and macOS for its metadata.
fn is_probe_name(path: &str) -> bool {
    let last = path.rsplit('\\').next().unwrap_or(path).to_ascii_lowercase();
    last.is_empty()
        || last.contains(':') // alternate data streams
        || last.starts_with("~$")
        || last.starts_with("._")
        || matches!(
            last.as_str(),
            "desktop.ini" | "autorun.inf" | "thumbs.db" | "folder.jpg" | "folder.gif" | ".ds_store" | ".hidden" | ".localized" | "ehthumbs.db" | "srvsvc" | "wkssvc" | "lsarpc" | "samr" | "netlogon" | "spoolss" | "winreg"
        )
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

/// Which account-state rule a SESSION_SETUP failure belongs to.
fn session_rule(status: NtStatus) -> Option<&'static RuleDef> {
    Some(match status {
        NtStatus::LOGON_FAILURE | NtStatus::NO_SUCH_USER | NtStatus::WRONG_PASSWORD => &catalog::SESSION_LOGON_FAILURE,
        NtStatus::ACCOUNT_LOCKED_OUT => &catalog::SESSION_ACCOUNT_LOCKED,
        NtStatus::ACCOUNT_DISABLED | NtStatus::ACCOUNT_EXPIRED => &catalog::SESSION_ACCOUNT_DISABLED,
        NtStatus::PASSWORD_EXPIRED | NtStatus::PASSWORD_MUST_CHANGE => &catalog::SESSION_PASSWORD_EXPIRED,
        NtStatus::INVALID_LOGON_HOURS | NtStatus::INVALID_WORKSTATION | NtStatus::ACCOUNT_RESTRICTION | NtStatus::LOGON_TYPE_NOT_GRANTED => {
            &catalog::SESSION_LOGON_RESTRICTED
        }
        NtStatus::NO_LOGON_SERVERS | NtStatus::TRUSTED_RELATIONSHIP_FAILURE | NtStatus::TRUSTED_DOMAIN_FAILURE | NtStatus::TIME_DIFFERENCE_AT_DC => {
            &catalog::SESSION_NO_TRUST
        }
        _ => return None,
    })
}

impl StatusRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        for b in [&mut self.logons_bound, &mut self.logoffs_bound, &mut self.grants_bound, &mut self.dfs_bound, &mut self.tree_failures_bound] {
            f(b);
        }
    }

    pub fn forget(&mut self, id: ConnId) {
        self.dfs_redirected.remove(&id);
    }

    pub fn on_message(&mut self, _cfg: &Config, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        let m = ev.fields;
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
        if let (Body::CreateResponse(r), NtStatus::SUCCESS) = (ev.body, h.status) {
            if r.durable_granted {
                if !self.durable_grants.contains_key(&r.file_id.persistent) && !self.grants_bound.admit(&GRANTS_LIMIT, self.durable_grants.len(), ev.frame) {
                    self.durable_grants.clear();
                }
                self.durable_grants.insert(r.file_id.persistent, DurableGrant { frame: ev.frame, ts_ns: ev.ts_ns, timeout_ms: r.durable_timeout_ms });
            }
        }
        if !h.is_response() || m.interim || !h.status.is_error() && !h.status.is_warning() {
            return;
        }
        let status = h.status;
        if h.command == Command::CREATE
            && status == NtStatus::PATH_NOT_COVERED
            && (self.dfs_redirected.contains_key(&ev.conn.id) || self.dfs_bound.admit(&DFS_LIMIT, self.dfs_redirected.len(), ev.frame))
        {
            self.dfs_redirected.insert(ev.conn.id, ev.frame);
        }
        let req = m.request_frame;
        let related: Vec<u32> = req.into_iter().collect();
        let mut push = |rule: &'static RuleDef, text: String, related_frames: Vec<u32>| out.push(Finding { rule, text, related_frames });

        // Statuses that mean the same on any command.
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

        // Anonymous logons refused: the secure default, not a failure a user meets.
        if h.command == Command::SESSION_SETUP && ev.session.and_then(|s| s.auth).is_some_and(Authentication::is_anonymous) {
            return;
        }
        match (h.command, status, ev.asked) {
            (Command::TREE_CONNECT, NtStatus::BAD_NETWORK_NAME, Asked::TreeConnect { path }) => {
                let path = path.as_deref().unwrap_or("(share path not captured)").to_string();
                let (server, share) = split_unc(&path);
                let earlier = self.note_tree_failure(ev.conn, &path, req.unwrap_or(ev.frame));
                let repeat = if earlier.is_empty() {
                    String::new()
                } else {
                    format!(" The client already tried this share in {} and keeps retrying (a mapped drive or a script with an old path).", super::frames_phrase(&earlier))
                };
                let mut rel = related;
                rel.extend(earlier);
                push(
                    &catalog::TREE_SHARE_NOT_FOUND,
                    format!(
                        "Share not found: TREE_CONNECT to {path} (frame {}) answered STATUS_BAD_NETWORK_NAME: server {server} has no share named \"{share}\".{repeat} Likely cause: the folder is no longer shared, the share was renamed, or the client names the wrong server. Next check: Get-SmbShare on the server (net share; testparm -s on Samba), the spelling of the path, and the drive mappings or scripts that use it.",
                        req.map(|f| f.to_string()).unwrap_or_else(|| "not captured".into())
                    ),
                    rel,
                );
            }
            (Command::TREE_CONNECT, NtStatus::ACCESS_DENIED, Asked::TreeConnect { path }) => {
                let path = path.as_deref().unwrap_or("(share path not captured)");
                let enc = match m.dialect {
                    Some(d) if !d.is_smb3() => format!(
                        " The connection uses {}, which cannot encrypt: if the share requires encryption (Get-SmbShare -Name <share> | Select EncryptData; `smb encrypt = required` on Samba), that alone refuses the client.",
                        dialect_phrase(Some(d))
                    ),
                    _ => String::new(),
                };
                push(
                    &catalog::TREE_ACCESS_DENIED,
                    format!(
                        "Access to share {path} denied: TREE_CONNECT answered STATUS_ACCESS_DENIED for {}. The account authenticated, but the share does not allow it.{enc} Next check: the share permissions (Get-SmbShareAccess -Name <share>; `valid users` / `invalid users` on Samba) and the user's group memberships.",
                        user_phrase(ev.session)
                    ),
                    related,
                );
            }
            (Command::SESSION_SETUP, NtStatus::ACCESS_DENIED, _) => {
                let alias = ev.session.and_then(alias_evidence);
                if let Some((used, own)) = alias {
                    // What the KDC said about the alias, when the capture has it.
                    let kdc = ev.session.and_then(|s| super::kdc_evidence::evidence(ev, s));
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
            (Command::SESSION_SETUP, s, _) if session_rule(s).is_some() => {
                let rule = session_rule(s).unwrap_or(&catalog::STATUS_ERROR);
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
            (Command::CREATE, s, Asked::Create { name, durable_reconnect, reconnect_of, desired_access, .. }) => {
                let file = name.as_deref().unwrap_or("(name not captured)");
                let who = user_phrase(ev.session);
                match s {
                    NtStatus::OBJECT_NAME_NOT_FOUND | NtStatus::OBJECT_PATH_NOT_FOUND if *durable_reconnect => {
                        let grant = reconnect_of.and_then(|id| self.durable_grants.get(&id)).copied();
                        // Time since the grant bounds the time since the disconnect from above.
                        let cause = match grant {
                            Some(g) => {
                                let since = ev.ts_ns - g.ts_ns;
                                let timeout = g.timeout_ms.map(|t| t as i64 * 1_000_000);
                                let granted = format!(
                                    "The server granted that durable handle in frame {}{}; the reconnect came {} after the open",
                                    g.frame,
                                    timeout.map(|t| format!(" with a {} timeout", secs(t))).unwrap_or_default(),
                                    secs(since)
                                );
                                match timeout {
                                    Some(t) if since < t => format!("{granted}, within the timeout, so the handle did not time out: the server lost its state (it restarted, or failed over without continuous availability)."),
                                    Some(_) => format!("{granted}, longer than the timeout: if the connection dropped long before the reconnect, the handle expired; otherwise the server lost its state (restart, failover)."),
                                    None => format!("{granted}. Likely cause: the server restarted, the durable timeout expired before the client came back, or a failover without continuous availability."),
                                }
                            }
                            None => "Likely cause: the server restarted, the durable timeout expired before the client came back, or a failover without continuous availability.".to_string(),
                        };
                        let mut related = related;
                        related.extend(grant.map(|g| g.frame));
                        push(
                            &catalog::CREATE_DURABLE_HANDLE_LOST,
                            format!(
                                "Durable handle reconnect of {file} refused with {s}: the server no longer holds the handle the client kept across the disconnect, so unsaved state (locks, cached writes) of that open is lost. {cause} Check the server's SMBServer event log (or log.smbd) for a restart at that time and whether the share is continuously available (Get-SmbShare | Select ContinuouslyAvailable)."
                            ),
                            related,
                        )
                    }
                    NtStatus::OBJECT_NAME_NOT_FOUND | NtStatus::OBJECT_PATH_NOT_FOUND => {
                        // Only files the user wanted: not probes, and opened to read, write or run.
                        if is_probe_name(file) || desired_access & crate::smb::records::create_records::DATA_ACCESS == 0 || ev.session.is_none() && name.is_none() {
                            return;
                        }
                        let what = if s == NtStatus::OBJECT_PATH_NOT_FOUND { "a folder on the path does not exist" } else { "the file does not exist in that folder" };
                        push(
                            &catalog::CREATE_NOT_FOUND,
                            format!("{file} not found: CREATE answered {s} ({what}) for {who}. Check the path the application uses (moved or renamed files, a drive mapping pointing at another share) and that the file exists on the server."),
                            related,
                        );
                    }
                    NtStatus::ACCESS_DENIED => push(
                        &catalog::CREATE_ACCESS_DENIED,
                        format!(
                            "Access denied opening {file}: CREATE answered STATUS_ACCESS_DENIED for {who} (desired access 0x{desired_access:08x}). The share let the user in but the file system refuses this access. Likely cause: NTFS permissions on the file or folder (or Unix permissions on Samba), a read-only share or file, or a file being deleted. Next check: icacls on the path (Get-Acl), the share's read-only setting, and the user's effective access."
                        ),
                        related,
                    ),
                    NtStatus::SHARING_VIOLATION => {
                        let holders: Vec<u32> = ev
                            .sessions
                            .opens
                            .values()
                            .filter(|o| name.as_deref().is_some_and(|n| o.path.eq_ignore_ascii_case(n)))
                            .map(|o| o.create_frame)
                            .take(8)
                            .collect();
                        let held = if holders.is_empty() {
                            "The other open is not in this capture (another client, or an open from before the capture started).".to_string()
                        } else {
                            format!("It is held by the open created in {}.", super::frames_phrase(&holders))
                        };
                        let mut rel = related;
                        rel.extend(holders);
                        push(
                            &catalog::CREATE_SHARING_VIOLATION,
                            format!(
                                "{file} is in use: CREATE answered STATUS_SHARING_VIOLATION for {who}: another open holds the file with a share mode that excludes this access. {held} Next check: Get-SmbOpenFile -Path '*<name>*' on the server (smbstatus -L on Samba) to find who holds it, and close that application or handle."
                            ),
                            rel,
                        );
                    }
                    NtStatus::DELETE_PENDING => push(
                        &catalog::CREATE_DELETE_PENDING,
                        format!(
                            "{file} is being deleted: CREATE answered STATUS_DELETE_PENDING for {who}: the file was marked for deletion and an open handle keeps it alive, so it can neither be opened nor re-created until that handle closes. Next check: Get-SmbOpenFile on the server (smbstatus on Samba) for the handle still open on it; antivirus and indexers often hold such handles."
                        ),
                        related,
                    ),
                    NtStatus::PATH_NOT_COVERED => push(
                        &catalog::CREATE_PATH_NOT_COVERED,
                        format!(
                            "{file} lives on another server (DFS): CREATE answered STATUS_PATH_NOT_COVERED. The client must now ask for a DFS referral (IOCTL FSCTL_DFS_GET_REFERRALS) and follow it; a client that does not, or a referral that fails, leaves the path unreachable. Next check: the referral that follows in the capture, dfsutil diag viewdfspath <path>, and the DFS namespace targets."
                        ),
                        related,
                    ),
                    s if !is_routine(h.command, s) => self.generic(ev, s, &mut push),
                    _ => {}
                }
            }
            // A failed NEGOTIATE is negotiate.rejected's.
            (Command::NEGOTIATE, _, _) => {}
            // Later messages of a compound whose CREATE failed fail with it.
            (_, NtStatus::FILE_CLOSED | NtStatus::INVALID_PARAMETER, _) if h.flags.is_related() => {}
            // A named pipe closed by its server once the RPC is done.
            (_, NtStatus::FILE_CLOSED, _) if m.tree.as_deref().is_some_and(crate::state::session::is_ipc_path) => {}
            // The DFS referral clients ask for on IPC$ before using a share: a
            // server that is no DFS root refuses it (each in its own words).
            // Only after a PATH_NOT_COVERED is a failed referral news.
            (Command::IOCTL, _, Asked::File { op: FileOp::Ioctl { ctl_code: CtlCode::DFS_GET_REFERRALS | CtlCode::DFS_GET_REFERRALS_EX, .. }, .. })
                if !self.dfs_redirected.contains_key(&ev.conn.id) => {}
            // Explorer asks every file for its security descriptor; not being allowed to read it is normal.
            (Command::QUERY_INFO, NtStatus::ACCESS_DENIED, Asked::File { op: FileOp::QueryInfo { info_type: InfoType::SECURITY, .. }, .. }) => {}
            (cmd, s, _) if !is_routine(cmd, s) && s.is_error() => self.generic(ev, s, &mut push),
            _ => {}
        }
    }

    fn generic(&self, ev: &MsgEvent<'_>, s: NtStatus, push: &mut impl FnMut(&'static RuleDef, String, Vec<u32>)) {
        let m = ev.fields;
        let on = m.file.as_deref().or(m.tree.as_deref()).map(|x| format!(" on {x}")).unwrap_or_default();
        let text = match advice(s) {
            Some(a) => format!("{} answered {s}{on}: {}. Next check: {}.", ev.hdr.command, a.meaning, a.next_check.strip_prefix("check ").unwrap_or(a.next_check)),
            None => format!(
                "{} answered {s}{on}. smbdiag has no specific diagnosis for this status; look it up in MS-ERREF 2.3 and read it with the request of frame {}.",
                ev.hdr.command,
                m.request_frame.map(|f| f.to_string()).unwrap_or_else(|| "(not captured)".into())
            ),
        };
        push(&catalog::STATUS_ERROR, text, m.request_frame.into_iter().collect());
    }

    fn note_tree_failure(&mut self, conn: ConnView, path: &str, frame: u32) -> Vec<u32> {
        let key = (conn.server.addr.to_string(), path.to_ascii_lowercase());
        if !self.tree_failures.contains_key(&key) && !self.tree_failures_bound.admit(&TREE_FAILURES_LIMIT, self.tree_failures.len(), frame) {
            return Vec::new();
        }
        let v = self.tree_failures.entry(key).or_default();
        let earlier = v.clone();
        if v.len() < MAX_ATTEMPTS {
            v.push(frame);
        }
        earlier
    }
}

/// `\\server\share` → (server, share).
fn split_unc(path: &str) -> (String, String) {
    let t = path.trim_start_matches('\\');
    match t.split_once('\\') {
        Some((s, rest)) => (s.to_string(), rest.to_string()),
        None => (t.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_recognised() {
        assert!(is_probe_name("\\\\srv\\share\\dir\\desktop.ini"));
        assert!(is_probe_name("dir\\~$report.docx"));
        assert!(is_probe_name("file.txt:Zone.Identifier"));
        assert!(!is_probe_name("\\\\srv\\share\\report-2026.xlsx"));
    }

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
