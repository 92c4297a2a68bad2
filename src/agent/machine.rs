//! The lifecycle of one node's reboot as one pure state machine: the phases
//! ([`Phase`]), what the loop remembers between checks ([`Memory`]), what it
//! sees ([`Observation`]) and what it does ([`Action`]), and the one
//! transition function [`step`]. No I/O, no clock reads, no interior
//! mutability: `agent/execute.rs` carries the actions out and turns their
//! results into the next observation; `agent/mod.rs` loops observe → step →
//! execute → pace. The rules the steps apply (boot IDs, the reboot-loop
//! guard, back-off, ...) are the table-tested functions of [`rules`].
//!
//! How the actions of one step run: in order, until one of them answers with
//! an observation (a look, or a failure that ends the attempt: the rest of
//! the list is then skipped) or until a [`Action::Wait`], which ends the
//! loop's turn. A step always ends its list with one of them, unless its
//! phase is terminal ([`Phase::Stopped`], [`Phase::GoingDown`]).
//!
//! A stop (SIGTERM) is seen instead of the result of any action that would
//! start new work ([`Action::stoppable`]): each phase says what it means
//! there (put the node back, keep the lock in the release gate, nothing
//! after the reboot command). The diagram is in CONTRIBUTING.md.

pub mod rules;
#[cfg(test)]
mod tests;

use std::time::Duration;

use time::OffsetDateTime;

use super::holder::Lost;
use crate::lock::stale::EntryKey;
use crate::lock::LockMeta;
use crate::metrics::Series;
use crate::status::{window_opens, with_pause, Blocked, NodeState};
use rules::{Boot, RebootRetry, RebootVerdict, RebootWait};

/// Upstream retries start-up recovery each minute; a shorter period (tests,
/// impatient operators) retries sooner.
pub const RECOVERY_RETRY: Duration = Duration::from_secs(60);
/// How long a failed look at the boot ID after a reboot waits to look again (at most).
const BOOT_LOOK_RETRY: Duration = Duration::from_secs(60);
/// A control-plane node held back because another one is not Ready looks
/// again after this long (or its `--period`, if shorter): no watch event
/// announces a Node becoming Ready.
pub const NOT_READY_RECHECK: Duration = Duration::from_secs(10);

/// The settings the decisions depend on (from the Config, see `agent/mod.rs`).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub node: String,
    pub period: Duration,
    pub force_reboot: bool,
    pub reboot_loop_limit: u32,
    pub reboot_loop_window: Option<Duration>,
    pub reboot_timeout: Option<Duration>,
    pub annotate_nodes: bool,
    /// `--post-reboot-node-labels` are set
    pub post_labels: bool,
    /// `--release-gate-timeout` is not zero
    pub release_gate: bool,
    pub reboot_delay: Duration,
    pub lock_release_delay: Duration,
}

/// Where the node's reboot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Just started: this node may still hold the lock from before.
    Starting,
    /// This node holds the lock (at start-up, or after its reboot): put the
    /// node back as the lock recorded it, then release.
    Recovering(Recovery),
    /// After a reboot, with the lock still held: waiting for the node and its
    /// PodDisruptionBudgets to recover (`--release-gate-timeout`).
    ReleaseGate(Recovery),
    /// Taking kured's marks off the node and releasing the lock.
    Releasing(Recovery),
    /// The lock is released: the sentinel decides the reboot-loop count.
    Released(Released),
    /// Nothing to do: no reboot needed, or the window is closed (its reason).
    Idle { window: Option<String> },
    /// A reboot is needed and something holds it back.
    Pending(Hold),
    /// A reboot is needed and waits for a slot of the lock (on its watch).
    WaitingForLock,
    /// The drain stalled and gave way to earlier holders: waiting for one of
    /// them to release (`Memory::gave_way_to`).
    GivingWay,
    /// A check under way.
    Checking(Check),
    /// Putting back what this node still holds (a leftover lock, a cordon of
    /// ours), then `then`.
    Tidying(Box<Tidy>),
    /// The lock is held: cordon and drain.
    Draining(Attempt),
    /// Drained: the last looks before the reboot command (the lock entry and
    /// the Node still ours, the control-plane quorum).
    Confirming(Attempt),
    /// The reboot command ran (`since`) or is running; waiting for the boot ID to change.
    Rebooting(Attempt),
    /// The lock was lost while holding it: the node is being put back.
    PuttingBack { opted_out: Option<String> },
    /// Stopped gracefully (terminal).
    Stopped,
    /// Stopped after the reboot command: the machine is going down (terminal).
    GoingDown,
}

impl Phase {
    /// The phase's name, for logs and the table test.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Starting => "Starting",
            Phase::Recovering(_) => "Recovering",
            Phase::ReleaseGate(_) => "ReleaseGate",
            Phase::Releasing(_) => "Releasing",
            Phase::Released(_) => "Released",
            Phase::Idle { .. } => "Idle",
            Phase::Pending(_) => "Pending",
            Phase::WaitingForLock => "WaitingForLock",
            Phase::GivingWay => "GivingWay",
            Phase::Checking(_) => "Checking",
            Phase::Tidying(_) => "Tidying",
            Phase::Draining(_) => "Draining",
            Phase::Confirming(_) => "Confirming",
            Phase::Rebooting(_) => "Rebooting",
            Phase::PuttingBack { .. } => "PuttingBack",
            Phase::Stopped => "Stopped",
            Phase::GoingDown => "GoingDown",
        }
    }

    /// No step follows.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Stopped | Phase::GoingDown)
    }
}

/// Why a needed reboot waits (the phase [`Phase::Pending`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Outside the maintenance window (the status reason).
    Window(String),
    /// The sentinel could not be read.
    SentinelFailed,
    /// `--reboot-loop-limit` reboots in a row left the sentinel set.
    RebootLoop,
    /// `--reboot-loop-limit` reboots within `--reboot-loop-window`.
    RebootsTooOften,
    /// Back-off after failed reboot commands.
    BackOff,
    /// The Node is opted out (the reason).
    OptedOut(String),
    /// A blocker (alerts, pods) holds it back.
    Blocked(Blocked),
    /// The control-plane quorum guard or `--control-plane-order`.
    ControlPlane,
    /// Reboots are paused on the lock's DaemonSet (the reason).
    Paused(String),
    /// The attempt stopped on a fault: the next period tries again.
    Retry,
}

