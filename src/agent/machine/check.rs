//! The steps of a periodic check: window and sentinel, the reboot-loop guard
//! and back-off, the Node (opt-out, reboots in time), the blockers, the
//! control plane, and the lock's take.

use super::rules;
use super::*;

pub(super) fn checking(
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
                let next = memory.retry.not_before.map(crate::agent::effects::rfc3339).unwrap_or_default();
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

pub(super) fn node_read(
    memory: &mut Memory,
    facts: NodeFacts,
    policy: &Policy,
    now: OffsetDateTime,
) -> (Phase, Vec<Action>) {
    if let Some(why) = facts.opted_out.clone() {
        return opted_out_now(memory, &why, policy);
    }
    let mut actions = vec![];
    // The reboot-loop guard's count in time: `--reboot-loop-limit` confirmed
    // reboots within `--reboot-loop-window` stop the next one, however late
    // after each boot the sentinel came back.
    let (limit, window) = (policy.reboot_loop_limit, policy.reboot_loop_window);
    match crate::agent::history::stopped_until(&facts.reboots, now, window, limit) {
        Some(until) => {
            let why = format!(
                "kured stopped rebooting the node: {limit} reboots within --reboot-loop-window={}s (--reboot-loop-limit={limit}), \
                 the sentinel set again after each; reboots resume at {}, or once the annotation {} is removed",
                window.map_or(0, |w| w.as_secs()),
                crate::agent::effects::rfc3339(until),
                crate::agent::history::ANNOTATION
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
pub(super) fn opted_out_now(memory: &mut Memory, why: &str, policy: &Policy) -> (Phase, Vec<Action>) {
    memory.gave_way_to.clear();
    let (phase, t) = tidy(memory, Phase::Pending(Hold::OptedOut(why.to_string())), None, Some(Wait::Period));
    (
        phase,
        vec![
            info(format!("reboot required, but not rebooting: {} is {why} ({})", policy.node, crate::optout::KEY)),
            pending(why, Blocked::OptedOut),
            Action::LeaveQueue,
            Action::SetTaint(false),
            t,
        ],
    )
}

pub(super) fn lock_taken(facts: &NodeFacts, memory: &mut Memory, take: Take, policy: &Policy) -> (Phase, Vec<Action>) {
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
            let mut actions = vec![info(format!(
                "reboot required, but reboots are paused ({} on daemonset {}): {why}",
                crate::lock::pause::ANNOTATION,
                policy.lock_home
            ))];
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
                warn(format!(
                    "the lock's DaemonSet {} does not exist: waiting for it to be created again",
                    policy.lock_home
                )),
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
