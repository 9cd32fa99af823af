//! Opening files (create.*): files not found, access refused, in use or
//! being deleted, on another DFS server, and durable handles the server lost.

use ahash::HashMap;

use super::catalog::{self, RuleDef};
use super::responses::Explainer;
use super::{secs, user_phrase, MsgEvent};
use crate::limits::{Bound, Limit};
use crate::output::Finding;
use crate::smb::records::Body;
use crate::smb::types::{Command, NtStatus};
use crate::state::track::Asked;

const MAX_KEYS: usize = 4096;

#[derive(Debug, Default)]
pub struct CreateRules {
    /// Durable handles the server granted, by persistent file id.
    durable_grants: HashMap<u64, DurableGrant>,
    grants_bound: Bound,
}

static GRANTS_LIMIT: Limit = Limit {
    table: "durable handles granted",
    max: MAX_KEYS,
    effect: "the grants kept so far are forgotten, so create.durable_handle_lost does not quote when an earlier handle was granted",
};

#[derive(Clone, Copy, Debug)]
struct DurableGrant {
    frame: u32,
    ts_ns: i64,
    timeout_ms: Option<u32>,
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

impl CreateRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.grants_bound);
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, why: Option<Explainer>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        if let (Body::CreateResponse(r), NtStatus::SUCCESS) = (ev.body, h.status) {
            if r.durable_granted {
                if !self.durable_grants.contains_key(&r.file_id.persistent) && !self.grants_bound.admit(&GRANTS_LIMIT, self.durable_grants.len(), ev.frame) {
                    self.durable_grants.clear();
                }
                self.durable_grants.insert(r.file_id.persistent, DurableGrant { frame: ev.frame, ts_ns: ev.ts_ns, timeout_ms: r.durable_timeout_ms });
            }
        }
        if why != Some(Explainer::Create) {
            return;
        }
        let related: Vec<u32> = ev.fields.request_frame.into_iter().collect();
        let mut push = |rule: &'static RuleDef, text: String, related_frames: Vec<u32>| out.push(Finding { rule, text, related_frames });
        match (h.command, h.status, ev.asked) {
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
                    _ => {}
                }
            }
            _ => {}
        }
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

}
