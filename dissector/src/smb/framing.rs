//! NBSS framing: cuts one direction's reassembled byte stream into SMB PDUs.
//!
//! Direct TCP (445) and NetBIOS session service (139) share the 4-byte framing
//! header: a type byte and a length (24 bits for direct TCP; 17 bits on 139,
//! whose flags byte only ever carries the length extension bit, so reading 24
//! bits serves both for session messages). After a gap in the stream the framer
//! loses sync and scans for the next NBSS header followed by an SMB magic
//! instead of mis-decoding whatever bytes follow.

use super::records::header_records::{COMPRESSION_MAGIC, SMB1_MAGIC, SMB2_MAGIC, TRANSFORM_MAGIC};
use crate::net::reassembly::StreamChunk;

/// Bytes kept of one PDU: headers and command bodies live at the start; the
/// bulk of a large READ/WRITE is data nobody needs for diagnosis.
pub const PDU_KEEP_PREFIX: usize = 64 * 1024;
/// Largest NBSS length accepted when looking for sync (MS-SMB2 2.1: 0xFFFFFF).
const MAX_NBSS_LEN: usize = 0x00ff_ffff;
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
    Resynced { skipped: u64 },
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
        }
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
                        on_pdu(Pdu { kind, data: &self.buf[4..], declared_len: declared, lost });
                    }
                }
                self.buf.clear();
                self.dropped = 0;
                self.state = if n < need { State::Skipping { need: need - n } } else { State::Hunting { skipped: (n - need) as u64 } };
            }
            State::Skipping { need } => {
                self.state = if n < need { State::Skipping { need: need - n } } else { State::Hunting { skipped: (n - need) as u64 } };
            }
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
                    let consumed = self.hunt(d, skipped, on_note);
                    d = &d[consumed..];
                }
                State::Synced => {
                    // Fast path: a whole PDU in `d` with nothing buffered.
                    if self.buf.is_empty() && d.len() >= 4 {
                        match nbss_header(d) {
                            Nbss::Session(len) => {
                                if d.len() >= 4 + len {
                                    if let Some(kind) = PduKind::of(&d[4..4 + len]) {
                                        self.seen_smb = true;
                                        on_pdu(Pdu { kind, data: &d[4..4 + len], declared_len: len, lost: 0 });
                                    } else {
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
                    let take = need.min(d.len());
                    let room = (4 + PDU_KEEP_PREFIX).saturating_sub(self.buf.len());
                    let keep = take.min(room);
                    self.buf.extend_from_slice(&d[..keep]);
                    self.dropped += take - keep;
                    d = &d[take..];
                    let need = need - take;
                    // Check the magic once it has arrived.
                    if self.buf.len() >= 8 && self.buf.len() - keep < 8 && PduKind::of(&self.buf[4..]).is_none() {
                        self.buf.clear();
                        self.dropped = 0;
                        self.lose_sync(on_note);
                        continue;
                    }
                    if need == 0 {
                        if let Some(kind) = PduKind::of(&self.buf[4..]) {
                            self.seen_smb = true;
                            on_pdu(Pdu { kind, data: &self.buf[4..], declared_len: declared, lost: 0 });
                        }
                        self.buf.clear();
                        self.dropped = 0;
                        self.state = State::Synced;
                    } else {
                        self.state = State::InPdu { declared, need };
                    }
                }
            }
        }
    }

    fn lose_sync(&mut self, on_note: &mut dyn FnMut(FramingNote)) {
        self.buf.clear();
        self.state = State::Hunting { skipped: 0 };
        let _ = on_note;
    }

    /// Scan `d` (after any carried window) for an NBSS session header followed
    /// by an SMB magic. Returns how many bytes of `d` were consumed.
    fn hunt(&mut self, d: &[u8], skipped: u64, on_note: &mut dyn FnMut(FramingNote)) -> usize {
        // Window = carried tail (< 8 bytes) + as much of d as needed.
        let carried = self.buf.len();
        let mut window = std::mem::take(&mut self.buf);
        let take = d.len().min(1 << 16);
        window.extend_from_slice(&d[..take]);
        let mut found = None;
        let mut pos = 0;
        while pos + 8 <= window.len() {
            // Cheap filter: the SMB magic's "SMB" at pos+5.
            match find_smb(&window[pos + 5..]) {
                None => {
                    pos = window.len().saturating_sub(7).max(pos);
                    break;
                }
                Some(off) => {
                    let cand = pos + off; // candidate NBSS header start
                    if cand + 8 > window.len() {
                        pos = cand;
                        break;
                    }
                    if let Nbss::Session(len) = nbss_header(&window[cand..]) {
                        if len >= 32 && PduKind::of(&window[cand + 4..]).is_some() {
                            found = Some(cand);
                            break;
                        }
                    }
                    pos = cand + 1;
                }
            }
        }
        match found {
            Some(cand) => {
                let total_skipped = skipped + cand as u64;
                if self.seen_smb || total_skipped > 0 {
                    on_note(FramingNote::Resynced { skipped: total_skipped });
                }
                self.state = State::Synced;
                // Bytes of d consumed up to the header start; the header itself is re-read.
                cand.saturating_sub(carried).min(take)
            }
            None => {
                let keep_from = pos.min(window.len());
                let new_skipped = skipped + keep_from as u64;
                self.buf = window[keep_from..].to_vec();
                if !self.smb_port && !self.seen_smb && new_skipped > NON_SMB_SCAN_LIMIT {
                    self.buf = Vec::new();
                    self.state = State::Dead;
                    on_note(FramingNote::NotSmb);
                    return d.len();
                }
                self.state = State::Hunting { skipped: new_skipped };
                take
            }
        }
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

    fn smb2_pdu(body_len: usize, tag: u8) -> Vec<u8> {
        let len = 64 + body_len;
        let mut v = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        v.extend_from_slice(SMB2_MAGIC);
        v.extend(std::iter::repeat(tag).take(len - 4));
        v
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
    fn non_smb_stream_gives_up() {
        let junk = vec![b'x'; 200_000];
        let mut f = Framer::new(false);
        let (p, notes) = run(&mut f, &[StreamChunk::Data(&junk), StreamChunk::Data(&junk)]);
        assert!(p.is_empty());
        assert!(notes.contains(&FramingNote::NotSmb));
        assert!(f.is_dead());
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
