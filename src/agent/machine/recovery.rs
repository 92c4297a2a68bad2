//! The steps of a recovery: this node holds the lock at start-up or after its
//! reboot; put the node back (announcing only a reboot the boot ID confirms),
//! pass the release gate, release, and feed the reboot-loop guard.

use super::rules::{self, Boot};
use super::*;

pub(super) fn recovering(
    r: &Recovery,
    memory: &mut Memory,
    seen: Observation,
    policy: &Policy,
) -> (Phase, Vec<Action>) {
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

pub(super) fn releasing(r: Recovery, mut actions: Vec<Action>, policy: &Policy) -> (Phase, Vec<Action>) {
    if !policy.lock_release_delay.is_zero() {
        actions.push(info(format!("releasing the lock in {:?}", policy.lock_release_delay)));
        actions.push(Action::Sleep(policy.lock_release_delay));
    }
    actions.push(Action::ReleaseLock);
    (Phase::Releasing(r), actions)
}

pub(super) fn release_gate(r: &Recovery, outcome: GateOutcome, policy: &Policy) -> (Phase, Vec<Action>) {
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

pub(super) fn released(
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
