//! The loop: the life of one kured pod, as upstream lives it. Start-up recovery
//! (finish a reboot this node started, told from a mere restart by the boot ID),
//! then every `--period`: window, sentinel, taint, annotations, blockers, lock,
//! drain, reboot, and the wait for the boot ID to change. Decisions are the pure
//! functions of [`plan`]; this file only observes and acts. Runtime faults are
//! logged and retried next period: nothing here exits the process, except a
//! graceful stop (SIGTERM), which puts the node back unless the reboot command
//! has run.

mod confirm;
mod control;
mod drain;
mod effects;
mod fleet;
mod gate;
mod history;
mod holder;
mod pace;
pub mod plan;
mod quorum;
mod recover;
mod stale;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use crate::blockers::{self, Blocker};
use crate::clock::{Clock, DaemonClock};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::host::{Host, RealHost};
use crate::kube::Client;
use crate::lock::wake::Queued;
use crate::lock::{stale::Sightings, DaemonSetLock, Held, LockMeta, Taken};
use crate::metrics::{self, Metrics};
use crate::node;
use crate::notify::Notifier;
use crate::status::{self, Blocked, Phase};
use crate::stop::Stop;
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
/// After SIGTERM the undo (uncordon, release) must finish within this, or the
/// process exits anyway: well inside the manifests' terminationGracePeriodSeconds (90).
pub const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// Whether the loop goes on after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The reboot command ran and a stop arrived: the machine is going down.
    Exit,
    /// A reboot waits for the lock: wait on its release rather than the period.
    LockFull,
}

/// Build the real parts and run until stopped (SIGTERM/SIGINT on `stop`).
/// Returns Ok after a graceful stop, Err on a start-up error (bad
/// notification URL, metrics port taken).
pub fn run(config: Config, client: Client, stop: Stop) -> Result<()> {
    let notifier = Notifier::from_urls(&config.notify_urls)?
        .map(|n| n.with_slack_defaults(&config.slack_username, &config.slack_channel));
    let metrics = Metrics::new();
    metrics.status.set_node(&config.node_id);
    metrics::serve(&config.metrics_host, config.metrics_port, metrics.clone())?;
    let host = crate::wire::host(&config);
    spawn_metrics_refresh(host.clone(), config.node_id.clone(), metrics.clone());
    spawn_stop_deadline(stop.clone());
    let clock = DaemonClock { stop, health: metrics.health.clone() };

    let agent = Agent::new(&config, &client, &host, &clock).with_notifier(notifier).with_metrics(metrics);
    agent.recover();
    agent.run_loop();
    Ok(())
}

fn spawn_metrics_refresh(host: RealHost, node: String, metrics: Metrics) {
    std::thread::spawn(move || loop {
        match host.reboot_required() {
            Ok(required) => metrics.set_reboot_required(&node, required, crate::clock::wall_now()),
            Err(e) => log::warn!("metrics: cannot check the sentinel: {e}"),
        }
        std::thread::sleep(METRICS_REFRESH);
    });
}

/// Bounds a graceful stop: should the undo hang (an API server that does not
/// answer), exit anyway rather than be killed at an unknown point.
fn spawn_stop_deadline(stop: Stop) {
    std::thread::spawn(move || {
        while !stop.wait(Duration::from_secs(3600)) {}
        std::thread::sleep(STOP_DEADLINE);
        log::error!("stopping took longer than {STOP_DEADLINE:?}: exiting with the undo unfinished");
        std::process::exit(1);
    });
}

