//! What an NT status means to an administrator: routine or not, the likely
//! cause and the next check. Meanings from MS-ERREF 2.3 and MS-SMB2 3.3.5.

use crate::smb::types::{Command, NtStatus};

/// Explanation of a status for the generic finding and the rules' sentences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advice {
    /// What it means, in a phrase ("the share name does not exist on the server").
    pub meaning: &'static str,
    /// What to check next.
    pub next_check: &'static str,
}

/// Statuses that are part of normal operation in the given command and must
/// raise nothing. `STATUS_OBJECT_NAME_NOT_FOUND` and friends on CREATE are
/// decided by the create rules (probe or not), not here.
pub fn is_routine(cmd: Command, status: NtStatus) -> bool {
    match status {
        NtStatus::SUCCESS
        | NtStatus::PENDING
        | NtStatus::MORE_PROCESSING_REQUIRED
        | NtStatus::NO_MORE_FILES
        | NtStatus::NOTIFY_ENUM_DIR
        | NtStatus::NOTIFY_CLEANUP
        | NtStatus::BUFFER_OVERFLOW
        | NtStatus::END_OF_FILE => true,
        // DFS referral asked of a server or share without DFS (clients do it
        // before every share), and other FSCTLs a file system lacks.
        NtStatus::NOT_FOUND | NtStatus::FS_DRIVER_REQUIRED | NtStatus::INVALID_DEVICE_REQUEST | NtStatus::NOT_SUPPORTED => {
            cmd == Command::IOCTL
        }
        // Lock contention answered while the client waits is normal; info
        // classes a server lacks are probed by clients.
        NtStatus::INVALID_INFO_CLASS | NtStatus::INFO_LENGTH_MISMATCH | NtStatus::BUFFER_TOO_SMALL => {
            cmd == Command::QUERY_INFO || cmd == Command::SET_INFO || cmd == Command::QUERY_DIRECTORY || cmd == Command::IOCTL
        }
        // A CANCEL answered on the cancelled request, and CHANGE_NOTIFY
        // handles closed with the directory.
        NtStatus::CANCELLED => true,
        // A search pattern that matches nothing (first QUERY_DIRECTORY).
        NtStatus::NO_SUCH_FILE => cmd == Command::QUERY_DIRECTORY,
        // The client acknowledging a break for a handle it already closed.
        _ if cmd == Command::OPLOCK_BREAK => true,
        // A tree disconnect or close of something already gone.
        NtStatus::NETWORK_NAME_DELETED => cmd == Command::TREE_DISCONNECT,
        NtStatus::FILE_CLOSED => cmd == Command::CHANGE_NOTIFY || cmd == Command::CLOSE,
        // Named-pipe reads of a pipe whose server side went away after the RPC.
        NtStatus::PIPE_DISCONNECTED | NtStatus::PIPE_BROKEN => cmd == Command::READ || cmd == Command::WRITE || cmd == Command::IOCTL,
        _ => false,
    }
}

