//! CREATE request and response (MS-SMB2 2.2.13, 2.2.14) with the names of
//! their create contexts (2.2.13.2).

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::IResult;

use super::{at_offset, file_id, utf16_string, FileId, Flags32};

/// CreateDisposition (2.2.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateDisposition(pub u32);

impl CreateDisposition {
    pub const SUPERSEDE: u32 = 0;
    pub const OPEN: u32 = 1;
    pub const CREATE: u32 = 2;
    pub const OPEN_IF: u32 = 3;
    pub const OVERWRITE: u32 = 4;
    pub const OVERWRITE_IF: u32 = 5;
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "supersede",
            1 => "open",
            2 => "create",
            3 => "open-if",
            4 => "overwrite",
            5 => "overwrite-if",
            _ => "unknown",
        }
    }
}

pub const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
pub const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
pub const FILE_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// DesiredAccess bits (MS-SMB2 2.2.13.1.1) that read, write or run a file's data.
pub const FILE_READ_DATA: u32 = 0x0000_0001;
pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
pub const FILE_EXECUTE: u32 = 0x0000_0020;
pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
pub const GENERIC_ALL: u32 = 0x1000_0000;
pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
pub const GENERIC_WRITE: u32 = 0x4000_0000;
pub const GENERIC_READ: u32 = 0x8000_0000;
/// Any of them: an open meant for the data, not a probe of attributes.
pub const DATA_ACCESS: u32 = FILE_READ_DATA | FILE_WRITE_DATA | FILE_EXECUTE | MAXIMUM_ALLOWED | GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub oplock_level: u8,
    pub desired_access: Flags32,
    pub share_access: Flags32,
    pub disposition: CreateDisposition,
    pub options: Flags32,
    /// Path relative to the share; empty = the share root; None when cut by the capture.
    pub name: Option<String>,
    /// Create context names ("DHnQ", "DH2C", "RqLs", "MxAc"...).
    pub contexts: Vec<String>,
    /// The open a durable reconnect (DHnC / DH2C) asks back (2.2.13.2.4, 2.2.13.2.12).
    pub reconnect_file_id: Option<FileId>,
}

impl CreateRequest {
    /// Reconnecting a durable handle (DHnC / DH2C).
    pub fn is_durable_reconnect(&self) -> bool {
        self.contexts.iter().any(|c| c == "DHnC" || c == "DH2C")
    }
}

/// CreateAction (2.2.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateAction(pub u32);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateResponse {
    pub oplock_level: u8,
    pub create_action: CreateAction,
    pub end_of_file: u64,
    pub attributes: Flags32,
    pub file_id: FileId,
    pub contexts: Vec<String>,
    /// The server granted a durable handle (DHnQ or DH2Q response context).
    pub durable_granted: bool,
    /// DH2Q response: how long the server keeps the handle after a disconnect (ms).
    pub durable_timeout_ms: Option<u32>,
}

/// Walk a create-context chain at `off` (following Next offsets, at most 32
/// contexts): each context's name and data, both bounds-checked.
fn for_each_context(msg: &[u8], off: usize, len: usize, mut f: impl FnMut(&[u8], &[u8])) {
    let Some(chain) = at_offset(msg, off, len) else { return };
    let mut pos = 0usize;
    for _ in 0..32 {
        let Some(c) = chain.get(pos..) else { break };
        let parsed: IResult<&[u8], (u32, u16, u16, u16, u32)> = (|| {
            let (i, next) = le_u32(c)?;
            let (i, name_off) = le_u16(i)?;
            let (i, name_len) = le_u16(i)?;
            let (i, _reserved) = le_u16(i)?;
            let (i, data_off) = le_u16(i)?;
            let (i, data_len) = le_u32(i)?;
            Ok((i, (next, name_off, name_len, data_off, data_len)))
        })();
        let Ok((_, (next, name_off, name_len, data_off, data_len))) = parsed else { break };
        if let Some(n) = at_offset(c, name_off as usize, name_len as usize) {
            let data = if data_len == 0 { &[][..] } else { at_offset(c, data_off as usize, data_len as usize).unwrap_or(&[]) };
            f(n, data);
        }
        if next == 0 || next % 8 != 0 {
            break;
        }
        pos += next as usize;
    }
}

fn context_name(n: &[u8]) -> String {
    String::from_utf8_lossy(n).into_owned()
}

pub fn parse_create_request(msg: &[u8]) -> IResult<&[u8], CreateRequest> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, _security_flags) = le_u8(i)?;
    let (i, oplock_level) = le_u8(i)?;
    let (i, _impersonation) = le_u32(i)?;
    let (i, _create_flags) = le_u64(i)?;
    let (i, _reserved) = le_u64(i)?;
    let (i, desired_access) = le_u32(i)?;
    let (i, _attributes) = le_u32(i)?;
    let (i, share_access) = le_u32(i)?;
    let (i, disposition) = le_u32(i)?;
    let (i, options) = le_u32(i)?;
    let (i, name_off) = le_u16(i)?;
    let (i, name_len) = le_u16(i)?;
    let (i, ctx_off) = le_u32(i)?;
    let (i, ctx_len) = le_u32(i)?;
    let name = if name_len == 0 { Some(String::new()) } else { at_offset(msg, name_off as usize, name_len as usize).map(utf16_string) };
    let mut contexts = Vec::new();
    let mut reconnect_file_id = None;
    if ctx_len > 0 {
        for_each_context(msg, ctx_off as usize, ctx_len as usize, |n, data| {
            if n == b"DHnC" || n == b"DH2C" {
                reconnect_file_id = file_id(data).ok().map(|(_, id)| id);
            }
            contexts.push(context_name(n));
        });
    }
    Ok((
        i,
        CreateRequest {
            oplock_level,
            desired_access: Flags32(desired_access),
            share_access: Flags32(share_access),
            disposition: CreateDisposition(disposition),
            options: Flags32(options),
            name,
            contexts,
            reconnect_file_id,
        },
    ))
}