/// What the loop remembers between checks (all of it starts empty).
#[derive(Debug, Default)]
pub struct State {
    /// Confirmed reboots in a row that left the sentinel set (reboot-loop guard).
    pub streak: Cell<u32>,
    /// The guard's Warning Event was posted for the current streak.
    pub loop_reported: Cell<bool>,
    /// When lock holders' Nodes were first seen missing.
    pub sightings: RefCell<Sightings>,
    /// When the holders' Nodes were last looked up: a node woken by the lock's
    /// release checks again within a second, but a stale entry needs two looks
    /// a gap apart, so looking more than once a period only costs requests.
    pub stale_looked: Cell<Option<time::OffsetDateTime>>,
    /// The lock entries a stalled drain gave way to (`--drain-stall-timeout`):
    /// the lock is not taken again while they all are still there (a holder
    /// that released and took the lock again has a new entry).
    pub gave_way_to: RefCell<Vec<crate::lock::stale::EntryKey>>,
    /// When a slot of the full lock frees itself (a TTL, a broken entry's
    /// grace), which no watch event announces: the wait ends then.
    pub lock_frees_at: Cell<Option<std::time::Instant>>,
    /// The count-in-time guard's Warning Event was posted for this stop.
    pub window_loop_reported: Cell<bool>,
    /// The closed maintenance window opens then, sooner than the period
    /// ends: the wait ends then (a window shorter than --period is not missed).
    pub window_opens_at: Cell<Option<std::time::Instant>>,
    /// The pause the last look for a leftover lock saw on the lock's DaemonSet
    /// (agent/recover.rs): a node with no reboot to do shows it in its status.
    pub pause_seen: RefCell<Option<String>>,
    /// A stop came during the release gate: the lock stays for the next start.
    pub keep_lock_on_stop: Cell<bool>,
    /// The node is cordoned by kured with no lock entry recording it (the
    /// uncordon after a lost lock failed): the next take records it as ours.
    pub our_cordon: Cell<bool>,
    /// The lock's watch and queue, kept between waits (agent/pace.rs).
    pub waiting: RefCell<crate::lock::wake::Waiting>,
    /// The quorum guard of this check, when this is a control-plane node
    /// (agent/quorum.rs); the lock carries it, for its take and its wait.
    pub guard: RefCell<Option<crate::lock::quorum::Guard>>,
    /// The last check was held back by a control-plane node not Ready: the
    /// next looks again soon, not on the lock's watch.
    pub guard_not_ready: Cell<bool>,
    /// Held back by `--control-plane-order`: since when, when last seen, and
    /// whether the patience ran out (warned).
    pub order_held: Cell<Option<(time::OffsetDateTime, time::OffsetDateTime, bool)>>,
    /// One `--period` after the first look of the order: before then the
    /// other side may not have said yet that it wants a reboot.
    pub order_settles_at: std::cell::OnceCell<std::time::Instant>,
}

/// One kured pod's loop and what it works with. Built with [`Agent::new`];
/// [`run`] adds the real notifier and the served metrics.
pub struct Agent<'a> {
    config: &'a Config,
    client: &'a Client,
    host: &'a dyn Host,
    clock: &'a dyn Clock,
    notifier: Option<Notifier>,
    blockers: Vec<Blocker>,
    metrics: Metrics,
    /// Back-off after failed reboot commands.
    reboot_retry: std::cell::Cell<plan::RebootRetry>,
    state: State,
}