/// The admin's reading of a status, if we have one.
pub fn advice(status: NtStatus) -> Option<Advice> {
    let a = |meaning, next_check| Some(Advice { meaning, next_check });
    match status {
        NtStatus::BAD_NETWORK_NAME => a(
            "no share of that name exists on that server",
            "run Get-SmbShare on the server (or `net share`, `smbcontrol`/smb.conf on Samba), check whether the folder was un-shared and the spelling of the share and server names",
        ),
        NtStatus::ACCESS_DENIED => a(
            "the server refused access to the account",
            "check the share and NTFS permissions for the user (Get-SmbShareAccess, icacls), and whether the share requires encryption or signing the client lacks",
        ),
        NtStatus::NETWORK_NAME_DELETED => a(
            "the share (tree) is gone: removed while mapped, the server restarted or the tree was disconnected",
            "check the server's event log for restarts and Get-SmbShare for the share",
        ),
        NtStatus::BAD_NETWORK_PATH => a("the server name could not be reached or resolved", "check name resolution (Resolve-DnsName) and reachability"),
        NtStatus::REQUEST_NOT_ACCEPTED => a(
            "the server reached a connection or session limit",
            "check the server's connection limits (Get-SmbServerConfiguration, `max connections` on Samba) and open sessions (Get-SmbSession)",
        ),
        NtStatus::NOT_SUPPORTED => a(
            "the server does not support what was asked (at NEGOTIATE: no dialect in common)",
            "compare the dialects the client offers with the server's minimum and maximum protocol",
        ),
        NtStatus::LOGON_FAILURE => a(
            "the user name or password is wrong (the server does not say which)",
            "verify the account and password, stale saved credentials (cmdkey /list) and mapped drives with old passwords",
        ),
        NtStatus::NO_SUCH_USER => a("the account does not exist on the server or its domain", "check the user name, domain prefix and trusts"),
        NtStatus::WRONG_PASSWORD => a("the password is wrong", "reset or re-enter the password; look for stale saved credentials (cmdkey /list)"),
        NtStatus::ACCOUNT_LOCKED_OUT => a(
            "the account is locked out after too many bad passwords",
            "unlock it and find the source of bad passwords (event 4740 on a DC): often a stale saved credential or a mapped drive retrying",
        ),
        NtStatus::ACCOUNT_DISABLED => a("the account is disabled", "enable the account in Active Directory (Get-ADUser) or the local SAM"),
        NtStatus::ACCOUNT_EXPIRED => a("the account has expired", "extend the account's expiry date (Get-ADUser -Properties AccountExpirationDate)"),
        NtStatus::PASSWORD_EXPIRED => a("the password has expired", "change the password; check the password policy"),
        NtStatus::PASSWORD_MUST_CHANGE => a("the password must be changed before first use", "log on interactively once to change it, or reset it"),
        NtStatus::INVALID_LOGON_HOURS => a("the account may not log on at this time", "check the account's logon hours"),
        NtStatus::INVALID_WORKSTATION => a("the account may not log on from this computer", "check the account's 'Log On To' workstation list"),
        NtStatus::ACCOUNT_RESTRICTION => a(
            "an account restriction blocks the logon (e.g. blank password over the network)",
            "check the account's restrictions and the 'Limit local account use of blank passwords' policy",
        ),
        NtStatus::LOGON_TYPE_NOT_GRANTED => a(
            "the account lacks the 'Access this computer from the network' right on the server",
            "check User Rights Assignment on the server (secpol.msc / GPO)",
        ),
        NtStatus::NO_LOGON_SERVERS => a("the server could not reach a domain controller to check the logon", "check the server's DC connectivity (nltest /sc_query:DOMAIN)"),
        NtStatus::TRUSTED_RELATIONSHIP_FAILURE => a(
            "the server's trust with the domain is broken",
            "test and repair the secure channel (Test-ComputerSecureChannel -Repair)",
        ),
        NtStatus::TRUSTED_DOMAIN_FAILURE => a(
            "the trust between the server's domain and the user's domain failed",
            "check the domain trust (Test-ComputerSecureChannel, nltest /sc_verify:<domain>)",
        ),
        NtStatus::TIME_DIFFERENCE_AT_DC => a("the clocks differ too much for Kerberos", "check time synchronisation (w32tm /query /status) on client, server and DC"),
        NtStatus::NETWORK_SESSION_EXPIRED => a(
            "the session's Kerberos ticket expired; the client must re-authenticate",
            "normal once; if it repeats, check ticket lifetimes and the client's ability to renew (klist)",
        ),
        NtStatus::USER_SESSION_DELETED => a(
            "the server no longer knows this session (restart, logoff, idle timeout or failover)",
            "check the server's event log for restarts and its AutoDisconnectTimeout",
        ),
        NtStatus::SHARING_VIOLATION => a(
            "another open holds the file with a share mode that excludes this one",
            "find who has the file open (Get-SmbOpenFile on the server, or the other open in this capture)",
        ),
        NtStatus::DELETE_PENDING => a("the file is marked for deletion but an open handle keeps it", "find and close the handle holding it (Get-SmbOpenFile)"),
        NtStatus::OBJECT_PATH_NOT_FOUND => a("a folder on the path does not exist", "check the path's folders on the share"),
        NtStatus::OBJECT_NAME_NOT_FOUND => a("the file does not exist", "check the file name and that it was not moved or deleted"),
        NtStatus::OBJECT_NAME_COLLISION => a("a file of that name already exists", "check whether the application should overwrite it"),
        NtStatus::PATH_NOT_COVERED => a(
            "the path is a DFS link that lives on another server; the client must ask for a referral",
            "check the DFS namespace (Get-DfsnFolderTarget) and that the client follows referrals",
        ),
        NtStatus::DISK_FULL => a("the volume or a quota is full", "free space or raise the quota (Get-Volume, fsutil quota)"),
        NtStatus::QUOTA_EXCEEDED => a("a quota is exceeded", "check FSRM/NTFS quotas for the user"),
        NtStatus::INSUFFICIENT_RESOURCES => a("the server ran out of memory or handles", "check the server's load, paged pool and handle counts"),
        NtStatus::FILE_CLOSED | NtStatus::INVALID_HANDLE => a(
            "the file id is no longer valid (closed, or a durable handle was lost)",
            "check for an earlier CLOSE of the handle or a reconnect",
        ),
        NtStatus::IO_TIMEOUT => a("the server's storage did not answer in time", "check the server's storage latency (Get-Counter, event logs)"),
        NtStatus::INVALID_PARAMETER => a("the server rejected a request parameter", "compare the request with what the server supports (dialect, info class)"),
        NtStatus::FILE_IS_A_DIRECTORY => a("a folder was opened as a file", "check the path the application uses"),
        NtStatus::NOT_A_DIRECTORY => a("a file was opened as a folder", "check the path the application uses"),
        NtStatus::DIRECTORY_NOT_EMPTY => a("the folder is not empty", "delete its contents first"),
        NtStatus::CANNOT_DELETE => a("the file cannot be deleted (read-only or in use)", "check attributes and open handles"),
        NtStatus::MEDIA_WRITE_PROTECTED => a("the share or volume is read-only", "check the share's read-only setting and the volume"),
        NtStatus::FILE_LOCK_CONFLICT | NtStatus::LOCK_NOT_GRANTED => a(
            "a byte-range lock held by another open conflicts",
            "find the other open holding the lock (Get-SmbOpenFile)",
        ),
        NtStatus::INVALID_SIGNATURE => a("a message signature did not verify", "look for a middlebox altering SMB traffic, or key mismatch after re-authentication"),
        NtStatus::PRIVILEGE_NOT_HELD => a("the account lacks a privilege the operation needs", "check the user's rights for the operation (e.g. SeSecurityPrivilege for SACLs)"),
        NtStatus::INTERNAL_ERROR => a("the server hit an internal error", "check the server's logs (Samba log.smbd, Windows event log)"),
        NtStatus::NETWORK_ACCESS_DENIED => a("network access to the resource is denied", "check share permissions and the server's access policy"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_statuses_stay_quiet() {
        assert!(is_routine(Command::SESSION_SETUP, NtStatus::MORE_PROCESSING_REQUIRED));
        assert!(is_routine(Command::IOCTL, NtStatus::NOT_FOUND));
        assert!(!is_routine(Command::CREATE, NtStatus::NOT_FOUND));
        assert!(!is_routine(Command::TREE_CONNECT, NtStatus::BAD_NETWORK_NAME));
        assert!(is_routine(Command::TREE_DISCONNECT, NtStatus::NETWORK_NAME_DELETED));
    }

    #[test]
    fn every_catalog_error_has_advice() {
        for s in [
            NtStatus::BAD_NETWORK_NAME,
            NtStatus::LOGON_FAILURE,
            NtStatus::ACCOUNT_LOCKED_OUT,
            NtStatus::SHARING_VIOLATION,
            NtStatus::PATH_NOT_COVERED,
            NtStatus::NETWORK_SESSION_EXPIRED,
        ] {
            assert!(advice(s).is_some(), "{s}");
        }
    }
}
