//! How messages change the state: negotiation sets the dialect, session
//! setup names the user, tree connect maps a tree id to a share, create maps
//! a file id to a path, and their ends (logoff, tree disconnect, close)
//! remove them. Also what each message shows of that context.

use std::sync::Arc;

use crate::output::MessageFields;
use crate::smb::auth::{parse_security_blob, AuthInfo, AuthToken, Authentication, Mechanism, NtlmVersion};
use crate::smb::records::create_records::CreateRequest;
use crate::smb::records::file_records::{FileOp, FileRequest};
use crate::smb::records::header_records::Smb2Header;
use crate::smb::records::tree_records::{SHAREFLAG_DFS, SHAREFLAG_ENCRYPT_DATA};
use crate::smb::records::{Body, FileId};
use crate::smb::types::{Command, Dialect, NtStatus};

use super::session::{FileKey, Open, SessionTable, Tree};
use super::ConnCtx;

/// What a request asked, remembered until its response.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Asked {
    #[default]
    Nothing,
    Negotiate { dialects: Vec<Dialect> },
    SessionSetup { auth: AuthInfo },
    TreeConnect { path: Option<Arc<str>> },
    /// `reconnect_of`: the persistent id of the durable open a DHnC/DH2C asks back.
    Create { name: Option<Arc<str>>, tree_id: Option<u32>, durable_reconnect: bool, reconnect_of: Option<u64>, disposition: u32, desired_access: u32 },
    /// Requests on an open: which one (to close it, count bytes...).
    File { key: Option<FileKey>, op: FileOp },
}

fn key(id: FileId) -> FileKey {
    FileKey { persistent: id.persistent, volatile: id.volatile }
}

/// Full display path of a file: `\\server\share\path`.
fn join(tree: Option<&Tree>, name: &str) -> Arc<str> {
    match tree {
        Some(t) if !name.is_empty() => Arc::from(format!("{}\\{}", t.path, name)),
        Some(t) => t.path.clone(),
        None => Arc::from(name),
    }
}

/// A request: remember what it asked and record what it tells about state.
pub fn on_request(ctx: &mut ConnCtx, sessions: &mut SessionTable, hdr: &Smb2Header<'_>, body: &Body<'_>, frame: u32) -> Asked {
    match body {
        Body::NegotiateRequest(r) => Asked::Negotiate { dialects: r.dialects.clone() },
        Body::SessionSetupRequest(r) => {
            let auth = parse_security_blob(r.blob);
            if let Some(s) = sessions.setup_session(ctx.session_key(hdr.session_id), frame) {
                apply_client_token(s, &auth);
                s.setup_frame.get_or_insert(frame);
            }
            Asked::SessionSetup { auth }
        }
        Body::TreeConnectRequest(r) => Asked::TreeConnect { path: r.path.as_deref().map(Arc::from) },
        Body::CreateRequest(r) => {
            let name = create_name(ctx, sessions, hdr, r);
            if hdr.flags.is_related() || hdr.next_command != 0 {
                ctx.chain_create = name.clone();
            }
            Asked::Create {
                name,
                tree_id: hdr.tree_id(),
                durable_reconnect: r.is_durable_reconnect(),
                reconnect_of: r.reconnect_file_id.map(|f| f.persistent),
                disposition: r.disposition.0,
                desired_access: r.desired_access.0,
            }
        }
        Body::FileRequest(FileRequest { file_id, op }) => Asked::File { key: file_id.map(key), op: op.clone() },
        _ => Asked::Nothing,
    }
}

fn create_name(ctx: &ConnCtx, sessions: &SessionTable, hdr: &Smb2Header<'_>, r: &CreateRequest) -> Option<Arc<str>> {
    let name = r.name.as_deref()?;
    // On a DFS share the name is already the whole DFS path (MS-SMB2 2.2.13).
    if hdr.flags.is_dfs() && !name.is_empty() {
        return Some(Arc::from(format!("\\\\{}", name.trim_start_matches('\\'))));
    }
    let tree = hdr.tree_id().and_then(|t| sessions.tree(ctx.session_key(hdr.session_id), t));
    Some(join(tree, name))
}

fn apply_client_token(s: &mut super::session::Session, auth: &AuthInfo) {
    s.kerberos_offered |= auth.mechs_offered.contains(&Mechanism::Kerberos);
    match &auth.token {
        Some(AuthToken::NtlmAuthenticate(a)) => {
            s.auth = Some(if a.anonymous {
                Authentication::AnonymousNtlm
            } else if a.ntlm_v2 {
                Authentication::Ntlm(NtlmVersion::V2)
            } else {
                Authentication::Ntlm(NtlmVersion::V1)
            });
            if !a.anonymous {
                s.user = Some(Arc::from(if a.domain.is_empty() { a.user.clone() } else { format!("{}\\{}", a.domain, a.user) }));
            }
            s.target_spn = a.target_spn.as_deref().map(Arc::from);
        }
        Some(AuthToken::KerberosApReq { realm, sname }) => {
            s.auth = Some(Authentication::Kerberos);
            s.target_spn = Some(Arc::from(format!("{}@{}", sname.join("/"), realm)));
        }
        _ => {}
    }
}

