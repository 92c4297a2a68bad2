//! The loop: the life of one kured pod, as upstream lives it. Start-up recovery
//! (finish a reboot this node started: uncordon, labels, annotations, release the
//! lock), then every `--period`: window, sentinel, taint, annotations, blockers,
//! lock, drain, reboot. Decisions are the pure functions of [`plan`]; this file
//! only observes and acts. Runtime faults are logged and retried next period:
//! nothing here exits the process.

mod effects;
pub mod plan;
mod recover;

use std::time::Duration;

use crate::blockers::{self, Blocker};
use crate::clock::{Clock, RealClock};
use crate::config::Config;
use crate::drain::{drain_node, DrainOptions};
use crate::error::Result;
use crate::host::{Host, RealHost};
use crate::kube::Client;
use crate::lock::{Acquisition, DaemonSetLock, LockMeta};
use crate::metrics::{self, Metrics};
use crate::node;
use crate::notify::Notifier;
use effects::{rfc3339, unit_random};
use plan::{AfterDrain, Gate};

/// Set while this node is being rebooted by kured (with --annotate-nodes).
pub const REBOOT_IN_PROGRESS: &str = "weave.works/kured-reboot-in-progress";
/// When kured last saw that this node needed a reboot (with --annotate-nodes).
pub const MOST_RECENT_REBOOT_NEEDED: &str = "weave.works/kured-most-recent-reboot-needed";

/// Upstream retries start-up recovery each minute; a shorter period (tests,
/// impatient operators) retries sooner.
const RECOVERY_RETRY: Duration = Duration::from_secs(60);
/// How often the reboot-required gauge is refreshed, as upstream.
const METRICS_REFRESH: Duration = Duration::from_secs(60);

/// Build the real parts and run until the process is stopped. Returns only on
/// a start-up error (bad notification URL, metrics port taken).
pub fn run(config: Config, client: Client) -> Result<()> {
    let notifier = match &config.notify_url {
        Some(url) => Some(Notifier::from_url(url)?.with_slack_defaults(&config.slack_username, &config.slack_channel)),
        None => None,
    };
    let metrics = Metrics::new();
    metrics::serve(&config.metrics_host, config.metrics_port, metrics.clone())?;
    let host = RealHost::from_config(&config);
    spawn_metrics_refresh(host.clone(), config.node_id.clone(), metrics.clone());

    let agent = Agent {
        blockers: blockers::from_config(&config),
        config: &config,
        client: &client,
        host: &host,
        clock: &RealClock,
        notifier,
        metrics,
        reboot_retry: Default::default(),
    };
    agent.recover();
    agent.run_loop()
}

fn spawn_metrics_refresh(host: RealHost, node: String, metrics: Metrics) {
    std::thread::spawn(move || loop {
        match host.reboot_required() {
            Ok(required) => metrics.set_reboot_required(&node, required),
            Err(e) => log::warn!("metrics: cannot check the sentinel: {e}"),
        }
        std::thread::sleep(METRICS_REFRESH);
    });
}

pub struct Agent<'a> {
    pub config: &'a Config,
    pub client: &'a Client,
    pub host: &'a dyn Host,
    pub clock: &'a dyn Clock,
    pub notifier: Option<Notifier>,
    pub blockers: Vec<Blocker>,
    pub metrics: Metrics,
    /// Back-off after failed reboot commands; `Default::default()` to start.
    pub reboot_retry: std::cell::Cell<plan::RebootRetry>,
}

