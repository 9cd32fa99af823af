//! Reaching the share (tree.*): a share that does not exist, and one the
//! account may not use; repeated attempts at a missing share are named.

use ahash::HashMap;

use super::catalog::{self, RuleDef};
use super::responses::Explainer;
use super::{dialect_phrase, frames_phrase, user_phrase, ConnView, MsgEvent};
use crate::limits::{Bound, Limit};
use crate::output::Finding;
use crate::smb::types::{Command, NtStatus};
use crate::state::track::Asked;

/// Earlier attempts kept per (server, share) for repeated tree connects.
const MAX_ATTEMPTS: usize = 16;
const MAX_KEYS: usize = 4096;

#[derive(Debug, Default)]
pub struct TreeRules {
    /// Failed tree connects by (server address, share path): request frames.
    tree_failures: HashMap<(String, String), Vec<u32>>,
    tree_failures_bound: Bound,
}

static TREE_FAILURES_LIMIT: Limit = Limit {
    table: "shares with failed tree connects",
    max: MAX_KEYS,
    effect: "failures on further shares are reported without the earlier attempts as evidence",
};

impl TreeRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.tree_failures_bound);
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, why: Option<Explainer>, out: &mut Vec<Finding>) {
        if why != Some(Explainer::Tree) {
            return;
        }
        let (h, m) = (ev.hdr, ev.fields);
        let req = m.request_frame;
        let related: Vec<u32> = req.into_iter().collect();
        let mut push = |rule: &'static RuleDef, text: String, related_frames: Vec<u32>| out.push(Finding { rule, text, related_frames });
        match (h.command, h.status, ev.asked) {
            (Command::TREE_CONNECT, NtStatus::BAD_NETWORK_NAME, Asked::TreeConnect { path }) => {
                let path = path.as_deref().unwrap_or("(share path not captured)").to_string();
                let (server, share) = split_unc(&path);
                let earlier = self.note_tree_failure(ev.conn, &path, req.unwrap_or(ev.frame));
                let repeat = if earlier.is_empty() {
                    String::new()
                } else {
                    format!(" The client already tried this share in {} and keeps retrying (a mapped drive or a script with an old path).", frames_phrase(&earlier))
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
            _ => {}
        }
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