/// Which look a check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The window and the sentinel.
    Gate,
    /// The Node (opt-out, reboot history, boot ID).
    Node,
    /// The blockers.
    Blockers(NodeFacts),
    /// The control-plane nodes (quorum guard, order).
    ControlPlane(NodeFacts),
    /// The lock's take.
    Lock(NodeFacts),
}

/// What [`Phase::Tidying`] goes on to once the leftovers are put back: the
/// phase, the status to report then (with the pause the look saw), the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tidy {
    pub then: Phase,
    pub report: Option<(NodeState, String, Option<Blocked>)>,
    pub wait: Option<Wait>,
}

/// One attempt at rebooting, from the lock's take on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attempt {
    /// The node was cordoned before the lock was taken (an operator's): it stays so.
    pub was_cordoned: bool,
    /// The node's boot ID before the drain.
    pub boot_before: Option<String>,
    /// When the reboot command ran.
    pub since: Option<OffsetDateTime>,
}

/// A recovery: why, and how far it got (so a retry redoes only what failed,
/// and never announces twice).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovery {
    /// At start-up (true) or after the boot ID changed while this process ran.
    pub at_start: bool,
    /// The lock entry of this node, once looked at.
    pub meta: Option<LockMeta>,
    pub boot: Option<Boot>,
    pub in_progress: bool,
    pub done: Done,
    /// A release was sent: what the recovery found. Should its answer be lost
    /// (a timeout, a reset) after the server applied it, the next try finds the
    /// lock no longer ours and must still finish with this, or the reboot-loop
    /// count riding in the released entry is lost (chaos seed 13090294232347265417).
    pub release_sent: Option<Box<Released>>,
}

/// The steps of a recovery already done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Done {
    pub uncordoned: bool,
    pub announced: bool,
    pub labelled: bool,
    /// the release gate passed and kured's marks came off
    pub unheld: bool,
}

/// What a finished recovery found, for after the release.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Released {
    pub at_start: bool,
    /// None: there was no lock of ours to release.
    pub boot: Option<Boot>,
    pub meta: LockMeta,
    pub in_progress: bool,
}

/// What the loop remembers between checks (all of it starts empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Confirmed reboots in a row that left the sentinel set (reboot-loop guard).
    pub streak: u32,
    /// The guard's Warning Event was posted for the current streak.
    pub loop_reported: bool,
    /// The count-in-time guard's Warning Event was posted for this stop.
    pub window_loop_reported: bool,
    /// Back-off after failed reboot commands.
    pub retry: RebootRetry,
    /// The node is cordoned by kured with no lock entry recording it (the
    /// uncordon after a lost lock failed): the next take records it as ours.
    pub our_cordon: bool,
    /// The pause the last look for a leftover lock saw on the lock's DaemonSet.
    pub pause_seen: Option<String>,
    /// The lock entries a stalled drain gave way to (`--drain-stall-timeout`):
    /// the lock is not taken again while they all are still there.
    pub gave_way_to: Vec<EntryKey>,
}

/// What the Node says, read at a check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeFacts {
    /// Opted out of reboots (the reason), by its label or annotation.
    pub opted_out: Option<String>,
    /// The confirmed reboots recorded on the node (`agent/history.rs`).
    pub reboots: Vec<OffsetDateTime>,
    /// The reboot-in-progress annotation is there (`--annotate-nodes`).
    pub in_progress: bool,
    /// The status annotation says the release gate was under way.
    pub in_release_gate: bool,
    pub unschedulable: bool,
    pub boot_id: Option<String>,
}

/// How the take of the lock went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Ours; the lock recorded whether the node was cordoned before.
    Taken { was_cordoned: bool },
    /// Full: held by these (a summary of names).
    Full(String),
    /// A slot is free, but it is another node's turn.
    Deferred,
    /// The quorum guard holds this control-plane node back (the reason);
    /// `readiness`: a node not Ready, which no watch event announces.
    Guarded { reason: String, readiness: bool },
    /// Reboots are paused (the reason).
    Paused(String),
    /// The lock's DaemonSet does not exist.
    Missing,
    /// Still giving way to these (a summary of names).
    GivingWay(String),
}

/// How the drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainOutcome {
    Drained,
    /// Stalled on budgets: gave way to the earlier holders (names, entries).
    GaveWay(Vec<String>, Vec<EntryKey>),
    /// The lock entry or the Node was lost.
    Lost(Lost),
    /// A stop came.
    Stopped,
    Failed(String),
}

/// The last look before the reboot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Held,
    Lost(Lost),
    /// No look succeeded in time.
    Unsure,
}

/// The control-plane look right before the reboot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quorum {
    Fine,
    /// Another control-plane node is not Ready or settling (the reason).
    Hold(String),
    Failed(String),
}

/// How the reboot command went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ran,
    /// It may or may not have worked (a timeout): wait for the boot ID.
    Uncertain(String),
    Failed(String),
}

/// How the release gate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateOutcome {
    Open,
    TimedOut,
    Stopped,
}

/// What the loop sees: the answer of the last action, or time passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A wait ended: time for the next look.
    Tick,
    /// A graceful stop (SIGTERM) was asked for.
    Stop,
    /// The window and the sentinel (read only inside the window);
    /// `pending`: the sentinel last said a reboot is needed.
    Gate {
        in_window: bool,
        opens: Option<OffsetDateTime>,
        required: Result<bool, String>,
        pending: bool,
    },
    /// An action failed; the attempt stops (a retry follows).
    Failed(String),
    Node(NodeFacts),
    /// The blockers' reasons (empty: none blocks).
    Blockers(Vec<(Blocked, String)>),
    /// `--control-plane-order` holds the node back (reported by the look).
    ControlPlane {
        held: bool,
    },
    Lock(Take),
    Drained(DrainOutcome),
    /// The node is put back after a lost lock; `cordon_left`: the uncordon failed.
    PutBack {
        cordon_left: bool,
    },
    Confirmed(Confirmation),
    Quorum(Quorum),
    Command(Command),
    BootId(Option<String>),
    /// The lock as a recovery sees it: this node's entry, and the pause.
    Held {
        mine: Option<LockMeta>,
        pause: Option<String>,
    },
    /// A recovery's put-back steps: how far they got, and the failure if any.
    Recovered {
        done: Done,
        failed: Option<String>,
    },
    GateEnded(GateOutcome),
    /// The lock is released.
    LockReleased,
    Sentinel(Result<bool, String>),
    /// Leftovers put back. `pause`: what the look saw (None: it failed);
    /// `cordon_cleared`: kured's cordon with no entry is undone.
    Tidied {
        pause: Option<Option<String>>,
        cordon_cleared: bool,
    },
}

