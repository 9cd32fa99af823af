//! Requests waiting for their response, per connection, keyed by message id
//! (MS-SMB2 3.2.5.1: a response carries its request's MessageId; an interim
//! STATUS_PENDING response adds an AsyncId that the final response repeats).
//! The one table of a connection: the state matches each response here once
//! and hands the rules the exchange (`MsgEvent::request`) and a read-only
//! view of what is still outstanding; no rule keeps a request table of its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use ahash::HashMap;

use crate::limits::{Bound, Limit};
use crate::smb::types::Command;

/// Bound on outstanding requests per connection: a capture of requests never
/// answered must not grow memory without limit.
pub const MAX_PENDING_PER_CONN: usize = 8192;

pub static PENDING_LIMIT: Limit = Limit {
    table: "requests awaiting a response on one connection",
    max: MAX_PENDING_PER_CONN,
    effect: "the oldest unanswered request is forgotten for each new one, so a late response to it shows no request frame and no response time, and the rules that time requests or keep credit books stop judging it",
};

/// A request as the state entered it, with what it was sent under.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingRequest {
    pub frame: u32,
    pub ts_ns: i64,
    pub cmd: Command,
    pub msg_id: u64,
    /// Order of entry on the connection (0, 1, 2...): earlier requests have lower numbers.
    pub seq: u64,
    /// CreditCharge and CreditRequest of the request.
    pub credit_charge: u16,
    pub credits_asked: u16,
    /// An earlier request with the same message id was still unanswered (and is replaced).
    pub reused_id: bool,
    /// Index of the request among the messages of its frame's report.
    pub msg_index: usize,
    /// Set once an interim response was seen.
    pub async_id: Option<u64>,
    /// The first interim (STATUS_PENDING) response.
    pub interim_frame: Option<u32>,
    /// The session, tree and file the request was sent on, as known then.
    pub session_id: u64,
    pub tree: Option<Arc<str>>,
    pub file: Option<Arc<str>>,
    /// What the request asked, for its response.
    pub asked: super::track::Asked,
}

#[derive(Debug, Default)]
pub struct PendingTable {
    /// Message id → order of entry; the requests themselves in order of entry
    /// (oldest first: eviction and the scans for stale requests start there).
    by_msg_id: HashMap<u64, u64>,
    by_seq: BTreeMap<u64, PendingRequest>,
    next_seq: u64,
    /// Requests entered before this number may have been answered by a
    /// message the capture hides (an encrypted response not decrypted).
    hidden_mark: u64,
    /// Requests dropped because the table was full.
    pub bound: Bound,
}

impl PendingTable {
    /// Enter a request (its `seq` and `reused_id` are filled here).
    pub fn insert(&mut self, mut req: PendingRequest) {
        req.seq = self.next_seq;
        self.next_seq += 1;
        if let Some(old) = self.by_msg_id.remove(&req.msg_id) {
            self.by_seq.remove(&old);
            req.reused_id = true;
        } else if !self.bound.admit(&PENDING_LIMIT, self.by_seq.len(), req.frame) {
            // Drop the oldest to stay bounded.
            if let Some((_, oldest)) = self.by_seq.pop_first() {
                self.by_msg_id.remove(&oldest.msg_id);
            }
        }
        self.by_msg_id.insert(req.msg_id, req.seq);
        self.by_seq.insert(req.seq, req);
    }

    pub fn get(&self, msg_id: u64) -> Option<&PendingRequest> {
        self.by_seq.get(self.by_msg_id.get(&msg_id)?)
    }

    pub fn get_mut(&mut self, msg_id: u64) -> Option<&mut PendingRequest> {
        self.by_seq.get_mut(self.by_msg_id.get(&msg_id)?)
    }

    pub fn remove(&mut self, msg_id: u64) -> Option<PendingRequest> {
        let seq = self.by_msg_id.remove(&msg_id)?;
        self.by_seq.remove(&seq)
    }

    /// The server sent a message that stays hidden: it may answer any request
    /// outstanding now, so none of them can be called unanswered.
    pub fn mark_hidden(&mut self) {
        self.hidden_mark = self.next_seq;
    }

    /// Requests entered before this number may have been answered unseen.
    pub fn hidden_mark(&self) -> u64 {
        self.hidden_mark
    }

    /// The number the next request will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Requests forgotten to stay bounded so far.
    pub fn dropped(&self) -> u64 {
        self.bound.refused()
    }

    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    /// Outstanding requests, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &PendingRequest> {
        self.by_seq.values()
    }

    /// Outstanding requests entered from `seq` on, oldest first.
    pub fn since(&self, seq: u64) -> impl Iterator<Item = &PendingRequest> {
        self.by_seq.range(seq..).map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(msg_id: u64, frame: u32) -> PendingRequest {
        PendingRequest {
            frame,
            ts_ns: 0,
            cmd: Command::READ,
            msg_id,
            seq: 0,
            credit_charge: 1,
            credits_asked: 1,
            reused_id: false,
            msg_index: 0,
            async_id: None,
            interim_frame: None,
            session_id: 0,
            tree: None,
            file: None,
            asked: Default::default(),
        }
    }

    #[test]
    fn requests_keep_their_order_and_a_reused_id_replaces() {
        let mut t = PendingTable::default();
        t.insert(req(5, 1));
        t.insert(req(3, 2));
        t.insert(req(5, 3));
        assert_eq!(t.len(), 2);
        assert!(t.get(5).is_some_and(|r| r.reused_id && r.frame == 3 && r.seq == 2));
        assert_eq!(t.iter().map(|r| r.msg_id).collect::<Vec<_>>(), vec![3, 5]);
        t.mark_hidden();
        t.insert(req(7, 4));
        assert_eq!(t.since(t.hidden_mark()).map(|r| r.msg_id).collect::<Vec<_>>(), vec![7]);
        assert_eq!(t.remove(3).map(|r| r.frame), Some(2));
        assert!(t.get(3).is_none() && t.remove(3).is_none());
    }

    #[test]
    fn a_full_table_forgets_its_oldest_request() {
        let mut t = PendingTable::default();
        for id in 0..MAX_PENDING_PER_CONN as u64 + 2 {
            t.insert(req(id, id as u32 + 1));
        }
        assert_eq!(t.len(), MAX_PENDING_PER_CONN);
        assert!(t.get(0).is_none() && t.get(1).is_none() && t.get(2).is_some());
        assert_eq!(t.dropped(), 2);
    }
}
