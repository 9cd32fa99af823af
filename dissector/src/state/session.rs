//! Sessions, trees and opens: who, where and on what file. Sessions are keyed
//! by (server address, session id): multichannel binds one session to several
//! connections to the same server, while ids repeat across servers (Windows
//! hands them out nearly in sequence). Trees by (session, tree id); opens by
//! (session, file id). A session exists once a SESSION_SETUP names it: a
//! lookup never creates one.

use ahash::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::limits::{Bound, Limit};
use crate::smb::auth::Authentication;
use crate::net::flow::ConnId;

/// Bounds so a capture of endless opens or sessions keeps memory in check.
pub const MAX_SESSIONS: usize = 65_536;
pub const MAX_TREES: usize = 65_536;
pub const MAX_OPENS: usize = 262_144;

pub static SESSIONS_LIMIT: Limit = Limit {
    table: "SMB sessions",
    max: MAX_SESSIONS,
    effect: "new sessions are not tracked, so their messages show no user or authentication and the session.* and security.* rules do not judge them",
};
pub static TREES_LIMIT: Limit = Limit {
    table: "tree connects",
    max: MAX_TREES,
    effect: "shares connected later are not tracked, so their messages and files show no share name and the tree rules cannot name it",
};
pub static OPENS_LIMIT: Limit = Limit {
    table: "open files",
    max: MAX_OPENS,
    effect: "files opened later are not tracked, so READ, WRITE and CLOSE on them show no file name and findings about them cannot name the file",
};

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

/// A session: the server that issued the id, and the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub server: IpAddr,
    pub id: u64,
}

impl Default for SessionKey {
    fn default() -> Self {
        SessionKey { server: IpAddr::V4(Ipv4Addr::UNSPECIFIED), id: 0 }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Session {
    pub key: SessionKey,
    /// `DOMAIN\user` as authenticated (or asked for, until the response).
    pub user: Option<Arc<str>>,
    pub auth: Option<Authentication>,
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
    pub sessions: HashMap<SessionKey, Session>,
    pub trees: HashMap<(SessionKey, u32), Tree>,
    pub opens: HashMap<(SessionKey, FileKey), Open>,
    /// Refusals of each table once full.
    pub sessions_bound: Bound,
    pub trees_bound: Bound,
    pub opens_bound: Bound,
}

impl SessionTable {
    /// The session a SESSION_SETUP names, created on its first leg. None for
    /// id 0 (no session yet) and when the table is full.
    pub fn setup_session(&mut self, key: SessionKey, frame: u32) -> Option<&mut Session> {
        if key.id == 0 {
            return None;
        }
        if !self.sessions.contains_key(&key) {
            if !self.sessions_bound.admit(&SESSIONS_LIMIT, self.sessions.len(), frame) {
                return None;
            }
            self.sessions.insert(key, Session { key, ..Default::default() });
        }
        self.sessions.get_mut(&key)
    }

    pub fn session_mut(&mut self, key: SessionKey) -> Option<&mut Session> {
        self.sessions.get_mut(&key)
    }

    pub fn session(&self, key: SessionKey) -> Option<&Session> {
        self.sessions.get(&key)
    }

    pub fn add_tree(&mut self, session: SessionKey, tree_id: u32, tree: Tree) {
        if !self.trees.contains_key(&(session, tree_id)) && !self.trees_bound.admit(&TREES_LIMIT, self.trees.len(), tree.connect_frame) {
            return;
        }
        self.trees.insert((session, tree_id), tree);
    }

    pub fn tree(&self, session: SessionKey, tree_id: u32) -> Option<&Tree> {
        self.trees.get(&(session, tree_id))
    }

    pub fn remove_tree(&mut self, session: SessionKey, tree_id: u32) {
        self.trees.remove(&(session, tree_id));
        self.opens.retain(|(s, _), o| !(*s == session && o.tree_id == Some(tree_id)));
    }

    pub fn add_open(&mut self, session: SessionKey, key: FileKey, open: Open) {
        if !self.opens.contains_key(&(session, key)) && !self.opens_bound.admit(&OPENS_LIMIT, self.opens.len(), open.create_frame) {
            return;
        }
        self.opens.insert((session, key), open);
    }

    pub fn open(&self, session: SessionKey, key: FileKey) -> Option<&Open> {
        self.opens.get(&(session, key))
    }

    pub fn open_mut(&mut self, session: SessionKey, key: FileKey) -> Option<&mut Open> {
        self.opens.get_mut(&(session, key))
    }

    pub fn remove_open(&mut self, session: SessionKey, key: FileKey) -> Option<Open> {
        self.opens.remove(&(session, key))
    }

    /// The bounds of the three tables.
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.sessions_bound);
        f(&mut self.trees_bound);
        f(&mut self.opens_bound);
    }

    /// LOGOFF: the session and everything under it ends.
    pub fn remove_session(&mut self, session: SessionKey) {
        self.sessions.remove(&session);
        self.trees.retain(|(s, _), _| *s != session);
        self.opens.retain(|(s, _), _| *s != session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(server: [u8; 4], id: u64) -> SessionKey {
        SessionKey { server: IpAddr::from(server), id }
    }

    #[test]
    fn a_lookup_creates_no_session_and_id_zero_never_gets_one() {
        let mut t = SessionTable::default();
        assert!(t.session_mut(key([10, 0, 0, 1], 5)).is_none());
        assert!(t.session(key([10, 0, 0, 1], 5)).is_none());
        assert!(t.setup_session(key([10, 0, 0, 1], 0), 1).is_none());
        assert!(t.sessions.is_empty());
    }

    #[test]
    fn a_logoff_on_one_server_leaves_the_same_id_on_another() {
        let mut t = SessionTable::default();
        let (a, b) = (key([10, 0, 0, 1], 0x41), key([10, 0, 0, 2], 0x41));
        for k in [a, b] {
            t.setup_session(k, 1).unwrap();
            t.add_tree(k, 1, Tree { path: Arc::from("\\\\srv\\data"), ..Default::default() });
            t.add_open(k, FileKey { persistent: 1, volatile: 2 }, Open::default());
        }
        t.remove_session(a);
        assert!(t.session(a).is_none() && t.tree(a, 1).is_none() && t.open(a, FileKey { persistent: 1, volatile: 2 }).is_none());
        assert!(t.session(b).is_some() && t.tree(b, 1).is_some() && t.open(b, FileKey { persistent: 1, volatile: 2 }).is_some());
    }

    #[test]
    fn ipc_share_is_recognised_in_any_case() {
        assert!(is_ipc_path("\\\\10.99.0.2\\IPC$"));
        assert!(is_ipc_path("\\\\srv\\ipc$"));
        assert!(!is_ipc_path("\\\\srv\\data"));
        assert!(!is_ipc_path("PC$"));
    }
}
