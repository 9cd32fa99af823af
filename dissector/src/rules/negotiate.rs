//! Dialect negotiation (negotiate.*): the server will not speak any dialect
//! the client offers, and says so with an error, an SMB1 answer selecting no
//! dialect, or by closing the connection instead of answering.

use super::catalog;
use super::{ConnView, MsgEvent, SegEvent, Smb1NegotiateEvent};
use crate::net::flow::{ConnId, Dir};
use crate::net::slots::PerConn;
use crate::output::Finding;
use crate::smb::records::negotiate_records::SMB1_NO_DIALECT;
use crate::smb::types::Command;

/// One connection's negotiation (kept from its first SMB message on).
#[derive(Debug, Default)]
struct Negotiation {
    /// The NEGOTIATE request waiting for its answer: frame and what it offered.
    waiting: Option<(u32, String)>,
    reported: bool,
}

/// Connections are forgotten with their flows (the flow table is bounded).
#[derive(Debug, Default)]
pub struct NegotiateRules {
    conns: PerConn<Negotiation>,
}

impl NegotiateRules {
    pub fn forget(&mut self, id: ConnId) {
        self.conns.remove(id);
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// A NEGOTIATE left unanswered by a reset, or by the server's close: the
    /// server refused the dialects.
    pub fn on_segment(&mut self, ev: &SegEvent<'_>, out: &mut Vec<Finding>) {
        let obs = &ev.info.obs;
        if !(obs.rst || obs.fin) {
            return;
        }
        let Some(c) = self.conns.get_mut(ev.conn.id) else { return };
        let Some((neg_frame, offered)) = c.waiting.take() else { return };
        if ev.info.dir == Dir::ToServer && !obs.rst {
            return; // the client gave up: not the server's refusal
        }
        c.reported = true;
        let (who, by) = match ev.info.dir {
            Dir::ToServer => ("client", ev.conn.client.addr),
            Dir::ToClient => ("server", ev.conn.server.addr),
        };
        let how = if obs.rst { "reset the connection (TCP RST)" } else { "closed the connection (TCP FIN)" };
        out.push(Finding {
            rule: &catalog::NEGOTIATE_REJECTED,
            text: negotiate_rejected_text(&offered, neg_frame, &format!("the {who} {by} {how} in frame {} instead of answering", ev.frame), ev.conn),
            related_frames: vec![neg_frame],
        });
    }

    pub fn on_message(&mut self, ev: &MsgEvent<'_>, out: &mut Vec<Finding>) {
        let c = self.conns.entry(ev.conn.id);
        let h = ev.hdr;
        if !h.is_response() {
            // Any other request means the negotiation went through, even if
            // the capture missed its response (one-directional captures).
            if h.command != Command::NEGOTIATE {
                c.waiting = None;
            } else if !c.reported {
                let offered = ev.negotiate_offer.clone().unwrap_or_else(|| "SMB2/3 dialects".to_string());
                c.waiting = Some((ev.frame, offered));
            }
            return;
        }
        if h.command != Command::NEGOTIATE {
            return;
        }
        if let Some((neg_frame, offered)) = c.waiting.take() {
            if h.status.is_error() && !c.reported {
                c.reported = true;
                out.push(Finding {
                    rule: &catalog::NEGOTIATE_REJECTED,
                    text: negotiate_rejected_text(&offered, neg_frame, &format!("the server answered {} in frame {}", h.status, ev.frame), ev.conn),
                    related_frames: vec![neg_frame],
                });
            }
        }
    }

    pub fn on_smb1_negotiate(&mut self, ev: &Smb1NegotiateEvent<'_>, out: &mut Vec<Finding>) {
        let c = self.conns.entry(ev.conn.id);
        if !ev.is_response {
            if !c.reported {
                let offered = if ev.dialects.is_empty() {
                    "SMB1 dialects".to_string()
                } else {
                    ev.dialects.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ")
                };
                c.waiting = Some((ev.frame, offered));
            }
            return;
        }
        let Some((neg_frame, offered)) = c.waiting.take() else { return };
        if ev.selected == Some(SMB1_NO_DIALECT) && !c.reported {
            c.reported = true;
            out.push(Finding {
                rule: &catalog::NEGOTIATE_REJECTED,
                text: negotiate_rejected_text(
                    &offered,
                    neg_frame,
                    &format!("the server answered with an SMB1 NEGOTIATE response selecting no dialect (index 0xFFFF) in frame {}", ev.frame),
                    ev.conn,
                ),
                related_frames: vec![neg_frame],
            });
        }
    }
}

fn negotiate_rejected_text(offered: &str, neg_frame: u32, answer: &str, conn: ConnView) -> String {
    let smb1_only = offered.contains('"') && !offered.contains("SMB 2");
    let cause = if smb1_only {
        format!(
            "The client offered only SMB1 dialects and the server has SMB1 disabled (current Windows and Samba do). SMB1 is deprecated: enable SMB2/3 on the client (or upgrade the device); re-enabling SMB1 on {} is a last resort. Check `Get-SmbServerConfiguration | Select EnableSMB1Protocol` on the server",
            conn.server.addr
        )
    } else {
        format!(
            "The server will not speak any SMB2/3 dialect the client offers: SMB2 is disabled on it (note that SMB3 is a dialect of SMB2, so `EnableSMB2Protocol = False` disables SMB3 too), or its minimum protocol is above the client's maximum (Samba `server min protocol`). Check `Get-SmbServerConfiguration | Select EnableSMB2Protocol` on {} and the client's maximum protocol",
            conn.server.addr
        )
    };
    format!("SMB dialect negotiation rejected: the client {} offered {offered} in frame {neg_frame}, and {answer}. {cause}.", conn.client.addr)
}
