//! Network layers below SMB: link/IP/TCP decode, per-connection flow tracking,
//! per-direction stream reassembly and TCP-level observations.

pub mod copies;
pub mod flow;
pub mod link;
pub mod reassembly;
