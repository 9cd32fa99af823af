//! Requests that address an open by FileId, and the responses diagnosis
//! reads: CLOSE (2.2.15), FLUSH (2.2.17), READ (2.2.19, 2.2.20), WRITE
//! (2.2.21, 2.2.22), LOCK (2.2.26), IOCTL (2.2.31, 2.2.32), QUERY_DIRECTORY
//! (2.2.33), CHANGE_NOTIFY (2.2.35), QUERY_INFO (2.2.37), SET_INFO (2.2.39),
//! oplock and lease breaks (2.2.23 to 2.2.25).

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::IResult;

use super::{at_offset, file_id, utf16_string, FileId};
use crate::smb::types::{Command, CtlCode, InfoType};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileOp {
    Close,
    Flush,
    Read { offset: u64, length: u32 },
    Write { offset: u64, length: u32 },
    Lock { count: u16 },
    Ioctl { ctl_code: CtlCode, is_fsctl: bool, input_len: u32, max_output: u32, dfs_path: Option<String> },
    QueryDirectory { info_class: u8, pattern: Option<String> },
    ChangeNotify { filter: u32 },
    QueryInfo { info_type: InfoType, class: u8 },
    /// `rename_to`: FileRenameInformation's new path (relative to the share).
    SetInfo { info_type: InfoType, class: u8, rename_to: Option<String> },
    OplockBreakAck { level: u8 },
    LeaseBreakAck { state: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRequest {
    /// None for lease break acknowledgements (keyed by lease, not file).
    pub file_id: Option<FileId>,
    pub op: FileOp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResponse {
    pub data_length: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResponse {
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlResponse {
    pub ctl_code: CtlCode,
    pub file_id: FileId,
    pub output_len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakNotification {
    Oplock { file_id: FileId, new_level: u8 },
    Lease { current_state: u32, new_state: u32, ack_required: bool },
}

/// Parse a FileId-addressed request; None for commands that are not.
pub fn parse_file_request(cmd: Command, msg: &[u8]) -> Option<IResult<&[u8], FileRequest>> {
    let body = &msg[64.min(msg.len())..];
    let r = match cmd {
        Command::CLOSE => fixed(body, 8, FileOp::Close),
        Command::FLUSH => fixed(body, 8, FileOp::Flush),
        Command::READ => read_write(body, true),
        Command::WRITE => read_write(body, false),
        Command::LOCK => (|| {
            let (i, _ss) = le_u16(body)?;
            let (i, count) = le_u16(i)?;
            let (i, _seq) = le_u32(i)?;
            let (i, fid) = file_id(i)?;
            Ok((i, FileRequest { file_id: Some(fid), op: FileOp::Lock { count } }))
        })(),
        Command::IOCTL => ioctl_request(msg),
        Command::QUERY_DIRECTORY => (|| {
            let (i, _ss) = le_u16(body)?;
            let (i, info_class) = le_u8(i)?;
            let (i, _flags) = le_u8(i)?;
            let (i, _index) = le_u32(i)?;
            let (i, fid) = file_id(i)?;
            let (i, name_off) = le_u16(i)?;
            let (i, name_len) = le_u16(i)?;
            let pattern = at_offset(msg, name_off as usize, name_len as usize).map(utf16_string);
            Ok((i, FileRequest { file_id: Some(fid), op: FileOp::QueryDirectory { info_class, pattern } }))
        })(),
        Command::CHANGE_NOTIFY => (|| {
            let (i, _ss) = le_u16(body)?;
            let (i, _flags) = le_u16(i)?;
            let (i, _outlen) = le_u32(i)?;
            let (i, fid) = file_id(i)?;
            let (i, filter) = le_u32(i)?;
            Ok((i, FileRequest { file_id: Some(fid), op: FileOp::ChangeNotify { filter } }))
        })(),
        Command::QUERY_INFO => (|| {
            let (i, _ss) = le_u16(body)?;
            let (i, info_type) = le_u8(i)?;
            let (i, class) = le_u8(i)?;
            let (i, _skip) = take(20usize)(i)?;
            let (i, fid) = file_id(i)?;
            Ok((i, FileRequest { file_id: Some(fid), op: FileOp::QueryInfo { info_type: InfoType(info_type), class } }))
        })(),
        Command::SET_INFO => (|| {
            let (i, _ss) = le_u16(body)?;
            let (i, info_type) = le_u8(i)?;
            let (i, class) = le_u8(i)?;
            let (i, buf_len) = le_u32(i)?;
            let (i, buf_off) = le_u16(i)?;
            let (i, _skip) = take(6usize)(i)?;
            let (i, fid) = file_id(i)?;
            let info_type = InfoType(info_type);
            // FileRenameInformation (MS-FSCC 2.4.37): flags, root handle, name length, name.
            let rename_to = if info_type == InfoType::FILE && class == FILE_RENAME_INFORMATION {
                at_offset(msg, buf_off as usize, buf_len as usize).and_then(|b| {
                    let n = u32::from_le_bytes(b.get(16..20)?.try_into().ok()?) as usize;
                    b.get(20..20 + n).map(utf16_string)
                })
            } else {
                None
            };
            Ok((i, FileRequest { file_id: Some(fid), op: FileOp::SetInfo { info_type, class, rename_to } }))
        })(),
        Command::OPLOCK_BREAK => (|| {
            let (i, ss) = le_u16(body)?;
            if ss == 36 {
                let (i, _reserved) = le_u16(i)?;
                let (i, _flags) = le_u32(i)?;
                let (i, _key) = take(16usize)(i)?;
                let (i, state) = le_u32(i)?;
                return Ok((i, FileRequest { file_id: None, op: FileOp::LeaseBreakAck { state } }));
            }
            let (i, level) = le_u8(i)?;
            let (i, _r) = take(5usize)(i)?;
            let (i, fid) = file_id(i)?;
            Ok((i, FileRequest { file_id: Some(fid), op: FileOp::OplockBreakAck { level } }))
        })(),
        _ => return None,
    };
    Some(r)
}

/// StructureSize, `skip` bytes, FileId.
fn fixed(body: &[u8], skip: usize, op: FileOp) -> IResult<&[u8], FileRequest> {
    let (i, _) = take(skip)(body)?;
    let (i, fid) = file_id(i)?;
    Ok((i, FileRequest { file_id: Some(fid), op }))
}

fn read_write(body: &[u8], read: bool) -> IResult<&[u8], FileRequest> {
    let (i, _ss) = le_u16(body)?;
    let (i, _pad_or_offset) = le_u16(i)?;
    let (i, length) = le_u32(i)?;
    let (i, offset) = le_u64(i)?;
    let (i, fid) = file_id(i)?;
    let op = if read { FileOp::Read { offset, length } } else { FileOp::Write { offset, length } };
    Ok((i, FileRequest { file_id: Some(fid), op }))
}

const IOCTL_IS_FSCTL: u32 = 0x0000_0001;
/// FileInformationClass of a rename (MS-FSCC 2.4).
pub const FILE_RENAME_INFORMATION: u8 = 10;

fn ioctl_request(msg: &[u8]) -> IResult<&[u8], FileRequest> {
    let body = &msg[64.min(msg.len())..];
    let (i, _ss) = le_u16(body)?;
    let (i, _reserved) = le_u16(i)?;
    let (i, ctl) = le_u32(i)?;
    let (i, fid) = file_id(i)?;
    let (i, in_off) = le_u32(i)?;
    let (i, in_len) = le_u32(i)?;
    let (i, _max_in) = le_u32(i)?;
    let (i, _out_off) = le_u32(i)?;
    let (i, _out_len) = le_u32(i)?;
    let (i, max_output) = le_u32(i)?;
    let (i, flags) = le_u32(i)?;
    let ctl_code = CtlCode(ctl);
    // REQ_GET_DFS_REFERRAL: MaxReferralLevel (2) then the UTF-16 path.
    let dfs_path = if ctl_code == CtlCode::DFS_GET_REFERRALS {
        at_offset(msg, in_off as usize, in_len as usize).and_then(|b| b.get(2..)).map(utf16_string)
    } else {
        None
    };
    Ok((i, FileRequest { file_id: Some(fid), op: FileOp::Ioctl { ctl_code, is_fsctl: flags & IOCTL_IS_FSCTL != 0, input_len: in_len, max_output, dfs_path } }))
}

pub fn parse_read_response(msg: &[u8]) -> IResult<&[u8], ReadResponse> {
    let body = &msg[64.min(msg.len())..];
    let (i, _ss) = le_u16(body)?;
    let (i, _data_offset) = le_u8(i)?;
    let (i, _reserved) = le_u8(i)?;
    let (i, data_length) = le_u32(i)?;
    Ok((i, ReadResponse { data_length }))
}

pub fn parse_write_response(msg: &[u8]) -> IResult<&[u8], WriteResponse> {
    let body = &msg[64.min(msg.len())..];
    let (i, _ss) = le_u16(body)?;
    let (i, _reserved) = le_u16(i)?;
    let (i, count) = le_u32(i)?;
    Ok((i, WriteResponse { count }))
}

pub fn parse_ioctl_response(msg: &[u8]) -> IResult<&[u8], IoctlResponse> {
    let body = &msg[64.min(msg.len())..];
    let (i, _ss) = le_u16(body)?;
    let (i, _reserved) = le_u16(i)?;
    let (i, ctl) = le_u32(i)?;
    let (i, fid) = file_id(i)?;
    let (i, _in_off) = le_u32(i)?;
    let (i, _in_len) = le_u32(i)?;
    let (i, _out_off) = le_u32(i)?;
    let (i, output_len) = le_u32(i)?;
    Ok((i, IoctlResponse { ctl_code: CtlCode(ctl), file_id: fid, output_len }))
}

pub fn parse_break_notification(msg: &[u8]) -> IResult<&[u8], BreakNotification> {
    let body = &msg[64.min(msg.len())..];
    let (i, ss) = le_u16(body)?;
    if ss == 44 {
        let (i, _epoch) = le_u16(i)?;
        let (i, flags) = le_u32(i)?;
        let (i, _key) = take(16usize)(i)?;
        let (i, current_state) = le_u32(i)?;
        let (i, new_state) = le_u32(i)?;
        return Ok((i, BreakNotification::Lease { current_state, new_state, ack_required: flags & 1 != 0 }));
    }
    let (i, new_level) = le_u8(i)?;
    let (i, _r) = take(5usize)(i)?;
    let (i, fid) = file_id(i)?;
    Ok((i, BreakNotification::Oplock { file_id: fid, new_level }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::records::real_bytes::*;
    use crate::smb::records::test_util::hex;

    #[test]
    fn read_request_and_response_from_samba() {
        let req = hex(READ_REQUEST_HELLO);
        let (_, r) = parse_file_request(Command::READ, &req).expect("READ is a file request").unwrap();
        assert!(r.file_id.is_some());
        assert_eq!(r.op, FileOp::Read { offset: 0, length: 19 }, "Wireshark: Read Length 19, File Offset 0");
        let resp = hex(READ_RESPONSE_HELLO);
        let (_, d) = parse_read_response(&resp).unwrap();
        assert_eq!(d.data_length, 19, "Wireshark: 19 bytes read");
    }

    #[test]
    fn truncated_reads_never_panic() {
        for m in [hex(READ_REQUEST_HELLO), hex(READ_RESPONSE_HELLO)] {
            for n in 0..m.len() {
                let _ = parse_file_request(Command::READ, &m[..n]);
                let _ = parse_read_response(&m[..n]);
            }
        }
    }
}
