//! What holds a reboot back: alerts active in Prometheus (less those silenced
//! in Alertmanager, when asked), PromQL queries with a non-empty result, and
//! pods matching a blocking selector on this node. Each check answers `Ok(Some(reason))` when
//! it blocks, `Ok(None)` when it does not, and `Err` when it could not tell;
//! the agent decides what an error means (it treats it as blocking, so an
//! unreachable Prometheus never lets a reboot through).

mod alertmanager;
mod fetch;
mod pods;
mod prometheus;
mod promql;

pub use alertmanager::{is_silenced, parse_silenced};
pub use pods::{pod_blocks, PodBlocker};
pub use prometheus::{blocking_alerts, parse_alerts, Alert, AlertFilter, PrometheusBlocker};
pub use promql::{parse_series, QueryBlocker};

use crate::error::Result;
use crate::kube::Client;

/// One configured reason not to reboot.
#[derive(Debug)]
pub enum Blocker {
    Prometheus(PrometheusBlocker),
    Query(QueryBlocker),
    Pods(PodBlocker),
}

impl Blocker {
    /// `Ok(Some(reason))` if this blocker holds the reboot back.
    pub fn check(&self, client: &Client) -> Result<Option<String>> {
        match self {
            Blocker::Prometheus(p) => p.check(),
            Blocker::Query(q) => q.check(),
            Blocker::Pods(p) => p.check(client),
        }
    }
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
