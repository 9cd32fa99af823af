//! A note for any other error status (status.error): what it means and what
//! to check, from status_advice. Routine statuses stay quiet
//! (status_advice::is_routine); statuses with their own rule are explained
//! by that rule's family (responses::explainer picks one per response).

use super::catalog;
use super::responses::Explainer;
use super::status_advice::advice;
use super::MsgEvent;
use crate::limits::{Bound, Limit};
use crate::net::flow::ConnId;
use crate::net::slots::PerConn;
use crate::output::Finding;
use crate::smb::records::file_records::FileOp;
use crate::smb::types::{Command, CtlCode, NtStatus};
use crate::state::track::Asked;

const MAX_KEYS: usize = 4096;

#[derive(Debug, Default)]
pub struct StatusRules {
    /// Connections where a CREATE was answered STATUS_PATH_NOT_COVERED: a DFS
    /// referral failing there is evidence, not the routine probe clients make
    /// before every share.
    dfs_redirected: PerConn<u32>,
    dfs_bound: Bound,
}

static DFS_LIMIT: Limit = Limit {
    table: "connections with a DFS redirect",
    max: MAX_KEYS,
    effect: "DFS referral failures on further connections are taken for the routine probe and not reported",
};

impl StatusRules {
    pub fn bounds(&mut self, f: &mut dyn FnMut(&mut Bound)) {
        f(&mut self.dfs_bound);
    }

    pub fn forget(&mut self, id: ConnId) {
        self.dfs_redirected.remove(id);
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, why: Option<Explainer>, out: &mut Vec<Finding>) {
        let h = ev.hdr;
        if h.is_response()
            && !ev.fields.interim
            && h.command == Command::CREATE
            && h.status == NtStatus::PATH_NOT_COVERED
            && (self.dfs_redirected.contains(ev.conn.id) || self.dfs_bound.admit(&DFS_LIMIT, self.dfs_redirected.len(), ev.frame))
        {
            *self.dfs_redirected.entry(ev.conn.id) = ev.frame;
        }
        if why != Some(Explainer::Status) {
            return;
        }
        // The DFS referral clients ask for on IPC$ before using a share: a
        // server that is no DFS root refuses it (each in its own words).
        // Only after a PATH_NOT_COVERED is a failed referral news.
        if let Asked::File { op: FileOp::Ioctl { ctl_code: CtlCode::DFS_GET_REFERRALS | CtlCode::DFS_GET_REFERRALS_EX, .. }, .. } = ev.asked {
            if h.command == Command::IOCTL && !self.dfs_redirected.contains(ev.conn.id) {
                return;
            }
        }
        out.push(generic(ev, h.status));
    }
}

fn generic(ev: &MsgEvent<'_>, s: NtStatus) -> Finding {
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
    Finding { rule: &catalog::STATUS_ERROR, text, related_frames: m.request_frame.into_iter().collect() }
}

