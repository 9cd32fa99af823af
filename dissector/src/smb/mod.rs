//! SMB over TCP: NBSS framing, zero-copy record parsers and protocol values.

pub mod framing;
pub mod auth;
pub mod compression;
pub mod crypto;
pub mod records;
pub mod types;
