//! smbdiag core: raw captured frames in, per-frame SMB fields and diagnoses out.
//!
//! Data flows one way, orchestrated by `pipeline`: `net` (link/IP/TCP decode,
//! reassembly) → `smb::framing` (NBSS and SMB PDUs) → `smb::records` (nom
//! parsers, no state) → `state` (connections, sessions, trees, opens, pending
//! requests; it reports through `state::events::Sink` and imports no layer
//! above) → `rules` (diagnoses) → `output` (per-frame reports) → `present`
//! (field items for a front end such as the Wireshark shim). `config` (what
//! the user sets) and `limits` (bounded tables) sit below them all. Port-88 traffic takes a side path:
//! `net` → `kerberos` (record framing, KDC messages) → `state::kdc` (the KDC's
//! errors), which the rules read as evidence. Nothing here depends on Wireshark.

mod ber;
pub mod capture_file;
pub mod config;
pub mod kerberos;
pub mod limits;
pub mod net;
pub mod output;
pub mod pipeline;
pub mod present;
pub mod profile;
pub mod rules;
pub mod smb;
pub mod state;
pub mod summary;
pub mod two_points;
#[cfg(test)]
mod test_support;

pub use pipeline::{Analyzer, FrameInput};
pub use config::Config;
pub use net::link::LinkType;
pub use output::{Finding, FrameReport, MessageFields};
