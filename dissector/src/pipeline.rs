//! The pipeline: one captured frame in, its `FrameReport` out. It only
//! orchestrates, one way: frame → link decode → flow (reassembly) → framer →
//! messages and state (`state::dispatch`) → rules (through the state's
//! `Sink`) → output (the stored report, the summary). The first pass over a
//! frame builds state; later passes (clicks, refilters, `tshark -2`) return
//! what the first pass stored, updated by what later frames learnt (e.g. the
//! response frame of a request).

use std::collections::hash_map::Entry;

use ahash::HashMap;

use crate::config::Config;
use crate::limits::{self, Bound, Limit};
use crate::net::copies::CopyFilter;
use crate::two_points::TwoPoints;
use crate::net::flow::{ConnId, Dir, FlowTable};
use crate::rules::{decode, ConnView, Engine, MsgEvent, SegEvent, Smb1NegotiateEvent};
use crate::net::defrag::Defrag;
use crate::net::link::{self, Decoded, LinkType};
use crate::net::skips::SkipLog;
use crate::output::{Finding, FrameReport, MessageFields, OpaquePdu};
use crate::rules::catalog;
use crate::smb::framing::FramingNote;
use crate::state::dispatch::{self, FrameCtx};
use crate::state::events::{Sink, StateNote};
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
    /// The pcapng interface the frame was captured on, where the file says.
    pub interface: Option<u32>,
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
    /// Copies of one packet (several capture points on one host, a mirror) set aside before flows.
    copies: CopyFilter,
    /// A capture merged from the client's side and the server's.
    points: TwoPoints,
    flows: FlowTable,
    smb: SmbState,
    /// Port-88 exchanges: evidence for the Kerberos-related rules.
    kdc: KdcState,
    reports: Reports,
    engine: Engine,
    summary: Summary,
    /// IP packets being put back together from their fragments.
    defrag: Defrag,
    /// Frames not decoded, for the capture's one note about them.
    skips: SkipLog,
    /// Highest frame number processed on the first pass.
    last_frame: u32,
    /// Connections the flow table dropped, as a bounded table.
    flows_bound: Bound,
    flows_evicted: u64,
    /// `limits::refusals()` when the tables were last looked through.
    refusals_seen: u64,
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

/// Where the state's results go on a first pass: the rules, the summary, the
/// frame's report and (for responses) the stored report of the request.
struct Out<'a> {
    report: &'a mut FrameReport,
    reports: &'a mut Reports,
    engine: &'a mut Engine,
    config: &'a Config,
    summary: &'a mut Summary,
}

impl Out<'_> {
    fn push_finding(&mut self, finding: Finding) {
        if !self.report.findings.iter().any(|x| x.rule == finding.rule && x.text == finding.text) {
            self.report.findings.push(finding);
        }
    }
}

