//! NEGOTIATE request and response (MS-SMB2 2.2.3, 2.2.4) with SMB 3.1.1
//! negotiate contexts (2.2.3.1), and the SMB1 multi-protocol negotiate
//! (MS-CIFS 2.2.4.52) that older clients open with.

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use super::{at_offset, utf16_string, Flags32};
use crate::smb::types::Dialect;

/// SecurityMode bits (2.2.3): signing enabled / required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SecurityMode(pub u16);

impl SecurityMode {
    pub const SIGNING_ENABLED: u16 = 0x0001;
    pub const SIGNING_REQUIRED: u16 = 0x0002;
    pub fn signing_enabled(self) -> bool {
        self.0 & Self::SIGNING_ENABLED != 0
    }
    pub fn signing_required(self) -> bool {
        self.0 & Self::SIGNING_REQUIRED != 0
    }
}

/// Global capabilities (2.2.3).
pub type Capabilities = Flags32;
pub const CAP_DFS: u32 = 0x01;
pub const CAP_LEASING: u32 = 0x02;
pub const CAP_LARGE_MTU: u32 = 0x04;
pub const CAP_MULTI_CHANNEL: u32 = 0x08;
pub const CAP_PERSISTENT_HANDLES: u32 = 0x10;
pub const CAP_DIRECTORY_LEASING: u32 = 0x20;
pub const CAP_ENCRYPTION: u32 = 0x40;

/// One SMB 3.1.1 negotiate context, decoded where diagnosis uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NegotiateContext {
    PreauthIntegrity { hash_algorithms: Vec<u16> },
    /// Cipher ids: 1 AES-128-CCM, 2 AES-128-GCM, 3 AES-256-CCM, 4 AES-256-GCM.
    Encryption { ciphers: Vec<u16> },
    /// Algorithm ids: 1 LZNT1, 2 LZ77, 3 LZ77+Huffman, 4 Pattern_V1, 5 LZ4.
    Compression { algorithms: Vec<u16> },
    NetName(String),
    Transport { flags: u32 },
    Rdma,
    /// Algorithm ids: 0 HMAC-SHA256, 1 AES-CMAC, 2 AES-GMAC.
    Signing { algorithms: Vec<u16> },
    Other { context_type: u16, len: usize },
}

pub fn cipher_name(id: u16) -> &'static str {
    match id {
        1 => "AES-128-CCM",
        2 => "AES-128-GCM",
        3 => "AES-256-CCM",
        4 => "AES-256-GCM",
        _ => "unknown cipher",
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateRequest {
    pub security_mode: SecurityMode,
    pub capabilities: Capabilities,
    pub dialects: Vec<Dialect>,
    pub contexts: Vec<NegotiateContext>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    pub security_mode: SecurityMode,
    pub dialect: Dialect,
    pub capabilities: Capabilities,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    pub security_blob: &'a [u8],
    pub contexts: Vec<NegotiateContext>,
}

fn u16_list(i: &[u8], n: usize) -> IResult<&[u8], Vec<u16>> {
    nom::multi::count(le_u16, n).parse(i)
}

/// Negotiate contexts start 8-byte aligned and are padded to 8 bytes between.
fn contexts(msg: &[u8], offset: usize, count: usize) -> Vec<NegotiateContext> {
    let mut out = Vec::new();
    let mut pos = offset;
    for _ in 0..count.min(64) {
        pos = (pos + 7) & !7;
        let Some(rest) = msg.get(pos..) else { break };
        let Ok((after, (ctype, data))) = context(rest) else { break };
        out.push(decode_context(ctype, data));
        pos += rest.len() - after.len();
    }
    out
}

fn context(i: &[u8]) -> IResult<&[u8], (u16, &[u8])> {
    let (i, ctype) = le_u16(i)?;
    let (i, len) = le_u16(i)?;
    let (i, _reserved) = le_u32(i)?;
    let (i, data) = take(len as usize)(i)?;
    Ok((i, (ctype, data)))
}

fn decode_context(ctype: u16, d: &[u8]) -> NegotiateContext {
    let counted = |d: &[u8]| -> Option<Vec<u16>> {
        let (r, n) = le_u16::<_, nom::error::Error<&[u8]>>(d).ok()?;
        u16_list(r, n as usize).ok().map(|(_, v)| v)
    };
    match ctype {
        0x0001 => {
            let v = (|| {
                let (r, n) = le_u16::<_, nom::error::Error<&[u8]>>(d).ok()?;
                let (r, _salt_len) = le_u16::<_, nom::error::Error<&[u8]>>(r).ok()?;
                u16_list(r, n as usize).ok().map(|(_, v)| v)
            })();
            NegotiateContext::PreauthIntegrity { hash_algorithms: v.unwrap_or_default() }
        }
        0x0002 => NegotiateContext::Encryption { ciphers: counted(d).unwrap_or_default() },
        0x0003 => {
            let v = (|| {
                let (r, n) = le_u16::<_, nom::error::Error<&[u8]>>(d).ok()?;
                let (r, _pad) = le_u16::<_, nom::error::Error<&[u8]>>(r).ok()?;
                let (r, _flags) = le_u32::<_, nom::error::Error<&[u8]>>(r).ok()?;
                u16_list(r, n as usize).ok().map(|(_, v)| v)
            })();
            NegotiateContext::Compression { algorithms: v.unwrap_or_default() }
        }
        0x0005 => NegotiateContext::NetName(utf16_string(d)),
        0x0006 => NegotiateContext::Transport { flags: le_u32::<_, nom::error::Error<&[u8]>>(d).map(|(_, f)| f).unwrap_or(0) },
        0x0007 => NegotiateContext::Rdma,
        0x0008 => NegotiateContext::Signing { algorithms: counted(d).unwrap_or_default() },
        t => NegotiateContext::Other { context_type: t, len: d.len() },
    }
}

/// `msg` starts at the SMB2 header; offsets are relative to it.
pub fn parse_negotiate_request(msg: &[u8]) -> IResult<&[u8], NegotiateRequest> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, dialect_count) = le_u16(i)?;
    let (i, security_mode) = le_u16(i)?;
    let (i, _reserved) = le_u16(i)?;
    let (i, capabilities) = le_u32(i)?;
    let (i, _client_guid) = take(16usize)(i)?;
    let (i, ctx_offset) = le_u32(i)?;
    let (i, ctx_count) = le_u16(i)?;
    let (i, _reserved2) = le_u16(i)?;
    let (rest, dialects) = nom::multi::count(le_u16, dialect_count.min(64) as usize).parse(i)?;
    let dialects: Vec<Dialect> = dialects.into_iter().map(Dialect).collect();
    let contexts = if dialects.contains(&Dialect::SMB3_1_1) && ctx_count > 0 { contexts(msg, ctx_offset as usize, ctx_count as usize) } else { Vec::new() };
    Ok((
        rest,
        NegotiateRequest { security_mode: SecurityMode(security_mode), capabilities: Flags32(capabilities), dialects, contexts },
    ))
}

