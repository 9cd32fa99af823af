//! Bounded tables, all handled one way: each table has a `Limit` (its name,
//! its bound, what goes missing when it is full) and a `Bound` that records
//! the first refusal. The pipeline turns each first refusal into one
//! `decode.state_limit` note naming the table and the frame from which on,
//! so no name goes missing and no rule goes quiet in silence.

use std::sync::atomic::{AtomicU64, Ordering};

/// Refusals by any table of any analyzer in the process: the pipeline looks
/// through its tables only when this moved, not on every frame. (Shared by
/// analyzers in one process, it can only cause a look that finds nothing.)
static REFUSALS: AtomicU64 = AtomicU64::new(0);

/// The process-wide refusal count, to compare with the one last seen.
pub fn refusals() -> u64 {
    REFUSALS.load(Ordering::Relaxed)
}

/// What a bounded table is, for the note.
#[derive(Debug, PartialEq, Eq)]
pub struct Limit {
    /// The table, as the note names it ("SMB sessions").
    pub table: &'static str,
    pub max: usize,
    /// What is missing from the refusal on (a clause of the note).
    pub effect: &'static str,
}

/// The refusals of one table (or of one kind of per-connection table).
#[derive(Clone, Debug, Default)]
pub struct Bound {
    refused: u64,
    first: Option<(u32, &'static Limit)>,
    noted: bool,
}

impl Bound {
    /// Whether a table holding `len` entries takes one more; records the
    /// refusal when it does not.
    pub fn admit(&mut self, limit: &'static Limit, len: usize, frame: u32) -> bool {
        if len < limit.max {
            return true;
        }
        self.refuse(limit, frame);
        false
    }

    /// An entry refused or dropped (the oldest forgotten to make room).
    pub fn refuse(&mut self, limit: &'static Limit, frame: u32) {
        self.refused += 1;
        if self.first.is_none() {
            self.first = Some((frame, limit));
            REFUSALS.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries refused or dropped so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The first refusal, once: (table, frame).
    pub fn take_unreported(&mut self) -> Option<(&'static Limit, u32)> {
        if self.noted {
            return None;
        }
        let (frame, limit) = self.first?;
        self.noted = true;
        Some((limit, frame))
    }
}

/// The note's sentence for a table that refused from `frame` on.
pub fn note_text(limit: &Limit, frame: u32) -> String {
    format!(
        "smbdiag's table of {} is full ({} entries) from frame {frame} on: {}. Next check: filter the capture to the hosts or connections of interest (`tshark -r in.pcap -w out.pcap -Y \"ip.addr == ...\"`) and open that.",
        limit.table, limit.max, limit.effect
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    static SMALL: Limit = Limit { table: "test entries", max: 2, effect: "later entries are not kept" };

    #[test]
    fn a_refusal_is_reported_once_with_its_first_frame() {
        let mut b = Bound::default();
        assert!(b.admit(&SMALL, 1, 10));
        assert!(b.take_unreported().is_none());
        assert!(!b.admit(&SMALL, 2, 11));
        assert!(!b.admit(&SMALL, 2, 12));
        assert_eq!(b.refused(), 2);
        let (limit, frame) = b.take_unreported().unwrap();
        assert_eq!((limit.table, frame), ("test entries", 11));
        assert!(b.take_unreported().is_none());
        assert!(note_text(limit, frame).contains("test entries is full (2 entries) from frame 11 on: later entries are not kept"));
    }
}
