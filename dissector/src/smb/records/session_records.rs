//! SESSION_SETUP request and response (MS-SMB2 2.2.5, 2.2.6).

use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::IResult;

use super::at_offset_partial;
use super::negotiate_records::SecurityMode;

/// SessionFlags of the response (2.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SessionFlags(pub u16);

impl SessionFlags {
    pub const IS_GUEST: u16 = 0x0001;
    pub const IS_NULL: u16 = 0x0002;
    pub const ENCRYPT_DATA: u16 = 0x0004;
    pub fn is_guest(self) -> bool {
        self.0 & Self::IS_GUEST != 0
    }
    pub fn is_null(self) -> bool {
        self.0 & Self::IS_NULL != 0
    }
    pub fn encrypt_data(self) -> bool {
        self.0 & Self::ENCRYPT_DATA != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    /// 0x01: binding a session to another connection (multichannel).
    pub binding: bool,
    pub security_mode: SecurityMode,
    pub previous_session_id: u64,
    /// The security blob (possibly cut by the capture).
    pub blob: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    pub flags: SessionFlags,
    pub blob: &'a [u8],
}

pub fn parse_session_setup_request(msg: &[u8]) -> IResult<&[u8], SessionSetupRequest<'_>> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, flags) = le_u8(i)?;
    let (i, security_mode) = le_u8(i)?;
    let (i, _capabilities) = le_u32(i)?;
    let (i, _channel) = le_u32(i)?;
    let (i, blob_offset) = le_u16(i)?;
    let (i, blob_len) = le_u16(i)?;
    let (i, previous_session_id) = le_u64(i)?;
    Ok((
        i,
        SessionSetupRequest {
            binding: flags & 0x01 != 0,
            security_mode: SecurityMode(security_mode as u16),
            previous_session_id,
            blob: at_offset_partial(msg, blob_offset as usize, blob_len as usize),
        },
    ))
}

pub fn parse_session_setup_response(msg: &[u8]) -> IResult<&[u8], SessionSetupResponse<'_>> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, flags) = le_u16(i)?;
    let (i, blob_offset) = le_u16(i)?;
    let (i, blob_len) = le_u16(i)?;
    Ok((i, SessionSetupResponse { flags: SessionFlags(flags), blob: at_offset_partial(msg, blob_offset as usize, blob_len as usize) }))
}
