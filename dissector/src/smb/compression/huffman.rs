//! LZ77+Huffman (MS-XCA 2.1, 2.2): blocks of up to 65536 output bytes, each
//! opening with 256 bytes of 4-bit code lengths for 512 symbols (256
//! literals, 256 match classes), then a bit stream read from the top bit of
//! 16-bit little-endian words; long match lengths are extra bytes taken from
//! the same input between words.

use super::{DecompressError, Window};

const SYMBOLS: usize = 512;
const TABLE_BITS: u32 = 15;
const BLOCK: usize = 65536;
const INVALID: u16 = u16::MAX;

/// Canonical Huffman decoding table: for every 15-bit prefix, the symbol
/// whose code it starts with (codes assigned by length, then symbol).
fn table(lengths: &[u8; SYMBOLS]) -> Result<Vec<u16>, DecompressError> {
    let mut t = vec![INVALID; 1 << TABLE_BITS];
    let mut next = 0usize;
    for len in 1..=TABLE_BITS {
        for (sym, &l) in lengths.iter().enumerate() {
            if l as u32 == len {
                let n = 1usize << (TABLE_BITS - len);
                let slots = t.get_mut(next..next + n).ok_or(DecompressError::Corrupt("Huffman code lengths oversubscribe the code space"))?;
                slots.fill(sym as u16);
                next += n;
            }
        }
    }
    if next == 0 {
        return Err(DecompressError::Corrupt("a Huffman table with no codes"));
    }
    Ok(t)
}

/// The bit stream: 32 bits in view, refilled a 16-bit word at a time.
/// Words past the end of the input read as zeros; the output bound ends the
/// loop, since every symbol yields at least one byte.
struct Bits<'a> {
    input: &'a [u8],
    pos: usize,
    next: u32,
    extra: i32,
}

impl Bits<'_> {
    fn word(&mut self) -> u32 {
        let w = super::u16_at(self.input, self.pos).unwrap_or(0) as u32;
        self.pos += 2;
        w
    }

    fn start(input: &[u8], pos: usize) -> Bits<'_> {
        let mut b = Bits { input, pos, next: 0, extra: 16 };
        b.next = b.word() << 16;
        b.next |= b.word();
        b
    }

    fn peek(&self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            self.next >> (32 - n)
        }
    }

    fn skip(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.next <<= n;
        self.extra -= n as i32;
        if self.extra < 0 {
            self.next |= self.word() << (-self.extra) as u32;
            self.extra += 16;
        }
    }

    fn byte(&mut self) -> Result<usize, DecompressError> {
        let b = *self.input.get(self.pos).ok_or(DecompressError::Truncated)?;
        self.pos += 1;
        Ok(b as usize)
    }

    fn u16(&mut self) -> Result<usize, DecompressError> {
        let v = super::u16_at(self.input, self.pos).ok_or(DecompressError::Truncated)?;
        self.pos += 2;
        Ok(v as usize)
    }

    fn u32(&mut self) -> Result<usize, DecompressError> {
        let v = super::u32_at(self.input, self.pos).ok_or(DecompressError::Truncated)?;
        self.pos += 4;
        Ok(v as usize)
    }
}

pub(super) fn decompress(input: &[u8], w: &mut Window<'_>) -> Result<(), DecompressError> {
    let mut pos = 0;
    while !w.full() {
        let packed = input.get(pos..pos + 256).ok_or(DecompressError::Truncated)?;
        let mut lengths = [0u8; SYMBOLS];
        for (i, &b) in packed.iter().enumerate() {
            lengths[2 * i] = b & 0x0f;
            lengths[2 * i + 1] = b >> 4;
        }
        let t = table(&lengths)?;
        let mut bits = Bits::start(input, pos + 256);
        let block_end = w.written() + BLOCK;
        while !w.full() && w.written() < block_end {
            let sym = t[bits.peek(TABLE_BITS) as usize];
            if sym == INVALID {
                return Err(DecompressError::Corrupt("a bit pattern no Huffman code starts"));
            }
            bits.skip(lengths[sym as usize] as u32);
            if sym < 256 {
                w.literal(sym as u8)?;
                continue;
            }
            let m = sym as usize - 256;
            let mut len = m & 15;
            let offset_bits = (m >> 4) as u32;
            if len == 15 {
                len = bits.byte()?;
                if len == 255 {
                    len = bits.u16()?;
                    if len == 0 {
                        len = bits.u32()?;
                    }
                    if len < 15 {
                        return Err(DecompressError::Corrupt("an LZ77+Huffman match length below its escape"));
                    }
                    len -= 15;
                }
                len += 15;
            }
            let offset = bits.peek(offset_bits) as usize + (1 << offset_bits);
            bits.skip(offset_bits);
            w.copy(offset, len.saturating_add(3))?;
        }
        // The next block's table follows the words this one read.
        pos = bits.pos;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn run(input: &[u8], size: usize) -> Result<Vec<u8>, super::DecompressError> {
        super::super::decode_with(super::decompress, input, size)
    }

    /// MS-XCA 3.2: the alphabet as Huffman-coded literals.
    #[test]
    fn spec_example() {
        let mut c = vec![0u8; 256];
        c[48] = 0x50;
        c[49..59].fill(0x55);
        c[59] = 0x45;
        c[60] = 0x44;
        c[61] = 0x04;
        c[128] = 0x04;
        c.extend_from_slice(&[0xd8, 0x52, 0x3e, 0xd7, 0x94, 0x11, 0x5b, 0xe9, 0x19, 0x5f, 0xf9, 0xd6, 0x7c, 0xdf, 0x8d, 0x04, 0, 0, 0, 0]);
        assert_eq!(c.len(), 276);
        assert_eq!(run(&c, 26).unwrap(), b"abcdefghijklmnopqrstuvwxyz");
        // No table, or a table with no codes: refused.
        assert!(run(&c[..200], 26).is_err());
        assert!(run(&[0u8; 300], 26).is_err());
    }
}
