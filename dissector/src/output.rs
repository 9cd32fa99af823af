//! Per-frame results: what the front end shows for one captured frame.

use std::sync::Arc;

use crate::rules::catalog::RuleDef;
use crate::smb::types::{Command, Dialect, NtStatus};

/// The fields of one SMB2 message, shown on the frame that completed it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageFields {
    pub cmd: Command,
    pub is_response: bool,
    /// Responses only.
    pub status: Option<NtStatus>,
    pub msg_id: u64,
    pub async_id: Option<u64>,
    pub session_id: u64,
    /// Sync headers only.
    pub tree_id: Option<u32>,
    /// `\\server\share` of the tree the message addresses.
    pub tree: Option<Arc<str>>,
    /// Path of the open the message addresses.
    pub file: Option<Arc<str>>,
    pub dialect: Option<Dialect>,
    /// How the session authenticated.
    pub auth: Option<crate::smb::auth::Authentication>,
    /// `DOMAIN\user` of the session.
    pub user: Option<Arc<str>>,
    /// Kerberos SPN or NTLM target name the session authenticated to.
    pub spn: Option<Arc<str>>,
    pub credits: u16,
    pub credit_charge: u16,
    /// Responses: time since the request (nanoseconds).
    pub response_time_ns: Option<i64>,
    pub request_frame: Option<u32>,
    pub response_frame: Option<u32>,
    /// Interim STATUS_PENDING response (the final one follows).
    pub interim: bool,
    /// The message was cut by a capture gap or snaplen; fields past the header may be missing.
    pub truncated: bool,
    /// The message came encrypted and smbdiag decrypted it with the user's key: the cipher.
    pub decrypted: Option<&'static str>,
}

impl MessageFields {
    /// One-line description for the tree, e.g. "TREE_CONNECT response
    /// STATUS_BAD_NETWORK_NAME, msg 4". Built on demand: only a visible tree
    /// or a filter on `smbdiag.message` needs it.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(64);
        let _ = write!(s, "{} {}", self.cmd, if self.is_response { "response" } else { "request" });
        if let Some(st) = self.status.filter(|&st| st != NtStatus::SUCCESS) {
            let _ = write!(s, " {st}");
        }
        let _ = write!(s, ", msg {}", self.msg_id);
        if let Some(c) = self.decrypted {
            let _ = write!(s, " (decrypted, {c})");
        }
        if self.truncated {
            s.push_str(" (cut short in the capture)");
        }
        s
    }
}

/// One diagnosis: an expert item with its sentence and evidence frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rule: &'static RuleDef,
    /// The sentence an administrator acts on: what, evidence, likely cause, next check.
    pub text: String,
    pub related_frames: Vec<u32>,
}

/// What kind of SMB PDU the core does not open as SMB2 messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpaqueKind {
    /// SMB1: its NEGOTIATE is read (dialects offered and chosen), other commands only named.
    Smb1,
    /// SMB 3.1.1 compression transform: algorithm and size, decompressed or why not.
    Compressed,
    /// SMB3 encryption transform: size and session known, contents not visible.
    Encrypted,
    /// Found by resynchronisation and not yet confirmed (it may be junk that looks like SMB): not decoded.
    Unconfirmed,
}

/// An SMB PDU on this frame that is not shown as SMB2 messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaquePdu {
    pub kind: OpaqueKind,
    /// Encrypted only (the transform header names the session); 0 otherwise.
    pub session_id: u64,
    /// What it is, without the kind (the front end's label names that):
    /// "NEGOTIATE request offering ...", "842 bytes, session 0x...".
    pub description: String,
}

/// Everything smbdiag has to say about one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameReport {
    pub messages: Vec<MessageFields>,
    pub opaque: Vec<OpaquePdu>,
    pub findings: Vec<Finding>,
}

impl FrameReport {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.opaque.is_empty() && self.findings.is_empty()
    }
}