/// How long a wait lasts, and what ends it early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// The first check, a random part of a period after the start.
    FirstCheck,
    /// Until the next period (or the window's opening, or a slot's expiry).
    Period,
    /// On the lock's watch, until a slot is free for this node (at most a period).
    Lock,
    /// Until one of the entries given way to is gone (at most a period).
    GaveWay(Vec<EntryKey>),
    /// A recovery step failed: try again after this.
    Retry(Duration),
    /// After the reboot command: look again after this.
    Reboot(Duration),
}

/// Which notification template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Drain,
    Reboot,
    Uncordon,
}

/// What the loop does. Each is carried out by `agent/execute.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Log(log::Level, String),
    /// Write the status annotation (and the blocked metric). `news`: written
    /// at once even when only the reason changed.
    Report {
        state: NodeState,
        reason: String,
        blocked: Option<Blocked>,
        news: bool,
    },
    /// The PreferNoSchedule taint on or off.
    SetTaint(bool),
    /// A Normal Event on the node.
    Event(&'static str, String),
    /// A Warning Event on the node, and its notification.
    Warning(&'static str, String),
    /// A warning's notification only.
    NotifyWarning(&'static str, String),
    Notify(Template),
    SetMetric(Series, u64),
    IncMetric(Series),
    /// The lock wait (its metric, its place in the queue) starts, if not yet.
    LockWaitStarted,
    /// Leave the lock's queue (opted out): the watch and the place forgotten.
    LeaveQueue,
    /// Look again within this (the readiness of a control-plane peer).
    LookAgainIn(Duration),
    /// Read the window and the sentinel (the start of a check).
    LookAtGate,
    ReadNode,
    /// The reboot-in-progress and most-recent-reboot-needed annotations.
    AnnotateInProgress,
    CheckBlockers,
    CheckControlPlane,
    TakeLock {
        wanted: LockMeta,
        gave_way_to: Vec<EntryKey>,
    },
    /// Mark the node held (autoscaler, release-gate record, status draining).
    Hold,
    /// Pre-reboot labels, drain delay, the Drain Event and notification, cordon, evictions.
    Drain,
    /// Uncordon if asked, post-reboot labels, marks off, release delay, release.
    GiveUp {
        uncordon: bool,
    },
    /// Put the node back after the lock was lost (and say why).
    PutBackLost {
        lost: Lost,
        was_cordoned: bool,
    },
    /// Sleep this long (a configured delay).
    Sleep(Duration),
    /// The lock entry and the Node, looked at right before the reboot command.
    Confirm,
    /// The control-plane nodes, looked at right before the reboot command.
    CheckQuorum,
    RunRebootCommand,
    ReadBootId,
    /// Read the lock for a recovery (and break stale entries when not ours).
    LookAtLock,
    /// A recovery's put-back steps still to do.
    PutBack {
        uncordon: bool,
        announce: bool,
        labels: bool,
        done: Done,
    },
    /// The release gate: wait for the node and its budgets.
    PassReleaseGate,
    /// Time the reboot (from the status annotation's "rebooting"), for the histogram.
    TimeReboot,
    /// Take kured's marks off (after a reboot: record it in the history).
    Unhold {
        after_reboot: bool,
    },
    ReleaseLock,
    ReadSentinel,
    RemoveInProgress,
    /// Put back a leftover lock and kured's cordon with no entry.
    Tidy {
        our_cordon: bool,
    },
    Wait(Wait),
}

impl Action {
    /// Starts new work: a stop is seen instead of its result.
    pub fn stoppable(&self) -> bool {
        matches!(
            self,
            Action::Wait(_) | Action::CheckControlPlane | Action::TakeLock { .. } | Action::Drain | Action::Confirm
        )
    }

    /// The action's name, for the table test.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Log(..) => "Log",
            Action::Report { .. } => "Report",
            Action::SetTaint(true) => "Taint",
            Action::SetTaint(false) => "Untaint",
            Action::Event(..) => "Event",
            Action::Warning(..) => "Warning",
            Action::NotifyWarning(..) => "NotifyWarning",
            Action::Notify(_) => "Notify",
            Action::SetMetric(..) => "SetMetric",
            Action::IncMetric(_) => "IncMetric",
            Action::LockWaitStarted => "LockWaitStarted",
            Action::LeaveQueue => "LeaveQueue",
            Action::LookAgainIn(_) => "LookAgainIn",
            Action::LookAtGate => "LookAtGate",
            Action::ReadNode => "ReadNode",
            Action::AnnotateInProgress => "AnnotateInProgress",
            Action::CheckBlockers => "CheckBlockers",
            Action::CheckControlPlane => "CheckControlPlane",
            Action::TakeLock { .. } => "TakeLock",
            Action::Hold => "Hold",
            Action::Drain => "Drain",
            Action::GiveUp { .. } => "GiveUp",
            Action::PutBackLost { .. } => "PutBackLost",
            Action::Sleep(_) => "Sleep",
            Action::Confirm => "Confirm",
            Action::CheckQuorum => "CheckQuorum",
            Action::RunRebootCommand => "RunRebootCommand",
            Action::ReadBootId => "ReadBootId",
            Action::LookAtLock => "LookAtLock",
            Action::PutBack { .. } => "PutBack",
            Action::PassReleaseGate => "PassReleaseGate",
            Action::TimeReboot => "TimeReboot",
            Action::Unhold { .. } => "Unhold",
            Action::ReleaseLock => "ReleaseLock",
            Action::ReadSentinel => "ReadSentinel",
            Action::RemoveInProgress => "RemoveInProgress",
            Action::Tidy { .. } => "Tidy",
            Action::Wait(Wait::FirstCheck) => "Wait(FirstCheck)",
            Action::Wait(Wait::Period) => "Wait(Period)",
            Action::Wait(Wait::Lock) => "Wait(Lock)",
            Action::Wait(Wait::GaveWay(_)) => "Wait(GaveWay)",
            Action::Wait(Wait::Retry(_)) => "Wait(Retry)",
            Action::Wait(Wait::Reboot(_)) => "Wait(Reboot)",
        }
    }
}

/// The start-up: look whether this node still holds the lock.
pub fn start() -> (Phase, Vec<Action>) {
    (Phase::Recovering(Recovery { at_start: true, ..Recovery::default() }), vec![Action::LookAtLock])
}

fn log(level: log::Level, message: impl Into<String>) -> Action {
    Action::Log(level, message.into())
}

fn info(message: impl Into<String>) -> Action {
    log(log::Level::Info, message)
}

