//! SMB2 packet headers (MS-SMB2 2.2.1), the SMB3 transform header (2.2.41),
//! the compression transform header (2.2.42) and the SMB1 header (MS-CIFS 2.2.3.1).
//! Zero-copy nom parsers; no state.

use nom::bytes::complete::{tag, take};
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::smb::types::{Command, NtStatus};

pub const SMB2_MAGIC: &[u8; 4] = b"\xfeSMB";
pub const TRANSFORM_MAGIC: &[u8; 4] = b"\xfdSMB";
pub const COMPRESSION_MAGIC: &[u8; 4] = b"\xfcSMB";
pub const SMB1_MAGIC: &[u8; 4] = b"\xffSMB";
pub const SMB2_HEADER_LEN: usize = 64;

/// SMB2 header flags (MS-SMB2 2.2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HeaderFlags(pub u32);

impl HeaderFlags {
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    pub const SIGNED: u32 = 0x0000_0008;
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;

    pub fn is_response(self) -> bool {
        self.0 & Self::SERVER_TO_REDIR != 0
    }
    pub fn is_async(self) -> bool {
        self.0 & Self::ASYNC_COMMAND != 0
    }
    pub fn is_related(self) -> bool {
        self.0 & Self::RELATED_OPERATIONS != 0
    }
    pub fn is_signed(self) -> bool {
        self.0 & Self::SIGNED != 0
    }
    /// A DFS operation: CREATE names are full DFS paths (server\\share\\path).
    pub fn is_dfs(self) -> bool {
        self.0 & Self::DFS_OPERATIONS != 0
    }
}

/// The part of the header that differs between sync and async messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderId {
    Sync { process_id: u32, tree_id: u32 },
    Async { async_id: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Smb2Header<'a> {
    pub credit_charge: u16,
    /// The Status field; in requests these bytes are ChannelSequence/Reserved.
    pub status: NtStatus,
    pub command: Command,
    /// CreditRequest in requests, CreditResponse (granted) in responses.
    pub credits: u16,
    pub flags: HeaderFlags,
    /// Offset from the start of this header to the next compounded one; 0 = last.
    pub next_command: u32,
    pub message_id: u64,
    pub id: HeaderId,
    pub session_id: u64,
    pub signature: &'a [u8],
}

impl Smb2Header<'_> {
    pub fn is_response(&self) -> bool {
        self.flags.is_response()
    }
    pub fn tree_id(&self) -> Option<u32> {
        match self.id {
            HeaderId::Sync { tree_id, .. } => Some(tree_id),
            HeaderId::Async { .. } => None,
        }
    }
    pub fn async_id(&self) -> Option<u64> {
        match self.id {
            HeaderId::Async { async_id } => Some(async_id),
            HeaderId::Sync { .. } => None,
        }
    }
}

/// Parse the 64-byte SMB2 header at the start of `i`.
pub fn parse_smb2_header(i: &[u8]) -> IResult<&[u8], Smb2Header<'_>> {
    let (i, _) = tag(&SMB2_MAGIC[..]).parse(i)?;
    let (i, _structure_size) = le_u16(i)?;
    let (i, credit_charge) = le_u16(i)?;
    let (i, status) = le_u32(i)?;
    let (i, command) = le_u16(i)?;
    let (i, credits) = le_u16(i)?;
    let (i, flags) = le_u32(i)?;
    let (i, next_command) = le_u32(i)?;
    let (i, message_id) = le_u64(i)?;
    let flags = HeaderFlags(flags);
    let (i, id) = if flags.is_async() {
        let (i, async_id) = le_u64(i)?;
        (i, HeaderId::Async { async_id })
    } else {
        let (i, process_id) = le_u32(i)?;
        let (i, tree_id) = le_u32(i)?;
        (i, HeaderId::Sync { process_id, tree_id })
    };
    let (i, session_id) = le_u64(i)?;
    let (i, signature) = take(16usize)(i)?;
    Ok((
        i,
        Smb2Header {
            credit_charge,
            status: NtStatus(status),
            command: Command(command),
            credits,
            flags,
            next_command,
            message_id,
            id,
            session_id,
            signature,
        },
    ))
}

/// SMB3 TRANSFORM_HEADER: an encrypted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformHeader<'a> {
    pub signature: &'a [u8],
    pub nonce: &'a [u8],
    pub original_message_size: u32,
    /// Flags (3.1.1) or EncryptionAlgorithm (3.0): 0x0001 = encrypted.
    pub flags: u16,
    pub session_id: u64,
}

pub const TRANSFORM_HEADER_LEN: usize = 52;

