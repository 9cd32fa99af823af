//! NBSS framing: cuts one direction's reassembled byte stream into SMB PDUs.
//!
//! Direct TCP (445) and NetBIOS session service (139) share the 4-byte framing
//! header: a type byte and a length (24 bits for direct TCP; 17 bits on 139,
//! whose flags byte only ever carries the length extension bit, so reading 24
//! bits serves both for session messages). After a gap in the stream the framer
//! loses sync and scans for the next NBSS header followed by an SMB magic
//! instead of mis-decoding whatever bytes follow.

use super::records::header_records::{COMPRESSION_MAGIC, SMB1_MAGIC, SMB2_MAGIC, TRANSFORM_MAGIC};
use super::types::Command;
use crate::net::reassembly::StreamChunk;

/// Bytes kept of one PDU: headers and command bodies live at the start; the
/// bulk of a large READ/WRITE is data nobody needs for diagnosis.
pub const PDU_KEEP_PREFIX: usize = 64 * 1024;
/// Bytes kept of one encrypted PDU when the user gave keys, and of one
/// compressed PDU: decryption and decompression need the whole message, and
/// Samba and Windows READ and WRITE up to 8 MiB in one (plus headers and a
/// compound's other messages). One direction holds at most this much, and
/// only while such a PDU is in transit.
pub const ENCRYPTED_PDU_KEEP: usize = 8 * 1024 * 1024 + 64 * 1024;
/// Largest NBSS length accepted when looking for sync (MS-SMB2 2.1: 0xFFFFFF).
const MAX_NBSS_LEN: usize = 0x00ff_ffff;
/// Resynchronisations of one direction that get a note: junk that keeps
/// looking like SMB must not bury the capture in notes.
pub const MAX_RESYNC_NOTES: u32 = 5;
/// How much unsynchronised data a non-SMB-port stream may scan before the
/// framer decides it is not SMB at all.
const NON_SMB_SCAN_LIMIT: u64 = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PduKind {
    Smb2,
    Transform,
    Compressed,
    Smb1,
}

impl PduKind {
    fn of(payload: &[u8]) -> Option<PduKind> {
        let m = payload.get(..4)?;
        if m == SMB2_MAGIC {
            Some(PduKind::Smb2)
        } else if m == TRANSFORM_MAGIC {
            Some(PduKind::Transform)
        } else if m == COMPRESSION_MAGIC {
            Some(PduKind::Compressed)
        } else if m == SMB1_MAGIC {
            Some(PduKind::Smb1)
        } else {
            None
        }
    }
}

/// One SMB PDU (the NBSS payload), possibly incomplete.
#[derive(Debug)]
pub struct Pdu<'a> {
    pub kind: PduKind,
    /// The bytes we have: the whole PDU, or its first `PDU_KEEP_PREFIX` bytes,
    /// or (after a gap) what was captured before the gap.
    pub data: &'a [u8],
    /// Length the NBSS header declared.
    pub declared_len: usize,
    /// Bytes of the PDU lost to a capture gap (0 when only the keep-prefix cut it).
    pub lost: usize,
    /// Found by resynchronisation, before the stream proved it is back in
    /// step: decode it, but let it raise no finding.
    pub resynced: bool,
}

impl Pdu<'_> {
    /// All bytes the PDU declares were seen (possibly not all kept).
    pub fn is_whole(&self) -> bool {
        self.lost == 0
    }
}

/// What the framer reports besides PDUs.
#[derive(Debug, PartialEq, Eq)]
pub enum FramingNote {
    /// A gap in the capture cut a PDU or the framing; `skipped` bytes of stream
    /// were passed over until the next SMB header.
    /// `ordinal`: the how-manyth resynchronisation of this direction.
    Resynced { skipped: u64, ordinal: u32 },
    /// The stream does not look like SMB; the framer stopped looking at it.
    NotSmb,
}

#[derive(Debug)]
enum State {
    /// At a PDU boundary, expecting an NBSS header.
    Synced,
    /// Inside a PDU: `need` more bytes of it to come.
    InPdu { declared: usize, need: usize },
    /// Passing over the rest of a PDU after a gap.
    Skipping { need: usize },
    /// Lost: scanning for an NBSS header followed by an SMB magic.
    Hunting { skipped: u64 },
    /// Not SMB; ignore everything.
    Dead,
}

