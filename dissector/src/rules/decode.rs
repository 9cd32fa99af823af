//! decode.*: what the decoding itself has to say (bytes skipped, messages cut
//! short), phrased for the reader. decode.state_limit comes from `limits`.

use super::catalog;
use crate::output::Finding;
use crate::state::events::StateNote;

pub fn finding(note: StateNote) -> Finding {
    let (rule, text) = match note {
        StateNote::Resynced { skipped } if skipped > 0 => (
            &catalog::DECODE_RESYNC,
            format!("{skipped} bytes of this TCP stream are missing from the capture or are not SMB; SMB decoding resumed at the next SMB header in this frame"),
        ),
        StateNote::Resynced { .. } => (&catalog::DECODE_RESYNC, "SMB decoding resumed at an SMB header after bytes missing from the capture".to_string()),
        StateNote::Truncated { offset, declared_len, lost } => (
            &catalog::DECODE_TRUNCATED,
            format!("SMB message at offset {offset} of a {declared_len}-byte SMB PDU is cut short: {lost} bytes are missing from the capture, so only its first bytes are decoded"),
        ),
    };
    Finding { rule, text, related_frames: Vec::new() }
}
