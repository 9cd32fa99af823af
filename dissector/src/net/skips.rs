//! Frames whose layers smbdiag does not open, counted per kind for the one
//! note per capture that says what was skipped (nothing is skipped in silence).

/// Kinds of skipped frames and how many of each, in the order first seen.
/// Bounded: the kinds are the fixed reasons `net::link` gives.
#[derive(Debug, Default)]
pub struct SkipLog {
    kinds: Vec<(&'static str, u64, u32)>,
    /// The frame that carries the note (the capture's first skipped frame).
    pub note_frame: Option<u32>,
}

impl SkipLog {
    /// Count `n` skipped frames of a kind, seen at `frame`. True when this is
    /// the capture's first: the note goes on that frame.
    pub fn count(&mut self, what: &'static str, n: u64, frame: u32) -> bool {
        match self.kinds.iter_mut().find(|k| k.0 == what) {
            Some(k) => k.1 += n,
            None => self.kinds.push((what, n, frame)),
        }
        let first = self.note_frame.is_none();
        self.note_frame.get_or_insert(frame);
        first
    }

    /// The note: what was skipped, how many frames, from which frame on.
    pub fn text(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(what, n, first)| format!("{what}: {n} (first in frame {first})")).collect();
        format!(
            "smbdiag did not decode some frames of this capture, so SMB traffic inside them, if any, is not analysed. Skipped so far: {}. Next check: Wireshark's own dissectors for those frames; capture without the encapsulation (on the host, or after the tunnel ends) if the SMB traffic is inside it",
            kinds.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_note_counts_each_kind() {
        let mut s = SkipLog::default();
        assert!(s.count("GRE packets carrying neither IP nor Ethernet nor ERSPAN", 1, 4));
        assert!(!s.count("MPLS-labelled frames", 1, 9));
        assert!(!s.count("GRE packets carrying neither IP nor Ethernet nor ERSPAN", 2, 12));
        assert_eq!(s.note_frame, Some(4));
        let t = s.text();
        assert!(t.contains("GRE packets carrying neither IP nor Ethernet nor ERSPAN: 3 (first in frame 4); MPLS-labelled frames: 1 (first in frame 9)"), "{t}");
    }
}
