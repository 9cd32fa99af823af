//! What the state tells the layers above, and the trait they listen through:
//! state calls a `Sink` and never names the rules, the summary or the
//! stored reports (the pipeline implements it).

use std::sync::Arc;

use crate::net::flow::{ConnId, Dir};
use crate::net::link::Endpoint;
use crate::output::{MessageFields, OpaquePdu};
use crate::smb::crypto::tracker::Hidden;
use crate::smb::crypto::CipherId;
use crate::smb::records::header_records::Smb2Header;
use crate::smb::records::Body;
use crate::smb::types::Dialect;

use super::kdc::KdcLog;
use super::pending::{PendingRequest, PendingTable};
use super::session::{Session, SessionKey, SessionTable};
use super::track::Asked;

/// The connection an event belongs to.
#[derive(Clone, Copy, Debug)]
pub struct ConnView {
    pub id: ConnId,
    pub client: Endpoint,
    pub server: Endpoint,
}

/// An SMB2 message event.
pub struct MsgEvent<'a> {
    pub frame: u32,
    pub ts_ns: i64,
    pub conn: ConnView,
    pub hdr: &'a Smb2Header<'a>,
    pub fields: &'a MessageFields,
    /// NEGOTIATE requests: the dialects offered, as a phrase ("SMB 2.0.2, SMB 2.1").
    pub negotiate_offer: Option<String>,
    pub body: &'a Body<'a>,
    /// For a response: what its request asked. For a request: itself.
    pub asked: &'a Asked,
    /// The exchange, matched once by the state (message id, command checked).
    /// For a request: its entry in the connection's pending table (none for
    /// CANCEL, which gets no response). For a response: the request it
    /// answers, as it stood before this response (so `interim_frame` is an
    /// earlier interim response); the response is this event's frame and time.
    pub request: Option<&'a PendingRequest>,
    /// The connection's requests still awaiting a final response, after this message.
    pub pending: &'a PendingTable,
    /// The session the message names (server address, session id).
    pub session_key: SessionKey,
    /// The session of the message, as known after this message.
    pub session: Option<&'a Session>,
    /// All sessions, trees and opens (e.g. to find who holds a file).
    pub sessions: &'a SessionTable,
    /// What KDCs told clients on port 88 (errors, tickets), newest last.
    pub kdc: &'a KdcLog,
}

/// An SMB1 NEGOTIATE seen on a connection (requests offer dialect strings;
/// a response selects one by index, 0xFFFF for none).
pub struct Smb1NegotiateEvent<'a> {
    pub frame: u32,
    pub ts_ns: i64,
    pub conn: ConnView,
    pub is_response: bool,
    pub dialects: &'a [String],
    pub selected: Option<u16>,
}

/// Something the decoding itself has to say about a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateNote {
    /// The framer skipped bytes (missing or not SMB) to the next SMB header;
    /// `ordinal`: the how-manieth noted resynchronisation in this direction.
    Resynced { skipped: u64, ordinal: u32 },
    /// The first message of a session on a connection that stays encrypted
    /// (no key, no preauth hash, a wrong password or a key that does not fit).
    Hidden { session_id: u64, hidden: Hidden, user: Option<Arc<str>>, dialect: Option<Dialect>, cipher: Option<CipherId> },
    /// A message of a PDU the capture cut short.
    Truncated { offset: usize, declared_len: usize, lost: usize },
    /// An encrypted PDU larger than smbdiag keeps whole (ENCRYPTED_PDU_KEEP):
    /// the first on a connection, of session `session_id`.
    EncryptedTooLarge { session_id: u64, size: usize, kept: usize },
    /// The first compressed message on a connection that did not decompress:
    /// how it was compressed (`what`) and why it failed.
    NotDecompressed { frame: u32, what: String, why: String },
}

/// Where the state's results go, in capture order.
pub trait Sink {
    /// An SMB2 message, after the state was updated with it.
    fn message(&mut self, ev: &MsgEvent<'_>);
    /// Its fields, to show on the current frame.
    fn store(&mut self, m: MessageFields);
    fn smb1_negotiate(&mut self, ev: &Smb1NegotiateEvent<'_>);
    /// An encrypted SMB3 message on a connection (decrypted or not).
    fn encrypted(&mut self, conn: ConnView, frame: u32);
    /// An encrypted SMB3 message that stays hidden (not decrypted), travelling `dir`.
    fn hidden(&mut self, conn: ConnView, dir: Dir);
    /// Bytes a READ returned or a WRITE wrote, on a connection.
    fn bytes(&mut self, conn: ConnId, read: u64, written: u64);
    /// A PDU the core does not open (encrypted, compressed, SMB1).
    fn opaque(&mut self, pdu: OpaquePdu);
    fn note(&mut self, note: StateNote);
    /// The final response (in the current frame) to a request of an earlier
    /// frame or this one: the request's message index on its frame.
    fn answered(&mut self, request_frame: u32, msg_index: usize, response_frame: u32);
    /// Messages already on the current frame (the next one's index).
    fn messages_on_frame(&self) -> usize;
}
