//! Per-direction TCP byte-stream reassembly.
//!
//! A `Reassembler` takes one direction's segments in capture order and hands
//! the in-order stream to a sink as `StreamChunk`s: data slices (borrowed from
//! the segment when it arrived in order, from an internal buffer when it
//! filled a hole) and `Gap(n)` where n bytes are missing from the capture.
//! Bytes already delivered are never delivered again (first copy wins, as in
//! Wireshark), so retransmissions and overlaps add nothing.
//!
//! Holes: a segment beyond the next expected byte is buffered. The hole is
//! declared a gap (and the buffer delivered) as soon as the evidence says the
//! capture, not the network, lost the bytes: the peer acknowledged past the
//! hole, or more than `MAX_HOLE_WAIT` bytes piled up behind it, or the stream
//! ended. So a capture missing one segment delivers everything after it
//! promptly instead of at the end.

use std::collections::BTreeMap;

/// A piece of the in-order stream of one direction.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    Data(&'a [u8]),
    /// This many bytes of the stream are missing from the capture.
    Gap(u32),
}

/// Bytes buffered behind a hole before it is declared lost.
pub const MAX_HOLE_WAIT: usize = 256 * 1024;

#[derive(Debug)]
enum Piece {
    Data(Vec<u8>),
    /// Declared by the IP header but cut from the capture (snaplen).
    Missing(u32),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(d) => d.len() as u64,
            Piece::Missing(n) => *n as u64,
        }
    }
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next byte expected; None before the first segment.
    next: Option<u32>,
    /// Stream offset of `next` (bytes delivered or declared missing so far).
    pos: u64,
    /// Out-of-order pieces by stream offset.
    pending: BTreeMap<u64, Piece>,
    buffered: usize,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stream offset of a sequence number, relative to the next expected byte.
    fn offset_of(&self, next: u32, seq: u32) -> i64 {
        self.pos as i64 + seq.wrapping_sub(next) as i32 as i64
    }

    /// Feed one segment (seq of its first payload byte; `declared_len` ≥
    /// `payload.len()`, the rest missing from the capture). `syn`/`fin` as
    /// flagged on the segment (SYN consumes one sequence number).
    pub fn push(&mut self, seq: u32, payload: &[u8], declared_len: u32, syn: bool, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        let seq = if syn {
            if self.next.is_none() || self.pos == 0 {
                self.next = Some(seq.wrapping_add(1));
            }
            seq.wrapping_add(1)
        } else {
            seq
        };
        let declared = declared_len.max(payload.len() as u32);
        if declared == 0 {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let start = self.offset_of(next, seq);
        let end = start + declared as i64;
        if end <= self.pos as i64 {
            return; // all old: a retransmission
        }
        if start <= self.pos as i64 {
            // In order (possibly overlapping what was delivered): deliver the new part.
            let skip = (self.pos as i64 - start) as usize;
            if skip < payload.len() {
                sink(StreamChunk::Data(&payload[skip..]));
            }
            let missing_from = skip.max(payload.len());
            if (missing_from as u32) < declared {
                sink(StreamChunk::Gap(declared - missing_from as u32));
            }
            self.advance_to(end as u64);
            self.drain(sink);
        } else {
            self.store(start as u64, payload, declared);
            if self.buffered > MAX_HOLE_WAIT {
                self.flush_hole(sink);
            }
        }
    }

    /// The other side acknowledged up to `ack`: bytes before it reached the
    /// peer, so a hole before it with data buffered behind is a capture loss.
    pub fn peer_ack(&mut self, ack: u32, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        let Some(next) = self.next else { return };
        if self.pending.is_empty() {
            return;
        }
        let acked = self.offset_of(next, ack);
        let first = *self.pending.keys().next().expect("non-empty");
        if acked > self.pos as i64 && first as i64 <= acked {
            self.flush_hole(sink);
        }
    }

    /// The stream ended (FIN or RST): whatever is buffered is delivered after its holes.
    pub fn finish(&mut self, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        while !self.pending.is_empty() {
            self.flush_hole(sink);
        }
    }

    /// Bytes currently buffered out of order (for memory accounting).
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    fn advance_to(&mut self, new_pos: u64) {
        if new_pos > self.pos {
            let n = new_pos - self.pos;
            self.next = self.next.map(|s| s.wrapping_add(n as u32));
            self.pos = new_pos;
        }
    }

    fn store(&mut self, at: u64, payload: &[u8], declared: u32) {
        // First copy wins: store only the parts of [at, at+declared) that no
        // stored piece covers yet.
        let end = at + declared as u64;
        let mut covered: Vec<(u64, u64)> = Vec::new();
        for (&off, p) in self.pending.range(..end) {
            let pend = off + p.len();
            if pend > at {
                covered.push((off.max(at), pend.min(end)));
            }
        }
        let mut cursor = at;
        let mut free: Vec<(u64, u64)> = Vec::new();
        for (s, e) in covered {
            if s > cursor {
                free.push((cursor, s));
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            free.push((cursor, end));
        }
        let data_end = at + payload.len() as u64;
        for (s, e) in free {
            // Split each free range into its captured and its missing part.
            if s < data_end {
                let de = e.min(data_end);
                let bytes = payload[(s - at) as usize..(de - at) as usize].to_vec();
                self.buffered += bytes.len();
                self.pending.insert(s, Piece::Data(bytes));
            }
            let ms = s.max(data_end);
            if ms < e {
                self.pending.insert(ms, Piece::Missing((e - ms) as u32));
            }
        }
    }

    /// Declare the first hole missing and deliver what follows it.
    fn flush_hole(&mut self, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        let Some(&first) = self.pending.keys().next() else { return };
        if first > self.pos {
            let gap = first - self.pos;
            sink(StreamChunk::Gap(gap.min(u32::MAX as u64) as u32));
            self.advance_to(first);
        }
        self.drain(sink);
    }

    /// Deliver buffered pieces that are now in order.
    fn drain(&mut self, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let off = *entry.key();
            if off > self.pos {
                break;
            }
            let piece = entry.remove();
            let end = off + piece.len();
            if let Piece::Data(d) = &piece {
                self.buffered -= d.len();
            }
            if end <= self.pos {
                continue; // covered already
            }
            let skip = (self.pos - off) as usize;
            match piece {
                Piece::Data(d) => sink(StreamChunk::Data(&d[skip..])),
                Piece::Missing(n) => sink(StreamChunk::Gap(n - skip as u32)),
            }
            self.advance_to(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stream as text: data bytes, and `[gap n]` markers.
    fn run(r: &mut Reassembler, segs: &[(u32, &[u8], u32)]) -> String {
        let mut out = String::new();
        for &(seq, p, declared) in segs {
            r.push(seq, p, declared, false, &mut |c| out.push_str(&show(c)));
        }
        out
    }

    fn show(c: StreamChunk<'_>) -> String {
        match c {
            StreamChunk::Data(d) => String::from_utf8_lossy(d).into_owned(),
            StreamChunk::Gap(n) => format!("[gap {n}]"),
        }
    }

    #[test]
    fn in_order_and_retransmission() {
        let mut r = Reassembler::new();
        let s = run(&mut r, &[(100, b"abc", 3), (103, b"def", 3), (100, b"abc", 3), (103, b"XYZ", 3), (106, b"g", 1)]);
        assert_eq!(s, "abcdefg");
    }

    #[test]
    fn reordering_is_repaired() {
        let mut r = Reassembler::new();
        let s = run(&mut r, &[(0, b"ab", 2), (4, b"ef", 2), (2, b"cd", 2), (6, b"g", 1)]);
        assert_eq!(s, "abcdefg");
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn overlap_delivers_only_new_bytes_first_copy_wins() {
        let mut r = Reassembler::new();
        let s = run(&mut r, &[(0, b"abcd", 4), (2, b"XXef", 4), (5, b"Fg", 2)]);
        assert_eq!(s, "abcdefg");
        // Out-of-order overlapping pieces.
        let mut r = Reassembler::new();
        let s = run(&mut r, &[(0, b"a", 1), (3, b"de", 2), (2, b"cXY", 3), (1, b"b", 1)]);
        assert_eq!(&s[..5], "abcde");
    }

    #[test]
    fn hole_acked_by_peer_becomes_gap() {
        let mut r = Reassembler::new();
        let mut out = run(&mut r, &[(0, b"ab", 2), (5, b"fg", 2)]);
        assert_eq!(out, "ab");
        r.peer_ack(7, &mut |c| out.push_str(&show(c)));
        assert_eq!(out, "ab[gap 3]fg");
        // The late copy of the lost bytes is old now.
        out.push_str(&run(&mut r, &[(2, b"cde", 3), (7, b"h", 1)]));
        assert_eq!(out, "ab[gap 3]fgh");
    }

    #[test]
    fn ack_not_past_hole_waits() {
        let mut r = Reassembler::new();
        let mut out = run(&mut r, &[(0, b"ab", 2), (5, b"fg", 2)]);
        r.peer_ack(2, &mut |c| out.push_str(&show(c)));
        assert_eq!(out, "ab");
        out.push_str(&run(&mut r, &[(2, b"cde", 3)]));
        assert_eq!(out, "abcdefg");
    }

    #[test]
    fn snaplen_truncation_gives_gap_and_no_double_count() {
        let mut r = Reassembler::new();
        let s = run(&mut r, &[(0, b"ab", 5), (0, b"abcde", 5), (5, b"f", 1)]);
        assert_eq!(s, "ab[gap 3]f");
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reassembler::new();
        let s = run(&mut r, &[(u32::MAX - 1, b"ab", 2), (1, b"de", 2), (0, b"c", 1)]);
        assert_eq!(s, "abcde");
    }

    #[test]
    fn syn_sets_initial_sequence() {
        let mut r = Reassembler::new();
        let mut out = String::new();
        r.push(999, b"", 0, true, &mut |c| out.push_str(&show(c)));
        out.push_str(&run(&mut r, &[(1001, b"b", 1), (1000, b"a", 1)]));
        assert_eq!(out, "ab");
    }

    #[test]
    fn memory_is_bounded_by_declaring_the_hole() {
        let mut r = Reassembler::new();
        let chunk = vec![b'x'; 1000];
        let mut delivered = 0usize;
        let mut gaps = 0u32;
        r.push(0, b"a", 1, false, &mut |_| {});
        for i in 0..400u32 {
            r.push(1001 + i * 1000, &chunk, 1000, false, &mut |c| match c {
                StreamChunk::Data(d) => delivered += d.len(),
                StreamChunk::Gap(n) => gaps += n,
            });
            assert!(r.buffered() <= MAX_HOLE_WAIT + 1000);
        }
        assert_eq!(gaps, 1000);
        assert_eq!(delivered, 400_000);
    }

    #[test]
    fn finish_flushes() {
        let mut r = Reassembler::new();
        let mut out = run(&mut r, &[(0, b"a", 1), (3, b"d", 1), (6, b"g", 1)]);
        r.finish(&mut |c| out.push_str(&show(c)));
        assert_eq!(out, "a[gap 2]d[gap 2]g");
    }
}