impl<'a> Agent<'a> {
    /// An agent for `config` on these parts: the blockers the config names, no
    /// notifier, metrics of its own, and nothing remembered yet.
    pub fn new(config: &'a Config, client: &'a Client, host: &'a dyn Host, clock: &'a dyn Clock) -> Agent<'a> {
        Agent {
            blockers: crate::wire::blockers(config),
            config,
            client,
            host,
            clock,
            notifier: None,
            metrics: Metrics::new(),
            reboot_retry: Default::default(),
            state: State::default(),
        }
    }

    pub fn with_notifier(mut self, notifier: Option<Notifier>) -> Agent<'a> {
        self.notifier = notifier;
        self
    }

    /// Share these metrics (the ones `/metrics` serves).
    pub fn with_metrics(mut self, metrics: Metrics) -> Agent<'a> {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl Agent<'_> {
    fn node_id(&self) -> &str {
        &self.config.node_id
    }

    fn lock(&self) -> DaemonSetLock<'_> {
        crate::wire::lock(self.client, self.config, self.clock).guarded(self.state.guard.borrow().clone())
    }

    /// Every period, after a random initial delay, until a stop.
    pub fn run_loop(&self) {
        let period = self.config.period;
        self.clock.sleep(plan::initial_delay(period, unit_random()));
        loop {
            if self.clock.stopped() {
                self.stop_gracefully();
                return;
            }
            let started = std::time::Instant::now();
            let flow = self.check();
            if flow == Flow::Exit {
                log::info!("stopping: the reboot command has run, leaving the node and the lock for after the reboot");
                return;
            }
            self.pace(flow, started);
        }
    }

    /// A stop before any reboot command ran: whatever this node still holds
    /// (a lock, our cordon) is put back, so no node is stranded.
    fn stop_gracefully(&self) {
        if self.state.keep_lock_on_stop.get() {
            log::info!("stopped in the release gate: the lock stays until the next start has passed the gate");
            return;
        }
        log::info!("stopping: putting the node back if kured holds it");
        self.release_leftover_lock();
        self.set_taint(false);
        log::info!("stopped");
    }

    /// One periodic check. Returns when there is nothing (more) to do this
    /// period; after a reboot was requested it waits for the boot ID to change.
    /// [`Flow::LockFull`]: the reboot waits for the lock (woken by its release).
    pub fn check(&self) -> Flow {
        self.metrics.health.beat();
        let now = self.clock.now();
        let in_window = self.config.window.contains(now);
        self.metrics.status.set_window_open(in_window);
        let opens = self.config.window.next_opening(now);
        self.metrics.status.set_window_next_open(opens);
        let required = if in_window { self.host.reboot_required().map_err(|e| e.to_string()) } else { Ok(false) };
        if let (true, Ok(r)) = (in_window, &required) {
            self.metrics.set_reboot_required(self.node_id(), *r, self.clock.now());
        }
        match plan::gate(in_window, &required) {
            Gate::OutsideWindow => {
                let why = format!("outside the maintenance window, {}", status::window_opens(opens));
                log::debug!("{why} ({})", self.config.window);
                let wait = opens.map(|at| Duration::try_from(at - now).unwrap_or(Duration::ZERO));
                self.state.window_opens_at.set(wait.map(|w| std::time::Instant::now() + w));
                self.set_taint(false);
                // (its read of the lock's DaemonSet also says whether reboots are paused)
                self.release_leftover_lock();
                // (the sentinel is read only inside the window, as upstream:
                // "ok" unless a reboot was already found needed)
                match self.metrics.status.pending() {
                    true => self.report_idle("pending", &why, Some(Blocked::Window)),
                    false => self.report_idle("ok", &why, None),
                }
            }
            Gate::NotRequired => {
                log::info!("reboot not required");
                self.set_taint(false);
                self.release_leftover_lock();
                self.report_idle("ok", "", None);
                self.sentinel_cleared();
            }
            Gate::CheckFailed(e) => {
                log::error!("cannot tell whether a reboot is required, will retry: {e}");
                self.report("error", "cannot check the sentinel", None);
            }
            Gate::Required if plan::loop_stopped(self.state.streak.get(), self.config.reboot_loop_limit) => {
                log::warn!(
                    "reboot required, but not rebooting: {} reboots in a row left the sentinel set (--reboot-loop-limit={}); \
                     reboots resume once the sentinel is clear, or after a restart of kured",
                    self.state.streak.get(),
                    self.config.reboot_loop_limit
                );
                self.report(
                    "pending",
                    "reboot loop: the sentinel stays set after reboots (--reboot-loop-limit)",
                    Some(Blocked::RebootLoop),
                );
                self.set_taint(false);
                self.release_leftover_lock();
            }
            Gate::Required if !self.reboot_retry.get().allows(now) => {
                let retry = self.reboot_retry.get();
                self.report("pending", "back-off after failed reboot commands", Some(Blocked::BackOff));
                log::warn!(
                    "reboot required, but the reboot failed {} time(s): next attempt after {}",
                    retry.failures,
                    retry.not_before.map(rfc3339).unwrap_or_default()
                );
                // A lock or cordon left by a give-up that failed is put back now.
                self.release_leftover_lock();
            }
            Gate::Required => {
                log::info!("reboot required");
                match self.reboot_if_allowed() {
                    Ok(flow) => return flow,
                    Err(e) => log::error!("reboot attempt stopped, will retry next period: {e}"),
                }
            }
        }
        Flow::Continue
    }

    fn reboot_if_allowed(&self) -> Result<Flow> {
        let node = self.client.get_node(self.node_id())?;
        if let Some(why) = crate::optout::opted_out(&node.metadata.labels, &node.metadata.annotations) {
            self.opted_out(&why);
            return Ok(Flow::Continue);
        }
        if self.reboots_too_often(&node.metadata.annotations) {
            return Ok(Flow::Continue);
        }
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
            self.report("pending", &why, Some(Blocked::of_blocker(&why)));
            return Ok(Flow::Continue);
        }
        if self.clock.stopped() {
            return Ok(Flow::Continue);
        }
        if let Some(flow) = self.control_plane_check(&node)? {
            return Ok(flow);
        }
        let lock = self.lock();
        let boot_id = node.boot_id().map(str::to_string);
        let wanted = LockMeta {
            unschedulable: node.spec.unschedulable && !self.state.our_cordon.get(),
            boot_id: boot_id.clone(),
            reboot_streak: self.state.streak.get(),
        };
        let Some(held) = self.take_lock(&lock, wanted)? else {
            // (a Ready condition is not in the lock: its watch cannot wake us)
            return Ok(if self.state.guard_not_ready.take() { Flow::Continue } else { Flow::LockFull });
        };
        self.state.our_cordon.set(false);
        let was_cordoned = held.meta.unschedulable;
        let mut holding = holder::Holding::new(held, node.metadata.uid.clone(), self.clock.now());
        self.hold(&node);
        let drain_started = std::time::Instant::now();
        let drained =
            if self.clock.stopped() { Err(Error::Drain("stopping".into())) } else { self.drain(&lock, &mut holding) };
        self.metrics.status.observe(Phase::Drain, drain_started.elapsed());
        let drained = match drained {
            Ok(drain::DrainStep::Drained) => Ok(()),
            Ok(drain::DrainStep::GaveWay(to)) => {
                // Not a failure: --force-reboot does not apply, and no back-off.
                let to = crate::names::summary(&to);
                log::warn!(
                    "drain of {} stalled on PodDisruptionBudgets: giving way to {to}, which took the lock earlier",
                    self.node_id()
                );
                self.notify_warning(
                    "DrainGaveWay",
                    &format!("stalled on PodDisruptionBudgets; gave way to {to}, which took the lock earlier"),
                );
                self.event(
                    "GaveWay",
                    &format!("drain stalled on PodDisruptionBudgets; uncordoned and released the lock for {to}, which took it earlier; draining again once one of them is done"),
                );
                self.give_up(&lock, !was_cordoned);
                return Ok(Flow::Continue);
            }
            Ok(drain::DrainStep::Lost(lost)) => {
                self.lock_lost(&lock, &holding, &lost);
                return Ok(lost.then());
            }
            Err(e) => {
                log::error!("drain of {} failed: {e}", self.node_id());
                if !self.clock.stopped() {
                    self.notify_warning("DrainFailed", &e.to_string());
                }
                Err(e)
            }
        };
        match plan::after_drain(drained.is_ok(), self.config.force_reboot, was_cordoned, self.clock.stopped()) {
            AfterDrain::GiveUp { uncordon } => {
                if self.clock.stopped() {
                    log::info!("stopping: putting the node back");
                } else {
                    log::info!("giving up this attempt; the drain will be tried again when the lock is next acquired");
                }
                self.give_up(&lock, uncordon);
                Ok(Flow::Continue)
            }
            AfterDrain::Reboot => {
                if drained.is_err() {
                    log::warn!("rebooting anyway (--force-reboot)");
                }
                self.reboot(&lock, &mut holding, boot_id)
            }
        }
    }

    /// The reboot-loop guard's count in time: `--reboot-loop-limit` confirmed
    /// reboots within `--reboot-loop-window` stop the next one, however late
    /// after each boot the sentinel came back. True = stopped (reported).
    fn reboots_too_often(&self, annotations: &std::collections::BTreeMap<String, String>) -> bool {
        let (limit, window) = (self.config.reboot_loop_limit, self.config.reboot_loop_window);
        let times = history::recorded(annotations);
        let Some(until) = history::stopped_until(&times, self.clock.now(), window, limit) else {
            if self.state.window_loop_reported.replace(false) {
                log::info!("fewer than {limit} reboots within --reboot-loop-window now: reboots resume");
                self.metrics.set(metrics::Series::RebootLoopStopped, self.node_id(), 0);
            }
            return false;
        };
        let why = format!(
            "kured stopped rebooting the node: {limit} reboots within --reboot-loop-window={}s (--reboot-loop-limit={limit}), \
             the sentinel set again after each; reboots resume at {}, or once the annotation {} is removed",
            window.map_or(0, |w| w.as_secs()),
            rfc3339(until),
            history::ANNOTATION
        );
        log::warn!("reboot required, but not rebooting: {why}");
        self.report("pending", "reboot loop: too many reboots within --reboot-loop-window", Some(Blocked::RebootLoop));
        if !self.state.window_loop_reported.replace(true) {
            self.warning("RebootLoop", &why);
            self.metrics.set(metrics::Series::RebootLoopStopped, self.node_id(), 1);
        }
        self.set_taint(false);
        true
    }

    /// Acquire; when the lock is full, break entries of deleted nodes and try
    /// once more. None = held by others (the taint is set meanwhile).
    fn take_lock(&self, lock: &DaemonSetLock<'_>, wanted: LockMeta) -> Result<Option<Held>> {
        if self.still_giving_way(lock)? {
            return Ok(None);
        }
        for attempt in 0..2 {
            let since = self.metrics.status.lock_wait_since();
            let taken = match lock.try_acquire_queued(wanted.clone(), since, &mut self.state.waiting.borrow_mut()) {
                Ok(taken) => taken,
                // Deleted (a re-install): wait on its watch for it to be back.
                Err(e) if e.is_not_found() => {
                    log::warn!(
                        "the lock's DaemonSet {}/{} does not exist: waiting for it to be created again",
                        lock.namespace,
                        lock.name
                    );
                    self.report("pending", "the lock's DaemonSet does not exist", Some(Blocked::Lock));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            match taken {
                Queued::Paused(why) => {
                    self.paused(&why);
                    return Ok(None);
                }
                Queued::Deferred => {
                    self.metrics.status.lock_wait_started(self.clock.now());
                    self.report("pending", "lock: waiting for its turn", Some(Blocked::Lock));
                    self.set_taint(true);
                    return Ok(None);
                }
                Queued::Guarded(wait) => {
                    self.metrics.status.lock_wait_started(self.clock.now());
                    self.report("pending", &wait.reason(), Some(Blocked::ControlPlane));
                    self.set_taint(true);
                    if wait.readiness() {
                        self.state.guard_not_ready.set(true);
                        self.note_lock_frees_in(quorum::NOT_READY_RECHECK.min(self.config.period));
                    }
                    return Ok(None);
                }
                Queued::Taken(Taken::Acquired(held)) => return Ok(Some(held)),
                Queued::Taken(Taken::Full { holders, entries }) => {
                    if attempt == 0
                        && self.stale_look_wanted()
                        && self.stale_look_due()
                        && self.break_stale_locks(lock, &entries)
                    {
                        continue;
                    }
                    if let Some(d) = crate::lock::next_expiry(&entries, self.clock.now()) {
                        self.note_lock_frees_in(d);
                    }
                    // A hand-written lock may name nobody ({} holds it as "").
                    let names: Vec<&str> =
                        holders.iter().map(|h| if h.is_empty() { "\"\"" } else { h.as_str() }).collect();
                    log::info!("waiting for the reboot lock, held by {}", crate::names::summary(&names));
                    self.metrics.status.lock_wait_started(self.clock.now());
                    self.report(
                        "pending",
                        &format!("lock held by {}", crate::names::summary(&names)),
                        Some(Blocked::Lock),
                    );
                    // Prefer not to schedule pods here: they would be drained soon.
                    self.set_taint(true);
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }
}