pub fn parse_negotiate_response(msg: &[u8]) -> IResult<&[u8], NegotiateResponse<'_>> {
    let body = &msg[64.min(msg.len())..];
    let (i, _structure_size) = le_u16(body)?;
    let (i, security_mode) = le_u16(i)?;
    let (i, dialect) = le_u16(i)?;
    let (i, ctx_count) = le_u16(i)?;
    let (i, _server_guid) = take(16usize)(i)?;
    let (i, capabilities) = le_u32(i)?;
    let (i, max_transact_size) = le_u32(i)?;
    let (i, max_read_size) = le_u32(i)?;
    let (i, max_write_size) = le_u32(i)?;
    let (i, _system_time) = le_u64(i)?;
    let (i, _start_time) = le_u64(i)?;
    let (i, blob_offset) = le_u16(i)?;
    let (i, blob_len) = le_u16(i)?;
    let (i, ctx_offset) = le_u32(i)?;
    let security_blob = at_offset(msg, blob_offset as usize, blob_len as usize).unwrap_or(&[]);
    let dialect = Dialect(dialect);
    let contexts = if dialect == Dialect::SMB3_1_1 && ctx_count > 0 { contexts(msg, ctx_offset as usize, ctx_count as usize) } else { Vec::new() };
    Ok((
        i,
        NegotiateResponse {
            security_mode: SecurityMode(security_mode),
            dialect,
            capabilities: Flags32(capabilities),
            max_transact_size,
            max_read_size,
            max_write_size,
            security_blob,
            contexts,
        },
    ))
}

/// SMB1 NEGOTIATE request: the dialect strings offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Smb1NegotiateRequest {
    pub dialects: Vec<String>,
}

/// DialectIndex of an SMB1 NEGOTIATE response that accepts none of the
/// dialects offered (MS-CIFS 2.2.4.52.2).
pub const SMB1_NO_DIALECT: u16 = 0xffff;

/// SMB1 NEGOTIATE response: the index of the dialect chosen (`SMB1_NO_DIALECT`: none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Smb1NegotiateResponse {
    pub dialect_index: u16,
}

