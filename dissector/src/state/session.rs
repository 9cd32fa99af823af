//! Sessions, trees and opens: who, where and on what file. Sessions are keyed
//! by session id across connections (multichannel binds one session to several
//! connections); trees by (session, tree id); opens by (session, file id).

use ahash::HashMap;
use std::sync::Arc;

use crate::net::flow::ConnId;

/// Bounds so a capture of endless opens or sessions keeps memory in check.
pub const MAX_SESSIONS: usize = 65_536;
pub const MAX_TREES: usize = 65_536;
pub const MAX_OPENS: usize = 262_144;

/// SMB2 FileId (persistent, volatile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileKey {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileKey {
    /// All ones: "the file opened by the previous CREATE of this compound chain".
    pub fn is_related_placeholder(&self) -> bool {
        self.persistent == u64::MAX && self.volatile == u64::MAX
    }
}

#[derive(Clone, Debug, Default)]
pub struct Session {
    pub id: u64,
    /// `DOMAIN\user` as authenticated (or asked for, until the response).
    pub user: Option<Arc<str>>,
    /// "NTLMv2", "NTLMv1", "Kerberos", "anonymous"...
    pub auth: Option<Arc<str>>,
    pub is_guest: bool,
    pub is_null: bool,
    pub encrypt_data: bool,
    /// The SESSION_SETUP response that completed the logon.
    pub established_frame: Option<u32>,
    /// The first SESSION_SETUP request of this session.
    pub setup_frame: Option<u32>,
    /// Server's own names from an NTLM CHALLENGE (NetBIOS, DNS).
    pub server_nb_name: Option<Arc<str>>,
    pub server_dns_name: Option<Arc<str>>,
    /// The name the client addressed: NTLM MsvAvTargetName or Kerberos SPN.
    pub target_spn: Option<Arc<str>>,
    /// Kerberos was on offer (the server's NEGOTIATE or the client's SPNEGO
    /// mechanism list), so NTLM here is a fallback.
    pub kerberos_offered: bool,
    /// Whether any message of the session was signed.
    pub signed_seen: bool,
    pub conns: Vec<ConnId>,
}

/// `\\server\IPC$`: the share of named pipes (RPC), not files.
pub fn is_ipc_path(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 5 && b[b.len() - 5..].eq_ignore_ascii_case(b"\\IPC$")
}

#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub path: Arc<str>,
    pub connect_frame: u32,
    pub encrypt_data: bool,
    pub dfs: bool,
    pub is_ipc: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Open {
    pub path: Arc<str>,
    pub tree_id: Option<u32>,
    pub create_frame: u32,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// All sessions, trees and opens of the capture.
#[derive(Debug, Default)]
pub struct SessionTable {
    pub sessions: HashMap<u64, Session>,
    pub trees: HashMap<(u64, u32), Tree>,
    pub opens: HashMap<(u64, FileKey), Open>,
    /// Entries refused because a bound was reached.
    pub dropped: u64,
}

impl SessionTable {
    pub fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        if !self.sessions.contains_key(&id) {
            if self.sessions.len() >= MAX_SESSIONS {
                self.dropped += 1;
                return None;
            }
            self.sessions.insert(id, Session { id, ..Default::default() });
        }
        self.sessions.get_mut(&id)
    }

    pub fn session(&self, id: u64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn add_tree(&mut self, session: u64, tree_id: u32, tree: Tree) {
        if self.trees.len() >= MAX_TREES && !self.trees.contains_key(&(session, tree_id)) {
            self.dropped += 1;
            return;
        }
        self.trees.insert((session, tree_id), tree);
    }

    pub fn tree(&self, session: u64, tree_id: u32) -> Option<&Tree> {
        self.trees.get(&(session, tree_id))
    }

    pub fn remove_tree(&mut self, session: u64, tree_id: u32) {
        self.trees.remove(&(session, tree_id));
        self.opens.retain(|(s, _), o| !(*s == session && o.tree_id == Some(tree_id)));
    }

    pub fn add_open(&mut self, session: u64, key: FileKey, open: Open) {
        if self.opens.len() >= MAX_OPENS && !self.opens.contains_key(&(session, key)) {
            self.dropped += 1;
            return;
        }
        self.opens.insert((session, key), open);
    }

    pub fn open(&self, session: u64, key: FileKey) -> Option<&Open> {
        self.opens.get(&(session, key))
    }

    pub fn open_mut(&mut self, session: u64, key: FileKey) -> Option<&mut Open> {
        self.opens.get_mut(&(session, key))
    }

    pub fn remove_open(&mut self, session: u64, key: FileKey) -> Option<Open> {
        self.opens.remove(&(session, key))
    }

    /// LOGOFF: the session and everything under it ends.
    pub fn remove_session(&mut self, session: u64) {
        self.sessions.remove(&session);
        self.trees.retain(|(s, _), _| *s != session);
        self.opens.retain(|(s, _), _| *s != session);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipc_share_is_recognised_in_any_case() {
        assert!(super::is_ipc_path("\\\\10.99.0.2\\IPC$"));
        assert!(super::is_ipc_path("\\\\srv\\ipc$"));
        assert!(!super::is_ipc_path("\\\\srv\\data"));
        assert!(!super::is_ipc_path("PC$"));
    }
}
