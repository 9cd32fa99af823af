//! Protocol values as types. Every code is a newtype over the wire integer so
//! that values we have no name for survive decoding and print as numbers.

use std::fmt;

macro_rules! code_type {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty), fmt = $fmt:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        #[allow(non_upper_case_globals)]
        impl $name {
            $( $(#[$vmeta])* pub const $variant: $name = $name($value); )*

            /// Every named value, in declaration order (used to build Wireshark's
            /// value_string tables and the docs).
            pub const ALL: &'static [($repr, &'static str)] = &[ $( ($value, $text), )* ];

            /// The name, if this value has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( v if v == $value => Some($text), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, $fmt, self.0),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

code_type! {
    /// SMB2 command code (MS-SMB2 2.2.1.2).
    Command(u16), fmt = "0x{:04x}" {
        NEGOTIATE = 0x0000 => "NEGOTIATE",
        SESSION_SETUP = 0x0001 => "SESSION_SETUP",
        LOGOFF = 0x0002 => "LOGOFF",
        TREE_CONNECT = 0x0003 => "TREE_CONNECT",
        TREE_DISCONNECT = 0x0004 => "TREE_DISCONNECT",
        CREATE = 0x0005 => "CREATE",
        CLOSE = 0x0006 => "CLOSE",
        FLUSH = 0x0007 => "FLUSH",
        READ = 0x0008 => "READ",
        WRITE = 0x0009 => "WRITE",
        LOCK = 0x000a => "LOCK",
        IOCTL = 0x000b => "IOCTL",
        CANCEL = 0x000c => "CANCEL",
        ECHO = 0x000d => "ECHO",
        QUERY_DIRECTORY = 0x000e => "QUERY_DIRECTORY",
        CHANGE_NOTIFY = 0x000f => "CHANGE_NOTIFY",
        QUERY_INFO = 0x0010 => "QUERY_INFO",
        SET_INFO = 0x0011 => "SET_INFO",
        OPLOCK_BREAK = 0x0012 => "OPLOCK_BREAK",
        SERVER_TO_CLIENT_NOTIFICATION = 0x0013 => "SERVER_TO_CLIENT_NOTIFICATION",
    }
}

code_type! {
    /// SMB2 dialect revision (MS-SMB2 2.2.3).
    Dialect(u16), fmt = "0x{:04x}" {
        SMB2_0_2 = 0x0202 => "SMB 2.0.2",
        SMB2_1 = 0x0210 => "SMB 2.1",
        SMB3_0 = 0x0300 => "SMB 3.0",
        SMB3_0_2 = 0x0302 => "SMB 3.0.2",
        SMB3_1_1 = 0x0311 => "SMB 3.1.1",
        /// The wildcard a server answers to a multi-protocol SMB1 negotiate.
        SMB2_WILDCARD = 0x02ff => "SMB 2.???",
    }
}

impl Dialect {
    /// SMB 3.x dialects can sign with AES and encrypt.
    pub fn is_smb3(self) -> bool {
        (0x0300..0x0400).contains(&self.0)
    }
}

code_type! {
    /// NT status code (MS-ERREF 2.3). Only the values smbdiag reasons about or
    /// that are common in SMB traffic are named; others print in hex.
    NtStatus(u32), fmt = "0x{:08x}" {
        SUCCESS = 0x0000_0000 => "STATUS_SUCCESS",
        PENDING = 0x0000_0103 => "STATUS_PENDING",
        NOTIFY_CLEANUP = 0x0000_010b => "STATUS_NOTIFY_CLEANUP",
        NOTIFY_ENUM_DIR = 0x0000_010c => "STATUS_NOTIFY_ENUM_DIR",
        BUFFER_OVERFLOW = 0x8000_0005 => "STATUS_BUFFER_OVERFLOW",
        NO_MORE_FILES = 0x8000_0006 => "STATUS_NO_MORE_FILES",
        STOPPED_ON_SYMLINK = 0x8000_002d => "STATUS_STOPPED_ON_SYMLINK",
        UNSUCCESSFUL = 0xc000_0001 => "STATUS_UNSUCCESSFUL",
        NOT_IMPLEMENTED = 0xc000_0002 => "STATUS_NOT_IMPLEMENTED",
        INVALID_INFO_CLASS = 0xc000_0003 => "STATUS_INVALID_INFO_CLASS",
        INFO_LENGTH_MISMATCH = 0xc000_0004 => "STATUS_INFO_LENGTH_MISMATCH",
        INVALID_HANDLE = 0xc000_0008 => "STATUS_INVALID_HANDLE",
        INVALID_PARAMETER = 0xc000_000d => "STATUS_INVALID_PARAMETER",
        NO_SUCH_DEVICE = 0xc000_000e => "STATUS_NO_SUCH_DEVICE",
        NO_SUCH_FILE = 0xc000_000f => "STATUS_NO_SUCH_FILE",
        INVALID_DEVICE_REQUEST = 0xc000_0010 => "STATUS_INVALID_DEVICE_REQUEST",
        END_OF_FILE = 0xc000_0011 => "STATUS_END_OF_FILE",
        MORE_PROCESSING_REQUIRED = 0xc000_0016 => "STATUS_MORE_PROCESSING_REQUIRED",
        NO_MEMORY = 0xc000_0017 => "STATUS_NO_MEMORY",
        ACCESS_DENIED = 0xc000_0022 => "STATUS_ACCESS_DENIED",
        BUFFER_TOO_SMALL = 0xc000_0023 => "STATUS_BUFFER_TOO_SMALL",
        OBJECT_NAME_INVALID = 0xc000_0033 => "STATUS_OBJECT_NAME_INVALID",
        OBJECT_NAME_NOT_FOUND = 0xc000_0034 => "STATUS_OBJECT_NAME_NOT_FOUND",
        OBJECT_NAME_COLLISION = 0xc000_0035 => "STATUS_OBJECT_NAME_COLLISION",
        OBJECT_PATH_INVALID = 0xc000_0039 => "STATUS_OBJECT_PATH_INVALID",
        OBJECT_PATH_NOT_FOUND = 0xc000_003a => "STATUS_OBJECT_PATH_NOT_FOUND",
        OBJECT_PATH_SYNTAX_BAD = 0xc000_003b => "STATUS_OBJECT_PATH_SYNTAX_BAD",
        SHARING_VIOLATION = 0xc000_0043 => "STATUS_SHARING_VIOLATION",
        DELETE_PENDING = 0xc000_0056 => "STATUS_DELETE_PENDING",
        PRIVILEGE_NOT_HELD = 0xc000_0061 => "STATUS_PRIVILEGE_NOT_HELD",
        NO_SUCH_USER = 0xc000_0064 => "STATUS_NO_SUCH_USER",
        WRONG_PASSWORD = 0xc000_006a => "STATUS_WRONG_PASSWORD",
        LOGON_FAILURE = 0xc000_006d => "STATUS_LOGON_FAILURE",
        ACCOUNT_RESTRICTION = 0xc000_006e => "STATUS_ACCOUNT_RESTRICTION",
        INVALID_LOGON_HOURS = 0xc000_006f => "STATUS_INVALID_LOGON_HOURS",
        INVALID_WORKSTATION = 0xc000_0070 => "STATUS_INVALID_WORKSTATION",
        PASSWORD_EXPIRED = 0xc000_0071 => "STATUS_PASSWORD_EXPIRED",
        ACCOUNT_DISABLED = 0xc000_0072 => "STATUS_ACCOUNT_DISABLED",
        DISK_FULL = 0xc000_007f => "STATUS_DISK_FULL",
        NO_LOGON_SERVERS = 0xc000_005e => "STATUS_NO_LOGON_SERVERS",
        INSUFFICIENT_RESOURCES = 0xc000_009a => "STATUS_INSUFFICIENT_RESOURCES",
        FILE_IS_A_DIRECTORY = 0xc000_00ba => "STATUS_FILE_IS_A_DIRECTORY",
        NOT_SUPPORTED = 0xc000_00bb => "STATUS_NOT_SUPPORTED",
        PIPE_DISCONNECTED = 0xc000_00b0 => "STATUS_PIPE_DISCONNECTED",
        PIPE_BROKEN = 0xc000_014b => "STATUS_PIPE_BROKEN",
        IO_TIMEOUT = 0xc000_00b5 => "STATUS_IO_TIMEOUT",
        BAD_NETWORK_PATH = 0xc000_00be => "STATUS_BAD_NETWORK_PATH",
        NETWORK_NAME_DELETED = 0xc000_00c9 => "STATUS_NETWORK_NAME_DELETED",
        NETWORK_ACCESS_DENIED = 0xc000_00ca => "STATUS_NETWORK_ACCESS_DENIED",
        BAD_NETWORK_NAME = 0xc000_00cc => "STATUS_BAD_NETWORK_NAME",
        REQUEST_NOT_ACCEPTED = 0xc000_00d0 => "STATUS_REQUEST_NOT_ACCEPTED",
        INTERNAL_ERROR = 0xc000_00e5 => "STATUS_INTERNAL_ERROR",
        DIRECTORY_NOT_EMPTY = 0xc000_0101 => "STATUS_DIRECTORY_NOT_EMPTY",
        NOT_A_DIRECTORY = 0xc000_0103 => "STATUS_NOT_A_DIRECTORY",
        CANCELLED = 0xc000_0120 => "STATUS_CANCELLED",
        CANNOT_DELETE = 0xc000_0121 => "STATUS_CANNOT_DELETE",
        FILE_DELETED = 0xc000_0123 => "STATUS_FILE_DELETED",
        FILE_CLOSED = 0xc000_0128 => "STATUS_FILE_CLOSED",
        LOGON_TYPE_NOT_GRANTED = 0xc000_015b => "STATUS_LOGON_TYPE_NOT_GRANTED",
        TRUSTED_RELATIONSHIP_FAILURE = 0xc000_018d => "STATUS_TRUSTED_RELATIONSHIP_FAILURE",
        TRUSTED_DOMAIN_FAILURE = 0xc000_018c => "STATUS_TRUSTED_DOMAIN_FAILURE",
        ACCOUNT_EXPIRED = 0xc000_0193 => "STATUS_ACCOUNT_EXPIRED",
        FS_DRIVER_REQUIRED = 0xc000_019c => "STATUS_FS_DRIVER_REQUIRED",
        USER_SESSION_DELETED = 0xc000_0203 => "STATUS_USER_SESSION_DELETED",
        PASSWORD_MUST_CHANGE = 0xc000_0224 => "STATUS_PASSWORD_MUST_CHANGE",
        NOT_FOUND = 0xc000_0225 => "STATUS_NOT_FOUND",
        ACCOUNT_LOCKED_OUT = 0xc000_0234 => "STATUS_ACCOUNT_LOCKED_OUT",
        PATH_NOT_COVERED = 0xc000_0257 => "STATUS_PATH_NOT_COVERED",
        TIME_DIFFERENCE_AT_DC = 0xc000_0133 => "STATUS_TIME_DIFFERENCE_AT_DC",
        NETWORK_SESSION_EXPIRED = 0xc000_035c => "STATUS_NETWORK_SESSION_EXPIRED",
        FILE_NOT_AVAILABLE = 0xc000_0467 => "STATUS_FILE_NOT_AVAILABLE",
        BAD_IMPERSONATION_LEVEL = 0xc000_00a5 => "STATUS_BAD_IMPERSONATION_LEVEL",
        INVALID_NETWORK_RESPONSE = 0xc000_00c3 => "STATUS_INVALID_NETWORK_RESPONSE",
        DUPLICATE_NAME = 0xc000_00bd => "STATUS_DUPLICATE_NAME",
        REMOTE_NOT_LISTENING = 0xc000_00bc => "STATUS_REMOTE_NOT_LISTENING",
        FILE_LOCK_CONFLICT = 0xc000_0054 => "STATUS_FILE_LOCK_CONFLICT",
        LOCK_NOT_GRANTED = 0xc000_0055 => "STATUS_LOCK_NOT_GRANTED",
        RANGE_NOT_LOCKED = 0xc000_007e => "STATUS_RANGE_NOT_LOCKED",
        QUOTA_EXCEEDED = 0xc000_0044 => "STATUS_QUOTA_EXCEEDED",
        MEDIA_WRITE_PROTECTED = 0xc000_00a2 => "STATUS_MEDIA_WRITE_PROTECTED",
        INVALID_PARAMETER_MIX = 0xc000_0030 => "STATUS_INVALID_PARAMETER_MIX",
        NOT_SAME_DEVICE = 0xc000_00d4 => "STATUS_NOT_SAME_DEVICE",
        FILE_RENAMED = 0xc000_00d5 => "STATUS_FILE_RENAMED",
        USER_MAPPED_FILE = 0xc000_0243 => "STATUS_USER_MAPPED_FILE",
        OPLOCK_NOT_GRANTED = 0xc000_00e2 => "STATUS_OPLOCK_NOT_GRANTED",
        CONNECTION_DISCONNECTED = 0xc000_020c => "STATUS_CONNECTION_DISCONNECTED",
        CONNECTION_RESET = 0xc000_020d => "STATUS_CONNECTION_RESET",
        INVALID_SIGNATURE = 0xc000_a000 => "STATUS_INVALID_SIGNATURE",
        REPARSE_POINT_NOT_RESOLVED = 0xc000_0280 => "STATUS_REPARSE_POINT_NOT_RESOLVED",
    }
}

code_type! {
    /// IOCTL/FSCTL control code (MS-SMB2 2.2.31, MS-FSCC 2.3).
    CtlCode(u32), fmt = "0x{:08x}" {
        DFS_GET_REFERRALS = 0x0006_0194 => "FSCTL_DFS_GET_REFERRALS",
        DFS_GET_REFERRALS_EX = 0x0006_01b0 => "FSCTL_DFS_GET_REFERRALS_EX",
        GET_COMPRESSION = 0x0009_003c => "FSCTL_GET_COMPRESSION",
        SET_COMPRESSION = 0x0009_c040 => "FSCTL_SET_COMPRESSION",
        GET_REPARSE_POINT = 0x0009_00a8 => "FSCTL_GET_REPARSE_POINT",
        SET_REPARSE_POINT = 0x0009_00a4 => "FSCTL_SET_REPARSE_POINT",
        CREATE_OR_GET_OBJECT_ID = 0x0009_00c0 => "FSCTL_CREATE_OR_GET_OBJECT_ID",
        SET_SPARSE = 0x0009_00c4 => "FSCTL_SET_SPARSE",
        SET_ZERO_DATA = 0x0009_80c8 => "FSCTL_SET_ZERO_DATA",
        QUERY_ALLOCATED_RANGES = 0x0009_40cf => "FSCTL_QUERY_ALLOCATED_RANGES",
        FILE_LEVEL_TRIM = 0x0009_8208 => "FSCTL_FILE_LEVEL_TRIM",
        GET_INTEGRITY_INFORMATION = 0x0009_027c => "FSCTL_GET_INTEGRITY_INFORMATION",
        SET_INTEGRITY_INFORMATION = 0x0009_c280 => "FSCTL_SET_INTEGRITY_INFORMATION",
        DUPLICATE_EXTENTS_TO_FILE = 0x0009_8344 => "FSCTL_DUPLICATE_EXTENTS_TO_FILE",
        PIPE_WAIT = 0x0011_0018 => "FSCTL_PIPE_WAIT",
        PIPE_PEEK = 0x0011_400c => "FSCTL_PIPE_PEEK",
        PIPE_TRANSCEIVE = 0x0011_c017 => "FSCTL_PIPE_TRANSCEIVE",
        SRV_REQUEST_RESUME_KEY = 0x0014_0078 => "FSCTL_SRV_REQUEST_RESUME_KEY",
        LMR_REQUEST_RESILIENCY = 0x0014_01d4 => "FSCTL_LMR_REQUEST_RESILIENCY",
        QUERY_NETWORK_INTERFACE_INFO = 0x0014_01fc => "FSCTL_QUERY_NETWORK_INTERFACE_INFO",
        VALIDATE_NEGOTIATE_INFO = 0x0014_0204 => "FSCTL_VALIDATE_NEGOTIATE_INFO",
        SRV_ENUMERATE_SNAPSHOTS = 0x0014_4064 => "FSCTL_SRV_ENUMERATE_SNAPSHOTS",
        SRV_COPYCHUNK = 0x0014_40f2 => "FSCTL_SRV_COPYCHUNK",
        SRV_COPYCHUNK_WRITE = 0x0014_80f2 => "FSCTL_SRV_COPYCHUNK_WRITE",
    }
}

code_type! {
    /// QUERY_INFO / SET_INFO InfoType (MS-SMB2 2.2.37).
    InfoType(u8), fmt = "0x{:02x}" {
        FILE = 1 => "file",
        FILESYSTEM = 2 => "filesystem",
        SECURITY = 3 => "security",
        QUOTA = 4 => "quota",
    }
}

impl NtStatus {
    /// Severity bits 31..30 == 3: an error (MS-ERREF 2.3).
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }
    /// Severity bits == 2: a warning (e.g. BUFFER_OVERFLOW, NO_MORE_FILES).
    pub fn is_warning(self) -> bool {
        self.0 >> 30 == 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_survive_and_print_as_hex() {
        assert_eq!(Command(0x99).to_string(), "0x0099");
        assert_eq!(NtStatus(0xc0ff_0001).to_string(), "0xc0ff0001");
        assert_eq!(Command::READ.to_string(), "READ");
        assert_eq!(NtStatus::BAD_NETWORK_NAME.to_string(), "STATUS_BAD_NETWORK_NAME");
    }

    #[test]
    fn names_are_unique_per_value() {
        let mut seen = std::collections::HashSet::new();
        for (v, _) in NtStatus::ALL {
            assert!(seen.insert(*v), "duplicate status 0x{v:08x}");
        }
    }

    #[test]
    fn severity_bits() {
        assert!(NtStatus::ACCESS_DENIED.is_error());
        assert!(NtStatus::NO_MORE_FILES.is_warning());
        assert!(!NtStatus::PENDING.is_error());
    }
}
