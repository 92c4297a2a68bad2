//! The loop: the life of one kured pod, as upstream lives it. Start-up recovery
//! (finish a reboot this node started, told from a mere restart by the boot ID),
//! then every `--period`: window, sentinel, taint, annotations, blockers, lock,
//! drain, reboot, and the wait for the boot ID to change. The lifecycle is the
//! pure state machine of [`machine`]; this file runs it: observe → step →
//! execute (`execute.rs`) → pace (`pace.rs`), with `&mut self` and no interior
//! mutability. Runtime faults are logged and retried: nothing here exits the
//! process, except a graceful stop (SIGTERM), which puts the node back unless
//! the reboot command has run.

mod drain;
mod effects;
mod execute;
mod fleet;
mod gate;
mod history;
mod holder;
pub mod machine;
mod pace;
mod quorum;
mod recover;
mod stale;
mod take;

use std::time::{Duration, Instant};

use crate::blockers::Blocker;
use crate::clock::{Clock, DaemonClock};
use crate::config::Config;
use crate::error::Result;
use crate::host::{Host, RealHost};
use crate::kube::{Client, Node};
use crate::lock::wake::Waiting;
use crate::lock::{quorum::Guard, stale::Sightings, DaemonSetLock};
use crate::metrics::{self, Metrics};
use crate::notify::Notifier;
use crate::stop::Stop;
use machine::{Memory, Observation, Phase, Policy, Wait};

/// Set while this node is being rebooted by kured (with --annotate-nodes).
pub const REBOOT_IN_PROGRESS: &str = "weave.works/kured-reboot-in-progress";
/// When kured last saw that this node needed a reboot (with --annotate-nodes).
pub const MOST_RECENT_REBOOT_NEEDED: &str = "weave.works/kured-most-recent-reboot-needed";

/// How often the reboot-required gauge is refreshed, as upstream.
const METRICS_REFRESH: Duration = Duration::from_secs(60);
/// After SIGTERM the undo (uncordon, release) must finish within this, or the
/// process exits anyway: well inside the manifests' terminationGracePeriodSeconds (90).
pub const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// How a check ended: what the loop waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The next period.
    Continue,
    /// A reboot waits for the lock: wait on its release rather than the period.
    LockFull,
    /// The reboot command ran: waiting for the machine to go down.
    Rebooting,
    /// Stopped (gracefully, or after the reboot command): the loop is over.
    Exit,
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

    let mut agent = Agent::new(&config, &client, &host, &clock).with_notifier(notifier).with_metrics(metrics);
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

/// What the executor keeps between actions: the parts' own state (the lock's
/// watch and queue, the Node last read, the entry held), none of which
/// decides the lifecycle.
#[derive(Debug, Default)]
struct Io {
    /// The Node as the last check (or recovery) read it.
    node: Option<Node>,
    /// The lock entry held, from its take until it is given up or released.
    holding: Option<holder::Holding>,
    /// When the current check started (its wait is the rest of the period).
    check_started: Option<Instant>,
    /// When lock holders' Nodes were first seen missing.
    sightings: Sightings,
    /// When the holders' Nodes were last looked up: a node woken by the lock's
    /// release checks again within a second, but a stale entry needs two looks
    /// a gap apart, so looking more than once a period only costs requests.
    stale_looked: Option<time::OffsetDateTime>,
    /// When a slot of the full lock frees itself (a TTL, a broken entry's
    /// grace), which no watch event announces: the wait ends then.
    lock_frees_at: Option<Instant>,
    /// The closed maintenance window opens then, sooner than the period
    /// ends: the wait ends then (a window shorter than --period is not missed).
    window_opens_at: Option<Instant>,
    /// The lock's watch and queue, kept between waits (agent/pace.rs).
    waiting: Waiting,
    /// The quorum guard of this check, when this is a control-plane node
    /// (agent/quorum.rs); the lock carries it, for its take and its wait.
    guard: Option<Guard>,
    /// Held back by `--control-plane-order`: since when, when last seen, and
    /// whether the patience ran out (warned).
    order_held: Option<(time::OffsetDateTime, time::OffsetDateTime, bool)>,
    /// One `--period` after the first look of the order: before then the
    /// other side may not have said yet that it wants a reboot.
    order_settles_at: Option<Instant>,
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
    policy: Policy,
    phase: Phase,
    memory: Memory,
    io: Io,
    /// The wait the last turn ended on, for [`Agent::run_loop`].
    next_wait: Option<Wait>,
}