pub fn parse_transform_header(i: &[u8]) -> IResult<&[u8], TransformHeader<'_>> {
    let (i, _) = tag(&TRANSFORM_MAGIC[..]).parse(i)?;
    let (i, signature) = take(16usize)(i)?;
    let (i, nonce) = take(16usize)(i)?;
    let (i, original_message_size) = le_u32(i)?;
    let (i, _reserved) = le_u16(i)?;
    let (i, flags) = le_u16(i)?;
    let (i, session_id) = le_u64(i)?;
    Ok((i, TransformHeader { signature, nonce, original_message_size, flags, session_id }))
}

/// SMB2 COMPRESSION_TRANSFORM_HEADER (unchained or chained: the first 16 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressionHeader {
    pub original_size: u32,
    pub algorithm: u16,
    pub flags: u16,
    /// Offset (unchained) or Length (chained).
    pub offset_or_length: u32,
}

impl CompressionHeader {
    pub const FLAG_CHAINED: u16 = 0x0001;
    pub fn algorithm_name(&self) -> &'static str {
        compression_algorithm_name(self.algorithm)
    }
}

/// MS-SMB2 2.2.3.1.3's compression algorithm names.
pub fn compression_algorithm_name(a: u16) -> &'static str {
    match a {
        0 => "none",
        1 => "LZNT1",
        2 => "LZ77",
        3 => "LZ77+Huffman",
        4 => "Pattern_V1",
        5 => "LZ4",
        _ => "unknown",
    }
}

pub fn parse_compression_header(i: &[u8]) -> IResult<&[u8], CompressionHeader> {
    let (i, _) = tag(&COMPRESSION_MAGIC[..]).parse(i)?;
    let (i, original_size) = le_u32(i)?;
    let (i, algorithm) = le_u16(i)?;
    let (i, flags) = le_u16(i)?;
    let (i, offset_or_length) = le_u32(i)?;
    Ok((i, CompressionHeader { original_size, algorithm, flags, offset_or_length }))
}

/// SMB1 header, the fields diagnosis needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Smb1Header {
    pub command: u8,
    pub status: NtStatus,
    pub flags: u8,
    pub flags2: u16,
    pub tid: u16,
    pub pid_low: u16,
    pub uid: u16,
    pub mid: u16,
}

impl Smb1Header {
    pub const CMD_NEGOTIATE: u8 = 0x72;
    pub const FLAGS_REPLY: u8 = 0x80;
    pub fn is_response(&self) -> bool {
        self.flags & Self::FLAGS_REPLY != 0
    }
}

pub const SMB1_HEADER_LEN: usize = 32;

pub fn parse_smb1_header(i: &[u8]) -> IResult<&[u8], Smb1Header> {
    let (i, _) = tag(&SMB1_MAGIC[..]).parse(i)?;
    let (i, command) = le_u8(i)?;
    let (i, status) = le_u32(i)?;
    let (i, flags) = le_u8(i)?;
    let (i, flags2) = le_u16(i)?;
    let (i, _pid_high) = le_u16(i)?;
    let (i, _security_features) = take(8usize)(i)?;
    let (i, _reserved) = le_u16(i)?;
    let (i, tid) = le_u16(i)?;
    let (i, pid_low) = le_u16(i)?;
    let (i, uid) = le_u16(i)?;
    let (i, mid) = le_u16(i)?;
    Ok((i, Smb1Header { command, status: NtStatus(status), flags, flags2, tid, pid_low, uid, mid }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header of frame 4 of zeek-zeek/smb2.pcap (NEGOTIATE response, SMB 2.0.2).
    fn negotiate_response_header() -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(SMB2_MAGIC);
        h.extend_from_slice(&64u16.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // NEGOTIATE
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes()); // response
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        h.extend_from_slice(&0xfeffu32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        h.extend_from_slice(&[0u8; 16]);
        h
    }

    #[test]
    fn parses_sync_header() {
        let h = negotiate_response_header();
        let (rest, hdr) = parse_smb2_header(&h).unwrap();
        assert!(rest.is_empty());
        assert!(hdr.is_response());
        assert_eq!(hdr.command, Command::NEGOTIATE);
        assert_eq!(hdr.tree_id(), Some(0));
        assert_eq!(hdr.async_id(), None);
    }

    #[test]
    fn parses_async_header() {
        let mut h = negotiate_response_header();
        h[16] = 0x03; // response + async
        h[32..40].copy_from_slice(&0x1234u64.to_le_bytes());
        let (_, hdr) = parse_smb2_header(&h).unwrap();
        assert_eq!(hdr.async_id(), Some(0x1234));
        assert_eq!(hdr.tree_id(), None);
    }

    #[test]
    fn truncated_header_is_an_error_not_a_panic() {
        let h = negotiate_response_header();
        for n in 0..h.len() {
            assert!(parse_smb2_header(&h[..n]).is_err(), "len {n}");
        }
    }
}
