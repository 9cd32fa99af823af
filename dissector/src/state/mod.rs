//! SMB state built on the first pass: per connection the framers, the dialect
//! and the requests waiting for their responses; sessions, trees and opens.

pub mod dispatch;
pub mod events;
pub mod kdc;
pub mod pending;
pub mod session;
pub mod track;

use crate::net::flow::Dir;
use crate::net::slots::PerConn;
use crate::smb::framing::Framer;
use crate::smb::records::negotiate_records::SecurityMode;
use crate::smb::types::Dialect;
use pending::PendingTable;

/// SMB-level state of one TCP connection: the two framers apart from the
/// protocol state they feed, so both can be borrowed at once.
#[derive(Debug)]
pub struct SmbConnection {
    pub to_server: Framer,
    pub to_client: Framer,
    pub ctx: ConnCtx,
}

/// Protocol state of one connection.
#[derive(Debug, Default)]
pub struct ConnCtx {
    /// The server's address: with the session id, it names a session.
    pub server: Option<std::net::IpAddr>,
    pub dialect: Option<Dialect>,
    /// The server's NEGOTIATE SecurityMode (signing enabled/required).
    pub server_security_mode: Option<SecurityMode>,
    /// The server's NEGOTIATE security blob lists Kerberos (a domain member).
    pub server_offers_kerberos: bool,
    pub pending: PendingTable,
    /// Path of the CREATE earlier in the current compound chain (later
    /// requests of the chain use the placeholder FileId).
    pub chain_create: Option<std::sync::Arc<str>>,
    /// What decrypting this connection's SMB 3 messages needs (tracked only when the user gave keys).
    pub crypto: crate::smb::crypto::tracker::ConnCrypto,
    /// The frame of the connection's first compressed message that did not
    /// decompress (noted once; later ones say why in their own items).
    pub not_decompressed: Option<u32>,
}

impl ConnCtx {
    /// The session a message of this connection names.
    pub fn session_key(&self, id: u64) -> session::SessionKey {
        let mut key = session::SessionKey { id, ..Default::default() };
        if let Some(server) = self.server {
            key.server = server;
        }
        key
    }
}

impl SmbConnection {
    /// `decrypting`: the user gave keys, so encrypted PDUs are kept whole.
    pub fn new(smb_port: bool, server: std::net::IpAddr, decrypting: bool) -> Self {
        SmbConnection {
            to_server: Framer::new(smb_port).keep_encrypted(decrypting),
            to_client: Framer::new(smb_port).keep_encrypted(decrypting),
            ctx: ConnCtx { server: Some(server), ..Default::default() },
        }
    }

    /// The framer of one direction and the shared context.
    pub fn split(&mut self, dir: Dir) -> (&mut Framer, &mut ConnCtx) {
        match dir {
            Dir::ToServer => (&mut self.to_server, &mut self.ctx),
            Dir::ToClient => (&mut self.to_client, &mut self.ctx),
        }
    }
}

#[derive(Debug, Default)]
pub struct SmbState {
    /// Per connection, by its slot.
    pub conns: PerConn<SmbConnection>,
    pub sessions: session::SessionTable,
}
