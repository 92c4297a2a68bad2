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

mod action;
mod attempt;
mod check;
mod phase;
mod recovery;
pub mod rules;
mod seen;
#[cfg(test)]
mod tests;

use std::time::Duration;

use time::OffsetDateTime;

use super::holder::Lost;
use crate::lock::LockMeta;
use crate::metrics::Series;
use crate::status::{window_opens, with_pause, Blocked, NodeState};
pub use action::{Action, Template, Wait};
use attempt::{boot_looked, confirmed, drained, quorum, reboot_wait, rebooted};
use check::{checking, opted_out_now};
pub use phase::*;
use recovery::{recovering, release_gate, released};
use rules::RebootVerdict;
pub use seen::*;

/// Upstream retries start-up recovery each minute; a shorter period (tests,
/// impatient operators) retries sooner.
pub const RECOVERY_RETRY: Duration = Duration::from_secs(60);
/// How long a failed look at the boot ID after a reboot waits to look again (at most).
const BOOT_LOOK_RETRY: Duration = Duration::from_secs(60);
/// A control-plane node held back because another one is not Ready looks
/// again after this long (or its `--period`, if shorter): no watch event
/// announces a Node becoming Ready.
pub const NOT_READY_RECHECK: Duration = Duration::from_secs(10);

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
        (Phase::Tidying(t), O::Tidied { pause, cordon_cleared }) => tidied(t, memory, pause, cordon_cleared),
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
        (Phase::Confirming(a), O::Confirmed(c)) => confirmed(a, c, policy),
        (Phase::Confirming(a), O::Quorum(q)) => quorum(a, q, policy),
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
        (Phase::Rebooting(a), O::BootId(id)) => boot_looked(a, memory, id, policy, now),
        (Phase::PuttingBack { opted_out }, O::PutBack { cordon_left }) => {
            // Taken again later, the lock must not record this cordon as an operator's.
            memory.our_cordon |= cordon_left;
            match opted_out {
                Some(why) => opted_out_now(memory, why, policy),
                None => (Phase::WaitingForLock, vec![wait(Wait::Lock)]),
            }
        }
        // Anything else is a look this phase did not ask for: look again at the next period.
        (phase, seen) => unasked(phase, seen, policy),
    }
}

/// A look the phase did not ask for (none reaches a phase today: each action
/// answers as its phase expects). Never wait on in a phase that holds the
/// lock or the node: put the node back, or go on as planned.
fn unasked(phase: &Phase, seen: Observation, policy: &Policy) -> (Phase, Vec<Action>) {
    let said = warn(format!("{}: an unexpected {seen:?}; going on safely", phase.name()));
    match phase {
        Phase::Draining(a) | Phase::Confirming(a) => {
            (Phase::Pending(Hold::Retry), vec![said, Action::GiveUp { uncordon: !a.was_cordoned }, wait(Wait::Period)])
        }
        // The recovery looks at the lock again (what it did is kept: no second announcement).
        Phase::ReleaseGate(r) | Phase::Releasing(r) => (Phase::Recovering(r.clone()), vec![said, retry(policy)]),
        Phase::Tidying(t) => (t.then.clone(), vec![said, wait(t.wait.clone().unwrap_or(Wait::Period))]),
        Phase::PuttingBack { .. } => (Phase::WaitingForLock, vec![said, wait(Wait::Period)]),
        Phase::Rebooting(_) => (phase.clone(), vec![said, wait(Wait::Reboot(RECOVERY_RETRY))]),
        Phase::Released(_) => (Phase::Idle { window: None }, vec![said, wait(Wait::Period)]),
        _ => (phase.clone(), vec![said, wait(Wait::Period)]),
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

/// The leftovers are put back: go on as planned, with the pause the look saw.
fn tidied(t: &Tidy, memory: &mut Memory, pause: Option<Option<String>>, cordon_cleared: bool) -> (Phase, Vec<Action>) {
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
