//! Kerberos over TCP (RFC 4120 7.2.2): each message is preceded by a 4-byte
//! big-endian record mark whose high bit is reserved. Cuts one direction's
//! reassembled byte stream into records; a record may span segments and
//! several may share one.
//!
//! After a gap in the capture the framer either still knows where the record
//! ends (the gap fell inside a record whose mark it read: that record is
//! dropped, the next one is read) or it does not (the gap hit a mark): it
//! then stops reading the direction rather than guess. KDC connections carry
//! one exchange or a few, so little is lost.

use crate::net::reassembly::StreamChunk;

/// Bytes kept of one record. Requests (with the TGT in their padata) and
/// errors fit; only replies carrying large tickets exceed it, and of those
/// only the message type is read.
pub const MAX_RECORD_KEEP: usize = 64 * 1024;
const MARK_LEN: usize = 4;
/// RFC 4120 7.2.2: the high bit of the mark is reserved for an extension.
const MARK_RESERVED_BIT: u32 = 0x8000_0000;

/// One record: all of it, or its first `MAX_RECORD_KEEP` bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub data: &'a [u8],
    /// Length the record mark declared.
    pub declared_len: usize,
}

impl Record<'_> {
    /// All the bytes the mark declared are in `data`.
    pub fn is_whole(&self) -> bool {
        self.data.len() == self.declared_len
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a record boundary: `have` bytes of the mark read so far.
    Mark { have: usize },
    /// Inside a record of `len` bytes, `left` still to come; `damaged` once a
    /// capture gap took some of it.
    Body { len: usize, left: usize, damaged: bool },
    /// Sync lost or the stream is not Kerberos: the rest is ignored.
    Lost,
}

#[derive(Debug)]
pub struct RecordFramer {
    state: State,
    mark: [u8; MARK_LEN],
    /// The record being collected (at most `MAX_RECORD_KEEP` bytes).
    buf: Vec<u8>,
}

impl Default for RecordFramer {
    fn default() -> Self {
        RecordFramer { state: State::Mark { have: 0 }, mark: [0; MARK_LEN], buf: Vec::new() }
    }
}

impl RecordFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The direction stopped being read (gap at a mark, reserved bit, empty record).
    pub fn is_lost(&self) -> bool {
        self.state == State::Lost
    }

    /// Bytes held (for bounds checks).
    pub fn buffered(&self) -> usize {
        self.buf.capacity()
    }

    /// Feed one chunk of the stream; complete records go to `sink`.
    pub fn feed(&mut self, chunk: StreamChunk<'_>, sink: &mut dyn FnMut(Record<'_>)) {
        match chunk {
            StreamChunk::Gap(n) => self.gap(n as usize),
            StreamChunk::Data(d) => self.data(d, sink),
        }
    }

    fn gap(&mut self, n: usize) {
        self.state = match self.state {
            State::Body { len, left, .. } if n < left => State::Body { len, left: left - n, damaged: true },
            // The record ends inside the gap: the next mark was lost too, or
            // lies exactly after it; either way a record was cut.
            State::Body { left, .. } if n == left => {
                self.buf = Vec::new();
                State::Mark { have: 0 }
            }
            _ => {
                self.buf = Vec::new();
                State::Lost
            }
        };
    }

    fn data(&mut self, mut d: &[u8], sink: &mut dyn FnMut(Record<'_>)) {
        while !d.is_empty() {
            match self.state {
                State::Lost => return,
                State::Mark { have } => {
                    // Common case: a whole record at the start of the chunk, used in place.
                    if have == 0 {
                        if let Some(len) = d.get(..MARK_LEN).and_then(mark_len) {
                            if let Some(rec) = d.get(MARK_LEN..MARK_LEN + len) {
                                sink(Record { data: rec, declared_len: len });
                                d = &d[MARK_LEN + len..];
                                continue;
                            }
                        }
                    }
                    let take = (MARK_LEN - have).min(d.len());
                    self.mark[have..have + take].copy_from_slice(&d[..take]);
                    d = &d[take..];
                    if have + take < MARK_LEN {
                        self.state = State::Mark { have: have + take };
                        return;
                    }
                    match mark_len(&self.mark) {
                        Some(len) => {
                            self.buf.clear();
                            self.state = State::Body { len, left: len, damaged: false };
                        }
                        None => {
                            self.state = State::Lost;
                            return;
                        }
                    }
                }
                State::Body { len, left, damaged } => {
                    let take = left.min(d.len());
                    if !damaged {
                        let room = MAX_RECORD_KEEP.saturating_sub(self.buf.len()).min(take);
                        // Grow as Vec would, but never past the keep limit.
                        let target = (self.buf.capacity() * 2).clamp(self.buf.len() + room, MAX_RECORD_KEEP);
                        self.buf.reserve_exact(target.saturating_sub(self.buf.len()));
                        self.buf.extend_from_slice(&d[..room]);
                    }
                    d = &d[take..];
                    if take < left {
                        self.state = State::Body { len, left: left - take, damaged };
                        return;
                    }
                    if !damaged {
                        sink(Record { data: &self.buf, declared_len: len });
                    }
                    // Idle KDC streams hold no buffer.
                    self.buf = Vec::new();
                    self.state = State::Mark { have: 0 };
                }
            }
        }
    }
}

