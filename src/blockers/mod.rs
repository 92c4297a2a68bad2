//! What holds a reboot back: alerts active in Prometheus and pods matching a
//! blocking selector on this node. Each check answers `Ok(Some(reason))` when
//! it blocks, `Ok(None)` when it does not, and `Err` when it could not tell;
//! the agent decides what an error means (it treats it as blocking, so an
//! unreachable Prometheus never lets a reboot through).

mod pods;
mod prometheus;

pub use pods::{pod_blocks, PodBlocker};
pub use prometheus::{blocking_alerts, parse_alerts, Alert, AlertFilter, PrometheusBlocker};

use crate::config::Config;
use crate::error::Result;
use crate::kube::Client;

/// One configured reason not to reboot.
#[derive(Debug)]
pub enum Blocker {
    Prometheus(PrometheusBlocker),
    Pods(PodBlocker),
}

impl Blocker {
    /// `Ok(Some(reason))` if this blocker holds the reboot back.
    pub fn check(&self, client: &Client) -> Result<Option<String>> {
        match self {
            Blocker::Prometheus(p) => p.check(),
            Blocker::Pods(p) => p.check(client),
        }
    }
}

/// The blockers the configuration asks for (none when neither
/// `--prometheus-url` nor `--blocking-pod-selector` is given).
pub fn from_config(config: &Config) -> Vec<Blocker> {
    let mut out = Vec::new();
    if let Some(url) = config.prometheus_url.as_deref().filter(|u| !u.is_empty()) {
        let filter = AlertFilter {
            regex: config.alert_filter.clone(),
            match_only: config.alert_filter_match_only,
            firing_only: config.alert_firing_only,
        };
        out.push(Blocker::Prometheus(PrometheusBlocker::new(url, filter)));
    }
    if !config.blocking_pod_selectors.is_empty() {
        out.push(Blocker::Pods(PodBlocker::new(&config.node_id, config.blocking_pod_selectors.clone())));
    }
    out
}

/// Run every blocker and collect the reasons of those that block. The first
/// blocker that cannot answer ends the check with its error: the caller must
/// not reboot without an answer from each of them.
pub fn check_all(blockers: &[Blocker], client: &Client) -> Result<Vec<String>> {
    let mut reasons = Vec::new();
    for b in blockers {
        if let Some(reason) = b.check(client)? {
            reasons.push(reason);
        }
    }
    Ok(reasons)
}
