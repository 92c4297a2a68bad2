//! The machine's transition table: one line per transition, phase ×
//! observation → the next phase and the actions (by name; log lines left
//! out), with the memory or an action's fields checked where they are the
//! point. Every phase is here, and a stop (SIGTERM) in each.

use std::time::Duration;

use time::macros::datetime;
use time::OffsetDateTime;

use super::rules::{Boot, RebootRetry};
use super::*;
use crate::lock::stale::EntryKey;
use crate::status::NodeState;

const T0: OffsetDateTime = datetime!(2026-12-03 12:00 UTC);

fn policy() -> Policy {
    Policy {
        node: "n1".into(),
        period: Duration::from_secs(60),
        reboot_loop_limit: 3,
        reboot_loop_window: Some(Duration::from_secs(6 * 3600)),
        reboot_timeout: Some(Duration::from_secs(600)),
        ..Policy::default()
    }
}

fn meta(boot: Option<&str>, unschedulable: bool, streak: u32) -> LockMeta {
    LockMeta { unschedulable, boot_id: boot.map(str::to_string), reboot_streak: streak }
}

fn node(boot: &str) -> NodeFacts {
    NodeFacts { boot_id: Some(boot.into()), ..NodeFacts::default() }
}

fn recovery(at_start: bool, m: Option<LockMeta>, boot: Option<Boot>) -> Recovery {
    Recovery { at_start, meta: m, boot, ..Recovery::default() }
}

fn attempt() -> Attempt {
    Attempt { was_cordoned: false, boot_before: Some("b1".into()), since: None }
}

fn rebooting(since: OffsetDateTime) -> Phase {
    Phase::Rebooting(Attempt { since: Some(since), ..attempt() })
}

fn released(boot: Option<Boot>, streak: u32, at_start: bool) -> Phase {
    Phase::Released(Released { at_start, boot, meta: meta(Some("b1"), false, streak), in_progress: false })
}

fn tidying(then: Phase, report: Option<(NodeState, String, Option<Blocked>)>) -> Phase {
    Phase::Tidying(Box::new(Tidy { then, report, wait: Some(Wait::Period) }))
}

fn key(node: &str) -> EntryKey {
    (node.to_string(), T0)
}

/// One transition with this memory and policy, at `now`: the phase's name and
/// the actions' names must be as given. Returns what the step did, for the
/// lines that check more.
#[track_caller]
fn go(
    phase: Phase,
    memory: &mut Memory,
    policy: &Policy,
    now: OffsetDateTime,
    seen: Observation,
    want_phase: &str,
    want: &[&str],
) -> (Phase, Vec<Action>) {
    let (next, actions) = step(&phase, memory, seen.clone(), policy, now);
    let names: Vec<&str> = actions.iter().filter(|a| !matches!(a, Action::Log(..))).map(Action::name).collect();
    assert_eq!((next.name(), names.as_slice()), (want_phase, want), "{} × {seen:?}", phase.name());
    let ends = actions.last().is_some_and(|a| matches!(a, Action::Wait(_)) || a.name() != "Log");
    assert!(ends || next.is_terminal(), "{} × {seen:?}: the step neither looks nor waits", phase.name());
    (next, actions)
}

/// [`go`] with an empty memory, the default policy, at T0.
#[track_caller]
fn row(phase: Phase, seen: Observation, want_phase: &str, want: &[&str]) -> (Phase, Vec<Action>) {
    go(phase, &mut Memory::default(), &policy(), T0, seen, want_phase, want)
}

fn has(actions: &[Action], want: &Action) -> bool {
    actions.contains(want)
}

fn reported(actions: &[Action]) -> Vec<(NodeState, String, Option<Blocked>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Report { state, reason, blocked, .. } => Some((*state, reason.clone(), *blocked)),
            _ => None,
        })
        .collect()
}

fn gate(in_window: bool, required: Result<bool, &str>, pending: bool) -> Observation {
    Observation::Gate { in_window, opens: None, required: required.map_err(str::to_string), pending }
}