fn warn(message: impl Into<String>) -> Action {
    log(log::Level::Warn, message)
}

fn error(message: impl Into<String>) -> Action {
    log(log::Level::Error, message)
}

fn report(state: NodeState, reason: impl Into<String>, blocked: Option<Blocked>) -> Action {
    Action::Report { state, reason: reason.into(), blocked, news: false }
}

fn pending(reason: impl Into<String>, blocked: Blocked) -> Action {
    report(NodeState::Pending, reason, Some(blocked))
}

fn wait(w: Wait) -> Action {
    Action::Wait(w)
}

/// Put back what is left, then go on to `then`.
fn tidy(
    memory: &Memory,
    then: Phase,
    report: Option<(NodeState, String, Option<Blocked>)>,
    wait: Option<Wait>,
) -> (Phase, Action) {
    (Phase::Tidying(Box::new(Tidy { then, report, wait })), Action::Tidy { our_cordon: memory.our_cordon })
}

/// One transition: from `phase`, having seen `seen` at `now`, the next phase
/// and what to do. `memory` is what the loop keeps between steps.
pub fn step(
    phase: &Phase,
    memory: &mut Memory,
    seen: Observation,
    policy: &Policy,
    now: OffsetDateTime,
) -> (Phase, Vec<Action>) {
    use Observation as O;
    match (phase, seen) {
        (Phase::Starting, _) => start(),
        (Phase::Stopped | Phase::GoingDown, _) => (phase.clone(), vec![]),
        // A stop where no lock of ours is being held through a reboot: put back
        // whatever this node still holds, so no node is stranded.
        (Phase::Recovering(_) | Phase::Idle { .. } | Phase::Pending(_), O::Stop)
        | (Phase::WaitingForLock | Phase::GivingWay | Phase::Checking(_), O::Stop) => stop_gracefully(memory, vec![]),
        (Phase::Recovering(r), seen) => recovering(r, memory, seen, policy),
        // (no action of these phases is stoppable: a stop is seen by the next
        // wait; should one arrive, finish the step under way)
        (Phase::ReleaseGate(_), O::Stop) => release_gate(&Recovery::default(), GateOutcome::Stopped, policy),
        (Phase::Releasing(_), O::Stop) => (phase.clone(), vec![Action::ReleaseLock]),
        (Phase::Released(_), O::Stop) => (phase.clone(), vec![Action::ReadSentinel]),
        (Phase::Tidying(_), O::Stop) => (phase.clone(), vec![Action::Tidy { our_cordon: memory.our_cordon }]),
        (Phase::PuttingBack { .. }, O::Stop) => stop_gracefully(memory, vec![]),
        (Phase::ReleaseGate(r), O::GateEnded(outcome)) => release_gate(r, outcome, policy),
        (Phase::Releasing(r), O::Failed(e)) => {
            let mut r = r.clone();
            r.release_sent = Some(Box::new(finished(&r)));
            (Phase::Recovering(r), vec![error(format!("releasing the lock failed, will retry: {e}")), retry(policy)])
        }
        (Phase::Releasing(r), O::LockReleased) => (Phase::Released(finished(r)), vec![Action::ReadSentinel]),
        (Phase::Released(f), O::Sentinel(required)) => released(f, memory, &required, policy),
        (Phase::Tidying(t), O::Tidied { pause, cordon_cleared }) => {
            if let Some(p) = pause {
                memory.pause_seen = p;
            }
            if cordon_cleared {
                memory.our_cordon = false;
            }
            let mut actions = vec![];
            if let Some((state, reason, blocked)) = &t.report {
                let reason = with_pause(memory.pause_seen.as_deref(), reason);
                actions.push(Action::Report { state: *state, reason, blocked: *blocked, news: true });
            }
            if t.then == Phase::Stopped {
                actions.push(info("stopped"));
            }
            actions.extend(t.wait.clone().map(Action::Wait));
            (t.then.clone(), actions)
        }
        (Phase::Idle { .. } | Phase::Pending(_) | Phase::WaitingForLock | Phase::GivingWay, O::Tick) => {
            (Phase::Checking(Check::Gate), vec![Action::LookAtGate])
        }
        (Phase::Checking(check), seen) => checking(check, memory, seen, policy, now),
        (Phase::Draining(a), O::Drained(outcome)) => drained(a, memory, outcome, policy),
        (Phase::Draining(a) | Phase::Confirming(a), O::Stop) => {
            let why = match phase {
                Phase::Draining(_) => "stopping: putting the node back",
                _ => "stopping before the reboot command: putting the node back",
            };
            stop_gracefully(memory, vec![info(why), Action::GiveUp { uncordon: !a.was_cordoned }])
        }
        (Phase::Confirming(a), O::Confirmed(c)) => match c {
            Confirmation::Held => (Phase::Confirming(a.clone()), vec![Action::CheckQuorum]),
            Confirmation::Lost(lost) => lock_lost(a, lost),
            Confirmation::Unsure => (
                Phase::Pending(Hold::Retry),
                vec![
                    error(format!("not rebooting {}: its lock could not be confirmed; putting the node back", policy.node)),
                    Action::GiveUp { uncordon: !a.was_cordoned },
                    wait(Wait::Period),
                ],
            ),
        },
        (Phase::Confirming(a), O::Quorum(q)) => match q {
            Quorum::Fine => (
                Phase::Rebooting(a.clone()),
                vec![
                    info(format!("rebooting node {}", policy.node)),
                    Action::Event("Rebooting", "kured is rebooting the node".into()),
                    Action::Notify(Template::Reboot),
                    report(NodeState::Rebooting, "", None),
                    Action::RunRebootCommand,
                ],
            ),
            Quorum::Hold(reason) => (
                Phase::Pending(Hold::ControlPlane),
                vec![
                    warn(format!(
                        "not rebooting {}: {reason} (looked right before the reboot command); putting the node back and letting the lock go",
                        policy.node
                    )),
                    Action::GiveUp { uncordon: !a.was_cordoned },
                    Action::LockWaitStarted,
                    pending(reason, Blocked::ControlPlane),
                    Action::LookAgainIn(NOT_READY_RECHECK.min(policy.period)),
                    wait(Wait::Period),
                ],
            ),
            Quorum::Failed(e) => (
                Phase::Pending(Hold::Retry),
                vec![
                    error(format!(
                        "cannot list the control-plane nodes before rebooting ({e}): not rebooting on an old look"
                    )),
                    Action::GiveUp { uncordon: !a.was_cordoned },
                    wait(Wait::Period),
                ],
            ),
        },
        (Phase::Rebooting(_), O::Stop) => (
            Phase::GoingDown,
            vec![info("stopping: the reboot command has run, leaving the node and the lock for after the reboot")],
        ),
        (Phase::Rebooting(a), O::Command(c)) => rebooted(a, memory, c, policy, now),
        (Phase::Rebooting(a), O::Tick) => {
            let since = a.since.unwrap_or(now);
            reboot_wait(a, Duration::try_from(now - since).unwrap_or(Duration::ZERO), policy)
        }
        (Phase::Rebooting(a), O::Failed(e)) => (
            Phase::Rebooting(a.clone()),
            vec![
                warn(format!("cannot read the node's boot ID to confirm the reboot, will retry: {e}")),
                wait(Wait::Reboot(BOOT_LOOK_RETRY.min(policy.period))),
            ],
        ),
        (Phase::Rebooting(a), O::BootId(now_id)) => {
            let elapsed = a.since.map_or(Duration::ZERO, |s| Duration::try_from(now - s).unwrap_or(Duration::ZERO));
            match rules::reboot_verdict(a.boot_before.as_deref(), now_id.as_deref()) {
                RebootVerdict::Rebooted => (
                    Phase::Recovering(Recovery::default()),
                    vec![info("the node's boot ID changed: the reboot happened; finishing it"), Action::LookAtLock],
                ),
                RebootVerdict::Failed => reboot_timed_out(a, memory, elapsed, policy, now),
            }
        }
        (Phase::PuttingBack { opted_out }, O::PutBack { cordon_left }) => {
            // Taken again later, the lock must not record this cordon as an operator's.
            memory.our_cordon |= cordon_left;
            match opted_out {
                Some(why) => opted_out_now(memory, why),
                None => (Phase::WaitingForLock, vec![wait(Wait::Lock)]),
            }
        }
        // Anything else is a look this phase did not ask for: look again at the next period.
        (phase, seen) => (
            phase.clone(),
            vec![
                log(log::Level::Debug, format!("{}: ignored {seen:?}", phase.name())),
                wait(if matches!(phase, Phase::Rebooting(_)) { Wait::Reboot(RECOVERY_RETRY) } else { Wait::Period }),
            ],
        ),
    }
}