/// `msg` starts at the SMB1 header (32 bytes).
pub fn parse_smb1_negotiate_request(msg: &[u8]) -> IResult<&[u8], Smb1NegotiateRequest> {
    let body = &msg[32.min(msg.len())..];
    let (i, word_count) = le_u8(body)?;
    let (i, _words) = take(word_count as usize * 2)(i)?;
    let (i, byte_count) = le_u16(i)?;
    let (rest, bytes) = take(byte_count as usize)(i)?;
    // Each dialect: 0x02 then a NUL-terminated OEM string.
    let dialects = bytes
        .split(|&b| b == 0)
        .filter(|s| s.first() == Some(&0x02))
        .map(|s| String::from_utf8_lossy(&s[1..]).into_owned())
        .take(64)
        .collect();
    Ok((rest, Smb1NegotiateRequest { dialects }))
}

pub fn parse_smb1_negotiate_response(msg: &[u8]) -> IResult<&[u8], Smb1NegotiateResponse> {
    let body = &msg[32.min(msg.len())..];
    let (i, word_count) = le_u8(body)?;
    if word_count == 0 {
        // A response with no words carries no dialect index.
        return Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)));
    }
    let (i, dialect_index) = le_u16(i)?;
    Ok((i, Smb1NegotiateResponse { dialect_index }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::records::test_util::hex;

    /// zeek-zeek/smb3_negotiate_context.pcap frame 12: NEGOTIATE request offering 2.0.2 to 3.1.1 with contexts.
    const NEG_REQ_311: &str = "fe534d42400000000000000000001f0000000000000000000100000000000000000000000000000000000000000000000000000000000000000000000000000024000800010000007f00000016ab4fd9625676488cd1707d08e52b5878000000020000000202100222022402000302031003110300000000010026000000000001002000010067e5f669ff3e0ad12e89ad84ceb1d35dfee53ede3e4858a6d1a9099ac1635a9600000200060000000000020001000200";
    /// Same capture, frame 13: the response choosing 3.1.1.
    const NEG_RESP_311: &str = "fe534d4240000000000000000000010001000000000000000100000000000000000000000000000000000000000000000000000000000000000000000000000041000100110302006e657773746f726167650000000000000500000000008000000080000000800048b174420159d501000000000000000080004a00d0000000604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f726500000000000001002600000000000100200001000d26c9caf2d8fc87a7109c04578270095438526cede08410ca34aa8742b95a800000020004000000000001000100";

    #[test]
    fn negotiate_request_with_contexts() {
        let m = hex(NEG_REQ_311);
        let (_, r) = parse_negotiate_request(&m).unwrap();
        assert_eq!(r.dialects.len(), 8);
        assert_eq!(r.dialects.first(), Some(&Dialect::SMB2_0_2));
        assert_eq!(r.dialects.last(), Some(&Dialect::SMB3_1_1));
        assert!(r.security_mode.signing_enabled());
        assert!(r.contexts.iter().any(|c| matches!(c, NegotiateContext::PreauthIntegrity { hash_algorithms } if hash_algorithms == &vec![1])));
        assert!(r.contexts.iter().any(|c| matches!(c, NegotiateContext::Encryption { ciphers } if ciphers == &vec![1, 2])));
        for n in 0..m.len() {
            if let Ok((_, p)) = parse_negotiate_request(&m[..n]) {
                assert!(p.dialects.len() <= 8);
            }
        }
    }

    #[test]
    fn negotiate_response_311() {
        let m = hex(NEG_RESP_311);
        let (_, r) = parse_negotiate_response(&m).unwrap();
        assert_eq!(r.dialect, Dialect::SMB3_1_1);
        assert!(r.security_mode.signing_enabled());
        assert!(!r.security_mode.signing_required());
        assert!(!r.security_blob.is_empty());
        assert!(r.contexts.iter().any(|c| matches!(c, NegotiateContext::Encryption { ciphers } if ciphers == &vec![1])));
        for n in 0..m.len() {
            let _ = parse_negotiate_response(&m[..n]);
        }
    }

    #[test]
    fn smb1_negotiate_dialects() {
        // SMB1 header (32 bytes) + wct 0 + bcc + three dialects.
        let mut m = b"\xffSMB\x72".to_vec();
        m.resize(32, 0);
        let dialects = b"\x02NT LM 0.12\x00\x02SMB 2.002\x00\x02SMB 2.???\x00";
        m.push(0);
        m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
        m.extend_from_slice(dialects);
        let (_, r) = parse_smb1_negotiate_request(&m).unwrap();
        assert_eq!(r.dialects, vec!["NT LM 0.12", "SMB 2.002", "SMB 2.???"]);
        for n in 0..m.len() {
            if let Ok((_, r)) = parse_smb1_negotiate_request(&m[..n]) {
                assert!(r.dialects.len() <= 3);
            }
        }
    }
}
