//! The machine's state: the phases of a node's reboot, what each carries, the
//! loop's memory between steps, and the settings the steps decide with.

use std::time::Duration;

use time::OffsetDateTime;

use super::rules::{Boot, RebootRetry};
use super::{NodeFacts, Wait};
use crate::lock::stale::EntryKey;
use crate::lock::LockMeta;
use crate::status::{Blocked, NodeState};

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
    /// The lock's DaemonSet, `<namespace>/<name>` (for the log).
    pub lock_home: String,
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