/// A graceful stop before any reboot command: `first`, then whatever this node
/// still holds (a lock, our cordon) is put back.
fn stop_gracefully(memory: &Memory, first: Vec<Action>) -> (Phase, Vec<Action>) {
    let mut actions = first;
    if actions.is_empty() {
        actions.push(info("stopping: putting the node back if kured holds it"));
    }
    actions.push(Action::SetTaint(false));
    let (phase, t) = tidy(memory, Phase::Stopped, None, None);
    actions.push(t);
    (phase, actions)
}

fn retry(policy: &Policy) -> Action {
    wait(Wait::Retry(RECOVERY_RETRY.min(policy.period)))
}

fn finished(r: &Recovery) -> Released {
    Released {
        at_start: r.at_start,
        boot: r.boot,
        meta: r.meta.clone().unwrap_or_default(),
        in_progress: r.in_progress,
    }
}

fn recovering(r: &Recovery, memory: &mut Memory, seen: Observation, policy: &Policy) -> (Phase, Vec<Action>) {
    use Observation as O;
    let node = &policy.node;
    match seen {
        O::Tick => (Phase::Recovering(r.clone()), vec![Action::LookAtLock]),
        O::Failed(e) => (
            Phase::Recovering(r.clone()),
            vec![error(format!("finishing the previous reboot failed, will retry: {e}")), retry(policy)],
        ),
        O::Held { mine, pause } => {
            memory.pause_seen = pause;
            match mine {
                None => {
                    let done = match &r.release_sent {
                        Some(f) => (**f).clone(),
                        None => Released { at_start: r.at_start, ..Released::default() },
                    };
                    (Phase::Released(done), vec![Action::ReadSentinel])
                }
                Some(meta) => {
                    let r = Recovery { meta: Some(meta), ..r.clone() };
                    (Phase::Recovering(r), vec![Action::ReadNode])
                }
            }
        }
        O::Node(facts) => {
            let Some(meta) = &r.meta else { return (Phase::Recovering(r.clone()), vec![Action::LookAtLock]) };
            let boot = rules::boot(meta.boot_id.as_deref(), facts.boot_id.as_deref());
            let mut actions = vec![info(match boot {
                Boot::SameBoot => format!(
                    "{node} holds the reboot lock, but the node did not reboot (same boot ID): putting it back without claiming a reboot"
                ),
                Boot::Rebooted => format!("{node} holds the reboot lock and rebooted (new boot ID): finishing the reboot"),
                Boot::Unknown => format!("{node} holds the reboot lock: finishing the reboot"),
            })];
            let steps = rules::recovery(meta.unschedulable, policy.post_labels, boot);
            if !steps.uncordon {
                actions.push(info(format!("{node} was cordoned before kured took it: leaving it cordoned")));
            }
            let mut done = r.done;
            // A pod stopped in the release gate announced this reboot already.
            if facts.in_release_gate {
                done.announced = true;
            }
            let r = Recovery { boot: Some(boot), in_progress: facts.in_progress, ..r.clone() };
            actions.push(Action::PutBack {
                uncordon: steps.uncordon && !done.uncordoned,
                announce: steps.announce && !done.announced,
                labels: steps.post_labels && !done.labelled,
                done,
            });
            (Phase::Recovering(r), actions)
        }
        O::Recovered { done, failed: Some(e) } => {
            let r = Recovery { done, ..r.clone() };
            (
                Phase::Recovering(r),
                vec![error(format!("finishing the previous reboot failed, will retry: {e}")), retry(policy)],
            )
        }
        O::Recovered { done, failed: None } => {
            let r = Recovery { done, ..r.clone() };
            let after_reboot = r.boot != Some(Boot::SameBoot);
            match (done.unheld, after_reboot && policy.release_gate) {
                (true, _) => releasing(r, vec![], policy),
                (false, true) => (
                    Phase::ReleaseGate(r),
                    vec![
                        Action::TimeReboot,
                        report(
                            NodeState::ReleaseGate,
                            "waiting for the node and its PodDisruptionBudgets to recover",
                            None,
                        ),
                        Action::PassReleaseGate,
                    ],
                ),
                (false, false) => {
                    let r = Recovery { done: Done { unheld: true, ..r.done }, ..r };
                    let mut actions = vec![];
                    if after_reboot {
                        actions.push(Action::TimeReboot);
                    }
                    actions.push(Action::Unhold { after_reboot });
                    releasing(r, actions, policy)
                }
            }
        }
        seen => (
            Phase::Recovering(r.clone()),
            vec![log(log::Level::Debug, format!("Recovering: ignored {seen:?}")), retry(policy)],
        ),
    }
}