/// The record length a mark declares; None for the reserved bit or an empty record.
fn mark_len(mark: &[u8]) -> Option<usize> {
    let m = u32::from_be_bytes(mark.try_into().ok()?);
    if m & MARK_RESERVED_BIT != 0 || m == 0 {
        return None;
    }
    Some(m as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kerberos::real_bytes::*;
    use crate::smb::records::test_util::hex;

    fn records(framer: &mut RecordFramer, chunks: &[StreamChunk<'_>]) -> Vec<(Vec<u8>, usize)> {
        let mut out = Vec::new();
        for c in chunks {
            let c = match c {
                StreamChunk::Data(d) => StreamChunk::Data(d),
                StreamChunk::Gap(n) => StreamChunk::Gap(*n),
            };
            framer.feed(c, &mut |r| out.push((r.data.to_vec(), r.declared_len)));
        }
        out
    }

    #[test]
    fn record_spanning_two_segments() {
        let (a, b) = (hex(TGS_REQ_PART1), hex(TGS_REQ_PART2));
        let mut f = RecordFramer::new();
        let got = records(&mut f, &[StreamChunk::Data(&a), StreamChunk::Data(&b)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, a.len() + b.len() - MARK_LEN);
        assert_eq!(got[0].0[..], [&a[MARK_LEN..], &b[..]].concat()[..]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn several_records_in_one_chunk_and_split_marks() {
        let e = hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN);
        let stream = [e.clone(), e.clone(), e.clone()].concat();
        // Every split point, including inside the marks.
        for cut in 0..stream.len() {
            let mut f = RecordFramer::new();
            let got = records(&mut f, &[StreamChunk::Data(&stream[..cut]), StreamChunk::Data(&stream[cut..])]);
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert!(got.iter().all(|(d, n)| d[..] == e[MARK_LEN..] && *n == e.len() - MARK_LEN));
        }
    }

    #[test]
    fn gap_inside_a_record_drops_it_and_keeps_sync() {
        let (a, b) = (hex(TGS_REQ_PART1), hex(TGS_REQ_PART2));
        let e = hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN);
        let mut f = RecordFramer::new();
        let got = records(&mut f, &[StreamChunk::Data(&a[..100]), StreamChunk::Gap(a.len() as u32 - 100), StreamChunk::Data(&b), StreamChunk::Data(&e)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0[..], e[MARK_LEN..]);
    }

    #[test]
    fn gap_at_a_mark_stops_reading() {
        let e = hex(KRB_ERROR_S_PRINCIPAL_UNKNOWN);
        let mut f = RecordFramer::new();
        let got = records(&mut f, &[StreamChunk::Gap(10), StreamChunk::Data(&e)]);
        assert!(got.is_empty() && f.is_lost());
    }

    #[test]
    fn oversized_record_keeps_a_prefix() {
        let len = MAX_RECORD_KEEP + 1000;
        let mut s = (len as u32).to_be_bytes().to_vec();
        s.extend(std::iter::repeat_n(0x6d, len));
        let mut f = RecordFramer::new();
        let got = records(&mut f, &[StreamChunk::Data(&s[..5000]), StreamChunk::Data(&s[5000..])]);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0.len(), got[0].1), (MAX_RECORD_KEEP, len));
        // Half of another one waiting: the buffer stays within the limit.
        f.feed(StreamChunk::Data(&s[..MAX_RECORD_KEEP]), &mut |_| {});
        f.feed(StreamChunk::Data(&s[..MAX_RECORD_KEEP]), &mut |_| {});
        assert!(f.buffered() <= MAX_RECORD_KEEP && f.buffered() > 0);
    }

    #[test]
    fn reserved_bit_or_garbage_never_panics() {
        let mut f = RecordFramer::new();
        assert!(records(&mut f, &[StreamChunk::Data(&[0x80, 0, 0, 5, 1, 2, 3, 4, 5])]).is_empty());
        assert!(f.is_lost());
        let mut x = 0x2545_f491u32;
        for _ in 0..200 {
            let v = crate::test_support::garbage(&mut x, 300);
            let mut f = RecordFramer::new();
            for c in v.chunks(7) {
                f.feed(StreamChunk::Data(c), &mut |r| assert!(r.data.len() <= r.declared_len));
            }
        }
    }
}
