//! Cordon, evict and wait: `kubectl drain --force --ignore-daemonsets
//! --delete-emptydir-data` semantics through the Eviction API, so
//! PodDisruptionBudgets are honoured. `select` decides what happens to each
//! pod (pure); `evict` does it for all pods together and waits on a watch.

mod evict;
pub mod select;

use std::time::Duration;

pub use select::{select, Action, SkipReason};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::kube::{Client, ListParams};
use evict::{Kind, Outcome};

#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// Seconds each pod gets to stop; None = the pod's own.
    pub grace_period: Option<i64>,
    /// The whole drain gives up after this long; None = never.
    pub timeout: Option<Duration>,
    /// Only pods matching this label selector ("" = all).
    pub pod_selector: String,
    /// Stop waiting for pods deleted longer ago than this; None = wait.
    pub skip_wait_for_delete_timeout: Option<Duration>,
    /// Wait before retrying an eviction a PodDisruptionBudget refused (kubectl: 5 s).
    pub retry_after_pdb: Duration,
    /// How often a pod being evicted is checked when the node's pods cannot be
    /// watched (kubectl: 1 s).
    pub poll: Duration,
    /// When every pod left has been refused by PodDisruptionBudgets this long
    /// with nothing else moving, ask whether to give way; None = never.
    pub stall_timeout: Option<Duration>,
}

impl Default for DrainOptions {
    fn default() -> DrainOptions {
        DrainOptions {
            grace_period: None,
            timeout: None,
            pod_selector: String::new(),
            skip_wait_for_delete_timeout: None,
            retry_after_pdb: Duration::from_secs(5),
            poll: Duration::from_secs(1),
            stall_timeout: None,
        }
    }
}

impl DrainOptions {
    pub fn from_config(config: &Config) -> DrainOptions {
        DrainOptions {
            grace_period: config.drain_grace_period,
            timeout: config.drain_timeout,
            pod_selector: config.drain_pod_selector.clone(),
            skip_wait_for_delete_timeout: config.skip_wait_for_delete_timeout,
            stall_timeout: config.drain_stall_timeout,
            ..DrainOptions::default()
        }
    }
}

/// What a successful drain did, by `namespace/name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub evicted: Vec<String>,
    pub deleted: Vec<String>,
    pub skipped: Vec<(String, SkipReason)>,
}

/// Cordon `node` (if not already), then evict its pods and wait until they are
/// gone. Pods that could not be drained make it an `Error::Drain` listing each
/// with its reason; the node stays cordoned either way (the caller decides
/// whether to uncordon).
pub fn drain_node(client: &Client, node: &str, opts: &DrainOptions, clock: &dyn Clock) -> Result<DrainReport> {
    drain_node_giving_way(client, node, opts, clock, &mut || None)
}

/// Asked when the drain has stalled on PodDisruptionBudgets for
/// `DrainOptions::stall_timeout`: the nodes to give way to (the drain then ends
/// with `Error::GaveWay`), or None to go on waiting (asked again after another
/// `stall_timeout`).
pub type GiveWay<'a> = &'a mut dyn FnMut() -> Option<Vec<String>>;

/// [`drain_node`], giving way when `give_way` says so after a stall.
pub fn drain_node_giving_way(client: &Client, node: &str, opts: &DrainOptions, clock: &dyn Clock, give_way: GiveWay<'_>) -> Result<DrainReport> {
    let deadline = opts.timeout.map(|t| clock.now() + t);
    crate::node::cordon(client, node)?;
    let params = ListParams {
        field_selector: Some(format!("spec.nodeName={node}")),
        label_selector: (!opts.pod_selector.is_empty()).then(|| opts.pod_selector.clone()),
        limit: Some(crate::kube::POD_PAGE),
    };
    let pods = client.list_pods(&params)?;
    let mut daemonset_exists = |ns: &str, name: &str| match client.get_daemonset(ns, name) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(Error::Drain(format!("cannot tell whether daemonset {ns}/{name} exists: {e}"))),
    };
    let actions = select(&pods, node, clock.now(), opts.skip_wait_for_delete_timeout, &mut daemonset_exists)?;

    let mut report = DrainReport::default();
    let mut work = Vec::new();
    for (pod, action) in pods.into_iter().zip(actions) {
        match action {
            Action::Skip(reason) => {
                let key = format!("{}/{}", pod.metadata.namespace, pod.metadata.name);
                log::info!("drain {node}: skipping pod {key}: {reason}");
                report.skipped.push((key, reason));
            }
            Action::Evict => work.push((pod, Kind::Evict)),
            Action::Delete { wait } => work.push((pod, Kind::Delete { wait })),
        }
    }
    log::info!("drain {node}: {} pods to remove, {} skipped", work.len(), report.skipped.len());

    let (outcomes, gave_way) = evict::run(client, node, work, opts, clock, deadline, give_way);
    if let Some(to) = gave_way {
        return Err(Error::GaveWay(to));
    }
    let mut failures = Vec::new();
    for (key, kind, outcome) in outcomes {
        match (outcome, kind) {
            (Outcome::Failed(why), _) => failures.push(format!("{key}: {why}")),
            (Outcome::Gone, Kind::Evict) => report.evicted.push(key),
            (Outcome::Gone, Kind::Delete { .. }) => report.deleted.push(key),
        }
    }
    if !failures.is_empty() {
        return Err(Error::Drain(format!(
            "node {node}: {} pod(s) not drained: {}",
            failures.len(),
            failures.join("; ")
        )));
    }
    log::info!("drain {node}: done ({} evicted, {} deleted)", report.evicted.len(), report.deleted.len());
    Ok(report)
}