#[test]
fn start_up_recovery() {
    use Observation as O;
    let start = || Phase::Recovering(recovery(true, None, None));
    let held = |m: LockMeta| Phase::Recovering(recovery(true, Some(m), None));
    let put_back = |a: &[Action]| match a.last() {
        Some(Action::PutBack { uncordon, announce, labels, .. }) => (*uncordon, *announce, *labels),
        other => panic!("not a put-back: {other:?}"),
    };
    row(Phase::Starting, O::Tick, "Recovering", &["LookAtLock"]);
    row(Phase::Starting, O::Stop, "Recovering", &["LookAtLock"]);
    row(start(), O::Held { mine: None, pause: None }, "Released", &["ReadSentinel"]);
    row(start(), O::Held { mine: Some(meta(Some("b1"), false, 0)), pause: None }, "Recovering", &["ReadNode"]);
    row(start(), O::Failed("500".into()), "Recovering", &["Wait(Retry)"]);
    row(start(), O::Tick, "Recovering", &["LookAtLock"]);
    row(start(), O::Stop, "Tidying", &["Untaint", "Tidy"]);
    // a restart of the pod, same boot ID: put back, claim nothing
    let (_, a) = row(held(meta(Some("b1"), false, 0)), O::Node(node("b1")), "Recovering", &["PutBack"]);
    assert_eq!(put_back(&a), (true, false, false));
    // a new boot ID: the reboot happened, and is announced
    let (_, a) = row(held(meta(Some("b1"), false, 0)), O::Node(node("b2")), "Recovering", &["PutBack"]);
    assert_eq!(put_back(&a), (true, true, false));
    // no boot ID recorded (upstream's lock): assume the reboot, as upstream
    let (_, a) = row(held(meta(None, false, 0)), O::Node(node("b2")), "Recovering", &["PutBack"]);
    assert_eq!(put_back(&a), (true, true, false));
    // an operator's cordon stays, and a pod stopped in the gate announced already
    let (_, a) = row(held(meta(Some("b1"), true, 0)), O::Node(node("b2")), "Recovering", &["PutBack"]);
    assert_eq!(put_back(&a), (false, false, false));
    let gated = NodeFacts { in_release_gate: true, ..node("b2") };
    let (_, a) = row(held(meta(Some("b1"), false, 0)), O::Node(gated), "Recovering", &["PutBack"]);
    assert_eq!(put_back(&a), (true, false, false));
    let failed = O::Recovered { done: Done { uncordoned: true, ..Done::default() }, failed: Some("x".into()) };
    let (p, _) = row(held(meta(Some("b1"), false, 0)), failed, "Recovering", &["Wait(Retry)"]);
    assert!(matches!(p, Phase::Recovering(r) if r.done.uncordoned), "a retry does not uncordon again");
}