fn releasing(r: Recovery, mut actions: Vec<Action>, policy: &Policy) -> (Phase, Vec<Action>) {
    if !policy.lock_release_delay.is_zero() {
        actions.push(info(format!("releasing the lock in {:?}", policy.lock_release_delay)));
        actions.push(Action::Sleep(policy.lock_release_delay));
    }
    actions.push(Action::ReleaseLock);
    (Phase::Releasing(r), actions)
}

fn release_gate(r: &Recovery, outcome: GateOutcome, policy: &Policy) -> (Phase, Vec<Action>) {
    let r = Recovery { done: Done { unheld: true, ..r.done }, ..r.clone() };
    match outcome {
        GateOutcome::Stopped => (
            Phase::Stopped,
            vec![
                info("stopping during the release gate: keeping the lock; the next start of kured passes the gate, then releases it"),
                info("stopped in the release gate: the lock stays until the next start has passed the gate"),
            ],
        ),
        GateOutcome::Open | GateOutcome::TimedOut => releasing(r, vec![Action::Unhold { after_reboot: true }], policy),
    }
}

fn released(
    f: &Released,
    memory: &mut Memory,
    required: &Result<bool, String>,
    policy: &Policy,
) -> (Phase, Vec<Action>) {
    let mut actions = vec![];
    if let Some(boot) = f.boot {
        if rules::remove_in_progress(policy.annotate_nodes, f.in_progress, boot, required) {
            actions.push(Action::RemoveInProgress);
        }
        let streak = rules::next_streak(f.meta.reboot_streak, boot, required);
        memory.streak = streak;
        if streak > 0 {
            actions
                .push(warn(format!("the sentinel still says a reboot is required after {streak} reboot(s) in a row")));
        }
        if rules::loop_stopped(streak, policy.reboot_loop_limit) && !memory.loop_reported {
            memory.loop_reported = true;
            let why = format!(
                "kured stopped rebooting the node: {streak} reboots in a row left the reboot sentinel set \
                 (--reboot-loop-limit={}); reboots resume once the sentinel is clear, or after a restart of kured",
                policy.reboot_loop_limit
            );
            actions.push(warn(why.clone()));
            actions.push(Action::Warning("RebootLoop", why));
            actions.push(Action::SetMetric(Series::RebootLoopStopped, 1));
        }
    }
    // Remove the taint at once after start-up so the node takes pods again.
    if f.at_start && required == &Ok(false) {
        actions.push(Action::SetTaint(false));
    }
    actions.push(wait(if f.at_start { Wait::FirstCheck } else { Wait::Period }));
    (Phase::Idle { window: None }, actions)
}

fn checking(
    check: &Check,
    memory: &mut Memory,
    seen: Observation,
    policy: &Policy,
    now: OffsetDateTime,
) -> (Phase, Vec<Action>) {
    use Observation as O;
    let node = &policy.node;
    match (check, seen) {
        (Check::Gate, O::Gate { in_window: false, opens, pending, .. }) => {
            let why = format!("outside the maintenance window, {}", window_opens(opens));
            let (then, report) = match pending {
                // (the sentinel is read only inside the window, as upstream:
                // "ok" unless a reboot was already found needed)
                true => (Phase::Pending(Hold::Window(why.clone())), (NodeState::Pending, why, Some(Blocked::Window))),
                false => (Phase::Idle { window: Some(why.clone()) }, (NodeState::Ok, why, None)),
            };
            let (phase, t) = tidy(memory, then, Some(report), Some(Wait::Period));
            (phase, vec![Action::SetTaint(false), t])
        }
        (Check::Gate, O::Gate { required: Err(e), .. }) => (
            Phase::Pending(Hold::SentinelFailed),
            vec![
                error(format!("cannot tell whether a reboot is required, will retry: {e}")),
                report(NodeState::Error, "cannot check the sentinel", None),
                wait(Wait::Period),
            ],
        ),
        (Check::Gate, O::Gate { required: Ok(false), .. }) => {
            let mut actions = vec![info("reboot not required"), Action::SetTaint(false)];
            // The sentinel is clear: the reboot-loop guard starts over.
            if memory.streak > 0 {
                memory.streak = 0;
                actions.push(info("the reboot sentinel is clear: the reboot-loop count starts over"));
            }
            if std::mem::take(&mut memory.loop_reported) {
                actions.push(Action::SetMetric(Series::RebootLoopStopped, 0));
            }
            let (phase, t) = tidy(
                memory,
                Phase::Idle { window: None },
                Some((NodeState::Ok, String::new(), None)),
                Some(Wait::Period),
            );
            actions.push(t);
            (phase, actions)
        }
        (Check::Gate, O::Gate { required: Ok(true), .. }) => {
            if rules::loop_stopped(memory.streak, policy.reboot_loop_limit) {
                let (phase, t) = tidy(memory, Phase::Pending(Hold::RebootLoop), None, Some(Wait::Period));
                return (
                    phase,
                    vec![
                        warn(format!(
                            "reboot required, but not rebooting: {} reboots in a row left the sentinel set (--reboot-loop-limit={}); \
                             reboots resume once the sentinel is clear, or after a restart of kured",
                            memory.streak, policy.reboot_loop_limit
                        )),
                        pending(
                            "reboot loop: the sentinel stays set after reboots (--reboot-loop-limit)",
                            Blocked::RebootLoop,
                        ),
                        Action::SetTaint(false),
                        t,
                    ],
                );
            }
            if !memory.retry.allows(now) {
                let (phase, t) = tidy(memory, Phase::Pending(Hold::BackOff), None, Some(Wait::Period));
                let next = memory.retry.not_before.map(super::effects::rfc3339).unwrap_or_default();
                return (
                    phase,
                    vec![
                        pending("back-off after failed reboot commands", Blocked::BackOff),
                        warn(format!(
                            "reboot required, but the reboot failed {} time(s): next attempt after {next}",
                            memory.retry.failures
                        )),
                        // A lock or cordon left by a give-up that failed is put back now.
                        t,
                    ],
                );
            }
            (Phase::Checking(Check::Node), vec![info("reboot required"), Action::ReadNode])
        }
        (_, O::Failed(e)) => (
            Phase::Pending(Hold::Retry),
            vec![error(format!("reboot attempt stopped, will retry next period: {e}")), wait(Wait::Period)],
        ),
        (Check::Node, O::Node(facts)) => node_read(memory, facts, policy, now),
        (Check::Blockers(facts), O::Blockers(reasons)) => match reasons.first() {
            None => (Phase::Checking(Check::ControlPlane(facts.clone())), vec![Action::CheckControlPlane]),
            Some((by, _)) => {
                let why = reasons.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join("; ");
                (
                    Phase::Pending(Hold::Blocked(*by)),
                    vec![info(format!("reboot blocked: {why}")), pending(why, *by), wait(Wait::Period)],
                )
            }
        },
        (Check::ControlPlane(_), O::ControlPlane { held: true }) => {
            (Phase::Pending(Hold::ControlPlane), vec![wait(Wait::Period)])
        }
        (Check::ControlPlane(facts), O::ControlPlane { held: false }) => {
            let wanted = LockMeta {
                unschedulable: facts.unschedulable && !memory.our_cordon,
                boot_id: facts.boot_id.clone(),
                reboot_streak: memory.streak,
            };
            (
                Phase::Checking(Check::Lock(facts.clone())),
                vec![Action::TakeLock { wanted, gave_way_to: memory.gave_way_to.clone() }],
            )
        }
        (Check::Lock(facts), O::Lock(take)) => lock_taken(facts, memory, take, policy),
        (check, seen) => (
            Phase::Checking(check.clone()),
            vec![log(log::Level::Debug, format!("Checking: ignored {seen:?} ({check:?}) {node}")), wait(Wait::Period)],
        ),
    }
}

