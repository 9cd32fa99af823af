//! LZNT1 (MS-XCA 2.5): chunks of at most 4096 output bytes, each with a
//! 2-byte header (bit 15: compressed; bits 0-11: chunk size - 3); inside a
//! compressed chunk, a flag byte before every 8 items (bit set: a 2-byte
//! match whose offset/length split depends on how far into the chunk it is).

use super::{DecompressError, Window};

const CHUNK: usize = 4096;

pub(super) fn decompress(input: &[u8], w: &mut Window<'_>) -> Result<(), DecompressError> {
    let mut pos = 0;
    while pos + 2 <= input.len() && !w.full() {
        let h = u16::from_le_bytes([input[pos], input[pos + 1]]);
        if h == 0 {
            break;
        }
        let len = (h & 0x0fff) as usize + 1;
        let data = input.get(pos + 2..pos + 2 + len).ok_or(DecompressError::Truncated)?;
        pos += 2 + len;
        if h & 0x8000 == 0 {
            for &b in data {
                w.literal(b)?;
            }
        } else {
            chunk(data, w)?;
        }
    }
    Ok(())
}

fn chunk(data: &[u8], w: &mut Window<'_>) -> Result<(), DecompressError> {
    let start = w.written();
    let mut i = 0;
    while i < data.len() {
        let flags = data[i];
        i += 1;
        for bit in 0..8 {
            if i >= data.len() {
                return Ok(());
            }
            let at = w.written() - start;
            if flags & (1 << bit) == 0 {
                w.literal(data[i])?;
                i += 1;
                continue;
            }
            let t = u16::from_le_bytes([data[i], *data.get(i + 1).ok_or(DecompressError::Truncated)?]) as usize;
            i += 2;
            // The further into the chunk, the more bits the offset takes (at least 4).
            let mut len_bits = 12;
            let mut reach = 16;
            while at > reach {
                len_bits -= 1;
                reach <<= 1;
            }
            let len = (t & ((1 << len_bits) - 1)) + 3;
            let offset = (t >> len_bits) + 1;
            if offset > at {
                return Err(DecompressError::Corrupt("an LZNT1 match reaches before its chunk"));
            }
            if at + len > CHUNK {
                return Err(DecompressError::Corrupt("an LZNT1 chunk longer than 4096 bytes"));
            }
            w.copy(offset, len)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn run(input: &[u8], size: usize) -> Result<Vec<u8>, super::DecompressError> {
        super::super::decode_with(super::decompress, input, size)
    }

    /// MS-XCA 3.3: the 142-byte string (with its NUL) in one 59-byte chunk.
    #[test]
    fn spec_example() {
        let text = b"F# F# G A A G F# E D D E F# F# E E F# F# G A A G F# E D D E F# E D D E E F# D E F# G F# D E F# G F# E D E A F# F# G A A G F# E D D E F# E D D\0";
        assert_eq!(text.len(), 142);
        let compressed = [
            0x38, 0xb0, 0x88, 0x46, 0x23, 0x20, 0x00, 0x20, 0x47, 0x20, 0x41, 0x00, 0x10, 0xa2, 0x47, 0x01, 0xa0, 0x45, 0x20, 0x44, 0x00, 0x08, 0x45, 0x01,
            0x50, 0x79, 0x00, 0xc0, 0x45, 0x20, 0x05, 0x24, 0x13, 0x88, 0x05, 0xb4, 0x02, 0x4a, 0x44, 0xef, 0x03, 0x58, 0x02, 0x8c, 0x09, 0x16, 0x01, 0x48,
            0x45, 0x00, 0xbe, 0x00, 0x9e, 0x00, 0x04, 0x01, 0x18, 0x90, 0x00,
        ];
        assert_eq!(run(&compressed, 142).unwrap(), text.to_vec());
        // Cut: the chunk header announces more than there is.
        assert!(run(&compressed[..40], 142).is_err());
        // An uncompressed chunk is copied as is.
        let mut raw = vec![0x02, 0x30];
        raw.extend_from_slice(b"abc");
        assert_eq!(run(&raw, 3).unwrap(), b"abc");
    }
}