#[derive(Debug)]
pub struct Framer {
    state: State,
    /// Partial PDU (or header, or hunting window) carried across chunks.
    buf: Vec<u8>,
    /// Bytes of the PDU being collected that were seen but not kept.
    dropped: usize,
    /// False for streams on ports that are not SMB's: give up sooner.
    smb_port: bool,
    /// At least one SMB PDU was framed.
    seen_smb: bool,
    /// Resynchronisations so far (each one a note, up to MAX_RESYNC_NOTES).
    resyncs: u32,
    /// A hunt found the last header after skipping bytes; the stream is not
    /// yet proved back in step (see `deliver`).
    on_probation: bool,
    /// The next PDU framed is the one a hunt found.
    hunted_next: bool,
    /// Bytes kept of an encrypted PDU: PDU_KEEP_PREFIX, or ENCRYPTED_PDU_KEEP
    /// when there are keys to decrypt it with.
    transform_keep: usize,
    /// Bytes kept of the PDU being collected, decided once its magic is in.
    pdu_keep: usize,
}

impl Framer {
    /// A new direction starts by looking for its first header: at offset 0
    /// when the capture saw the connection open, further on when it started
    /// mid-connection. `smb_port`: 445 or 139, where SMB is expected.
    pub fn new(smb_port: bool) -> Self {
        Framer {
            state: State::Hunting { skipped: 0 },
            buf: Vec::new(),
            dropped: 0,
            smb_port,
            seen_smb: false,
            resyncs: 0,
            on_probation: false,
            hunted_next: false,
            transform_keep: PDU_KEEP_PREFIX,
            pdu_keep: PDU_KEEP_PREFIX,
        }
    }

    /// Keep encrypted PDUs whole (up to ENCRYPTED_PDU_KEEP), for decryption.
    /// Plain PDUs keep only their PDU_KEEP_PREFIX as before.
    pub fn keep_encrypted(mut self, yes: bool) -> Self {
        self.transform_keep = if yes { ENCRYPTED_PDU_KEEP } else { PDU_KEEP_PREFIX };
        self
    }

    /// Forget the PDU being collected; a buffer grown for a large encrypted
    /// PDU is given back rather than held for the rest of the connection.
    fn reset_buf(&mut self) {
        if self.buf.capacity() > 4 + PDU_KEEP_PREFIX {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.dropped = 0;
    }

    pub fn is_dead(&self) -> bool {
        matches!(self.state, State::Dead)
    }

    /// Bytes held (for memory accounting).
    pub fn buffered(&self) -> usize {
        self.buf.capacity()
    }

    /// Feed one stream chunk; complete (or gap-cut) PDUs and notes go to the sinks.
    pub fn feed(&mut self, chunk: StreamChunk<'_>, on_pdu: &mut dyn FnMut(Pdu<'_>), on_note: &mut dyn FnMut(FramingNote)) {
        match chunk {
            StreamChunk::Data(d) => self.feed_data(d, on_pdu, on_note),
            StreamChunk::Gap(n) => self.feed_gap(n as usize, on_pdu),
        }
    }