fn node_read(memory: &mut Memory, facts: NodeFacts, policy: &Policy, now: OffsetDateTime) -> (Phase, Vec<Action>) {
    if let Some(why) = facts.opted_out.clone() {
        return opted_out_now(memory, &why);
    }
    let mut actions = vec![];
    // The reboot-loop guard's count in time: `--reboot-loop-limit` confirmed
    // reboots within `--reboot-loop-window` stop the next one, however late
    // after each boot the sentinel came back.
    let (limit, window) = (policy.reboot_loop_limit, policy.reboot_loop_window);
    match super::history::stopped_until(&facts.reboots, now, window, limit) {
        Some(until) => {
            let why = format!(
                "kured stopped rebooting the node: {limit} reboots within --reboot-loop-window={}s (--reboot-loop-limit={limit}), \
                 the sentinel set again after each; reboots resume at {}, or once the annotation {} is removed",
                window.map_or(0, |w| w.as_secs()),
                super::effects::rfc3339(until),
                super::history::ANNOTATION
            );
            actions.push(warn(format!("reboot required, but not rebooting: {why}")));
            actions.push(pending("reboot loop: too many reboots within --reboot-loop-window", Blocked::RebootLoop));
            if !std::mem::replace(&mut memory.window_loop_reported, true) {
                actions.push(Action::Warning("RebootLoop", why));
                actions.push(Action::SetMetric(Series::RebootLoopStopped, 1));
            }
            actions.extend([Action::SetTaint(false), wait(Wait::Period)]);
            return (Phase::Pending(Hold::RebootsTooOften), actions);
        }
        None if std::mem::take(&mut memory.window_loop_reported) => {
            actions.push(info(format!("fewer than {limit} reboots within --reboot-loop-window now: reboots resume")));
            actions.push(Action::SetMetric(Series::RebootLoopStopped, 0));
        }
        None => {}
    }
    if policy.annotate_nodes && !facts.in_progress {
        actions.push(Action::AnnotateInProgress);
    }
    actions.push(Action::CheckBlockers);
    (Phase::Checking(Check::Blockers(facts)), actions)
}

/// This node is opted out: it does not take the lock, and leaves the lock's
/// queue, so it never holds up another node's turn; a lock or cordon it
/// still holds is put back.
fn opted_out_now(memory: &mut Memory, why: &str) -> (Phase, Vec<Action>) {
    memory.gave_way_to.clear();
    let (phase, t) = tidy(memory, Phase::Pending(Hold::OptedOut(why.to_string())), None, Some(Wait::Period));
    (
        phase,
        vec![
            info(format!("reboot required, but not rebooting: this node is {why} ({})", crate::optout::KEY)),
            pending(why, Blocked::OptedOut),
            Action::LeaveQueue,
            Action::SetTaint(false),
            t,
        ],
    )
}

fn lock_taken(facts: &NodeFacts, memory: &mut Memory, take: Take, policy: &Policy) -> (Phase, Vec<Action>) {
    if !matches!(take, Take::GivingWay(_)) {
        memory.gave_way_to.clear();
    }
    let waiting = |reason: String, blocked: Blocked, taint: bool| {
        vec![Action::LockWaitStarted, pending(reason, blocked), Action::SetTaint(taint)]
    };
    match take {
        Take::Taken { was_cordoned } => {
            memory.our_cordon = false;
            let a = Attempt { was_cordoned, boot_before: facts.boot_id.clone(), since: None };
            (Phase::Draining(a), vec![Action::Hold, Action::Drain])
        }
        Take::Full(holders) => {
            let mut actions = vec![info(format!("waiting for the reboot lock, held by {holders}"))];
            // Prefer not to schedule pods here: they would be drained soon.
            actions.extend(waiting(format!("lock held by {holders}"), Blocked::Lock, true));
            actions.push(wait(Wait::Lock));
            (Phase::WaitingForLock, actions)
        }
        Take::Deferred => {
            let mut actions = waiting("lock: waiting for its turn".into(), Blocked::Lock, true);
            actions.push(wait(Wait::Lock));
            (Phase::WaitingForLock, actions)
        }
        Take::Guarded { reason, readiness } => {
            let mut actions = waiting(reason, Blocked::ControlPlane, true);
            if readiness {
                // (a Ready condition is not in the lock: its watch cannot wake us)
                actions.push(Action::LookAgainIn(NOT_READY_RECHECK.min(policy.period)));
                actions.push(wait(Wait::Period));
                return (Phase::Pending(Hold::ControlPlane), actions);
            }
            actions.push(wait(Wait::Lock));
            (Phase::WaitingForLock, actions)
        }
        Take::Paused(why) => {
            // The taint comes off: no drain is coming soon.
            let mut actions = vec![info(format!("reboot required, but reboots are paused: {why}"))];
            actions.extend(waiting(with_pause(Some(&why), ""), Blocked::Paused, false));
            // A cordon of kured's that no entry records waits for the next take,
            // which a pause may put off for days.
            if memory.our_cordon {
                let (phase, t) = tidy(memory, Phase::Pending(Hold::Paused(why)), None, Some(Wait::Lock));
                actions.push(t);
                return (phase, actions);
            }
            actions.push(wait(Wait::Lock));
            (Phase::Pending(Hold::Paused(why)), actions)
        }
        Take::Missing => (
            Phase::WaitingForLock,
            vec![
                warn("the lock's DaemonSet does not exist: waiting for it to be created again"),
                pending("the lock's DaemonSet does not exist", Blocked::Lock),
                wait(Wait::Lock),
            ],
        ),
        Take::GivingWay(names) => {
            let mut actions =
                vec![info(format!("gave way to {names}: taking the lock again once one of them has released it"))];
            actions.extend(waiting(
                format!("gave way to {names} (drain stalled on PodDisruptionBudgets)"),
                Blocked::Lock,
                true,
            ));
            actions.push(wait(Wait::GaveWay(memory.gave_way_to.clone())));
            (Phase::GivingWay, actions)
        }
    }
}

