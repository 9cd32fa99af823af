//! Zero-copy nom parsers of SMB wire records. No state: bytes in, typed
//! records out; every offset and length the protocol sends is checked
//! against the bytes present, so a truncated message yields an error or a
//! partial record, never a panic.

pub mod create_records;
pub mod file_records;
pub mod header_records;
pub mod negotiate_records;
#[cfg(test)]
pub mod real_bytes;
pub mod session_records;
pub mod tree_records;

use nom::number::complete::le_u64;
use nom::IResult;

use crate::smb::types::{Command, NtStatus};
use header_records::Smb2Header;

/// A 32-bit flag word that keeps unknown bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags32(pub u32);

impl Flags32 {
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// SMB2 FileId (2.2.14.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

pub fn file_id(i: &[u8]) -> IResult<&[u8], FileId> {
    let (i, persistent) = le_u64(i)?;
    let (i, volatile) = le_u64(i)?;
    Ok((i, FileId { persistent, volatile }))
}

/// `len` bytes at `off` from the start of the message, if all present.
pub fn at_offset(msg: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    msg.get(off..off.checked_add(len)?)
}

/// Like `at_offset`, but returns what is present of the range (for data cut
/// by the capture) — never bytes outside it.
pub fn at_offset_partial(msg: &[u8], off: usize, len: usize) -> &[u8] {
    let end = off.saturating_add(len).min(msg.len());
    msg.get(off..end).unwrap_or(&[])
}

/// UTF-16LE to a String (lossy; an odd trailing byte is dropped).
pub fn utf16_string(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units).trim_end_matches('\0').to_string()
}

/// A command body, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum Body<'a> {
    NegotiateRequest(negotiate_records::NegotiateRequest),
    NegotiateResponse(negotiate_records::NegotiateResponse<'a>),
    SessionSetupRequest(session_records::SessionSetupRequest<'a>),
    SessionSetupResponse(session_records::SessionSetupResponse<'a>),
    TreeConnectRequest(tree_records::TreeConnectRequest),
    TreeConnectResponse(tree_records::TreeConnectResponse),
    CreateRequest(create_records::CreateRequest),
    CreateResponse(create_records::CreateResponse),
    /// Requests addressing an open file by FileId (CLOSE, FLUSH, READ, WRITE,
    /// LOCK, IOCTL, QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO,
    /// OPLOCK_BREAK acknowledgement).
    FileRequest(file_records::FileRequest),
    ReadResponse(file_records::ReadResponse),
    WriteResponse(file_records::WriteResponse),
    IoctlResponse(file_records::IoctlResponse),
    /// Server-initiated oplock or lease break.
    BreakNotification(file_records::BreakNotification),
    /// The 9-byte error body (2.2.2).
    Error(ErrorResponse),
    /// A command whose body smbdiag does not need.
    NotDecoded,
    /// The body is cut short or inconsistent.
    Malformed(&'static str),
}

/// SMB2 ERROR response (2.2.2): the byte count of the error data and, in
/// 3.1.1, the number of error contexts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    pub context_count: u8,
    pub byte_count: u32,
}

fn parse_error(msg: &[u8]) -> IResult<&[u8], ErrorResponse> {
    use nom::number::complete::{le_u16, le_u32, le_u8};
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, context_count) = le_u8(i)?;
    let (i, _reserved) = le_u8(i)?;
    let (i, byte_count) = le_u32(i)?;
    Ok((i, ErrorResponse { context_count, byte_count }))
}

/// Parse the body of one SMB2 message; `msg` starts at its 64-byte header.
pub fn parse_body<'a>(hdr: &Smb2Header<'_>, msg: &'a [u8]) -> Body<'a> {
    let resp = hdr.is_response();
    // Failed responses carry the 9-byte error body (2.2.2), recognised by its
    // StructureSize; SESSION_SETUP's own body is also 9 bytes, so there the
    // status decides (MORE_PROCESSING_REQUIRED comes with a normal body).
    let status = hdr.status;
    if resp && status != NtStatus::SUCCESS {
        let error_body = if hdr.command == Command::SESSION_SETUP {
            status != NtStatus::MORE_PROCESSING_REQUIRED
        } else {
            msg.get(64..66) == Some(&[9, 0])
        };
        if error_body {
            return match parse_error(msg) {
                Ok((_, e)) => Body::Error(e),
                Err(_) => Body::Malformed("error response cut short"),
            };
        }
    }
    let r = match (hdr.command, resp) {
        (Command::NEGOTIATE, false) => negotiate_records::parse_negotiate_request(msg).map(|(_, b)| Body::NegotiateRequest(b)),
        (Command::NEGOTIATE, true) => negotiate_records::parse_negotiate_response(msg).map(|(_, b)| Body::NegotiateResponse(b)),
        (Command::SESSION_SETUP, false) => session_records::parse_session_setup_request(msg).map(|(_, b)| Body::SessionSetupRequest(b)),
        (Command::SESSION_SETUP, true) => session_records::parse_session_setup_response(msg).map(|(_, b)| Body::SessionSetupResponse(b)),
        (Command::TREE_CONNECT, false) => tree_records::parse_tree_connect_request(msg).map(|(_, b)| Body::TreeConnectRequest(b)),
        (Command::TREE_CONNECT, true) => tree_records::parse_tree_connect_response(msg).map(|(_, b)| Body::TreeConnectResponse(b)),
        (Command::CREATE, false) => create_records::parse_create_request(msg).map(|(_, b)| Body::CreateRequest(b)),
        (Command::CREATE, true) => create_records::parse_create_response(msg).map(|(_, b)| Body::CreateResponse(b)),
        (Command::READ, true) => file_records::parse_read_response(msg).map(|(_, b)| Body::ReadResponse(b)),
        (Command::WRITE, true) => file_records::parse_write_response(msg).map(|(_, b)| Body::WriteResponse(b)),
        (Command::IOCTL, true) => file_records::parse_ioctl_response(msg).map(|(_, b)| Body::IoctlResponse(b)),
        (Command::OPLOCK_BREAK, true) if hdr.message_id == u64::MAX => {
            file_records::parse_break_notification(msg).map(|(_, b)| Body::BreakNotification(b))
        }
        (cmd, false) => match file_records::parse_file_request(cmd, msg) {
            Some(r) => r.map(|(_, b)| Body::FileRequest(b)),
            None => return Body::NotDecoded,
        },
        _ => return Body::NotDecoded,
    };
    r.unwrap_or(Body::Malformed("body cut short or inconsistent"))
}

#[cfg(test)]
pub mod test_util {
    /// Hex string to bytes (test vectors taken from real captures).
    pub fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }
}