#[test]
fn after_the_put_back_the_release_gate_then_the_release() {
    use Observation as O;
    let ok = O::Recovered { done: Done::default(), failed: None };
    let gated = Policy { release_gate: true, ..policy() };
    let rec = |boot| Phase::Recovering(recovery(true, Some(meta(Some("b1"), false, 0)), Some(boot)));
    let m = &mut Memory::default();
    go(rec(Boot::Rebooted), m, &gated, T0, ok.clone(), "ReleaseGate", &["TimeReboot", "Report", "PassReleaseGate"]);
    go(rec(Boot::Rebooted), m, &policy(), T0, ok.clone(), "Releasing", &["TimeReboot", "Unhold", "ReleaseLock"]);
    // a restart on the same boot has no reboot to gate
    go(rec(Boot::SameBoot), m, &gated, T0, ok.clone(), "Releasing", &["Unhold", "ReleaseLock"]);
    let delayed = Policy { lock_release_delay: Duration::from_secs(5), ..policy() };
    go(rec(Boot::SameBoot), m, &delayed, T0, ok, "Releasing", &["Unhold", "Sleep", "ReleaseLock"]);
    let gate = || Phase::ReleaseGate(recovery(true, Some(meta(Some("b1"), false, 0)), Some(Boot::Rebooted)));
    row(gate(), O::GateEnded(GateOutcome::Open), "Releasing", &["Unhold", "ReleaseLock"]);
    row(gate(), O::GateEnded(GateOutcome::TimedOut), "Releasing", &["Unhold", "ReleaseLock"]);
    // SIGTERM in the gate: the lock stays for the next start
    row(gate(), O::GateEnded(GateOutcome::Stopped), "Stopped", &[]);
    row(gate(), O::Stop, "Stopped", &[]);
    let releasing = || Phase::Releasing(recovery(true, Some(meta(Some("b1"), false, 2)), Some(Boot::Rebooted)));
    row(releasing(), O::LockReleased, "Released", &["ReadSentinel"]);
    row(releasing(), O::Stop, "Releasing", &["ReleaseLock"]);
    // the release's answer lost: the next look finds the lock not ours, and
    // still finishes with what this recovery found
    let (p, _) = row(releasing(), O::Failed("timeout".into()), "Recovering", &["Wait(Retry)"]);
    let (p, _) = row(p, O::Held { mine: None, pause: None }, "Released", &["ReadSentinel"]);
    assert!(matches!(&p, Phase::Released(f) if f.meta.reboot_streak == 2 && f.boot == Some(Boot::Rebooted)), "{p:?}");
}

#[test]
fn released_the_sentinel_feeds_the_reboot_loop_guard() {
    use Observation as O;
    let m = &mut Memory::default();
    let p = &policy();
    go(
        released(Some(Boot::Rebooted), 0, true),
        m,
        p,
        T0,
        O::Sentinel(Ok(false)),
        "Idle",
        &["Untaint", "Wait(FirstCheck)"],
    );
    assert_eq!(m.streak, 0);
    go(released(Some(Boot::Rebooted), 1, true), m, p, T0, O::Sentinel(Ok(true)), "Idle", &["Wait(FirstCheck)"]);
    assert_eq!((m.streak, m.loop_reported), (2, false));
    // the third reboot in a row that left the sentinel set: the guard stops reboots
    let want = ["Warning", "SetMetric", "Wait(FirstCheck)"];
    go(released(Some(Boot::Rebooted), 2, true), m, p, T0, O::Sentinel(Ok(true)), "Idle", &want);
    assert_eq!((m.streak, m.loop_reported), (3, true));
    // a restart on the same boot neither counts nor clears
    go(released(Some(Boot::SameBoot), 1, true), m, p, T0, O::Sentinel(Ok(true)), "Idle", &["Wait(FirstCheck)"]);
    assert_eq!(m.streak, 1);
    // after a reboot confirmed while running (not a start): the next period
    let annotated = Policy { annotate_nodes: true, ..policy() };
    let f = Phase::Released(Released { in_progress: true, ..Released::default() });
    let f = match f {
        Phase::Released(r) => Phase::Released(Released { boot: Some(Boot::Rebooted), ..r }),
        other => other,
    };
    go(f, m, &annotated, T0, O::Sentinel(Ok(false)), "Idle", &["RemoveInProgress", "Wait(Period)"]);
    row(released(None, 0, true), O::Sentinel(Ok(false)), "Idle", &["Untaint", "Wait(FirstCheck)"]);
    row(released(None, 0, true), O::Stop, "Released", &["ReadSentinel"]);
}

#[test]
fn resting_phases_check_on_a_tick_and_stop_gracefully() {
    use Observation as O;
    let resting = [Phase::Idle { window: None }, Phase::Pending(Hold::Retry), Phase::WaitingForLock, Phase::GivingWay];
    for p in resting {
        row(p.clone(), O::Tick, "Checking", &["LookAtGate"]);
        let (t, _) = row(p, O::Stop, "Tidying", &["Untaint", "Tidy"]);
        row(t, O::Tidied { pause: None, cordon_cleared: false }, "Stopped", &[]);
    }
    let cordoned = &mut Memory { our_cordon: true, ..Memory::default() };
    let (_, a) = go(Phase::WaitingForLock, cordoned, &policy(), T0, O::Stop, "Tidying", &["Untaint", "Tidy"]);
    assert!(has(&a, &Action::Tidy { our_cordon: true }));
}