/// A final response: apply what it confirms.
pub fn on_response(ctx: &mut ConnCtx, sessions: &mut SessionTable, hdr: &Smb2Header<'_>, body: &Body<'_>, asked: &Asked, frame: u32) {
    let ok = hdr.status == NtStatus::SUCCESS;
    let sk = ctx.session_key(hdr.session_id);
    match (body, asked) {
        (Body::NegotiateResponse(r), _) => {
            if r.dialect != Dialect::SMB2_WILDCARD {
                ctx.dialect = Some(r.dialect);
            }
            ctx.server_security_mode = Some(r.security_mode);
            ctx.server_offers_kerberos = parse_security_blob(r.security_blob).mechs_offered.contains(&Mechanism::Kerberos);
        }
        (Body::SessionSetupResponse(r), Asked::SessionSetup { auth }) => {
            let server = parse_security_blob(r.blob);
            if let Some(s) = sessions.setup_session(sk, frame) {
                // The first leg's request had no session id yet.
                if s.auth.is_none() {
                    apply_client_token(s, auth);
                }
                s.kerberos_offered |= ctx.server_offers_kerberos;
                if let Some(AuthToken::NtlmChallenge(c)) = &server.token {
                    s.server_nb_name = c.nb_computer.as_deref().map(Arc::from);
                    s.server_dns_name = c.dns_computer.as_deref().map(Arc::from);
                }
                if ok {
                    s.established_frame = Some(frame);
                    s.is_guest = r.flags.is_guest();
                    s.is_null = r.flags.is_null();
                    s.encrypt_data = r.flags.encrypt_data();
                    if s.is_guest {
                        s.auth = Some(Authentication::Guest);
                    }
                }
            }
        }
        (Body::TreeConnectResponse(r), Asked::TreeConnect { path: Some(path) }) if ok => {
            if let Some(tid) = hdr.tree_id() {
                let is_ipc = super::session::is_ipc_path(path);
                sessions.add_tree(
                    sk,
                    tid,
                    Tree { path: path.clone(), connect_frame: frame, encrypt_data: r.share_flags.has(SHAREFLAG_ENCRYPT_DATA), dfs: r.share_flags.has(SHAREFLAG_DFS), is_ipc },
                );
            }
        }
        (Body::CreateResponse(r), Asked::Create { name: Some(name), tree_id, .. }) if ok => {
            sessions.add_open(sk, key(r.file_id), Open { path: name.clone(), tree_id: *tree_id, create_frame: frame, ..Default::default() });
        }
        (_, Asked::File { key: Some(k), op: FileOp::Close }) if ok => {
            sessions.remove_open(sk, *k);
        }
        (_, Asked::File { key: Some(k), op: FileOp::SetInfo { rename_to: Some(new), .. } }) if ok => {
            let tree = sessions.open(sk, *k).and_then(|o| o.tree_id).and_then(|t| sessions.tree(sk, t)).cloned();
            if let Some(o) = sessions.open_mut(sk, *k) {
                o.path = join(tree.as_ref(), new.trim_start_matches('\\'));
            }
        }
        (Body::ReadResponse(r), Asked::File { key: Some(k), .. }) => {
            if let Some(o) = sessions.open_mut(sk, *k) {
                o.bytes_read += r.data_length as u64;
            }
        }
        (Body::WriteResponse(r), Asked::File { key: Some(k), .. }) => {
            if let Some(o) = sessions.open_mut(sk, *k) {
                o.bytes_written += r.count as u64;
            }
        }
        _ => {}
    }
    if ok {
        match hdr.command {
            Command::TREE_DISCONNECT => {
                if let Some(t) = hdr.tree_id() {
                    sessions.remove_tree(sk, t);
                }
            }
            Command::LOGOFF => sessions.remove_session(sk),
            _ => {}
        }
    }
}

/// Fill the context fields a message shows: share, file, user, auth.
pub fn fill_context(ctx: &ConnCtx, sessions: &SessionTable, hdr: &Smb2Header<'_>, body: &Body<'_>, asked: &Asked, m: &mut MessageFields) {
    let sk = ctx.session_key(hdr.session_id);
    if let Some(s) = sessions.session(sk) {
        m.user = s.user.clone();
        m.auth = s.auth;
        m.spn = s.target_spn.clone();
    }
    m.tree = hdr.tree_id().and_then(|t| sessions.tree(sk, t)).map(|t| t.path.clone());
    match asked {
        Asked::TreeConnect { path } => m.tree = m.tree.clone().or_else(|| path.clone()),
        Asked::Create { name, .. } => m.file = name.clone(),
        // A session setup request names the identity it offers, even before
        // the server has given the session an id.
        Asked::SessionSetup { auth } if !m.is_response => {
            let mut offered = super::session::Session::default();
            apply_client_token(&mut offered, auth);
            if offered.auth.is_some() {
                m.auth = offered.auth;
                m.user = offered.user.or(m.user.take());
                m.spn = offered.target_spn.or(m.spn.take());
            }
        }
        Asked::File { key: Some(k), .. } => {
            m.file = sessions.open(sk, *k).map(|o| o.path.clone());
            if m.file.is_none() && k.is_related_placeholder() {
                m.file = ctx.chain_create.clone();
            }
        }
        _ => {}
    }
    if let Body::BreakNotification(crate::smb::records::file_records::BreakNotification::Oplock { file_id, .. }) = body {
        m.file = sessions.opens.iter().find(|((s, k), _)| s.server == sk.server && *k == key(*file_id)).map(|(_, o)| o.path.clone());
    }
}
