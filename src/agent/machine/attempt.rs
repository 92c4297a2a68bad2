//! The steps of an attempt, from the lock's take on: how the drain ended, the
//! last looks before the reboot command, the command, and the wait for the
//! boot ID to change (or `--reboot-timeout`).

use super::rules::{self, RebootWait};
use super::*;

pub(super) fn drained(
    a: &Attempt,
    memory: &mut Memory,
    outcome: DrainOutcome,
    policy: &Policy,
) -> (Phase, Vec<Action>) {
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

pub(super) fn confirming(a: &Attempt, mut actions: Vec<Action>, policy: &Policy) -> (Phase, Vec<Action>) {
    if !policy.reboot_delay.is_zero() {
        actions.push(info(format!("rebooting in {:?}", policy.reboot_delay)));
        actions.push(Action::Sleep(policy.reboot_delay));
    }
    actions.push(Action::Confirm);
    (Phase::Confirming(a.clone()), actions)
}

pub(super) fn lock_lost(a: &Attempt, lost: Lost) -> (Phase, Vec<Action>) {
    let opted_out = match &lost {
        Lost::OptedOut(why) => Some(why.clone()),
        _ => None,
    };
    (Phase::PuttingBack { opted_out }, vec![Action::PutBackLost { lost, was_cordoned: a.was_cordoned }])
}

pub(super) fn rebooted(
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

pub(super) fn reboot_wait(a: &Attempt, elapsed: Duration, policy: &Policy) -> (Phase, Vec<Action>) {
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

/// The look at the lock entry and the Node right before the reboot command.
pub(super) fn confirmed(a: &Attempt, c: Confirmation, policy: &Policy) -> (Phase, Vec<Action>) {
    match c {
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
    }
}

/// The control-plane look right before the reboot command.
pub(super) fn quorum(a: &Attempt, q: Quorum, policy: &Policy) -> (Phase, Vec<Action>) {
    match q {
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
    }
}

/// The boot ID after `--reboot-timeout`, while this process still runs.
pub(super) fn boot_looked(
    a: &Attempt,
    memory: &mut Memory,
    id: Option<String>,
    policy: &Policy,
    now: OffsetDateTime,
) -> (Phase, Vec<Action>) {
    let elapsed = a.since.map_or(Duration::ZERO, |s| Duration::try_from(now - s).unwrap_or(Duration::ZERO));
    match rules::reboot_verdict(a.boot_before.as_deref(), id.as_deref()) {
        RebootVerdict::Rebooted => (
            Phase::Recovering(Recovery::default()),
            vec![info("the node's boot ID changed: the reboot happened; finishing it"), Action::LookAtLock],
        ),
        RebootVerdict::Failed => reboot_timed_out(a, memory, elapsed, policy, now),
    }
}
