//! SMB 3.1.1 compressed messages (MS-SMB2 2.2.42, 3.1.4.4): the
//! COMPRESSION_TRANSFORM_HEADER, unchained (one algorithm over the message
//! after an uncompressed prefix) and chained (a sequence of payloads, each
//! with its own algorithm), and the MS-XCA algorithms SMB uses: LZNT1, plain
//! LZ77, LZ77+Huffman, and Pattern_V1 (a run of one byte).
//!
//! Every length comes from the capture: the output never grows past what the
//! header claims, and no header may claim more than `MAX_DECOMPRESSED`.
//! Written from the specifications (no maintained, fuzzed crate covers the
//! four algorithms); the spec's own examples are the unit tests.

mod huffman;
mod lz77;
mod lznt1;

use crate::smb::records::header_records::{compression_algorithm_name, COMPRESSION_MAGIC};

/// Largest decompressed message accepted: an 8 MiB READ or WRITE with its
/// headers, as for encrypted messages.
pub const MAX_DECOMPRESSED: usize = crate::smb::framing::ENCRYPTED_PDU_KEEP;

/// MS-SMB2 2.2.3.1.3 compression algorithm ids.
pub const NONE: u16 = 0;
pub const LZNT1: u16 = 1;
pub const LZ77: u16 = 2;
pub const LZ77_HUFFMAN: u16 = 3;
pub const PATTERN_V1: u16 = 4;

const FLAG_CHAINED: u16 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecompressError {
    /// The compressed bytes end before the data they announce.
    Truncated,
    /// The bytes do not follow the algorithm (a bad code table, a match
    /// reaching before the start of the output...).
    Corrupt(&'static str),
    /// The header claims more than MAX_DECOMPRESSED bytes.
    TooLarge(u64),
    /// The decompressed size differs from the size the header claims.
    SizeMismatch { got: usize, want: usize },
    /// An algorithm id smbdiag does not decompress (LZ4, or unknown).
    Unsupported(u16),
}

impl std::fmt::Display for DecompressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecompressError::Truncated => write!(f, "the compressed data ends early (cut by the capture, or not what the header says)"),
            DecompressError::Corrupt(why) => write!(f, "the compressed data is not valid ({why})"),
            DecompressError::TooLarge(n) => write!(f, "the header claims {n} bytes, more than the {MAX_DECOMPRESSED} smbdiag decompresses"),
            DecompressError::SizeMismatch { got, want } => write!(f, "it decompresses to {got} bytes, not the {want} its header claims"),
            DecompressError::Unsupported(a) => write!(f, "algorithm {} (0x{a:04x}) is not one smbdiag decompresses", compression_algorithm_name(*a)),
        }
    }
}

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
}

/// A claimed size, refused past the bound before anything is allocated.
fn bounded(n: u64) -> Result<usize, DecompressError> {
    if n > MAX_DECOMPRESSED as u64 {
        return Err(DecompressError::TooLarge(n));
    }
    Ok(n as usize)
}

/// The SMB2 message(s) a compressed PDU (starting at its 0xFC 'S' 'M' 'B'
/// magic) carries.
pub fn decompress_message(pdu: &[u8]) -> Result<Vec<u8>, DecompressError> {
    if pdu.get(..4) != Some(&COMPRESSION_MAGIC[..]) {
        return Err(DecompressError::Corrupt("no compression transform header"));
    }
    let original = bounded(u32_at(pdu, 4).ok_or(DecompressError::Truncated)? as u64)?;
    let flags = u16_at(pdu, 10).ok_or(DecompressError::Truncated)?;
    if flags & FLAG_CHAINED != 0 {
        return chained(pdu, original);
    }
    // Unchained: Offset bytes of the message uncompressed, then the rest compressed.
    let algorithm = u16_at(pdu, 8).ok_or(DecompressError::Truncated)?;
    let offset = u32_at(pdu, 12).ok_or(DecompressError::Truncated)? as u64;
    let total = bounded(offset + original as u64)?;
    let body = &pdu[16..];
    let raw = body.get(..offset as usize).ok_or(DecompressError::Truncated)?;
    let mut out = Vec::with_capacity(total.min(1 << 20));
    out.extend_from_slice(raw);
    one(algorithm, &body[raw.len()..], original, &mut out)?;
    Ok(out)
}

