//! Kerberos between clients and their KDC (port 88), read for the evidence it
//! gives SMB diagnoses: the client could not get a ticket, and why.
//!
//! Its own module beside `smb`, not under `smb::auth`: this is a separate
//! protocol on its own connections with its own stream framing, while
//! `smb::auth` reads the Kerberos tokens carried inside SESSION_SETUP.
//! `framing` cuts TCP streams into records; `messages` reads them (no state).
//!
//! With the service's keytab (`keytab`), `ap_exchange` opens the AP-REQ and
//! AP-REP that SESSION_SETUP carries, for the SMB session key; `crypto`
//! decrypts Kerberos EncryptedData.

pub mod ap_exchange;
pub mod crypto;
pub mod framing;
pub mod keytab;
pub mod messages;
#[cfg(test)]
pub mod real_bytes;

/// The KDC's port (RFC 4120 7.2.1, 7.2.2).
pub const KDC_PORT: u16 = 88;