#[test]
fn the_gate_of_a_check() {
    use Observation as O;
    let g = || Phase::Checking(Check::Gate);
    row(g(), gate(false, Ok(false), false), "Tidying", &["Untaint", "Tidy"]);
    let (t, _) = row(g(), gate(false, Ok(false), true), "Tidying", &["Untaint", "Tidy"]);
    // the status (with the pause the tidy's look saw) follows the tidy
    let (_, a) = row(
        t,
        O::Tidied { pause: Some(Some("freeze".into())), cordon_cleared: false },
        "Pending",
        &["Report", "Wait(Period)"],
    );
    let reason = "paused: freeze; outside the maintenance window, which never opens".to_string();
    assert_eq!(reported(&a), [(NodeState::Pending, reason, Some(Blocked::Window))]);
    row(g(), gate(true, Err("exit 3"), false), "Pending", &["Report", "Wait(Period)"]);
    row(g(), gate(true, Ok(true), false), "Checking", &["ReadNode"]);
    // the sentinel clear: the reboot-loop guard starts over
    let m = &mut Memory { streak: 3, loop_reported: true, ..Memory::default() };
    go(g(), m, &policy(), T0, gate(true, Ok(false), false), "Tidying", &["Untaint", "SetMetric", "Tidy"]);
    assert_eq!((m.streak, m.loop_reported), (0, false));
    // reboot-loop stop: the lock is not taken
    let m = &mut Memory { streak: 3, ..Memory::default() };
    go(g(), m, &policy(), T0, gate(true, Ok(true), false), "Tidying", &["Report", "Untaint", "Tidy"]);
    // back-off after a failed reboot command
    let m = &mut Memory { retry: RebootRetry::default().failed(T0, Duration::from_secs(60)), ..Memory::default() };
    go(g(), m, &policy(), T0, gate(true, Ok(true), false), "Tidying", &["Report", "Tidy"]);
    go(g(), m, &policy(), T0 + Duration::from_secs(60), gate(true, Ok(true), false), "Checking", &["ReadNode"]);
}

#[test]
fn tidying_goes_on_as_planned() {
    use Observation as O;
    let m = &mut Memory { our_cordon: true, ..Memory::default() };
    let ok = Some((NodeState::Ok, String::new(), None));
    let tidied = O::Tidied { pause: Some(None), cordon_cleared: true };
    go(tidying(Phase::Idle { window: None }, ok), m, &policy(), T0, tidied, "Idle", &["Report", "Wait(Period)"]);
    assert!(!m.our_cordon, "kured's cordon is undone");
    let stopping = Phase::Tidying(Box::new(Tidy { then: Phase::Stopped, report: None, wait: None }));
    row(stopping.clone(), O::Tidied { pause: None, cordon_cleared: false }, "Stopped", &[]);
    row(stopping, O::Stop, "Tidying", &["Tidy"]);
}

