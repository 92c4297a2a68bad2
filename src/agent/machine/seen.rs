//! What the machine sees: the observations the executor answers with, and
//! their payloads (what the Node says, how the lock's take, the drain, the
//! last looks and the reboot command went).

use time::OffsetDateTime;

use super::Done;
use crate::agent::holder::Lost;
use crate::lock::stale::EntryKey;
use crate::lock::LockMeta;
use crate::status::Blocked;

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
