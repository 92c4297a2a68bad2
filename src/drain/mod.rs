//! Cordon, evict and wait: `kubectl drain --force --ignore-daemonsets
//! --delete-emptydir-data` semantics through the Eviction API, so
//! PodDisruptionBudgets are honoured. `select` decides what happens to each
//! pod (pure); `evict` does it for all pods together and waits on a watch.

mod evict;
pub mod select;

use std::time::Duration;

pub use select::{select, Action, SkipReason};

use crate::clock::Clock;
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

/// What a successful drain did, by `namespace/name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub evicted: Vec<String>,
    pub deleted: Vec<String>,
    pub skipped: Vec<(String, SkipReason)>,
}

/// What a drain asks its caller as it goes: the lock holder's checks.
pub trait Guide {
    /// How often, at the most, [`halt`](Guide::halt) must be asked while
    /// the drain waits (None: only before the cordon and each round).
    fn check_every(&self) -> Option<Duration> {
        None
    }
    /// Asked right before the cordon: as [`halt`](Guide::halt), but never on
    /// an older answer (a Node registered again since would be cordoned).
    fn halt_before_cordon(&mut self) -> Option<String> {
        self.halt()
    }
    /// Asked before each round of evictions (and, with
    /// [`check_every`](Guide::check_every), at least that often): `Some(why)`
    /// ends the drain at once, the node left as it is (the caller puts it back).
    fn halt(&mut self) -> Option<String> {
        None
    }
    /// Asked when PodDisruptionBudgets have refused every pod left for
    /// `DrainOptions::stall_timeout`: the nodes to give way to (the drain then
    /// ends), or None to go on waiting (asked again after another stall).
    fn give_way(&mut self) -> Option<Vec<String>> {
        None
    }
}

/// How a guided drain ended, short of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drained {
    /// Every pod is gone (or skipped).
    Done(DrainReport),
    /// Stalled on PodDisruptionBudgets: gave way to the lock holders named.
    GaveWay(Vec<String>),
    /// [`Guide::halt`] said stop, for this reason.
    Halted(String),
}

/// Cordon `node` (if not already), then evict its pods and wait until they are
/// gone, asking `guide` as it goes. Pods that could not be drained make it an
/// `Error::Drain` listing each with its reason; the node stays cordoned either
/// way (the caller decides whether to uncordon).
pub fn drain_node_guided(
    client: &Client,
    node: &str,
    opts: &DrainOptions,
    clock: &dyn Clock,
    guide: &mut dyn Guide,
) -> Result<Drained> {
    if let Some(why) = guide.halt_before_cordon() {
        return Ok(Drained::Halted(why));
    }
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

    let (outcomes, interrupted) = evict::run(client, node, work, opts, clock, deadline, guide);
    if let Some(end) = interrupted {
        return Ok(end);
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
    Ok(Drained::Done(report))
}