impl Sink for Out<'_> {
    fn message(&mut self, ev: &MsgEvent<'_>) {
        let mut found = Vec::new();
        self.engine.on_message(self.config, ev, &mut found);
        self.summary.on_message(ev.conn.id, ev.conn.client, ev.conn.server, ev.frame, ev.fields, ev.hdr.flags.is_signed());
        for x in found {
            self.push_finding(x);
        }
    }

    fn store(&mut self, m: MessageFields) {
        // Kept for the whole capture and most frames carry one message: room
        // for one, not the four a first push reserves (a third of the
        // plugin's memory on an SMB-dense capture).
        if self.report.messages.capacity() == 0 {
            self.report.messages.reserve_exact(1);
        }
        self.report.messages.push(m);
    }

    fn smb1_negotiate(&mut self, ev: &Smb1NegotiateEvent<'_>) {
        let mut found = Vec::new();
        self.engine.on_smb1_negotiate(self.config, ev, &mut found);
        for x in found {
            self.push_finding(x);
        }
    }

    fn encrypted(&mut self, conn: ConnView, frame: u32) {
        self.summary.on_encrypted(conn.id, conn.client, conn.server, frame);
    }

    fn hidden(&mut self, conn: ConnView, dir: Dir) {
        if dir == Dir::ToClient {
            self.engine.on_encrypted_from_server(conn.id);
        }
    }

    fn bytes(&mut self, conn: ConnId, read: u64, written: u64) {
        self.summary.on_bytes(conn, read, written);
    }

    fn opaque(&mut self, pdu: OpaquePdu) {
        self.report.opaque.push(pdu);
    }

    fn note(&mut self, note: StateNote) {
        self.push_finding(decode::finding(note));
    }

    fn answered(&mut self, request_frame: u32, msg_index: usize, response_frame: u32) {
        let target = if request_frame == response_frame { Some(&mut *self.report) } else { self.reports.get_mut(request_frame) };
        if let Some(msg) = target.and_then(|r| r.messages.get_mut(msg_index)) {
            msg.response_frame = Some(response_frame);
        }
    }

    fn messages_on_frame(&self) -> usize {
        self.report.messages.len()
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
        let whole_packet;
        let decoded = match link::decode(input.link, input.data) {
            Decoded::Fragment(f) => {
                let dropped = self.defrag.dropped_fragments;
                let done = self.defrag.add(&f, input.ts_ns);
                if self.defrag.dropped_fragments > dropped {
                    self.note_skipped("IP fragments of packets never completed", self.defrag.dropped_fragments - dropped, input.number, &mut report);
                }
                match done {
                    Some(p) => {
                        whole_packet = p;
                        link::reassembled(&f, &whole_packet)
                    }
                    None => return report,
                }
            }
            d => d,
        };
        let seg = match decoded {
            Decoded::Tcp(seg) => seg,
            Decoded::Udp(d) => {
                if KdcState::is_kdc(d.src, d.dst) {
                    self.kdc.on_udp(d.src, d.dst, d.payload, input.number, input.ts_ns);
                }
                return report;
            }
            Decoded::Fragment(_) => {
                self.note_skipped("IP fragments inside a reassembled packet", 1, input.number, &mut report);
                return report;
            }
            Decoded::Skipped(why) | Decoded::Undecodable(why) => {
                self.note_skipped(why, 1, input.number, &mut report);
                return report;
            }
            Decoded::Other => return report,
        };
        let point = self.points.point_of(input.interface, input.link, input.data);
        let copy = self.copies.check(&seg, point, input.number, input.ts_ns);
        let mut seg = seg;
        // NAT between two capture points: the connection under the first view's addresses.
        let translated = self.copies.untranslated(seg.src, seg.dst).map(|ends| {
            let own = (seg.src, seg.dst);
            (seg.src, seg.dst) = ends;
            own
        });
        self.points.preferred_client = self.config.client_interface;
        self.points.slow_ns = (self.config.slow_response_s * 1e9) as i64;
        let mut two_sided = Vec::new();
        self.points.on_segment(&seg, point, input.number, input.ts_ns, copy, translated, &mut two_sided);
        if let Some(copy) = copy {
            let conn = self.flows.lookup(seg.src, seg.dst).map(|c| c.id);
            self.summary.on_copy(conn, input.number, copy.frame);
            report.findings = two_sided;
            self.finish_findings(input.number, &mut report);
            return report;
        }
        let smb_port = [seg.src.port, seg.dst.port].iter().any(|&p| p == 445 || p == 139);
        // KDC streams go to the Kerberos framers, never to SMB state.
        let kdc_client = (!smb_port && KdcState::is_kdc(seg.src, seg.dst)).then(|| KdcState::client_of(seg.src, seg.dst));
        let view_of = |id, dir| match dir {
            Dir::ToServer => ConnView { id, client: seg.src, server: seg.dst },
            Dir::ToClient => ConnView { id, client: seg.dst, server: seg.src },
        };
        let Analyzer { config, points, flows, smb, kdc, reports, engine, summary, flows_bound, flows_evicted, refusals_seen, .. } = self;
        let config: &Config = config;
        let mut out = Out { report: &mut report, reports, engine, config, summary };
        let points_now: &TwoPoints = points;
        let time_here = |first: u32| point.and_then(|p| points_now.time_at_side_of(first, p));
        let mut fctx = FrameCtx {
            frame: input.number,
            ts_ns: input.ts_ns,
            conn: view_of(ConnId::new(0, 0), Dir::ToServer),
            dir: Dir::ToServer,
            sink: &mut out,
            kdc: &mut *kdc,
            keys: &config.keys,
            time_here: &time_here,
        };
        let mut pending_notes = Vec::new();
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
            let sc = conns.get_or_insert_with(conn, || SmbConnection::new(smb_port, of.server.addr, !fctx.keys.is_empty()));
            let (framer, ctx) = sc.split(dir);
            let mut notes = Vec::new();
            framer.feed(chunk, &mut |pdu| dispatch::on_pdu(ctx, sessions, &pdu, &mut fctx), &mut |n| notes.push(n));
            for n in notes {
                if let FramingNote::Resynced { skipped, ordinal } = n {
                    fctx.sink.note(StateNote::Resynced { skipped, ordinal });
                }
            }
            limit_note(&mut ctx.pending.bound, &mut pending_notes);
        });
        out.report.findings.append(&mut pending_notes);
        // Connections that ended for good take their state with them.
        if !flows.gone.is_empty() {
            for id in flows.gone.drain(..) {
                smb.conns.remove(id);
                kdc.forget(id);
                out.engine.forget(id);
            }
            if flows.evicted > *flows_evicted {
                *flows_evicted = flows.evicted;
                flows_bound.refuse(&FLOWS_LIMIT, input.number);
            }
        }
        // Every bounded table that refused its first entry on this frame says so.
        if limits::refusals() != *refusals_seen {
            *refusals_seen = limits::refusals();
            let found = &mut out.report.findings;
            limit_note(flows_bound, found);
            smb.sessions.bounds(&mut |b| limit_note(b, found));
            kdc.bounds(&mut |b| limit_note(b, found));
            out.engine.bounds(&mut |b| limit_note(b, found));
        }
        // What a closing connection leaves unanswered (looked up only then).
        let pending = if info.obs.fin || info.obs.rst { smb.conns.get(info.conn).map(|c| &c.ctx.pending) } else { None };
        let ev = SegEvent { frame: input.number, ts_ns: input.ts_ns, conn: view_of(info.conn, info.dir), seg: &seg, info: &info, kdc: &kdc.log, pending };
        let mut found = Vec::new();
        out.engine.on_segment(out.config, &ev, &mut found);
        // What both capture points show replaces what one alone suggested: on
        // this frame, and on the earlier frames of the same attempt (with the
        // server's clock behind, the client's third SYN comes before the
        // server's first copy). A one-pass reader has already printed those;
        // a second pass and the GUI show the stored reports, so they see the
        // two-sided finding alone.
        let superseded = TwoPoints::superseded(&two_sided);
        found.retain(|f| !superseded.contains(&f.rule.id));
        if !superseded.is_empty() {
            for earlier in two_sided.iter().flat_map(|f| f.related_frames.iter()).filter(|&&r| r < input.number) {
                if let Some(r) = out.reports.get_mut(*earlier) {
                    let summary = &mut *out.summary;
                    r.findings.retain(|f| {
                        let keep = !superseded.contains(&f.rule.id);
                        if !keep {
                            summary.on_withdrawn(*earlier, f);
                        }
                        keep
                    });
                }
            }
        }
        found.extend(two_sided);
        out.report.findings.extend(found);
        let client_server = if info.dir == Dir::ToServer { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
        for m in out.report.messages.iter().filter(|m| m.is_response && !m.interim) {
            if let Some(rq) = m.request_frame {
                out.report.findings.extend(points.on_response(m.cmd, rq, input.number, client_server));
            }
        }
        self.finish_findings(input.number, &mut report);
        report
    }

    /// Count skipped frames; the capture's one note about them goes on the
    /// first, its text kept up to date (what later passes and the GUI show).
    fn note_skipped(&mut self, why: &'static str, n: u64, frame: u32, report: &mut FrameReport) {
        let first = self.skips.count(why, n, frame);
        let text = self.skips.text();
        if first {
            report.findings.push(Finding { rule: &catalog::DECODE_SKIPPED, text, related_frames: vec![] });
        } else if let Some(f) = self.skips.note_frame.and_then(|nf| self.reports.get_mut(nf)) {
            if let Some(note) = f.findings.iter_mut().find(|x| x.rule == &catalog::DECODE_SKIPPED) {
                note.text = text;
            }
        }
    }

    /// Drop the findings of families switched off; count the rest.
    fn finish_findings(&mut self, frame: u32, report: &mut FrameReport) {
        let cfg = &self.config;
        report.findings.retain(|f| cfg.rule_enabled(f.rule.id));
        for f in &report.findings {
            self.summary.on_finding(frame, f);
        }
    }

    /// How much per-connection state is held (flow table, SMB state, rules), for bounds tests.
    pub fn tracked_connections(&self) -> (usize, usize, usize) {
        (self.flows.len(), self.smb.conns.len(), self.engine.tracked_connections())
    }

    /// Connection slots handed out (the length the per-connection tables may reach; for bounds tests).
    pub fn connection_slots(&self) -> usize {
        self.flows.slots()
    }

    /// The most requests waiting for a response on any one connection (the
    /// one table, in the SMB state; for bounds tests).
    pub fn pending_requests(&self) -> usize {
        self.smb.conns.values().map(|c| c.ctx.pending.len()).max().unwrap_or(0)
    }

    /// Port-88 state held: TCP streams, bytes buffered in their record
    /// framers, and KDC errors kept (for bounds tests).
    pub fn kdc_held(&self) -> (usize, usize, usize) {
        let (streams, bytes) = self.kdc.held();
        (streams, bytes, self.kdc.log.errors.len())
    }

    /// The summary statistics of everything processed so far.
    pub fn summary_text(&self) -> String {
        self.summary.render(self.points.summary().as_deref())
    }
}