/// Chained: payload headers (algorithm, flags, length) each followed by its
/// payload, until the PDU ends; OriginalCompressedSegmentSize is the total.
fn chained(pdu: &[u8], total: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity(total.min(1 << 20));
    let mut pos = 8;
    while pos < pdu.len() {
        let algorithm = u16_at(pdu, pos).ok_or(DecompressError::Truncated)?;
        let len = u32_at(pdu, pos + 4).ok_or(DecompressError::Truncated)? as usize;
        pos += 8;
        let payload = pdu.get(pos..pos.checked_add(len).ok_or(DecompressError::Truncated)?).ok_or(DecompressError::Truncated)?;
        pos += len;
        let room = total - out.len().min(total);
        match algorithm {
            NONE => {
                if payload.len() > room {
                    return Err(DecompressError::SizeMismatch { got: out.len() + payload.len(), want: total });
                }
                out.extend_from_slice(payload);
            }
            PATTERN_V1 => {
                let byte = *payload.first().ok_or(DecompressError::Truncated)?;
                let reps = u32_at(payload, 4).ok_or(DecompressError::Truncated)? as usize;
                if reps > room {
                    return Err(DecompressError::SizeMismatch { got: out.len().saturating_add(reps), want: total });
                }
                out.resize(out.len() + reps, byte);
            }
            _ => {
                // The payload's own original size precedes its compressed bytes.
                let size = u32_at(payload, 0).ok_or(DecompressError::Truncated)? as usize;
                if size > room {
                    return Err(DecompressError::SizeMismatch { got: out.len().saturating_add(size), want: total });
                }
                one(algorithm, &payload[4..], size, &mut out)?;
            }
        }
    }
    if out.len() != total {
        return Err(DecompressError::SizeMismatch { got: out.len(), want: total });
    }
    Ok(out)
}

/// Decompress `input` with `algorithm` into exactly `size` more bytes of `out`.
fn one(algorithm: u16, input: &[u8], size: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let start = out.len();
    let mut w = Window { out, start, end: start + size };
    match algorithm {
        NONE => {
            if input.len() != size {
                return Err(DecompressError::SizeMismatch { got: input.len(), want: size });
            }
            w.out.extend_from_slice(input);
        }
        LZNT1 => lznt1::decompress(input, &mut w)?,
        LZ77 => lz77::decompress(input, &mut w)?,
        LZ77_HUFFMAN => huffman::decompress(input, &mut w)?,
        a => return Err(DecompressError::Unsupported(a)),
    }
    if w.out.len() != w.end {
        return Err(DecompressError::SizeMismatch { got: w.out.len() - start, want: size });
    }
    Ok(())
}

/// The output of one payload: bytes go into `out` from `start` up to `end`,
/// never past it; matches copy from within this payload's own output.
pub(crate) struct Window<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    end: usize,
}

impl Window<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.end
    }

    /// Bytes written so far in this payload.
    fn written(&self) -> usize {
        self.out.len() - self.start
    }

    fn literal(&mut self, b: u8) -> Result<(), DecompressError> {
        if self.full() {
            return Err(DecompressError::Corrupt("more data than the size announced"));
        }
        self.out.push(b);
        Ok(())
    }

    /// Copy `len` bytes from `offset` back (overlapping copies repeat, as LZ77 wants).
    fn copy(&mut self, offset: usize, len: usize) -> Result<(), DecompressError> {
        if offset == 0 || offset > self.written() {
            return Err(DecompressError::Corrupt("a match reaches before the start of the data"));
        }
        if len > self.end - self.out.len() {
            return Err(DecompressError::Corrupt("more data than the size announced"));
        }
        let from = self.out.len() - offset;
        if offset >= len {
            self.out.extend_from_within(from..from + len);
        } else {
            for i in 0..len {
                let b = self.out[from + i];
                self.out.push(b);
            }
        }
        Ok(())
    }
}

