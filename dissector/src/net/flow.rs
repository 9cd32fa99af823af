//! Connection table: which TCP connection a segment belongs to, which side is
//! the client, and TCP-level observations per segment.
//!
//! INTERFACE (owned by the net helper; keep these signatures).

use super::link::{Endpoint, TcpSegment};
use super::reassembly::{Reassembler, StreamChunk};

/// Index of a connection, unique for the capture's lifetime (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// What one segment tells about TCP itself (for transport diagnoses).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpObservation {
    pub syn: bool,
    pub syn_ack: bool,
    pub rst: bool,
    pub fin: bool,
    /// Payload (or SYN/FIN) at sequence numbers already seen in this direction.
    pub retransmission: bool,
    /// A pure ACK repeating the previous ACK number while data is outstanding.
    pub dup_ack: bool,
    /// Receive window advertised as zero.
    pub zero_window: bool,
    /// Payload arriving before bytes ahead of it (a hole is open).
    pub out_of_order: bool,
}

#[derive(Clone, Debug)]
pub struct SegmentInfo {
    pub conn: ConnId,
    pub dir: Dir,
    /// First segment of a connection not seen before.
    pub new_connection: bool,
    pub obs: TcpObservation,
}

/// One tracked TCP connection.
#[derive(Debug)]
pub struct Connection {
    pub id: ConnId,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: u32,
    /// The capture saw the client's SYN (false: the capture started mid-connection).
    pub saw_syn: bool,
    pub to_server: Reassembler,
    pub to_client: Reassembler,
}

#[derive(Debug, Default)]
pub struct FlowTable {
    conns: Vec<Connection>,
}

impl FlowTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Track one segment; stream data for its direction goes to `sink`.
    /// Client/server: the SYN sender is the client; without a SYN, the side on
    /// port 445 or 139 is the server, else the lower port.
    pub fn on_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        frame: u32,
        ts_ns: i64,
        sink: &mut dyn FnMut(ConnId, Dir, StreamChunk<'_>),
    ) -> SegmentInfo {
        let _ = ts_ns;
        // Replaced by the net helper: linear lookup, no eviction.
        let found = self.conns.iter().position(|c| {
            (c.client == seg.src && c.server == seg.dst) || (c.client == seg.dst && c.server == seg.src)
        });
        let (idx, new_connection) = match found {
            Some(i) => (i, false),
            None => {
                let client_is_src = seg.dst.port == 445 || seg.dst.port == 139 || seg.flags.syn() && !seg.flags.ack();
                let (client, server) = if client_is_src { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
                let id = ConnId(self.conns.len() as u32);
                self.conns.push(Connection {
                    id,
                    client,
                    server,
                    first_frame: frame,
                    saw_syn: seg.flags.syn(),
                    to_server: Reassembler::new(),
                    to_client: Reassembler::new(),
                });
                (self.conns.len() - 1, true)
            }
        };
        let c = &mut self.conns[idx];
        let dir = if seg.src == c.client { Dir::ToServer } else { Dir::ToClient };
        let id = c.id;
        let r = match dir {
            Dir::ToServer => &mut c.to_server,
            Dir::ToClient => &mut c.to_client,
        };
        r.push(seg.seq, seg.payload, seg.payload_len, seg.flags.syn(), &mut |chunk| sink(id, dir, chunk));
        SegmentInfo {
            conn: id,
            dir,
            new_connection,
            obs: TcpObservation {
                syn: seg.flags.syn() && !seg.flags.ack(),
                syn_ack: seg.flags.syn() && seg.flags.ack(),
                rst: seg.flags.rst(),
                fin: seg.flags.fin(),
                ..Default::default()
            },
        }
    }

    pub fn get(&self, id: ConnId) -> Option<&Connection> {
        self.conns.iter().find(|c| c.id == id)
    }
}
