//! Failed responses: which rule family explains each. One answer per
//! response, so a status is explained once: by the family its rule belongs
//! to (session.*, tree.*, create.*), else by the generic status.error, or
//! not at all (routine statuses, and those that add nothing).

use super::catalog::{self, RuleDef};
use super::status_advice::is_routine;
use super::MsgEvent;
use crate::smb::auth::Authentication;
use crate::smb::records::file_records::FileOp;
use crate::smb::types::{Command, InfoType, NtStatus};
use crate::state::track::Asked;

/// The family that explains a failed response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explainer {
    Session,
    Tree,
    Create,
    Status,
}

/// Which account-state rule a SESSION_SETUP failure belongs to.
pub fn account_rule(status: NtStatus) -> Option<&'static RuleDef> {
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

/// Who explains this message's status, if anyone.
pub fn explainer(ev: &MsgEvent<'_>) -> Option<Explainer> {
    let h = ev.hdr;
    if !h.is_response() || ev.fields.interim || !h.status.is_error() && !h.status.is_warning() {
        return None;
    }
    // Statuses that mean the same on any command.
    if matches!(h.status, NtStatus::NETWORK_SESSION_EXPIRED | NtStatus::USER_SESSION_DELETED) {
        return Some(Explainer::Session);
    }
    // Anonymous logons refused: the secure default, not a failure a user meets.
    if h.command == Command::SESSION_SETUP && ev.session.and_then(|s| s.auth).is_some_and(Authentication::is_anonymous) {
        return None;
    }
    Some(match (h.command, h.status, ev.asked) {
        (Command::TREE_CONNECT, NtStatus::BAD_NETWORK_NAME | NtStatus::ACCESS_DENIED, Asked::TreeConnect { .. }) => Explainer::Tree,
        (Command::SESSION_SETUP, NtStatus::ACCESS_DENIED, _) => Explainer::Session,
        (Command::SESSION_SETUP, s, _) if account_rule(s).is_some() => Explainer::Session,
        (
            Command::CREATE,
            NtStatus::OBJECT_NAME_NOT_FOUND | NtStatus::OBJECT_PATH_NOT_FOUND | NtStatus::ACCESS_DENIED | NtStatus::SHARING_VIOLATION | NtStatus::DELETE_PENDING | NtStatus::PATH_NOT_COVERED,
            Asked::Create { .. },
        ) => Explainer::Create,
        (Command::CREATE, s, Asked::Create { .. }) if !is_routine(Command::CREATE, s) => Explainer::Status,
        (Command::CREATE, _, Asked::Create { .. }) => return None,
        // A failed NEGOTIATE is negotiate.rejected's.
        (Command::NEGOTIATE, _, _) => return None,
        // Later messages of a compound whose CREATE failed fail with it.
        (_, NtStatus::FILE_CLOSED | NtStatus::INVALID_PARAMETER, _) if h.flags.is_related() => return None,
        // A named pipe closed by its server once the RPC is done.
        (_, NtStatus::FILE_CLOSED, _) if ev.fields.tree.as_deref().is_some_and(crate::state::session::is_ipc_path) => return None,
        // Explorer asks every file for its security descriptor; not being allowed to read it is normal.
        (Command::QUERY_INFO, NtStatus::ACCESS_DENIED, Asked::File { op: FileOp::QueryInfo { info_type: InfoType::SECURITY, .. }, .. }) => return None,
        (cmd, s, _) if !is_routine(cmd, s) && s.is_error() => Explainer::Status,
        _ => return None,
    })
}