fn drained(a: &Attempt, memory: &mut Memory, outcome: DrainOutcome, policy: &Policy) -> (Phase, Vec<Action>) {
    let node = &policy.node;
    let give_up = Action::GiveUp { uncordon: !a.was_cordoned };
    match outcome {
        DrainOutcome::Drained => confirming(a, vec![], policy),
        DrainOutcome::Failed(e) => {
            let mut actions =
                vec![error(format!("drain of {node} failed: {e}")), Action::NotifyWarning("DrainFailed", e)];
            if policy.force_reboot {
                actions.push(warn("rebooting anyway (--force-reboot)"));
                return confirming(a, actions, policy);
            }
            actions.extend([
                info("giving up this attempt; the drain will be tried again when the lock is next acquired"),
                give_up,
                wait(Wait::Period),
            ]);
            (Phase::Pending(Hold::Retry), actions)
        }
        DrainOutcome::Stopped => stop_gracefully(memory, vec![info("stopping: putting the node back"), give_up]),
        DrainOutcome::GaveWay(names, keys) => {
            // Not a failure: --force-reboot does not apply, and no back-off.
            let to = crate::names::summary(&names);
            memory.gave_way_to = keys.clone();
            (
                Phase::GivingWay,
                vec![
                    warn(format!(
                        "drain of {node} stalled on PodDisruptionBudgets: giving way to {to}, which took the lock earlier"
                    )),
                    Action::NotifyWarning(
                        "DrainGaveWay",
                        format!("stalled on PodDisruptionBudgets; gave way to {to}, which took the lock earlier"),
                    ),
                    Action::Event(
                        "GaveWay",
                        format!("drain stalled on PodDisruptionBudgets; uncordoned and released the lock for {to}, which took it earlier; draining again once one of them is done"),
                    ),
                    give_up,
                    wait(Wait::GaveWay(keys)),
                ],
            )
        }
        DrainOutcome::Lost(lost) => lock_lost(a, lost),
    }
}

fn confirming(a: &Attempt, mut actions: Vec<Action>, policy: &Policy) -> (Phase, Vec<Action>) {
    if !policy.reboot_delay.is_zero() {
        actions.push(info(format!("rebooting in {:?}", policy.reboot_delay)));
        actions.push(Action::Sleep(policy.reboot_delay));
    }
    actions.push(Action::Confirm);
    (Phase::Confirming(a.clone()), actions)
}

fn lock_lost(a: &Attempt, lost: Lost) -> (Phase, Vec<Action>) {
    let opted_out = match &lost {
        Lost::OptedOut(why) => Some(why.clone()),
        _ => None,
    };
    (Phase::PuttingBack { opted_out }, vec![Action::PutBackLost { lost, was_cordoned: a.was_cordoned }])
}

fn rebooted(
    a: &Attempt,
    memory: &mut Memory,
    c: Command,
    policy: &Policy,
    now: OffsetDateTime,
) -> (Phase, Vec<Action>) {
    let mut actions = vec![];
    match c {
        Command::Ran => {}
        Command::Uncertain(why) => actions.push(warn(why)),
        Command::Failed(e) => {
            // The machine is not going down: put the node back rather than
            // hold the lock and a cordoned node until someone notices.
            memory.retry = memory.retry.failed(now, policy.period);
            return (
                Phase::Pending(Hold::Retry),
                vec![
                    error(format!("reboot of {} failed: {e}", policy.node)),
                    Action::GiveUp { uncordon: !a.was_cordoned },
                    wait(Wait::Period),
                ],
            );
        }
    }
    let a = Attempt { since: Some(now), ..a.clone() };
    let (phase, more) = reboot_wait(&a, Duration::ZERO, policy);
    actions.extend(more);
    (phase, actions)
}

fn reboot_wait(a: &Attempt, elapsed: Duration, policy: &Policy) -> (Phase, Vec<Action>) {
    match rules::reboot_wait(elapsed, policy.reboot_timeout) {
        RebootWait::Wait(d) => {
            let what = match policy.reboot_timeout {
                Some(t) => format!(
                    "waiting for the reboot (the boot ID must change within --reboot-timeout, {}s left)",
                    t.saturating_sub(elapsed).as_secs()
                ),
                None => "waiting for the reboot".into(),
            };
            (Phase::Rebooting(a.clone()), vec![info(what), wait(Wait::Reboot(d))])
        }
        RebootWait::Look => (Phase::Rebooting(a.clone()), vec![Action::ReadBootId]),
    }
}

fn reboot_timed_out(
    a: &Attempt,
    memory: &mut Memory,
    elapsed: Duration,
    policy: &Policy,
    now: OffsetDateTime,
) -> (Phase, Vec<Action>) {
    let why = format!(
        "the reboot command ran {}s ago but the node did not reboot (boot ID unchanged, --reboot-timeout={}s): \
         putting the node back and retrying later",
        elapsed.as_secs(),
        policy.reboot_timeout.map_or(0, |t| t.as_secs())
    );
    memory.retry = memory.retry.failed(now, policy.period);
    (
        Phase::Pending(Hold::Retry),
        vec![
            error(format!("reboot of {} failed: {why}", policy.node)),
            Action::Warning("RebootFailed", format!("kured: {why}")),
            Action::IncMetric(Series::RebootTimeouts),
            Action::GiveUp { uncordon: !a.was_cordoned },
            wait(Wait::Period),
        ],
    )
}
