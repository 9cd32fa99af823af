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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::records::real_bytes::*;
    use crate::smb::records::test_util::hex;

    #[test]
    fn session_setup_request_and_response_from_samba() {
        let req = hex(SESSION_SETUP_REQUEST_AUTH);
        let (_, r) = parse_session_setup_request(&req).unwrap();
        assert!(!r.binding);
        assert_eq!(r.previous_session_id, 0);
        assert_eq!(r.blob.len(), 416, "Wireshark: Blob Length 416");
        let resp = hex(SESSION_SETUP_RESPONSE_CHALLENGE);
        let (_, s) = parse_session_setup_response(&resp).unwrap();
        assert_eq!(s.blob.len(), 159, "Wireshark: Blob Length 159");
        let ok = hex(SESSION_SETUP_RESPONSE_OK);
        let (_, s) = parse_session_setup_response(&ok).unwrap();
        assert!(!s.flags.is_guest() && !s.flags.is_null());
    }

    #[test]
    fn truncated_session_setup_is_an_error_not_a_panic() {
        let req = hex(SESSION_SETUP_REQUEST_AUTH);
        let (_, full) = parse_session_setup_request(&req).unwrap();
        for n in 0..req.len() {
            match parse_session_setup_request(&req[..n]) {
                // Cut inside the header or the fixed part (64 + 24 bytes): an error.
                Err(_) => assert!(n < 88, "cut at {n} refused"),
                // Cut inside the blob: what is there, never more (a partial decode).
                Ok((_, r)) => {
                    assert!(n >= 88);
                    assert!(full.blob.starts_with(r.blob) && r.blob.len() < full.blob.len(), "cut at {n}");
                }
            }
        }
    }
}
