//! What the user can set: thresholds, rule families switched off, the
//! client's capture interface and SMB 3 keys
//! (Wireshark preferences map onto these). Read by the rules, set by the front end.

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
    /// Whether a rule id's family (the part before the dot) is switched on.
    pub fn rule_enabled(&self, id: &str) -> bool {
        let family = id.split_once('.').map_or(id, |(f, _)| f);
        !self.disabled_families.iter().any(|f| f == family)
    }
}
