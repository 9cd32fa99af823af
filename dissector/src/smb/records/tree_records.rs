//! TREE_CONNECT request and response (MS-SMB2 2.2.9, 2.2.10).

use nom::number::complete::{le_u16, le_u32, le_u8};
use nom::IResult;

use super::{at_offset, utf16_string, Flags32};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// `\\server\share` as the client wrote it; None when the capture cut it.
    pub path: Option<String>,
}

/// ShareType (2.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareType {
    Disk,
    Pipe,
    Print,
    Other(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectResponse {
    pub share_type: ShareType,
    pub share_flags: Flags32,
    pub capabilities: Flags32,
    pub maximal_access: u32,
}

pub const SHAREFLAG_DFS: u32 = 0x0000_0001;
pub const SHAREFLAG_DFS_ROOT: u32 = 0x0000_0002;
pub const SHAREFLAG_ENCRYPT_DATA: u32 = 0x0000_8000;
pub const SHARE_CAP_DFS: u32 = 0x0000_0008;
pub const SHARE_CAP_CONTINUOUS_AVAILABILITY: u32 = 0x0000_0010;
pub const SHARE_CAP_SCALEOUT: u32 = 0x0000_0020;
pub const SHARE_CAP_CLUSTER: u32 = 0x0000_0040;
pub const SHARE_CAP_ASYMMETRIC: u32 = 0x0000_0080;

pub fn parse_tree_connect_request(msg: &[u8]) -> IResult<&[u8], TreeConnectRequest> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, flags) = le_u16(i)?;
    let (i, path_offset) = le_u16(i)?;
    let (i, path_len) = le_u16(i)?;
    // 3.1.1 EXTENSION_PRESENT: the offset/length fields describe a
    // TREE_CONNECT_Request_Extension whose PathOffset is relative to it.
    let path = if flags & 0x0004 != 0 {
        let ext = path_offset as usize;
        let inner = msg.get(ext + 8..ext + 12).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
        let inner_len = msg.get(ext + 10..ext + 12).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
        match (inner, inner_len) {
            (Some(o), Some(l)) => at_offset(msg, ext + o, l).map(utf16_string),
            _ => None,
        }
    } else {
        at_offset(msg, path_offset as usize, path_len as usize).map(utf16_string)
    };
    Ok((i, TreeConnectRequest { path }))
}

pub fn parse_tree_connect_response(msg: &[u8]) -> IResult<&[u8], TreeConnectResponse> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, share_type) = le_u8(i)?;
    let (i, _reserved) = le_u8(i)?;
    let (i, share_flags) = le_u32(i)?;
    let (i, capabilities) = le_u32(i)?;
    let (i, maximal_access) = le_u32(i)?;
    let share_type = match share_type {
        1 => ShareType::Disk,
        2 => ShareType::Pipe,
        3 => ShareType::Print,
        o => ShareType::Other(o),
    };
    Ok((i, TreeConnectResponse { share_type, share_flags: Flags32(share_flags), capabilities: Flags32(capabilities), maximal_access }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::records::test_util::hex;

    #[test]
    fn tree_connect_path_and_truncation() {
        // TREE_CONNECT request: header + StructureSize 9, flags 0, offset 0x48, length 2*len.
        let path = "\\\\10.0.0.12\\public";
        let utf16: Vec<u8> = path.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let mut m = hex("fe534d4240000100000000000300010000000000000000000300000000000000fffe000000000000050000000004000000000000000000000000000000000000");
        m.extend_from_slice(&[9, 0, 0, 0, 0x48, 0]);
        m.extend_from_slice(&(utf16.len() as u16).to_le_bytes());
        m.extend_from_slice(&utf16);
        let (_, r) = parse_tree_connect_request(&m).unwrap();
        assert_eq!(r.path.as_deref(), Some(path));
        for n in 0..m.len() {
            if let Ok((_, r)) = parse_tree_connect_request(&m[..n]) {
                assert!(r.path.is_none() || n == m.len(), "{n}: a cut path must not be reported");
            }
        }
    }
}
