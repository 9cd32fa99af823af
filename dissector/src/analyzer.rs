//! The pipeline: one captured frame in, its `FrameReport` out. The first pass
//! over a frame builds state; later passes (clicks, refilters, `tshark -2`)
//! return what the first pass stored, updated by what later frames learnt
//! (e.g. the response frame of a request).

use std::collections::hash_map::Entry;

use ahash::HashMap;

use crate::config::Config;
use crate::limits::{self, Bound, Limit};
use crate::net::flow::{ConnId, Dir, FlowTable};
use crate::rules::{ConnView, Engine, SegEvent};
use crate::net::link::{self, Decoded, LinkType};
use crate::output::{Finding, FrameReport};
use crate::rules::catalog;
use crate::smb::framing::FramingNote;
use crate::state::dispatch::{self, FrameCtx};
use crate::state::kdc::KdcState;
use crate::state::{SmbConnection, SmbState};
use crate::summary::Summary;

/// One captured frame as the front end hands it over.
#[derive(Clone, Copy, Debug)]
pub struct FrameInput<'a> {
    /// 1-based frame number.
    pub number: u32,
    /// Absolute capture time, nanoseconds since the epoch.
    pub ts_ns: i64,
    pub link: LinkType,
    pub data: &'a [u8],
}

/// Stored reports of the frames seen so far (frames with nothing to say are absent).
#[derive(Debug, Default)]
pub struct Reports {
    map: HashMap<u32, FrameReport>,
}

impl Reports {
    pub fn get(&self, frame: u32) -> Option<&FrameReport> {
        self.map.get(&frame)
    }
    pub fn get_mut(&mut self, frame: u32) -> Option<&mut FrameReport> {
        self.map.get_mut(&frame)
    }
    fn put(&mut self, frame: u32, r: FrameReport) -> Option<&FrameReport> {
        if r.is_empty() {
            return None;
        }
        Some(match self.map.entry(frame) {
            Entry::Occupied(mut e) => {
                e.insert(r);
                e.into_mut()
            }
            Entry::Vacant(e) => e.insert(r),
        })
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&u32, &FrameReport)> {
        self.map.iter()
    }
}

#[derive(Debug, Default)]
pub struct Analyzer {
    pub config: Config,
    flows: FlowTable,
    smb: SmbState,
    /// Port-88 exchanges: evidence for the Kerberos-related rules.
    kdc: KdcState,
    reports: Reports,
    engine: Engine,
    summary: Summary,
    /// Highest frame number processed on the first pass.
    last_frame: u32,
    /// Connections the flow table dropped, as a bounded table.
    flows_bound: Bound,
    flows_evicted: u64,
}

static FLOWS_LIMIT: Limit = Limit {
    table: "TCP connections",
    max: crate::net::flow::MAX_CONNECTIONS,
    effect: "the longest idle connections are dropped, and those that speak again are decoded without their earlier context (requests, share and file names)",
};

/// One `decode.state_limit` note for a bounded table's first refusal.
fn limit_note(b: &mut Bound, out: &mut Vec<Finding>) {
    if let Some((limit, frame)) = b.take_unreported() {
        out.push(Finding { rule: &catalog::DECODE_STATE_LIMIT, text: limits::note_text(limit, frame), related_frames: vec![] });
    }
}

impl Analyzer {
    pub fn new(config: Config) -> Self {
        Analyzer { config, ..Default::default() }
    }

    /// Forget everything (a new capture is opened).
    pub fn reset(&mut self) {
        let config = self.config.clone();
        *self = Analyzer::new(config);
    }

    /// The stored report of a frame (later passes).
    pub fn report(&self, frame: u32) -> Option<&FrameReport> {
        self.reports.get(frame)
    }

    pub fn reports(&self) -> &Reports {
        &self.reports
    }

    /// Process a frame on its first pass, or return what was stored for it.
    /// A frame number at or below one already processed is a revisit.
    pub fn dissect(&mut self, input: &FrameInput<'_>) -> Option<&FrameReport> {
        if input.number > self.last_frame {
            self.last_frame = input.number;
            let report = self.first_pass(input);
            return self.reports.put(input.number, report);
        }
        self.reports.get(input.number)
    }

