//! Security posture (security.*): SMB1, guest and anonymous sessions, NTLMv1,
//! sessions left unsigned, shares that ask for encryption but see plain traffic.
//! Each is raised once (per connection, session or tree), never per message.

use ahash::HashSet;

use crate::limits::{Bound, Limit};
use crate::smb::auth::{Authentication, NtlmVersion};
use crate::smb::records::negotiate_records::SMB1_NO_DIALECT;
use crate::state::session::SessionKey;

use super::catalog;
use super::{MsgEvent, Smb1NegotiateEvent};
use crate::config::Config;
use crate::net::flow::ConnId;
use crate::output::Finding;
use crate::smb::types::{Command, NtStatus};

const MAX_KEYS: usize = 65_536;

#[derive(Debug, Default)]
pub struct SecurityRules {
    smb1_conns: HashSet<ConnId>,
    smb1_used: HashSet<ConnId>,
    /// Sessions already reported (per rule).
    guest: HashSet<SessionKey>,
    unsigned: HashSet<SessionKey>,
    ntlmv1: HashSet<SessionKey>,
    trees: HashSet<(SessionKey, u32)>,
    reported_bound: Bound,
}

static REPORTED_LIMIT: Limit = Limit {
    table: "connections and sessions a security rule has reported",
    max: MAX_KEYS,
    effect: "that security rule does not judge further connections or sessions",
};

/// The first time a rule sees `key` (it reports once per connection or session).
fn first_time<T: std::hash::Hash + Eq>(set: &mut HashSet<T>, key: T, bound: &mut Bound, frame: u32) -> bool {
    !set.contains(&key) && bound.admit(&REPORTED_LIMIT, set.len(), frame) && set.insert(key)
}