#[test]
fn the_node_the_blockers_and_the_control_plane() {
    use Observation as O;
    let out = NodeFacts { opted_out: Some("opted out by label".into()), ..node("b1") };
    row(Phase::Checking(Check::Node), O::Node(out), "Tidying", &["Report", "LeaveQueue", "Untaint", "Tidy"]);
    // --reboot-loop-window: three reboots within it stop the next
    let times = vec![T0 - Duration::from_secs(60), T0 - Duration::from_secs(40), T0 - Duration::from_secs(20)];
    let looping = NodeFacts { reboots: times, ..node("b1") };
    let m = &mut Memory::default();
    let want = ["Report", "Warning", "SetMetric", "Untaint", "Wait(Period)"];
    go(Phase::Checking(Check::Node), m, &policy(), T0, O::Node(looping.clone()), "Pending", &want);
    let want = ["Report", "Untaint", "Wait(Period)"];
    go(Phase::Checking(Check::Node), m, &policy(), T0, O::Node(looping), "Pending", &want);
    let want = ["SetMetric", "CheckBlockers"];
    go(Phase::Checking(Check::Node), m, &policy(), T0, O::Node(node("b1")), "Checking", &want);
    let annotated = Policy { annotate_nodes: true, ..policy() };
    let want = ["AnnotateInProgress", "CheckBlockers"];
    go(Phase::Checking(Check::Node), &mut Memory::default(), &annotated, T0, O::Node(node("b1")), "Checking", &want);
    row(Phase::Checking(Check::Node), O::Node(node("b1")), "Checking", &["CheckBlockers"]);
    row(Phase::Checking(Check::Node), O::Failed("timeout".into()), "Pending", &["Wait(Period)"]);
    let b = || Phase::Checking(Check::Blockers(node("b1")));
    row(b(), O::Blockers(vec![]), "Checking", &["CheckControlPlane"]);
    let pod = vec![(Blocked::Pods, "blocking pod monitoring/prometheus-0".to_string())];
    let (_, a) = row(b(), O::Blockers(pod), "Pending", &["Report", "Wait(Period)"]);
    assert_eq!(reported(&a)[0].2, Some(Blocked::Pods), "a pod named after Prometheus is a pod");
    let cp = || Phase::Checking(Check::ControlPlane(node("b1")));
    row(cp(), O::ControlPlane { held: true }, "Pending", &["Wait(Period)"]);
    row(cp(), O::ControlPlane { held: false }, "Checking", &["TakeLock"]);
    row(cp(), O::Stop, "Tidying", &["Untaint", "Tidy"]);
    // a cordon of kured's that no entry records is taken as ours, not an operator's
    let facts = NodeFacts { unschedulable: true, ..node("b1") };
    let m = &mut Memory { our_cordon: true, streak: 1, ..Memory::default() };
    let (_, a) = go(
        Phase::Checking(Check::ControlPlane(facts)),
        m,
        &policy(),
        T0,
        O::ControlPlane { held: false },
        "Checking",
        &["TakeLock"],
    );
    assert!(has(&a, &Action::TakeLock { wanted: meta(Some("b1"), false, 1), gave_way_to: vec![] }), "{a:?}");
}

#[test]
fn the_take_of_the_lock() {
    use Observation as O;
    let l = || Phase::Checking(Check::Lock(node("b1")));
    let m = &mut Memory { our_cordon: true, gave_way_to: vec![key("n2")], ..Memory::default() };
    let (p, _) =
        go(l(), m, &policy(), T0, O::Lock(Take::Taken { was_cordoned: false }), "Draining", &["Hold", "Drain"]);
    assert_eq!((m.our_cordon, m.gave_way_to.len()), (false, 0));
    assert_eq!(p, Phase::Draining(attempt()));
    let waiting = ["LockWaitStarted", "Report", "Taint", "Wait(Lock)"];
    row(l(), O::Lock(Take::Full("n2".into())), "WaitingForLock", &waiting);
    row(l(), O::Lock(Take::Deferred), "WaitingForLock", &waiting);
    row(l(), O::Lock(Take::Guarded { reason: "n2 reboots".into(), readiness: false }), "WaitingForLock", &waiting);
    let guarded = ["LockWaitStarted", "Report", "Taint", "LookAgainIn", "Wait(Period)"];
    row(l(), O::Lock(Take::Guarded { reason: "n2 not Ready".into(), readiness: true }), "Pending", &guarded);
    row(
        l(),
        O::Lock(Take::Paused("freeze".into())),
        "Pending",
        &["LockWaitStarted", "Report", "Untaint", "Wait(Lock)"],
    );
    let m = &mut Memory { our_cordon: true, ..Memory::default() };
    let want = ["LockWaitStarted", "Report", "Untaint", "Tidy"];
    go(l(), m, &policy(), T0, O::Lock(Take::Paused("freeze".into())), "Tidying", &want);
    row(l(), O::Lock(Take::Missing), "WaitingForLock", &["Report", "Wait(Lock)"]);
    let m = &mut Memory { gave_way_to: vec![key("n2")], ..Memory::default() };
    let want = ["LockWaitStarted", "Report", "Taint", "Wait(GaveWay)"];
    go(l(), m, &policy(), T0, O::Lock(Take::GivingWay("n2".into())), "GivingWay", &want);
    assert_eq!(m.gave_way_to, [key("n2")], "still giving way");
    row(l(), O::Failed("409".into()), "Pending", &["Wait(Period)"]);
    row(l(), O::Stop, "Tidying", &["Untaint", "Tidy"]);
}