    fn feed_gap(&mut self, n: usize, on_pdu: &mut dyn FnMut(Pdu<'_>)) {
        match std::mem::replace(&mut self.state, State::Synced) {
            State::InPdu { declared, need } => {
                // Hand over what we have of the PDU, marked as cut.
                if self.buf.len() > 4 {
                    if let Some(kind) = PduKind::of(&self.buf[4..]) {
                        self.seen_smb = true;
                        let lost = n.min(need);
                        on_pdu(Pdu { kind, data: &self.buf[4..], declared_len: declared, lost, resynced: self.on_probation });
                        self.hunted_next = false;
                    }
                }
                self.reset_buf();
                self.state = after_gap(n, need);
            }
            State::Skipping { need } => self.state = after_gap(n, need),
            State::Synced => {
                // A partial NBSS header may be in buf; either way sync is lost.
                self.buf.clear();
                self.state = State::Hunting { skipped: n as u64 };
            }
            State::Hunting { skipped } => {
                self.buf.clear();
                self.state = State::Hunting { skipped: skipped + n as u64 };
            }
            State::Dead => self.state = State::Dead,
        }
    }

    fn feed_data(&mut self, mut d: &[u8], on_pdu: &mut dyn FnMut(Pdu<'_>), on_note: &mut dyn FnMut(FramingNote)) {
        while !d.is_empty() {
            match self.state {
                State::Dead => return,
                State::Skipping { need } => {
                    let take = need.min(d.len());
                    d = &d[take..];
                    self.state = if take == need { State::Synced } else { State::Skipping { need: need - take } };
                }
                State::Hunting { skipped } => {
                    let h = self.hunt(d, skipped, on_note);
                    if !h.replay.is_empty() {
                        // Synced now: at most a header's worth, framed before the rest of d.
                        self.feed_data(&h.replay, on_pdu, on_note);
                    }
                    d = &d[h.consumed..];
                }
                State::Synced => {
                    // Fast path: a whole PDU in `d` with nothing buffered.
                    if self.buf.is_empty() && d.len() >= 4 {
                        match nbss_header(d) {
                            Nbss::Session(len) => {
                                if d.len() >= 4 + len {
                                    let delivered = match PduKind::of(&d[4..4 + len]) {
                                        Some(kind) => self.deliver(kind, &d[4..4 + len], len, on_pdu),
                                        None => false,
                                    };
                                    if !delivered {
                                        self.lose_sync(on_note);
                                        continue;
                                    }
                                    d = &d[4 + len..];
                                    continue;
                                }
                                // Check the magic as soon as it is there.
                                if d.len() >= 8 && PduKind::of(&d[4..]).is_none() {
                                    self.lose_sync(on_note);
                                    continue;
                                }
                                self.state = State::InPdu { declared: len, need: len };
                                self.buf.extend_from_slice(&d[..4]);
                                d = &d[4..];
                                continue;
                            }
                            Nbss::Other(len) => {
                                // Session request/response/keepalive on 139: skip it.
                                self.state = State::Skipping { need: 4 + len };
                                continue;
                            }
                            Nbss::Invalid => {
                                self.lose_sync(on_note);
                                continue;
                            }
                        }
                    }
                    // Slow path: assemble the 4-byte header across chunks.
                    let want = 4 - self.buf.len();
                    let take = want.min(d.len());
                    self.buf.extend_from_slice(&d[..take]);
                    d = &d[take..];
                    if self.buf.len() == 4 {
                        match nbss_header(&self.buf) {
                            Nbss::Session(len) => self.state = State::InPdu { declared: len, need: len },
                            Nbss::Other(len) => {
                                self.buf.clear();
                                self.state = State::Skipping { need: len };
                            }
                            Nbss::Invalid => {
                                self.buf.clear();
                                self.lose_sync(on_note);
                            }
                        }
                    }
                }
                State::InPdu { declared, need } => {
                    // Up to the magic first: the kind decides how much is kept.
                    let (take, room) = if self.buf.len() < 8 {
                        let take = need.min(d.len()).min(8 - self.buf.len());
                        (take, take)
                    } else {
                        (need.min(d.len()), (4 + self.pdu_keep).saturating_sub(self.buf.len()))
                    };
                    let keep = take.min(room);
                    self.buf.extend_from_slice(&d[..keep]);
                    self.dropped += take - keep;
                    d = &d[take..];
                    let need = need - take;
                    // The magic has just arrived: check it, and decide what to keep.
                    if self.buf.len() == 8 && keep > 0 {
                        self.pdu_keep = match PduKind::of(&self.buf[4..]) {
                            None => {
                                self.buf.clear();
                                self.dropped = 0;
                                self.lose_sync(on_note);
                                continue;
                            }
                            // Encrypted (with keys) and compressed PDUs are kept whole:
                            // their messages are unreadable from a prefix.
                            Some(PduKind::Transform) => self.transform_keep,
                            Some(PduKind::Compressed) => ENCRYPTED_PDU_KEEP,
                            Some(_) => PDU_KEEP_PREFIX,
                        };
                        if self.pdu_keep > PDU_KEEP_PREFIX {
                            // One allocation for the whole message, not a doubling per chunk.
                            self.buf.reserve_exact(declared.min(self.pdu_keep).saturating_sub(4));
                        }
                    }
                    if need == 0 {
                        let buf = std::mem::take(&mut self.buf);
                        let delivered = match PduKind::of(&buf[4..]) {
                            Some(kind) => self.deliver(kind, &buf[4..], declared, on_pdu),
                            None => false,
                        };
                        self.buf = buf;
                        self.reset_buf();
                        self.state = State::Synced;
                        if !delivered {
                            self.lose_sync(on_note);
                        }
                    } else {
                        self.state = State::InPdu { declared, need };
                    }
                }
            }
        }
    }

    fn lose_sync(&mut self, on_note: &mut dyn FnMut(FramingNote)) {
        self.buf.clear();
        self.hunted_next = false;
        self.state = State::Hunting { skipped: 0 };
        let _ = on_note;
    }

    /// Scan `d` (after any carried window) for an NBSS session header whose
    /// SMB header passes what every real one passes (`judge`).
    fn hunt(&mut self, d: &[u8], skipped: u64, on_note: &mut dyn FnMut(FramingNote)) -> Hunted {
        // Window = carried tail (a partial candidate) + as much of d as needed.
        let carried = self.buf.len();
        let mut window = std::mem::take(&mut self.buf);
        let take = d.len().min(1 << 16);
        window.extend_from_slice(&d[..take]);
        let mut found = None;
        let mut pos = 0;
        while pos + 8 <= window.len() {
            // Cheap filter: the SMB magic's "SMB" at pos+5.
            let Some(off) = find_smb(&window[pos + 5..]) else {
                pos = window.len().saturating_sub(7).max(pos);
                break;
            };
            let cand = pos + off; // candidate NBSS header start
            if let Nbss::Session(len) = nbss_header(&window[cand..]) {
                if let Some(kind) = PduKind::of(&window[cand + 4..]) {
                    let have = &window[cand + 4..window.len().min(cand + 4 + len)];
                    // The very first bytes of a connection seen from its start
                    // are a header: the magic is enough there, as in step.
                    let at_start = skipped == 0 && cand == 0 && !self.seen_smb;
                    let verdict = if at_start && len >= 32 { Verdict::Good } else { judge(kind, have, len) };
                    match verdict {
                        Verdict::Good => {
                            found = Some(cand);
                            break;
                        }
                        // Not enough bytes yet to judge: carry the candidate over.
                        Verdict::NeedMore => {
                            pos = cand;
                            break;
                        }
                        Verdict::Bad => {}
                    }
                }
            }
            pos = cand + 1;
        }
        match found {
            Some(cand) => {
                let total_skipped = skipped + cand as u64;
                if self.seen_smb || total_skipped > 0 {
                    self.resyncs = self.resyncs.saturating_add(1);
                    self.on_probation = true;
                    if self.resyncs <= MAX_RESYNC_NOTES {
                        on_note(FramingNote::Resynced { skipped: total_skipped, ordinal: self.resyncs });
                    }
                }
                self.state = State::Synced;
                self.hunted_next = true;
                // The header is re-read from its start: from d, or, when it
                // starts inside the carried bytes, from those bytes first.
                if cand < carried {
                    Hunted { consumed: 0, replay: window[cand..carried].to_vec() }
                } else {
                    Hunted { consumed: (cand - carried).min(take), replay: Vec::new() }
                }
            }
            None => {
                let keep_from = pos.min(window.len());
                let new_skipped = skipped + keep_from as u64;
                self.buf = window[keep_from..].to_vec();
                if !self.smb_port && !self.seen_smb && new_skipped > NON_SMB_SCAN_LIMIT {
                    self.buf = Vec::new();
                    self.state = State::Dead;
                    on_note(FramingNote::NotSmb);
                    return Hunted { consumed: d.len(), replay: Vec::new() };
                }
                self.state = State::Hunting { skipped: new_skipped };
                Hunted { consumed: take, replay: Vec::new() }
            }
        }
    }

    /// A PDU framed in step. The first after a hunt is the one the hunt found
    /// (already judged). While on probation after a resynchronisation, the
    /// next must pass `judge` too: if it does, the stream is back in step; if
    /// not, the header the hunt found was junk and the hunt resumes.
    /// Returns false when the PDU was refused.
    fn deliver(&mut self, kind: PduKind, data: &[u8], declared_len: usize, on_pdu: &mut dyn FnMut(Pdu<'_>)) -> bool {
        let resynced = if std::mem::take(&mut self.hunted_next) {
            self.on_probation
        } else {
            if self.on_probation && judge(kind, data, declared_len) != Verdict::Good {
                return false;
            }
            self.on_probation = false;
            false
        };
        self.seen_smb = true;
        on_pdu(Pdu { kind, data, declared_len, lost: 0, resynced });
        true
    }
}

/// What `hunt` did: bytes of `d` consumed, and bytes carried over that must
/// be fed again (a header that started inside them).
struct Hunted {
    consumed: usize,
    replay: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Good,
    Bad,
    /// Too few bytes of the PDU to tell.
    NeedMore,
}

/// Largest CreditCharge believed: 8 MiB in 64 KiB credits is 128, the
/// largest I/O Windows and Samba negotiate.
const MAX_CREDIT_CHARGE: u16 = 256;
/// Header flag bits MS-SMB2 2.2.1 defines (including the 3.1.1 priority mask).
const SMB2_KNOWN_FLAGS: u32 = 0x3000_007f;
const SMB2_HEADER: usize = 64;
const TRANSFORM_HEADER: usize = 52;
const COMPRESSION_HEADER: usize = 16;
const SMB1_HEADER: usize = 32;

/// Does `pdu` (the first bytes of a PDU whose NBSS header declared
/// `declared` bytes) start with a header every real one would pass? Fuzzed
/// or random data holds "\xfeSMB" often enough; its fields rarely agree.
fn judge(kind: PduKind, pdu: &[u8], declared: usize) -> Verdict {
    let u16_at = |o: usize| u16::from_le_bytes([pdu[o], pdu[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes([pdu[o], pdu[o + 1], pdu[o + 2], pdu[o + 3]]);
    let need = match kind {
        PduKind::Smb2 => SMB2_HEADER,
        PduKind::Transform => TRANSFORM_HEADER,
        PduKind::Compressed => COMPRESSION_HEADER,
        PduKind::Smb1 => SMB1_HEADER + 1,
    };
    if declared < need {
        return Verdict::Bad;
    }
    if pdu.len() < need {
        return Verdict::NeedMore;
    }
    let good = match kind {
        PduKind::Smb2 => {
            let next = u32_at(20) as usize;
            u16_at(4) == SMB2_HEADER as u16
                && Command(u16_at(12)).name().is_some()
                && u16_at(6) <= MAX_CREDIT_CHARGE
                && u32_at(16) & !SMB2_KNOWN_FLAGS == 0
                && (next == 0 || (next % 8 == 0 && next >= SMB2_HEADER && next + SMB2_HEADER <= declared))
        }
        // The encrypted message follows the header; Flags/EncryptionAlgorithm is 1.
        PduKind::Transform => declared == TRANSFORM_HEADER + u32_at(36) as usize && u16_at(42) == 1,
        // A known algorithm (none, LZNT1, LZ77, LZ77+Huffman, Pattern_V1) and flag (chained or not).
        PduKind::Compressed => u16_at(8) <= 4 && u16_at(10) <= 1,
        // WordCount and ByteCount must fit the PDU.
        PduKind::Smb1 => SMB1_HEADER + 1 + 2 * pdu[SMB1_HEADER] as usize + 2 <= declared,
    };
    if good {
        Verdict::Good
    } else {
        Verdict::Bad
    }
}

/// Where a gap of `n` bytes leaves a PDU that needed `need` more: still
/// inside it, exactly at its end (the next header is where its length says:
/// in step), or past it (lost).
fn after_gap(n: usize, need: usize) -> State {
    match n.cmp(&need) {
        std::cmp::Ordering::Less => State::Skipping { need: need - n },
        std::cmp::Ordering::Equal => State::Synced,
        std::cmp::Ordering::Greater => State::Hunting { skipped: (n - need) as u64 },
    }
}

enum Nbss {
    /// Session message with this payload length.
    Session(usize),
    /// Another NBSS packet type (request, response, keepalive) of this length.
    Other(usize),
    Invalid,
}

fn nbss_header(h: &[u8]) -> Nbss {
    let len24 = (h[1] as usize) << 16 | (h[2] as usize) << 8 | h[3] as usize;
    match h[0] {
        0x00 if len24 <= MAX_NBSS_LEN => Nbss::Session(len24),
        0x81..=0x85 if h[1] <= 1 => Nbss::Other(((h[1] as usize & 1) << 16) | (h[2] as usize) << 8 | h[3] as usize),
        _ => Nbss::Invalid,
    }
}

/// Offset of the first "SMB" in `s`, minus 5 (so it points at a candidate NBSS
/// header start relative to where `s` begins minus 5).
fn find_smb(s: &[u8]) -> Option<usize> {
    s.windows(3).position(|w| w == b"SMB")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An NBSS-framed SMB2 CREATE with a plausible header; `tag` fills the
    /// Status field (read back as `data[10]`) and the body.
    fn smb2_pdu(body_len: usize, tag: u8) -> Vec<u8> {
        let len = 64 + body_len;
        let mut v = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        v.extend_from_slice(SMB2_MAGIC);
        v.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
        v.extend_from_slice(&1u16.to_le_bytes()); // CreditCharge
        v.extend_from_slice(&[tag; 4]); // Status
        v.extend_from_slice(&5u16.to_le_bytes()); // CREATE
        v.extend_from_slice(&[0u8; 64 - 14]);
        v.extend(std::iter::repeat(tag).take(body_len));
        v
    }

    #[test]
    fn header_starting_in_carried_bytes_is_not_lost() {
        // Mid-stream start: the tail of one PDU, then a PDU whose first six
        // bytes end the first chunk (carried over while hunting), then another.
        let a = smb2_pdu(100, 1);
        let b = smb2_pdu(10, 2);
        let c = smb2_pdu(10, 3);
        let mut first = a[37..].to_vec();
        first.extend_from_slice(&b[..6]);
        let mut second = b[6..].to_vec();
        second.extend_from_slice(&c);
        let mut f = Framer::new(true);
        let (p, _) = run(&mut f, &[StreamChunk::Data(&first), StreamChunk::Data(&second)]);
        assert_eq!(p, vec![(74, 0, 2), (74, 0, 3)]);
    }

    fn run(framer: &mut Framer, chunks: &[StreamChunk<'_>]) -> (Vec<(usize, usize, u8)>, Vec<FramingNote>) {
        let mut pdus = Vec::new();
        let mut notes = Vec::new();
        for c in chunks {
            let c = match c {
                StreamChunk::Data(d) => StreamChunk::Data(d),
                StreamChunk::Gap(n) => StreamChunk::Gap(*n),
            };
            framer.feed(c, &mut |p| pdus.push((p.declared_len, p.lost, p.data[10])), &mut |n| notes.push(n));
        }
        (pdus, notes)
    }

    #[test]
    fn several_pdus_in_one_chunk_and_one_over_many() {
        let mut s = smb2_pdu(10, 1);
        s.extend(smb2_pdu(20, 2));
        let big = smb2_pdu(5000, 3);
        let mut f = Framer::new(true);
        let (p, _) = run(&mut f, &[StreamChunk::Data(&s)]);
        assert_eq!(p, vec![(74, 0, 1), (84, 0, 2)]);
        let chunks: Vec<StreamChunk> = big.chunks(1448).map(StreamChunk::Data).collect();
        let (p, _) = run(&mut f, &chunks);
        assert_eq!(p, vec![(5064, 0, 3)]);
        // Header split byte by byte.
        let small = smb2_pdu(1, 4);
        let chunks: Vec<StreamChunk> = small.chunks(1).map(StreamChunk::Data).collect();
        let (p, _) = run(&mut f, &chunks);
        assert_eq!(p, vec![(65, 0, 4)]);
    }

    #[test]
    fn gap_inside_pdu_yields_partial_then_continues() {
        let a = smb2_pdu(3000, 1);
        let b = smb2_pdu(10, 2);
        let mut f = Framer::new(true);
        let (p, notes) = run(
            &mut f,
            &[StreamChunk::Data(&a[..1000]), StreamChunk::Gap(1000), StreamChunk::Data(&a[2000..]), StreamChunk::Data(&b)],
        );
        assert_eq!(p, vec![(3064, 1000, 1), (74, 0, 2)]);
        assert!(notes.is_empty());
    }

    #[test]
    fn gap_ending_at_the_pdu_end_keeps_step() {
        // A snaplen cut: the rest of the PDU is missing, the next starts where its length says.
        let a = smb2_pdu(3000, 1);
        let b = smb2_pdu(10, 2);
        let mut f = Framer::new(true);
        let mut got = Vec::new();
        let mut notes = Vec::new();
        for chunk in [StreamChunk::Data(&a[..1000]), StreamChunk::Gap((a.len() - 1000) as u32), StreamChunk::Data(&b)] {
            f.feed(chunk, &mut |p| got.push((p.data[10], p.lost, p.resynced)), &mut |n| notes.push(n));
        }
        assert_eq!(got, vec![(1, a.len() - 1000, false), (2, 0, false)]);
        assert!(notes.is_empty());
    }

    #[test]
    fn gap_past_pdu_end_resyncs_on_next_header() {
        let a = smb2_pdu(100, 1);
        let b = smb2_pdu(100, 2);
        let c = smb2_pdu(10, 3);
        let mut stream = b[50..].to_vec();
        stream.extend_from_slice(&c);
        let mut f = Framer::new(true);
        let (p, notes) = run(&mut f, &[StreamChunk::Data(&a[..50]), StreamChunk::Gap(200), StreamChunk::Data(&stream)]);
        assert_eq!(p[0].0, 164);
        assert_eq!(p[1], (74, 0, 3));
        assert!(matches!(notes[0], FramingNote::Resynced { .. }));
    }

    #[test]
    fn mid_stream_start_hunts() {
        let a = smb2_pdu(100, 1);
        let b = smb2_pdu(10, 2);
        let mut s = a[37..].to_vec();
        s.extend_from_slice(&b);
        let mut f = Framer::new(true);
        let (p, _) = run(&mut f, &[StreamChunk::Data(&s)]);
        assert_eq!(p, vec![(74, 0, 2)]);
    }

    #[test]
    fn junk_that_looks_like_smb2_is_not_believed() {
        // Fuzzed bytes hold "\xfeSMB" behind a plausible NBSS length: an
        // unknown command, a structure size not 64, a NextCommand past the end.
        let mut junk = Vec::new();
        for (at, val) in [(12usize, 0x30u16), (4, 0x40fe), (20, 0x7777)] {
            let mut j = smb2_pdu(40, 9);
            j[4 + at..4 + at + 2].copy_from_slice(&val.to_le_bytes());
            junk.extend_from_slice(&[0xaa; 13]);
            junk.extend_from_slice(&j);
        }
        let mut s = junk.clone();
        s.extend_from_slice(&smb2_pdu(10, 2));
        let mut f = Framer::new(true);
        let (p, _) = run(&mut f, &[StreamChunk::Data(&s)]);
        assert_eq!(p, vec![(74, 0, 2)]);
    }

    #[test]
    fn resynced_pdu_is_on_probation_until_the_next_one_confirms_it() {
        let a = smb2_pdu(100, 1);
        let (b, c, d) = (smb2_pdu(10, 2), smb2_pdu(10, 3), smb2_pdu(10, 4));
        let mut after_gap = vec![0x55; 30];
        for x in [&b, &c, &d] {
            after_gap.extend_from_slice(x);
        }
        let mut f = Framer::new(true);
        let mut got = Vec::new();
        let mut notes = Vec::new();
        for chunk in [StreamChunk::Data(&a), StreamChunk::Gap(500), StreamChunk::Data(&after_gap)] {
            f.feed(chunk, &mut |p| got.push((p.data[10], p.resynced)), &mut |n| notes.push(n));
        }
        assert_eq!(got, vec![(1, false), (2, true), (3, false), (4, false)]);
        assert_eq!(notes, vec![FramingNote::Resynced { skipped: 530, ordinal: 1 }]);

        // When what follows the hunted header is junk, the hunt was wrong: hunt again.
        let mut bad_next = smb2_pdu(10, 5);
        bad_next[4 + 12] = 0x30;
        let mut s = vec![0x55; 30];
        s.extend_from_slice(&b);
        s.extend_from_slice(&bad_next);
        s.extend_from_slice(&c);
        let mut f = Framer::new(true);
        let mut got = Vec::new();
        for chunk in [StreamChunk::Data(&a), StreamChunk::Gap(500), StreamChunk::Data(&s)] {
            f.feed(chunk, &mut |p| got.push((p.data[10], p.resynced)), &mut |_| {});
        }
        assert_eq!(got, vec![(1, false), (2, true), (3, true)]);
    }

    #[test]
    fn resync_notes_are_bounded() {
        let mut f = Framer::new(true);
        let mut notes = 0;
        for i in 0..50u8 {
            let p = smb2_pdu(10, i);
            for chunk in [StreamChunk::Gap(100), StreamChunk::Data(&[0x55; 20]), StreamChunk::Data(&p)] {
                f.feed(chunk, &mut |_| {}, &mut |_| notes += 1);
            }
        }
        assert_eq!(notes, MAX_RESYNC_NOTES as usize);
    }

    #[test]
    fn non_smb_stream_gives_up() {
        let junk = vec![b'x'; 200_000];
        let mut f = Framer::new(false);
        let (p, notes) = run(&mut f, &[StreamChunk::Data(&junk), StreamChunk::Data(&junk)]);
        assert!(p.is_empty());
        assert!(notes.contains(&FramingNote::NotSmb));
        assert!(f.is_dead());
    }

    /// An NBSS-framed transform PDU of `len` bytes (magic, then `tag`).
    fn transform_pdu(len: usize, tag: u8) -> Vec<u8> {
        let mut v = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        v.extend_from_slice(TRANSFORM_MAGIC);
        v.extend(std::iter::repeat(tag).take(len - 4));
        v
    }

    fn feed_all(f: &mut Framer, bytes: &[u8]) -> Vec<(usize, usize, u8)> {
        let mut got = Vec::new();
        for c in bytes.chunks(1448) {
            f.feed(StreamChunk::Data(c), &mut |p| got.push((p.data.len(), p.declared_len, p.data[p.data.len() - 1])), &mut |_| {});
        }
        got
    }

    #[test]
    fn encrypted_pdu_is_kept_whole_only_with_keys_and_within_the_bound() {
        let big = transform_pdu(3 * 1024 * 1024, 5);
        let plain = smb2_pdu(3 * 1024 * 1024, 6);
        // Keys given: the transform whole, a plain PDU its prefix as before,
        // and the large buffer given back once the PDU is delivered.
        let mut f = Framer::new(true).keep_encrypted(true);
        assert_eq!(feed_all(&mut f, &big), vec![(big.len() - 4, big.len() - 4, 5)]);
        assert!(f.buffered() <= 4 + PDU_KEEP_PREFIX, "{}", f.buffered());
        assert_eq!(feed_all(&mut f, &plain), vec![(PDU_KEEP_PREFIX, plain.len() - 4, 6)]);
        // Past the bound: only ENCRYPTED_PDU_KEEP bytes, never more.
        let huge = transform_pdu(ENCRYPTED_PDU_KEEP + 100_000, 7);
        let got = feed_all(&mut f, &huge);
        assert_eq!((got[0].0, got[0].1), (ENCRYPTED_PDU_KEEP, huge.len() - 4));
        // Compressed PDUs are kept whole with or without keys.
        let mut zipped = transform_pdu(200_000, 8);
        zipped[4..8].copy_from_slice(COMPRESSION_MAGIC);
        assert_eq!(feed_all(&mut Framer::new(true), &zipped), vec![(200_000, 200_000, 8)]);
        // No keys: a transform costs what a plain PDU does.
        let mut f = Framer::new(true);
        assert_eq!(feed_all(&mut f, &big)[0].0, PDU_KEEP_PREFIX);
        assert!(f.buffered() <= 4 + PDU_KEEP_PREFIX);
    }

    #[test]
    fn huge_pdu_keeps_prefix_only() {
        let a = smb2_pdu(1_000_000, 7);
        let mut f = Framer::new(true);
        let mut got = Vec::new();
        for c in a.chunks(1460) {
            f.feed(StreamChunk::Data(c), &mut |p| got.push((p.data.len(), p.declared_len)), &mut |_| {});
        }
        assert_eq!(got, vec![(PDU_KEEP_PREFIX, 1_000_064)]);
        assert!(f.buffered() <= PDU_KEEP_PREFIX + 4 + 4096 * 1024);
    }
}