impl SecurityRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.reported_bound);
    }

    pub fn forget(&mut self, id: ConnId) {
        self.smb1_conns.remove(&id);
        self.smb1_used.remove(&id);
    }

    pub fn on_smb1_negotiate(&mut self, _cfg: &Config, ev: &Smb1NegotiateEvent<'_>, out: &mut Vec<Finding>) {
        let offers_smb1 = ev.dialects.iter().any(|d| !d.starts_with("SMB 2"));
        if ev.is_response {
            // An SMB1 answer that selects a dialect: this connection runs SMB1.
            if let Some(i) = ev.selected.filter(|&i| i != SMB1_NO_DIALECT) {
                if first_time(&mut self.smb1_used, ev.conn.id, &mut self.reported_bound, ev.frame) {
                    out.push(Finding {
                        rule: &catalog::SECURITY_SMB1,
                        text: format!(
                            "SMB1 in use: the server {} accepted SMB1 (dialect #{i} of the client's list) on this connection. SMB1 is deprecated, off by default on current Windows, and lacks SMB2/3's signing, encryption and performance. Next check: why the client cannot use SMB2 (old device or OS), then disable SMB1 (Set-SmbServerConfiguration -EnableSMB1Protocol $false; `server min protocol = SMB2_02` on Samba).",
                            ev.conn.server
                        ),
                        related_frames: vec![],
                    });
                }
            }
            return;
        }
        if offers_smb1 && first_time(&mut self.smb1_conns, ev.conn.id, &mut self.reported_bound, ev.frame) {
            let smb2 = ev.dialects.iter().any(|d| d.starts_with("SMB 2"));
            out.push(Finding {
                rule: &catalog::SECURITY_SMB1,
                text: format!(
                    "The client {} offers SMB1 dialects ({}){}. SMB1 is deprecated and should be off on both ends. Next check: disable SMB1 on the client (Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol; `client min protocol = SMB2_02` on Samba).",
                    ev.conn.client,
                    ev.dialects.iter().filter(|d| !d.starts_with("SMB 2")).map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", "),
                    if smb2 { ", next to SMB2, in a multi-protocol negotiate: the client still has SMB1 enabled" } else { " and no SMB2 dialect: it can only speak SMB1" }
                ),
                related_frames: vec![],
            });
        }
    }

    pub fn on_message(&mut self, _cfg: &Config, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        let Some(s) = ev.session else { return };
        if h.is_response() && h.command == Command::SESSION_SETUP && h.status == NtStatus::SUCCESS {
            if s.is_guest && first_time(&mut self.guest, s.key, &mut self.reported_bound, ev.frame) {
                out.push(Finding {
                    rule: &catalog::SECURITY_GUEST_SESSION,
                    text: format!(
                        "Guest logon: the server accepted the session (0x{:x}) as guest{}. A guest session cannot sign or encrypt, and current Windows clients refuse insecure guest logons (AllowInsecureGuestAuth off), so the same access fails there; a server that requires signing fails it too. Next check: give the client a real account, or on Samba review `map to guest` and `guest ok`.",
                        s.key.id,
                        s.user.as_deref().map(|u| format!(" although the client asked for {u} (an unknown user mapped to guest)")).unwrap_or_default()
                    ),
                    related_frames: s.setup_frame.into_iter().collect(),
                });
            } else if (s.is_null || s.auth.is_some_and(Authentication::is_anonymous)) && first_time(&mut self.guest, s.key, &mut self.reported_bound, ev.frame) {
                out.push(Finding {
                    rule: &catalog::SECURITY_NULL_SESSION,
                    text: format!(
                        "Anonymous (null) session 0x{:x} accepted by the server. Anonymous sessions can list shares and named pipes without an account; they cannot sign. Next check: RestrictAnonymous / RestrictNullSessAccess on Windows, `restrict anonymous = 2` on Samba, unless a legacy client needs them.",
                        s.key.id
                    ),
                    related_frames: s.setup_frame.into_iter().collect(),
                });
            }
            if s.auth == Some(Authentication::Ntlm(NtlmVersion::V1)) && first_time(&mut self.ntlmv1, s.key, &mut self.reported_bound, ev.frame) {
                out.push(Finding {
                    rule: &catalog::SECURITY_NTLMV1,
                    text: format!(
                        "NTLMv1 logon accepted for {}: NTLMv1 responses can be cracked or relayed. Next check: set LAN Manager authentication level to \"Send NTLMv2 response only. Refuse LM & NTLM\" (LmCompatibilityLevel 5) and find the client that still sends NTLMv1 (event 4624 shows the package).",
                        s.user.as_deref().unwrap_or("the user")
                    ),
                    related_frames: s.setup_frame.into_iter().collect(),
                });
            }
            return;
        }
        // Requests after the logon: signing and encryption as they really are.
        // A message that travelled encrypted (decrypted here) is neither plain nor in need of signing.
        if h.is_response() || h.session_id == 0 || s.established_frame.is_none() || ev.fields.decrypted.is_some() {
            return;
        }
        if matches!(h.command, Command::NEGOTIATE | Command::SESSION_SETUP | Command::CANCEL | Command::OPLOCK_BREAK) {
            return;
        }
        if let (Some(tid), Some(tree)) = (h.tree_id(), h.tree_id().and_then(|t| ev.sessions.tree(ev.session_key, t))) {
            if tree.encrypt_data && !s.encrypt_data && first_time(&mut self.trees, (ev.session_key, tid), &mut self.reported_bound, ev.frame) {
                out.push(Finding {
                    rule: &catalog::SECURITY_NO_ENCRYPTION,
                    text: format!(
                        "Share {} asks for encryption (SMB2_SHAREFLAG_ENCRYPT_DATA in its TREE_CONNECT response, frame {}), yet this {} request travels unencrypted. {} Next check: Get-SmbServerConfiguration | Select EncryptData, RejectUnencryptedAccess (Samba: `smb encrypt` / `server smb encrypt`), and the client's SMB settings.",
                        tree.path,
                        tree.connect_frame,
                        h.command,
                        match ev.fields.dialect {
                            Some(d) if d.is_smb3() => format!("The connection negotiated {d}, which can encrypt, so the client ignores the share's request (a non-compliant or misconfigured client), and the server accepts unencrypted access (RejectUnencryptedAccess off, or Samba's `desired`): what the client sends crosses the network in clear."),
                            Some(d) => format!("The connection negotiated {d}, which cannot encrypt, and the server lets such clients in unencrypted (RejectUnencryptedAccess off): what the client sends crosses the network in clear. Upgrade the client to SMB 3.x."),
                            None => "The server accepts unencrypted access (RejectUnencryptedAccess off) or the client cannot encrypt (a dialect below SMB 3.0).".to_string(),
                        }
                    ),
                    related_frames: vec![tree.connect_frame],
                });
            }
        }
        let can_sign = !s.is_guest && !s.is_null && !s.auth.is_some_and(Authentication::is_anonymous);
        // SMB 3.1.1 signs every TREE_CONNECT whatever the settings, so it says nothing.
        if can_sign && h.command != Command::TREE_CONNECT && !h.flags.is_signed() && first_time(&mut self.unsigned, ev.session_key, &mut self.reported_bound, ev.frame) {
            out.push(Finding {
                rule: &catalog::SECURITY_UNSIGNED_SESSION,
                text: format!(
                    "Session 0x{:x} of {} runs unsigned (first unsigned request: this {}), though an authenticated session could sign: neither side requires signing. Unsigned SMB can be tampered with or relayed. Next check: require signing (Set-SmbServerConfiguration -RequireSecuritySignature $true, or the client's RequireSecuritySignature; `server signing = mandatory` on Samba), or use SMB encryption.",
                    h.session_id,
                    s.user.as_deref().unwrap_or("the user"),
                    h.command
                ),
                related_frames: s.established_frame.into_iter().collect(),
            });
        }
    }
}