#[test]
fn the_drain() {
    use Observation as O;
    let d = || Phase::Draining(attempt());
    row(d(), O::Drained(DrainOutcome::Drained), "Confirming", &["Confirm"]);
    let delayed = Policy { reboot_delay: Duration::from_secs(30), ..policy() };
    let m = &mut Memory::default();
    go(d(), m, &delayed, T0, O::Drained(DrainOutcome::Drained), "Confirming", &["Sleep", "Confirm"]);
    let failed = || O::Drained(DrainOutcome::Failed("pod p: 500".into()));
    row(d(), failed(), "Pending", &["NotifyWarning", "GiveUp", "Wait(Period)"]);
    let forced = Policy { force_reboot: true, ..policy() };
    go(d(), m, &forced, T0, failed(), "Confirming", &["NotifyWarning", "Confirm"]);
    // an operator's cordon stays when giving up
    let cordoned = Phase::Draining(Attempt { was_cordoned: true, ..attempt() });
    let (_, a) = row(cordoned, failed(), "Pending", &["NotifyWarning", "GiveUp", "Wait(Period)"]);
    assert!(has(&a, &Action::GiveUp { uncordon: false }));
    // give-way: remembered, no back-off, no --force-reboot
    let gave_way = O::Drained(DrainOutcome::GaveWay(vec!["n2".into()], vec![key("n2")]));
    let want = ["NotifyWarning", "Event", "GiveUp", "Wait(GaveWay)"];
    go(d(), m, &forced, T0, gave_way, "GivingWay", &want);
    assert_eq!((m.gave_way_to.clone(), m.retry), (vec![key("n2")], RebootRetry::default()));
    row(d(), O::Drained(DrainOutcome::Lost(Lost::Broken("n3".into()))), "PuttingBack", &["PutBackLost"]);
    row(d(), O::Drained(DrainOutcome::Stopped), "Tidying", &["GiveUp", "Untaint", "Tidy"]);
    row(d(), O::Stop, "Tidying", &["GiveUp", "Untaint", "Tidy"]);
}

#[test]
fn the_looks_before_the_reboot_command() {
    use Observation as O;
    let c = || Phase::Confirming(attempt());
    row(c(), O::Confirmed(Confirmation::Held), "Confirming", &["CheckQuorum"]);
    row(c(), O::Confirmed(Confirmation::Lost(Lost::NodeMissing)), "PuttingBack", &["PutBackLost"]);
    row(c(), O::Confirmed(Confirmation::Unsure), "Pending", &["GiveUp", "Wait(Period)"]);
    let want = ["Event", "Notify", "Report", "RunRebootCommand"];
    row(c(), O::Quorum(Quorum::Fine), "Rebooting", &want);
    let want = ["GiveUp", "LockWaitStarted", "Report", "LookAgainIn", "Wait(Period)"];
    row(c(), O::Quorum(Quorum::Hold("cp-2 is not Ready".into())), "Pending", &want);
    row(c(), O::Quorum(Quorum::Failed("timeout".into())), "Pending", &["GiveUp", "Wait(Period)"]);
    row(c(), O::Stop, "Tidying", &["GiveUp", "Untaint", "Tidy"]);
}

