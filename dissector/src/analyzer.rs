//! The pipeline: one captured frame in, its `FrameReport` out. The first pass
//! over a frame builds state; later passes (clicks, refilters, `tshark -2`)
//! return what the first pass stored, updated by what later frames learnt
//! (e.g. the response frame of a request).

use std::collections::hash_map::Entry;

use ahash::HashMap;

use crate::net::copies::CopyFilter;
use crate::two_points::TwoPoints;
use crate::net::flow::{ConnId, Dir, FlowTable};
use crate::rules::{ConnView, Engine, SegEvent};
use crate::net::defrag::Defrag;
use crate::net::link::{self, Decoded, LinkType};
use crate::net::skips::SkipLog;
use crate::output::{Finding, FrameReport};
use crate::rules::catalog;
use crate::smb::framing::FramingNote;
use crate::state::dispatch::{self, FrameCtx};
use crate::state::kdc::KdcState;
use crate::state::{SmbConnection, SmbState};
use crate::summary::Summary;

/// Thresholds and switches (Wireshark preferences map onto these).
#[derive(Clone, Debug)]
pub struct Config {
    /// Responses slower than this are worth a look (seconds).
    pub slow_response_s: f64,
    /// A request unanswered this long while later ones are answered is lost (seconds).
    pub unanswered_s: f64,
    /// Share of a direction's data segments retransmitted (per mille, with at
    /// least 3 retransmissions) that raises transport.packet_loss.
    pub loss_rate_permille: u32,
    /// Rule families switched off (the part of the rule id before the dot).
    pub disabled_families: Vec<String>,
    /// In a capture merged from two capture points, the interface of the
    /// client's side (None: inferred from TTLs).
    pub client_interface: Option<u32>,
    /// The user's SMB 3 keys (none: encrypted messages stay opaque, at no cost).
    pub keys: std::sync::Arc<crate::smb::crypto::keys::KeyTable>,
}

impl Default for Config {
    fn default() -> Self {
        Config { slow_response_s: 1.0, unanswered_s: 10.0, loss_rate_permille: 5, disabled_families: Vec::new(), client_interface: None, keys: Default::default() }
    }
}

impl Config {
    pub fn rule_enabled(&self, id: &str) -> bool {
        let family = id.split('.').next().unwrap_or(id);
        !self.disabled_families.iter().any(|f| f == family)
    }
}

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
    state_limit_noted: bool,
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
        let copy = self.copies.check(&seg, input.interface, input.number, input.ts_ns);
        self.points.preferred_client = self.config.client_interface;
        let mut two_sided = Vec::new();
        self.points.on_segment(&seg, input.interface, input.number, input.ts_ns, copy, &mut two_sided);
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
        let Analyzer { config, flows, smb, kdc, reports, engine, summary, state_limit_noted, .. } = self;
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
            let sc = conns.entry(conn).or_insert_with(|| SmbConnection::new(smb_port));
            let (framer, ctx) = sc.split(dir);
            let mut notes = Vec::new();
            framer.feed(chunk, &mut |pdu| dispatch::on_pdu(ctx, sessions, &pdu, &mut fctx), &mut |n| notes.push(n));
            for n in notes {
                if let FramingNote::Resynced { skipped, ordinal } = n {
                    dispatch::note_resync(&mut fctx, skipped, ordinal);
                }
            }
        });
        // Connections that ended for good take their state with them.
        if !flows.gone.is_empty() {
            for id in flows.gone.drain(..) {
                smb.conns.remove(&id);
                fctx.kdc.forget(id);
                fctx.engine.forget(id);
            }
            if flows.evicted > 0 && !*state_limit_noted {
                *state_limit_noted = true;
                fctx.report.findings.push(Finding {
                    rule: &catalog::DECODE_STATE_LIMIT,
                    text: format!(
                        "More than {} connections at once: smbdiag dropped the state of the {} idle longest to stay within its memory bounds. Those that speak again are decoded without their earlier context (requests, share and file names). Filter the capture to the hosts of interest before opening it.",
                        crate::net::flow::MAX_CONNECTIONS,
                        flows.evicted
                    ),
                    related_frames: vec![],
                });
            }
        }
        let ev = SegEvent { frame: input.number, ts_ns: input.ts_ns, conn: view_of(info.conn, info.dir), seg: &seg, info: &info, kdc: &fctx.kdc.log };
        let mut found = Vec::new();
        fctx.engine.on_segment(fctx.config, &ev, &mut found);
        // What both capture points show replaces what one alone suggested.
        let superseded = TwoPoints::superseded(&two_sided);
        found.retain(|f| !superseded.contains(&f.rule.id));
        found.extend(two_sided);
        fctx.report.findings.extend(found);
        for m in report.messages.iter().filter(|m| m.is_response && !m.interim) {
            if let Some(rq) = m.request_frame {
                self.points.on_response(m.cmd, rq, input.number);
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
        self.summary.render(self.points.summary().as_deref())
    }
}