impl Agent<'_> {
    fn node_id(&self) -> &str {
        &self.config.node_id
    }

    fn lock(&self) -> DaemonSetLock<'_> {
        DaemonSetLock::from_config(self.client, self.config, self.clock)
    }

    /// Every period, after a random initial delay; never returns.
    pub fn run_loop(&self) -> ! {
        let period = self.config.period;
        self.clock.sleep(plan::initial_delay(period, unit_random()));
        loop {
            let started = std::time::Instant::now();
            self.check();
            self.clock.sleep(period.saturating_sub(started.elapsed()));
        }
    }

    /// One periodic check. Returns when there is nothing (more) to do this
    /// period; after a reboot was requested it waits for the machine to go down.
    pub fn check(&self) {
        let now = self.clock.now();
        let in_window = self.config.window.contains(now);
        let required = if in_window { self.host.reboot_required().map_err(|e| e.to_string()) } else { Ok(false) };
        if let (true, Ok(r)) = (in_window, &required) {
            self.metrics.set_reboot_required(self.node_id(), *r);
        }
        match plan::gate(in_window, &required) {
            Gate::OutsideWindow => {
                log::debug!("outside the maintenance window ({})", self.config.window);
                self.set_taint(false);
                self.release_leftover_lock();
            }
            Gate::NotRequired => {
                log::info!("reboot not required");
                self.set_taint(false);
                self.release_leftover_lock();
            }
            Gate::CheckFailed(e) => log::error!("cannot tell whether a reboot is required, will retry: {e}"),
            Gate::Required if !self.reboot_retry.get().allows(now) => {
                let retry = self.reboot_retry.get();
                log::warn!(
                    "reboot required, but the reboot command failed {} time(s): next attempt after {}",
                    retry.failures,
                    retry.not_before.map(rfc3339).unwrap_or_default()
                );
            }
            Gate::Required => {
                log::info!("reboot required");
                if let Err(e) = self.reboot_if_allowed() {
                    log::error!("reboot attempt stopped, will retry next period: {e}");
                }
            }
        }
    }

    fn reboot_if_allowed(&self) -> Result<()> {
        let node = self.client.get_node(self.node_id())?;
        if self.config.annotate_nodes && !node.metadata.annotations.contains_key(REBOOT_IN_PROGRESS) {
            let stamp = rfc3339(self.clock.now());
            node::set_annotations(
                self.client,
                self.node_id(),
                &[(REBOOT_IN_PROGRESS, stamp.as_str()), (MOST_RECENT_REBOOT_NEEDED, stamp.as_str())],
            )?;
        }
        let (reasons, errors) = match blockers::check_all(&self.blockers, self.client) {
            Ok(r) => (r, vec![]),
            Err(e) => (vec![], vec![format!("cannot check blockers: {e}")]),
        };
        if let Some(why) = plan::blocked(&reasons, &errors) {
            log::info!("reboot blocked: {why}");
            return Ok(());
        }
        let lock = self.lock();
        let meta = match lock.acquire(node.spec.unschedulable)? {
            Acquisition::Acquired(meta) => meta,
            Acquisition::HeldBy(holders) => {
                // A hand-written lock may name nobody ({} holds it as "").
                let names: Vec<&str> = holders.iter().map(|h| if h.is_empty() { "\"\"" } else { h.as_str() }).collect();
                log::info!("waiting for the reboot lock, held by {}", crate::names::summary(&names));
                // Prefer not to schedule pods here: they would be drained soon.
                self.set_taint(true);
                return Ok(());
            }
        };
        let drained = self.drain();
        if let Err(e) = &drained {
            log::error!("drain of {} failed: {e}", self.node_id());
        }
        match plan::after_drain(drained.is_ok(), self.config.force_reboot, meta.unschedulable) {
            AfterDrain::GiveUp { uncordon } => {
                log::info!("giving up this attempt; the drain will be tried again when the lock is next acquired");
                self.give_up(&lock, uncordon);
                Ok(())
            }
            AfterDrain::Reboot => {
                if drained.is_err() {
                    log::warn!("rebooting anyway (--force-reboot)");
                }
                self.reboot(&lock, meta)
            }
        }
    }

    /// Pre-reboot labels, drain delay, notification, cordon, evictions.
    fn drain(&self) -> Result<()> {
        if !self.config.pre_reboot_node_labels.is_empty() {
            node::set_labels(self.client, self.node_id(), &self.config.pre_reboot_node_labels)?;
        }
        if !self.config.drain_delay.is_zero() {
            log::info!("draining in {:?}", self.config.drain_delay);
            self.clock.sleep(self.config.drain_delay);
        }
        log::info!("draining node {}", self.node_id());
        self.event("Draining", "kured is draining the node for a reboot");
        self.notify(&self.config.message_template_drain);
        let report = drain_node(self.client, self.node_id(), &DrainOptions::from_config(self.config), self.clock)?;
        log::info!(
            "drained {}: {} evicted, {} deleted, {} skipped",
            self.node_id(),
            report.evicted.len(),
            report.deleted.len(),
            report.skipped.len()
        );
        Ok(())
    }

    fn reboot(&self, lock: &DaemonSetLock<'_>, meta: LockMeta) -> Result<()> {
        if !self.config.reboot_delay.is_zero() {
            log::info!("rebooting in {:?}", self.config.reboot_delay);
            self.clock.sleep(self.config.reboot_delay);
        }
        log::info!("rebooting node {}", self.node_id());
        self.event("Rebooting", "kured is rebooting the node");
        self.notify(&self.config.message_template_reboot);
        match self.host.reboot() {
            Ok(()) => {}
            Err(e @ crate::Error::RebootUncertain { .. }) => log::warn!("{e}"),
            Err(e) => {
                // The machine is not going down: put the node back rather than
                // hold the lock and a cordoned node until someone notices.
                log::error!("reboot of {} failed: {e}", self.node_id());
                self.give_up(lock, !meta.unschedulable);
                self.reboot_retry.set(self.reboot_retry.get().failed(self.clock.now(), self.config.period));
                return Ok(());
            }
        }
        loop {
            log::info!("waiting for the reboot");
            self.clock.sleep(Duration::from_secs(60));
        }
    }

    /// Uncordon the node when we cordoned it, then release the lock. If the
    /// uncordon fails the lock is kept: it records that the cordon is ours, and
    /// the next check (or start-up) finishes the job. Released first, the next
    /// acquisition would take our cordon for an operator's and keep it forever.
    fn give_up(&self, lock: &DaemonSetLock<'_>, uncordon: bool) {
        if uncordon {
            match node::uncordon(self.client, self.node_id()) {
                Ok(()) => log::info!("uncordoned {}", self.node_id()),
                Err(e) => {
                    log::error!("cannot uncordon {}, keeping the lock to retry: {e}", self.node_id());
                    return;
                }
            }
            // As upstream's uncordon: the post-reboot labels undo the pre-reboot ones.
            if !self.config.post_reboot_node_labels.is_empty() {
                if let Err(e) = node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels) {
                    log::warn!("cannot set the post-reboot labels on {}: {e}", self.node_id());
                }
            }
        }
        // The release delay throttles reboots after failures too, as upstream.
        if !self.config.lock_release_delay.is_zero() {
            self.clock.sleep(self.config.lock_release_delay);
        }
        if let Err(e) = lock.release() {
            log::error!("cannot release the lock: {e}");
        }
    }
}