impl<'a> Agent<'a> {
    /// An agent for `config` on these parts: the blockers the config names, no
    /// notifier, metrics of its own, and nothing remembered yet.
    pub fn new(config: &'a Config, client: &'a Client, host: &'a dyn Host, clock: &'a dyn Clock) -> Agent<'a> {
        Agent {
            blockers: crate::wire::blockers(config),
            policy: policy(config),
            config,
            client,
            host,
            clock,
            notifier: None,
            metrics: Metrics::new(),
            phase: Phase::Idle { window: None },
            memory: Memory::default(),
            io: Io::default(),
            next_wait: None,
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

    /// Where the lifecycle is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    fn lock(&self) -> DaemonSetLock<'a> {
        crate::wire::lock(self.client, self.config, self.clock).guarded(self.io.guard.clone())
    }
}

/// The settings the machine decides with.
fn policy(c: &Config) -> Policy {
    Policy {
        node: c.node_id.clone(),
        period: c.period,
        force_reboot: c.force_reboot,
        reboot_loop_limit: c.reboot_loop_limit,
        reboot_loop_window: c.reboot_loop_window,
        reboot_timeout: c.reboot_timeout,
        annotate_nodes: c.annotate_nodes,
        post_labels: !c.post_reboot_node_labels.is_empty(),
        release_gate: !c.release_gate_timeout.is_zero(),
        reboot_delay: c.reboot_delay,
        lock_release_delay: c.lock_release_delay,
        lock_home: format!("{}/{}", c.ds_namespace, c.ds_name),
    }
}

impl Agent<'_> {
    fn node_id(&self) -> &str {
        &self.config.node_id
    }

    /// Start-up recovery: if this node holds the lock, a reboot it started is
    /// over (or the previous pod died on the way): put the node back and
    /// release. Retried (on the clock) until done, so a node is never left
    /// cordoned because the API was down. Returns before the first check.
    pub fn recover(&mut self) {
        let (phase, actions) = machine::start();
        self.phase = phase;
        let mut wait = self.run_actions(actions);
        while let Some(Wait::Retry(d)) = wait {
            let seen = self.pace(&Wait::Retry(d));
            wait = self.turn(seen);
        }
        self.next_wait = wait;
    }

    /// One periodic check, now: the machine's steps until it waits. After
    /// the reboot command the check returns [`Flow::Rebooting`]; the next
    /// looks at the boot ID once the wait is over.
    pub fn check(&mut self) -> Flow {
        let wait = self.turn(Observation::Tick);
        let flow = match &wait {
            None => Flow::Exit,
            Some(Wait::Lock | Wait::GaveWay(_)) => Flow::LockFull,
            Some(Wait::Reboot(_)) => Flow::Rebooting,
            Some(_) => Flow::Continue,
        };
        self.next_wait = wait;
        flow
    }

    /// Every period, after a random initial delay, until a stop.
    pub fn run_loop(&mut self) {
        let mut wait = self.next_wait.take().unwrap_or(Wait::FirstCheck);
        while !self.phase.is_terminal() {
            let seen = self.pace(&wait);
            match self.turn(seen) {
                Some(w) => wait = w,
                None => return,
            }
        }
    }

    /// Step on `seen` and carry out the actions until the machine waits
    /// (Some) or ends (None).
    fn turn(&mut self, seen: Observation) -> Option<Wait> {
        let (phase, actions) = machine::step(&self.phase, &mut self.memory, seen, &self.policy, self.clock.now());
        log::trace!("{} -> {}: {:?}", self.phase.name(), phase.name(), actions);
        self.phase = phase;
        self.run_actions(actions)
    }

    /// Carry out `actions` in order; an observation steps again, a wait ends the turn.
    fn run_actions(&mut self, mut actions: Vec<machine::Action>) -> Option<Wait> {
        loop {
            let mut seen = None;
            for action in actions {
                if let machine::Action::Wait(w) = action {
                    return Some(w);
                }
                if let Some(s) = self.execute(action) {
                    seen = Some(s);
                    break;
                }
            }
            match seen {
                Some(s) => {
                    let (phase, next) = machine::step(&self.phase, &mut self.memory, s, &self.policy, self.clock.now());
                    log::trace!("{} -> {}: {:?}", self.phase.name(), phase.name(), next);
                    self.phase = phase;
                    actions = next;
                }
                None if self.phase.is_terminal() => return None,
                None => {
                    // A step that neither looks nor waits is a bug of the machine:
                    // never spin on it, never end the loop over it.
                    log::error!(
                        "the lifecycle stopped in {} without a wait: checking again next period",
                        self.phase.name()
                    );
                    return Some(Wait::Period);
                }
            }
        }
    }
}
