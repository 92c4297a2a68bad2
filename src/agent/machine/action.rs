//! What the machine asks for: the closed set of actions (each carried out by
//! `agent/execute.rs`) and the waits that end a turn of the loop.

use std::time::Duration;

use super::Done;
use crate::agent::holder::Lost;
use crate::lock::stale::EntryKey;
use crate::lock::LockMeta;
use crate::metrics::Series;
use crate::status::{Blocked, NodeState};

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