    fn first_pass(&mut self, input: &FrameInput<'_>) -> FrameReport {
        let mut report = FrameReport::default();
        let seg = match link::decode(input.link, input.data) {
            Decoded::Tcp(seg) => seg,
            Decoded::Udp(d) => {
                if KdcState::is_kdc(d.src, d.dst) {
                    self.kdc.on_udp(d.src, d.dst, d.payload, input.number, input.ts_ns);
                }
                return report;
            }
            Decoded::Other | Decoded::Undecodable(_) => return report,
        };
        let smb_port = [seg.src.port, seg.dst.port].iter().any(|&p| p == 445 || p == 139);
        // KDC streams go to the Kerberos framers, never to SMB state.
        let kdc_client = (!smb_port && KdcState::is_kdc(seg.src, seg.dst)).then(|| KdcState::client_of(seg.src, seg.dst));
        let view_of = |id, dir| match dir {
            Dir::ToServer => ConnView { id, client: seg.src, server: seg.dst },
            Dir::ToClient => ConnView { id, client: seg.dst, server: seg.src },
        };
        let Analyzer { config, flows, smb, kdc, reports, engine, summary, flows_bound, flows_evicted, .. } = self;
        let mut fctx = FrameCtx {
            frame: input.number,
            ts_ns: input.ts_ns,
            conn: view_of(ConnId(0), Dir::ToServer),
            dir: Dir::ToServer,
            report: &mut report,
            reports,
            engine,
            config,
            summary,
            kdc,
        };
        let info = flows.on_segment(&seg, input.number, input.ts_ns, &mut |of, chunk| {
            // The connection's own ends: a chunk an ACK released travels
            // against this segment, so the segment's src/dst would mislead.
            let (conn, dir) = (of.conn, of.dir);
            fctx.conn = ConnView { id: conn, client: of.client, server: of.server };
            fctx.dir = dir;
            if let Some(client) = kdc_client {
                fctx.kdc.on_tcp(conn, dir, client, chunk, fctx.frame, fctx.ts_ns);
                return;
            }
            let SmbState { conns, sessions } = &mut *smb;
            let sc = conns.entry(conn).or_insert_with(|| SmbConnection::new(smb_port, of.server.addr));
            let (framer, ctx) = sc.split(dir);
            let mut notes = Vec::new();
            framer.feed(chunk, &mut |pdu| dispatch::on_pdu(ctx, sessions, &pdu, &mut fctx), &mut |n| notes.push(n));
            for n in notes {
                if let FramingNote::Resynced { skipped } = n {
                    dispatch::note_resync(&mut fctx, skipped);
                }
            }
            limit_note(&mut ctx.pending.bound, &mut fctx.report.findings);
        });
        // Connections that ended for good take their state with them.
        if !flows.gone.is_empty() {
            for id in flows.gone.drain(..) {
                smb.conns.remove(&id);
                fctx.kdc.forget(id);
                fctx.engine.forget(id);
            }
            if flows.evicted > *flows_evicted {
                *flows_evicted = flows.evicted;
                flows_bound.refuse(&FLOWS_LIMIT, input.number);
            }
        }
        // Every bounded table that refused its first entry on this frame says so.
        let found = &mut fctx.report.findings;
        limit_note(flows_bound, found);
        smb.sessions.bounds(&mut |b| limit_note(b, found));
        fctx.kdc.bounds(&mut |b| limit_note(b, found));
        fctx.engine.bounds(&mut |b| limit_note(b, found));
        let ev = SegEvent { frame: input.number, ts_ns: input.ts_ns, conn: view_of(info.conn, info.dir), seg: &seg, info: &info, kdc: &fctx.kdc.log };
        let mut found = Vec::new();
        fctx.engine.on_segment(fctx.config, &ev, &mut found);
        fctx.report.findings.extend(found);
        let cfg = &*fctx.config;
        fctx.report.findings.retain(|f| cfg.rule_enabled(f.rule.id));
        for f in &fctx.report.findings {
            fctx.summary.on_finding(input.number, f);
        }
        report
    }

    /// How much per-connection state is held (flow table, SMB state, rules), for bounds tests.
    pub fn tracked_connections(&self) -> (usize, usize, usize) {
        (self.flows.len(), self.smb.conns.len(), self.engine.tracked_connections())
    }

    /// The most requests waiting for a response on any one connection, in the
    /// SMB state and in the rules' own tables (for bounds tests).
    pub fn pending_requests(&self) -> (usize, usize) {
        (self.smb.conns.values().map(|c| c.ctx.pending.len()).max().unwrap_or(0), self.engine.outstanding_requests())
    }

    /// Port-88 state held: TCP streams, bytes buffered in their record
    /// framers, and KDC errors kept (for bounds tests).
    pub fn kdc_held(&self) -> (usize, usize, usize) {
        let (streams, bytes) = self.kdc.held();
        (streams, bytes, self.kdc.log.errors.len())
    }

    /// The summary statistics of everything processed so far.
    pub fn summary_text(&self) -> String {
        self.summary.render()
    }
}
