//! The release gate (`--release-gate-timeout`): before the drain, the
//! PodDisruptionBudgets covering the node's pods are recorded, with how many
//! disruptions each allowed, in an annotation of ours on the Node (it must
//! survive the reboot and the pod's restart). After the reboot the lock is
//! released only once [`decide`] opens, or the timeout passes (then a log line
//! and an Event name the budget still short). 0 turns it off (upstream).

pub mod decide;

use std::time::Duration;

pub use decide::{decide, Budget, Seen, Verdict};

use crate::clock::Clock;
use crate::error::{ApiErrorKind, Error, Result};
use crate::kube::{Client, ListParams};
use crate::node;

/// The budgets recorded before the drain, as JSON.
pub const ANNOTATION: &str = "kured-rs.dev/release-gate";
/// How often the gate looks at the node and the budgets.
pub const POLL: Duration = Duration::from_secs(2);

/// The budgets covering the pods on `node_name` now, with their current
/// `disruptionsAllowed`.
pub fn covering_budgets(client: &Client, node_name: &str) -> Result<Vec<Budget>> {
    let pods = client.list_pods(&ListParams {
        field_selector: Some(format!("spec.nodeName={node_name}")),
        limit: Some(crate::kube::POD_PAGE),
        ..Default::default()
    })?;
    let pdbs = client.list_pdbs(&ListParams::default())?;
    Ok(pdbs
        .into_iter()
        .filter(|b| pods.iter().any(|p| b.covers(&p.metadata.namespace, &p.metadata.labels)))
        .map(|b| Budget {
            namespace: b.metadata.namespace,
            name: b.metadata.name,
            before: b.status.disruptions_allowed,
        })
        .collect())
}

/// Record the covering budgets on the node (before the drain).
pub fn record(client: &Client, node_name: &str) -> Result<Vec<Budget>> {
    let budgets = covering_budgets(client, node_name)?;
    let value = serde_json::to_string(&budgets)
        .map_err(|e| Error::Decode { what: "release gate budgets".into(), message: e.to_string() })?;
    node::set_annotations(client, node_name, &[(ANNOTATION, value.as_str())])?;
    Ok(budgets)
}

/// The budgets recorded on the node (none when there is no record).
pub fn recorded(annotations: &std::collections::BTreeMap<String, String>) -> Vec<Budget> {
    match annotations.get(ANNOTATION) {
        Some(v) => serde_json::from_str(v).unwrap_or_else(|e| {
            log::warn!("ignoring the unreadable annotation {ANNOTATION}: {e}");
            Vec::new()
        }),
        None => Vec::new(),
    }
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Open {
        waited: Duration,
    },
    /// The timeout passed; why the gate was still shut.
    TimedOut(String),
    Stopped,
}

/// Wait until the gate opens, `timeout` passes, or `stop()`. Errors reading
/// the node or a budget keep the gate shut (and are retried): an API
/// hiccup must not let the next node go early. A budget we may not read
/// (403: the RBAC lacks `get` on poddisruptionbudgets, e.g. upstream's chart,
/// or the permission was taken away since the record) is different: no retry
/// can tell, so it is logged once, not asked again, and the gate opens on the
/// node's readiness (and the budgets it can read), as without a record.
pub fn wait(
    client: &Client,
    node_name: &str,
    budgets: &[Budget],
    timeout: Duration,
    clock: &dyn Clock,
    stop: &dyn Fn() -> bool,
) -> Outcome {
    let started = clock.now();
    let elapsed = || Duration::try_from(clock.now() - started).unwrap_or(Duration::ZERO);
    let mut last_reason = String::new();
    let mut refused = vec![false; budgets.len()];
    loop {
        let verdict = match observe(client, node_name, budgets, &mut refused) {
            Ok((ready, now)) => {
                let seen: Vec<Seen> = budgets.iter().zip(now).map(|(budget, now)| Seen { budget, now }).collect();
                decide(ready, &seen)
            }
            Err(e) => Verdict::Shut(format!("cannot check: {e}")),
        };
        match verdict {
            Verdict::Open => return Outcome::Open { waited: elapsed() },
            Verdict::Shut(why) => {
                if why != last_reason {
                    log::info!("release gate: waiting: {why}");
                }
                last_reason = why;
            }
        }
        if stop() {
            return Outcome::Stopped;
        }
        if elapsed() >= timeout {
            return Outcome::TimedOut(last_reason);
        }
        clock.sleep(POLL.min(timeout.saturating_sub(elapsed())));
    }
}

/// The node's readiness and each budget's `disruptionsAllowed` now (None: gone,
/// or refused with 403, which `refused` remembers so it is asked only once;
/// the first refusal is a warning, the permission being the same for all).
fn observe(
    client: &Client,
    node_name: &str,
    budgets: &[Budget],
    refused: &mut [bool],
) -> Result<(bool, Vec<Option<i64>>)> {
    let ready = client.node_ready(node_name)?;
    let mut now = Vec::with_capacity(budgets.len());
    for (i, b) in budgets.iter().enumerate() {
        if refused[i] {
            now.push(None);
            continue;
        }
        now.push(match client.get_pdb(&b.namespace, &b.name) {
            Ok(p) => Some(p.status.disruptions_allowed),
            Err(e) if e.is_not_found() => None,
            Err(e) if e.api_kind() == Some(ApiErrorKind::Forbidden) => {
                let level = if refused.contains(&true) { log::Level::Debug } else { log::Level::Warn };
                refused[i] = true;
                log::log!(
                    level,
                    "release gate: may not get PodDisruptionBudget {}/{} ({e}): the RBAC lacks get on poddisruptionbudgets (policy); cannot tell whether it recovered, so the gate waits only for the node's readiness (and the budgets it can read)",
                    b.namespace, b.name
                );
                None
            }
            Err(e) => return Err(e),
        });
    }
    Ok((ready, now))
}
