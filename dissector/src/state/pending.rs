//! Requests waiting for their response, per connection, keyed by message id
//! (MS-SMB2 3.2.5.1: a response carries its request's MessageId; an interim
//! STATUS_PENDING response adds an AsyncId that the final response repeats).

use ahash::HashMap;

use crate::limits::{Bound, Limit};
use crate::smb::types::Command;

/// Bound on outstanding requests per connection: a capture of requests never
/// answered must not grow memory without limit.
pub const MAX_PENDING_PER_CONN: usize = 8192;

pub static PENDING_LIMIT: Limit = Limit {
    table: "requests awaiting a response on one connection",
    max: MAX_PENDING_PER_CONN,
    effect: "the oldest unanswered request is forgotten for each new one, so a late response to it shows no request frame and no response time",
};

#[derive(Clone, Debug, PartialEq)]
pub struct PendingRequest {
    pub frame: u32,
    pub ts_ns: i64,
    pub cmd: Command,
    /// Index of the request among the messages of its frame's report.
    pub msg_index: usize,
    /// Set once an interim response was seen.
    pub async_id: Option<u64>,
    pub interim_frame: Option<u32>,
    /// What the request asked, for its response.
    pub asked: super::track::Asked,
}

#[derive(Debug, Default)]
pub struct PendingTable {
    by_msg_id: HashMap<u64, PendingRequest>,
    /// Requests dropped because the table was full.
    pub bound: Bound,
}

impl PendingTable {
    pub fn insert(&mut self, msg_id: u64, req: PendingRequest) {
        if !self.by_msg_id.contains_key(&msg_id) && !self.bound.admit(&PENDING_LIMIT, self.by_msg_id.len(), req.frame) {
            // Drop the oldest to stay bounded.
            if let Some((&oldest, _)) = self.by_msg_id.iter().min_by_key(|(_, r)| r.frame) {
                self.by_msg_id.remove(&oldest);
            }
        }
        self.by_msg_id.insert(msg_id, req);
    }

    pub fn get_mut(&mut self, msg_id: u64) -> Option<&mut PendingRequest> {
        self.by_msg_id.get_mut(&msg_id)
    }

    pub fn remove(&mut self, msg_id: u64) -> Option<PendingRequest> {
        self.by_msg_id.remove(&msg_id)
    }

    pub fn len(&self) -> usize {
        self.by_msg_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_msg_id.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &PendingRequest)> {
        self.by_msg_id.iter()
    }
}
