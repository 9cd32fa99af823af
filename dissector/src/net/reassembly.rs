//! Per-direction TCP byte-stream reassembly.
//!
//! INTERFACE (owned by the net helper; keep these signatures): a `Reassembler`
//! per connection direction takes segments in capture order and hands the
//! in-order stream to a sink as `StreamChunk`s: data slices (borrowed from the
//! segment where it arrived in order, from an internal buffer when it filled a
//! hole) and `Gap(n)` where n bytes are missing (never captured, or cut by
//! snaplen). Retransmitted bytes already delivered are not delivered again.

/// A piece of the in-order stream of one direction.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    Data(&'a [u8]),
    /// This many bytes of the stream are missing from the capture.
    Gap(u32),
}

#[derive(Debug, Default)]
pub struct Reassembler {
    _private: (),
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one segment (seq of its first payload byte; `declared_len` ≥
    /// `payload.len()`, the rest missing from the capture). `syn`/`fin` as
    /// flagged on the segment (SYN consumes one sequence number).
    pub fn push(
        &mut self,
        seq: u32,
        payload: &[u8],
        declared_len: u32,
        syn: bool,
        sink: &mut dyn FnMut(StreamChunk<'_>),
    ) {
        let _ = (seq, declared_len, syn);
        if !payload.is_empty() {
            sink(StreamChunk::Data(payload)); // replaced by the net helper
        }
    }

    /// Bytes currently buffered out of order (for memory accounting).
    pub fn buffered(&self) -> usize {
        0
    }
}
