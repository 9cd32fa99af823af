//! Zero-copy nom parsers of SMB wire records. No state: bytes in, typed
//! records out; every length and offset the protocol sends is checked.

pub mod header_records;