pub fn parse_create_response(msg: &[u8]) -> IResult<&[u8], CreateResponse> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, oplock_level) = le_u8(i)?;
    let (i, _flags) = le_u8(i)?;
    let (i, create_action) = le_u32(i)?;
    let (i, _times) = take(32usize)(i)?;
    let (i, _allocation) = le_u64(i)?;
    let (i, end_of_file) = le_u64(i)?;
    let (i, attributes) = le_u32(i)?;
    let (i, _reserved) = le_u32(i)?;
    let (i, fid) = file_id(i)?;
    let (i, ctx_off) = le_u32(i)?;
    let (i, ctx_len) = le_u32(i)?;
    let mut contexts = Vec::new();
    let (mut durable_granted, mut durable_timeout_ms) = (false, None);
    if ctx_len > 0 {
        for_each_context(msg, ctx_off as usize, ctx_len as usize, |n, data| {
            if n == b"DHnQ" || n == b"DH2Q" {
                durable_granted = true;
            }
            if n == b"DH2Q" {
                durable_timeout_ms = le_u32::<_, nom::error::Error<&[u8]>>(data).ok().map(|(_, t)| t);
            }
            contexts.push(context_name(n));
        });
    }
    Ok((
        i,
        CreateResponse {
            oplock_level,
            create_action: CreateAction(create_action),
            end_of_file,
            attributes: Flags32(attributes),
            file_id: fid,
            contexts,
            durable_granted,
            durable_timeout_ms,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::records::real_bytes::*;
    use crate::smb::records::test_util::hex;

    #[test]
    fn create_request_and_response_from_samba() {
        let req = hex(CREATE_REQUEST_HELLO);
        let (_, r) = parse_create_request(&req).unwrap();
        assert_eq!(r.name.as_deref(), Some("hello.txt"));
        assert_eq!(r.desired_access.0, 0x0012_0089, "Wireshark: Access Mask 0x00120089");
        assert_eq!(r.disposition.0, 1, "open");
        assert_eq!(r.oplock_level, 0);
        let resp = hex(CREATE_RESPONSE_HELLO);
        let (_, c) = parse_create_response(&resp).unwrap();
        assert_eq!(c.create_action.0, 1, "the file existed and was opened");
        assert_eq!(c.end_of_file, 19, "hello.txt is 19 bytes");
    }

    #[test]
    fn durable_grant_and_reconnect_contexts_match_wireshark() {
        // Wireshark: frame 15 smb2.dh2x.timeout == 60000, smb2.fid
        // 6f9b7ba5-0000-0000-6896-a27400000000, asked back by frame 34's DH2C.
        let (_, granted) = parse_create_response(&hex(CREATE_RESPONSE_DURABLE_GRANTED)).unwrap();
        assert!(granted.durable_granted);
        assert_eq!(granted.durable_timeout_ms, Some(60_000));
        let (_, again) = parse_create_request(&hex(CREATE_REQUEST_DURABLE_RECONNECT)).unwrap();
        assert!(again.is_durable_reconnect());
        assert_eq!(again.reconnect_file_id.map(|f| f.persistent), Some(granted.file_id.persistent));
        assert_eq!(granted.file_id.persistent, 0x6f9b_7ba5);
        // Cut anywhere: never a wrong timeout or file id, only none.
        let resp = hex(CREATE_RESPONSE_DURABLE_GRANTED);
        for n in 0..resp.len() {
            if let Ok((_, r)) = parse_create_response(&resp[..n]) {
                assert!(r.durable_timeout_ms.is_none() || r.durable_timeout_ms == Some(60_000), "cut at {n}");
            }
        }
        let req = hex(CREATE_REQUEST_DURABLE_RECONNECT);
        for n in 0..req.len() {
            if let Ok((_, r)) = parse_create_request(&req[..n]) {
                assert!(r.reconnect_file_id.is_none() || r.reconnect_file_id.map(|f| f.persistent) == Some(0x6f9b_7ba5), "cut at {n}");
            }
        }
    }

    #[test]
    fn truncated_create_never_panics_and_never_invents_a_name() {
        let req = hex(CREATE_REQUEST_HELLO);
        for n in 0..req.len() {
            if let Ok((_, r)) = parse_create_request(&req[..n]) {
                assert!(r.name.is_none() || r.name.as_deref() == Some("hello.txt"), "cut at {n}: {:?}", r.name);
            }
        }
        let resp = hex(CREATE_RESPONSE_HELLO);
        for n in 0..resp.len() {
            let _ = parse_create_response(&resp[..n]);
        }
    }
}
