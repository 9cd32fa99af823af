//! Helpers for unit tests that run real captures through the whole core.

use crate::{Analyzer, Config, FrameInput};

/// The bytes of a lab capture (tests/captures/lab).
pub fn lab_capture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/captures/lab/{name}", env!("CARGO_MANIFEST_DIR"))).expect("lab capture")
}

/// The findings of rule `rule` (frame, text, related frames) when `cap` runs
/// through a fresh analyzer, after `edit` changed or dropped (None) each frame.
pub fn findings_of(cap: &[u8], rule: &str, edit: &mut dyn FnMut(&FrameInput<'_>) -> Option<Vec<u8>>) -> Vec<(u32, String, Vec<u32>)> {
    let mut a = Analyzer::new(Config::default());
    let mut out = Vec::new();
    crate::capture_file::for_each_frame(cap, &mut |f| {
        let Some(data) = edit(&f) else { return };
        if let Some(r) = a.dissect(&FrameInput { data: &data, ..f }) {
            for x in r.findings.iter().filter(|x| x.rule.id == rule) {
                out.push((f.number, x.text.clone(), x.related_frames.clone()));
            }
        }
    })
    .expect("readable capture");
    out
}

/// `n` pseudo-random bytes (xorshift32 from `state`, which it advances): garbage
/// input for never-panic tests, the same on every run.
pub fn garbage(state: &mut u32, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 17;
            *state ^= *state << 5;
            *state as u8
        })
        .collect()
}