/// One algorithm alone into a fresh output of `size` bytes (the algorithms' tests).
#[cfg(test)]
fn decode_with(f: fn(&[u8], &mut Window<'_>) -> Result<(), DecompressError>, input: &[u8], size: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    f(input, &mut Window { out: &mut out, start: 0, end: size })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A literal-only plain LZ77 stream of `data` (flags of zeros, 32 literals each).
    pub(crate) fn lz77_literals(data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for c in data.chunks(32) {
            let flags: u32 = if c.len() == 32 { 0 } else { (1u32 << (32 - c.len())) - 1 };
            v.extend_from_slice(&flags.to_le_bytes());
            v.extend_from_slice(c);
        }
        v
    }

    fn header(original: u32, algorithm: u16, flags: u16, offset: u32) -> Vec<u8> {
        let mut v = COMPRESSION_MAGIC.to_vec();
        v.extend_from_slice(&original.to_le_bytes());
        v.extend_from_slice(&algorithm.to_le_bytes());
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(&offset.to_le_bytes());
        v
    }

    #[test]
    fn unchained_keeps_the_uncompressed_prefix_then_decompresses_the_rest() {
        let msg: Vec<u8> = (0..200u8).collect();
        let mut pdu = header(100, LZ77, 0, 100);
        pdu.extend_from_slice(&msg[..100]);
        pdu.extend(lz77_literals(&msg[100..]));
        assert_eq!(decompress_message(&pdu).unwrap(), msg);
        // The header claiming one byte more: refused, not padded.
        let mut bad = pdu.clone();
        bad[4] = 101;
        assert!(matches!(decompress_message(&bad), Err(DecompressError::Truncated | DecompressError::SizeMismatch { .. })));
        // A claim past the bound: refused before any allocation.
        let mut huge = header(u32::MAX, LZ77, 0, 0);
        huge.extend_from_slice(&[0; 8]);
        assert_eq!(decompress_message(&huge), Err(DecompressError::TooLarge(u32::MAX as u64)));
        let mut lz4 = header(4, 5, 0, 0);
        lz4.extend_from_slice(&[0; 8]);
        assert_eq!(decompress_message(&lz4), Err(DecompressError::Unsupported(5)));
    }

    #[test]
    fn chained_payloads_none_pattern_and_lz77() {
        // MS-SMB2 3.1.4.4's shape: a header uncompressed, a run of zeros, compressed data.
        let mut pdu = COMPRESSION_MAGIC.to_vec();
        pdu.extend_from_slice(&(8 + 1000 + 26u32).to_le_bytes());
        let mut payload = |alg: u16, body: &[u8]| {
            pdu.extend_from_slice(&alg.to_le_bytes());
            pdu.extend_from_slice(&1u16.to_le_bytes());
            pdu.extend_from_slice(&(body.len() as u32).to_le_bytes());
            pdu.extend_from_slice(body);
        };
        payload(NONE, b"\xfeSMB1234");
        payload(PATTERN_V1, &[0, 0, 0, 0, 0xe8, 0x03, 0, 0]);
        let mut lz = 26u32.to_le_bytes().to_vec();
        lz.extend(lz77_literals(b"abcdefghijklmnopqrstuvwxyz"));
        payload(LZ77, &lz);
        let out = decompress_message(&pdu).unwrap();
        assert_eq!(&out[..8], b"\xfeSMB1234");
        assert!(out[8..1008].iter().all(|&b| b == 0));
        assert_eq!(&out[1008..], b"abcdefghijklmnopqrstuvwxyz");
        // A total that does not add up: refused.
        let mut bad = pdu.clone();
        bad[4] ^= 1;
        assert!(matches!(decompress_message(&bad), Err(DecompressError::SizeMismatch { .. })));
        // A payload length past the end.
        let cut = &pdu[..pdu.len() - 1];
        assert_eq!(decompress_message(cut), Err(DecompressError::Truncated));
    }

    #[test]
    fn garbage_never_panics_nor_outgrows_its_claim() {
        let mut st = 0x5eed_1234;
        for n in 0..2000 {
            let mut g = crate::test_support::garbage(&mut st, n % 300);
            if g.len() >= 16 {
                g[..4].copy_from_slice(COMPRESSION_MAGIC);
                g[8] %= 5;
                g[9] = 0;
                g[10] &= 1;
                g[11] = 0;
                g[6] = 0;
                g[7] = 0;
            }
            if let Ok(out) = decompress_message(&g) {
                assert!(out.len() <= 0x1_0000 + u32::from_le_bytes(g[12..16].try_into().unwrap()) as usize);
            }
        }
    }
}
