//! Network layers below SMB: link/IP/TCP decode, IP reassembly, per-connection
//! flow tracking, per-direction stream reassembly and TCP-level observations.

pub mod capture_point;
pub mod copies;
pub mod defrag;
pub mod flow;
pub mod link;
pub mod netmon;
pub mod reassembly;
pub mod skips;
pub mod slots;