#[test]
fn the_reboot_and_its_confirmation() {
    use Observation as O;
    let m = &mut Memory::default();
    let p = &policy();
    let (r, _) = go(Phase::Rebooting(attempt()), m, p, T0, O::Command(Command::Ran), "Rebooting", &["Wait(Reboot)"]);
    assert_eq!(r, rebooting(T0));
    go(
        Phase::Rebooting(attempt()),
        m,
        p,
        T0,
        O::Command(Command::Uncertain("timed out".into())),
        "Rebooting",
        &["Wait(Reboot)"],
    );
    let failed = O::Command(Command::Failed("exit 1".into()));
    go(Phase::Rebooting(attempt()), m, p, T0, failed, "Pending", &["GiveUp", "Wait(Period)"]);
    assert_eq!(m.retry.failures, 1, "back-off");
    let ten = Duration::from_secs(600);
    go(rebooting(T0), m, p, T0 + Duration::from_secs(60), O::Tick, "Rebooting", &["Wait(Reboot)"]);
    go(rebooting(T0), m, p, T0 + ten, O::Tick, "Rebooting", &["ReadBootId"]);
    // --reboot-timeout with the boot ID unchanged: the reboot failed
    let want = ["Warning", "IncMetric", "GiveUp", "Wait(Period)"];
    go(rebooting(T0), m, p, T0 + ten, O::BootId(Some("b1".into())), "Pending", &want);
    assert_eq!(m.retry.failures, 2);
    go(rebooting(T0), m, p, T0 + ten, O::BootId(Some("b2".into())), "Recovering", &["LookAtLock"]);
    go(rebooting(T0), m, p, T0 + ten, O::Failed("timeout".into()), "Rebooting", &["Wait(Reboot)"]);
    // no --reboot-timeout: wait for the shutdown forever
    let forever = Policy { reboot_timeout: None, ..policy() };
    go(rebooting(T0), m, &forever, T0 + ten * 100, O::Tick, "Rebooting", &["Wait(Reboot)"]);
    // SIGTERM after the command: the shutdown arriving; nothing is undone
    row(rebooting(T0), O::Stop, "GoingDown", &[]);
}

#[test]
fn putting_back_after_a_lost_lock() {
    use Observation as O;
    let m = &mut Memory::default();
    let lost = Phase::PuttingBack { opted_out: None };
    go(lost.clone(), m, &policy(), T0, O::PutBack { cordon_left: true }, "WaitingForLock", &["Wait(Lock)"]);
    assert!(m.our_cordon, "the next take records the cordon as ours");
    let out = Phase::PuttingBack { opted_out: Some("opted out".into()) };
    row(out, O::PutBack { cordon_left: false }, "Tidying", &["Report", "LeaveQueue", "Untaint", "Tidy"]);
    row(lost, O::Stop, "Tidying", &["Untaint", "Tidy"]);
}

#[test]
fn terminal_phases_and_unasked_looks() {
    use Observation as O;
    row(Phase::Stopped, O::Tick, "Stopped", &[]);
    row(Phase::GoingDown, O::Stop, "GoingDown", &[]);
    // a look nobody asked for: never a wait while holding the lock or the node
    row(Phase::Idle { window: None }, O::Drained(DrainOutcome::Drained), "Idle", &["Wait(Period)"]);
    row(Phase::Draining(attempt()), O::Tick, "Pending", &["GiveUp", "Wait(Period)"]);
    row(Phase::Confirming(attempt()), O::Tick, "Pending", &["GiveUp", "Wait(Period)"]);
    let gate = Phase::ReleaseGate(recovery(true, Some(meta(Some("b1"), false, 0)), Some(Boot::Rebooted)));
    row(gate, O::Tick, "Recovering", &["Wait(Retry)"]);
    row(tidying(Phase::WaitingForLock, None), O::Tick, "WaitingForLock", &["Wait(Period)"]);
    row(Phase::PuttingBack { opted_out: None }, O::Tick, "WaitingForLock", &["Wait(Period)"]);
    row(released(None, 0, false), O::Tick, "Idle", &["Wait(Period)"]);
}
