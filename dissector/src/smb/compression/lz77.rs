//! Plain LZ77 (MS-XCA 2.3, 2.4): a 32-bit flag word before every 32 items,
//! read from the top bit; a set bit is a 2-byte match (13 bits of offset,
//! 3 of length), whose length grows through a shared half-byte, a byte, a
//! 16-bit and a 32-bit escape.

use super::{DecompressError, Window};

pub(super) fn decompress(input: &[u8], w: &mut Window<'_>) -> Result<(), DecompressError> {
    let byte = |i: usize| input.get(i).copied().ok_or(DecompressError::Truncated);
    let u16_at = |i: usize| super::u16_at(input, i).ok_or(DecompressError::Truncated);
    let u32_at = |i: usize| super::u32_at(input, i).ok_or(DecompressError::Truncated);
    let mut pos = 0;
    let mut flags = 0u32;
    let mut nflags = 0;
    // Where the half-byte shared by two long matches sits, once its low half is used.
    let mut half: Option<usize> = None;
    while !w.full() {
        if nflags == 0 {
            flags = u32_at(pos)?;
            pos += 4;
            nflags = 32;
        }
        nflags -= 1;
        if flags & (1 << nflags) == 0 {
            w.literal(byte(pos)?)?;
            pos += 1;
            continue;
        }
        let m = u16_at(pos)? as usize;
        pos += 2;
        let offset = (m >> 3) + 1;
        let mut len = m & 7;
        if len == 7 {
            len = match half.take() {
                Some(at) => (byte(at)? >> 4) as usize,
                None => {
                    half = Some(pos);
                    pos += 1;
                    (byte(pos - 1)? & 0x0f) as usize
                }
            };
            if len == 15 {
                len = byte(pos)? as usize;
                pos += 1;
                if len == 255 {
                    len = u16_at(pos)? as usize;
                    pos += 2;
                    if len == 0 {
                        len = u32_at(pos)? as usize;
                        pos += 4;
                    }
                    if len < 15 + 7 {
                        return Err(DecompressError::Corrupt("an LZ77 match length below its escape"));
                    }
                    len -= 15 + 7;
                }
                len += 15;
            }
            len += 7;
        }
        w.copy(offset, len + 3)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn run(input: &[u8], size: usize) -> Result<Vec<u8>, super::DecompressError> {
        super::super::decode_with(super::decompress, input, size)
    }

    /// MS-XCA 3.1: the alphabet as literals, and "abc" 100 times as three
    /// literals and one match of 297 bytes at offset 3.
    #[test]
    fn spec_examples() {
        let mut alpha = vec![0x3f, 0, 0, 0];
        alpha.extend_from_slice(b"abcdefghijklmnopqrstuvwxyz");
        assert_eq!(run(&alpha, 26).unwrap(), b"abcdefghijklmnopqrstuvwxyz");
        let abc = [0xff, 0xff, 0xff, 0x1f, 0x61, 0x62, 0x63, 0x17, 0x00, 0x0f, 0xff, 0x26, 0x01];
        assert_eq!(run(&abc, 300).unwrap(), b"abc".repeat(100));
        // A match before the start, and a stream cut short.
        assert!(run(&[0, 0, 0, 0x80, 0x17, 0x00], 10).is_err());
        assert!(run(&abc[..9], 300).is_err());
    }
}
