//! The loop's "never strand a node" paths with a fake host and clock against the
//! fake API server: start-up recovery told by the boot ID, recovery retrying only
//! the step that failed, the reboot-loop guard, the clean-up of a leftover lock
//! during the back-off after a failed reboot, and what the lock records.

#[path = "agent/fake_host.rs"]
mod fake_host;
#[path = "support/host.rs"]
mod host;
#[path = "support/kube.rs"]
mod kube;
#[path = "agent/support.rs"]
mod support;

use fakeapi::Fault;
use kured::lock::{LockEntry, LockMeta, LockValue};
use serde_json::json;
use support::{agent, run_check, run_recover, Ended, FakeHost, RebootResult, World, DS_PATH, NODE, NODE_PATH};

fn set_boot_id(w: &World, id: &str) {
    let mut n = w.api.get("nodes", "", NODE).expect("node-1");
    n["status"]["nodeInfo"] = json!({"bootID": id});
    w.api.update(n).expect("set the boot ID");
}

/// This node holds the lock (its cordon is kured's), taken on boot `boot`
/// after `streak` reboots that left the sentinel set.
fn held_since(w: &World, boot: &str, streak: u32) {
    w.set_cordoned();
    let meta = LockMeta { unschedulable: false, boot_id: Some(boot.into()), reboot_streak: streak };
    let entry = LockEntry::new(NODE, meta, time::OffsetDateTime::now_utc(), None);
    w.set_lock_annotation(&LockValue::Single(entry).to_annotation());
}

/// A world where node-1 runs on boot `now` and holds the lock taken on boot
/// `taken_on` (see [`held_since`]).
fn holding_the_lock(now: &str, taken_on: &str, streak: u32) -> World {
    let w = World::new();
    set_boot_id(&w, now);
    held_since(&w, taken_on, streak);
    w
}

fn recorded(w: &World) -> LockMeta {
    let v = LockValue::from_annotation(&w.lock_annotation().expect("locked")).unwrap();
    v.entries()[0].meta()
}

#[test]
fn the_lock_records_the_boot_id() {
    let w = World::new();
    set_boot_id(&w, "boot-1");
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(recorded(&w), LockMeta { unschedulable: false, boot_id: Some("boot-1".into()), reboot_streak: 0 });
}

#[test]
fn a_restart_on_the_same_boot_puts_the_node_back_without_claiming_a_reboot() {
    let w = holding_the_lock("boot-1", "boot-1", 0);
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    run_recover(&mut agent(&cfg, &w.client, &host), &host).expect("recovered");
    w.assert_put_back();
    assert_eq!(w.event_reasons(), Vec::<String>::new(), "no reboot claimed");
}

#[test]
fn recovery_retries_only_the_step_that_failed() {
    let w = holding_the_lock("boot-2", "boot-1", 0);
    // the release fails twice: the uncordon, labels and Event are not redone
    w.api.inject(Fault::status("PUT", DS_PATH, 500, 2));
    let cfg = w.config(&["--post-reboot-node-labels=kured=done"]);
    let host = FakeHost::new(false);
    run_recover(&mut agent(&cfg, &w.client, &host), &host).expect("recovered");
    w.assert_put_back();
    assert_eq!(w.label("kured").as_deref(), Some("done"));
    assert_eq!(w.event_reasons(), ["Uncordoned"], "announced once");
    let node_patches = w
        .api
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(NODE_PATH) && !r.body.contains("kured-rs.dev/"))
        .count();
    assert_eq!(node_patches, 2, "one uncordon, one label write (besides kured-rs's status annotation)");
    assert_eq!(w.count("PUT", DS_PATH), 3, "the release, tried three times");
}

#[test]
fn recovery_never_asks_the_sentinel_while_holding_the_lock() {
    let w = holding_the_lock("boot-2", "boot-1", 0);
    let cfg = w.config(&[]);
    // A sentinel that cannot answer (a hung command, timed out): the node is
    // put back all the same.
    let host = FakeHost::new(false);
    host.set_required(Err("timed out"));
    run_recover(&mut agent(&cfg, &w.client, &host), &host).expect("recovered");
    w.assert_put_back();
}

#[test]
fn the_reboot_loop_guard_stops_after_the_limit_until_the_sentinel_clears() {
    let w = holding_the_lock("boot-3", "boot-2", 2);
    let cfg = w.config(&[]);
    let host = FakeHost::new(true); // the sentinel survived the third reboot
    let mut a = agent(&cfg, &w.client, &host);
    run_recover(&mut a, &host).expect("recovered");
    assert_eq!(w.event_reasons(), ["RebootLoop", "Uncordoned"]);
    let warning = w.api.list("events").into_iter().find(|e| e["reason"] == "RebootLoop").unwrap();
    assert_eq!(warning["type"], "Warning");
    assert!(a.metrics().render().contains("kured_reboot_loop_stopped{node=\"node-1\"} 1"));
    // every later period: no lock, no reboot
    for _ in 0..3 {
        assert_eq!(run_check(&mut a), Ended::Returned);
    }
    assert_eq!((host.reboots(), w.holders()), (0, Vec::<String>::new()));
    // the sentinel clears once: the guard starts over
    host.set_required(Ok(false));
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(a.metrics().render().contains("kured_reboot_loop_stopped{node=\"node-1\"} 0"));
    host.set_required(Ok(true));
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
    assert_eq!(recorded(&w).reboot_streak, 0);
}

#[test]
fn the_streak_rides_in_the_lock_across_the_reboot() {
    let w = holding_the_lock("boot-2", "boot-1", 1);
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    run_recover(&mut a, &host).expect("recovered");
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot, "below the limit: rebooted again");
    assert_eq!(recorded(&w), LockMeta { unschedulable: false, boot_id: Some("boot-2".into()), reboot_streak: 2 });
}

#[test]
fn the_guard_is_off_with_a_zero_limit() {
    let w = holding_the_lock("boot-9", "boot-8", 50);
    let cfg = w.config(&["--reboot-loop-limit=0"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    run_recover(&mut a, &host).expect("recovered");
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
}

#[test]
fn a_leftover_lock_is_put_back_during_the_back_off() {
    let w = World::new();
    // The PATCHes of the node: kured-rs's marks, the cordon, the status "rebooting",
    // then the uncordon fails (and the client's two resends of it).
    w.api.inject(Fault::status("PATCH", NODE_PATH, 500, 3).after(3));
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    host.set_reboot_result(RebootResult::CommandFailed);
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(w.cordoned() && w.holders() == [NODE], "the failed give-up kept the lock and cordon");
    w.api.clear_faults();
    // still backing off: the next check puts the node back all the same
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 1, "no new attempt during the back-off");
    w.assert_put_back();
}

/// node-1 needs a reboot; its only pod, "web", is behind a budget that never
/// lets it go.
fn a_pod_no_budget_lets_go() -> (World, FakeHost) {
    let w = World::new();
    w.pod("web", NODE);
    w.api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"default"},
        "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}),
    );
    (w, FakeHost::new(true))
}

/// `--concurrency=2`: node-2 took the lock first, then node-1, whose only pod
/// a PodDisruptionBudget refuses (as when every node drains at once and the
/// replacements cannot start anywhere; chaos seed 5257644953516760521). After
/// `--drain-stall-timeout` node-1 gives way: uncordoned, lock released, a
/// `GaveWay` Event, no reboot; it does not take the lock again while node-2
/// holds it; once node-2 is done it drains again, and, first holder now,
/// never gives way again.
#[test]
fn a_drain_stalled_on_budgets_gives_way_to_an_earlier_holder() {
    use kured::clock::Clock;
    let (w, host) = a_pod_no_budget_lets_go();
    let earlier = LockEntry::new("node-2", LockMeta::cordoned(false), host.now() - time::Duration::minutes(1), None);
    w.set_lock_annotation(&LockValue::Multi { max_owners: 2, locks: vec![earlier] }.to_annotation());
    let cfg = w.config(&["--concurrency=2", "--drain-stall-timeout=20s", "--drain-timeout=2m"]);
    let mut a = agent(&cfg, &w.client, &host);

    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(!w.cordoned(), "uncordoned after giving way");
    assert_eq!(w.holders(), ["node-2"]);
    assert_eq!(w.event_reasons(), ["Draining", "GaveWay"]);
    assert_eq!((host.reboots(), w.marker_written()), (0, false));
    let refused = w.count("POST", "/pods/web/eviction");
    assert!(refused >= 2, "{refused} evictions tried");

    // node-2 still holds: no new attempt, however often we check.
    for _ in 0..3 {
        run_check(&mut a);
    }
    assert!(!w.cordoned());
    assert_eq!(w.holders(), ["node-2"]);
    assert_eq!(w.count("POST", "/pods/web/eviction"), refused, "no eviction while giving way");

    // node-2 is done: node-1 drains again, now the first holder. The budget
    // still refuses, so the drain runs into --drain-timeout instead of giving way.
    w.set_lock_annotation(&LockValue::Multi { max_owners: 2, locks: vec![] }.to_annotation());
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(w.event_reasons(), ["Draining", "Draining", "GaveWay"], "gave way once only");
    assert!(w.count("POST", "/pods/web/eviction") > refused);
    assert!(!w.cordoned(), "the failed drain put the node back");
    assert_eq!(w.holders(), Vec::<String>::new());
}

/// Chaos seed 10480434965161869427: node-2 was deleted while holding the lock,
/// and no node needed the lock afterwards, so nobody broke its entry: a lock
/// held forever by a node that is gone. A node that does not need the lock
/// now looks at the holders once a period too, and breaks the entry once its
/// Node is missing on looks a gap apart, then sweeps it after the grace.
#[test]
fn a_deleted_holders_entry_is_removed_even_when_nobody_needs_the_lock() {
    use kured::clock::Clock;
    let w = World::new();
    let host = FakeHost::new(false);
    let gone = LockEntry::new("node-2", LockMeta::cordoned(false), host.now() - time::Duration::minutes(1), None);
    w.set_lock_annotation(&LockValue::Multi { max_owners: 2, locks: vec![gone] }.to_annotation());
    w.api.delete("nodes", "", "node-2").expect("node-2 existed");
    let cfg = w.config(&["--concurrency=2"]);
    let mut a = agent(&cfg, &w.client, &host);
    run_check(&mut a);
    assert_eq!(w.holders(), ["node-2"], "one look is not enough");
    host.advance(kured::lock::stale::MIN_GAP);
    run_check(&mut a);
    let v = LockValue::from_annotation(&w.lock_annotation().expect("still there")).unwrap();
    assert_eq!(v.entries()[0].broken_by(), Some(NODE), "broken on a look the gap later, kept for the grace");
    host.advance(kured::lock::stale::GRACE);
    run_check(&mut a);
    assert_eq!(w.holders(), Vec::<String>::new(), "swept once the grace is over");
    let broken = w
        .api
        .list("events")
        .iter()
        .filter(|e| e["reason"] == "StaleLockBroken" && e["involvedObject"]["kind"] == "DaemonSet")
        .count();
    assert_eq!(broken, 1);
    assert_eq!((host.reboots(), w.cordoned()), (0, false));
}

/// Chaos seed 429265915557480406: the `RebootLoop` Warning was lost to one
/// reset connection, so nothing said why the node stopped rebooting. Events
/// are resent after a lost answer, and named by kured so that a resend never
/// records one twice.
#[test]
fn an_event_whose_connection_was_lost_is_resent_once() {
    let w = World::new();
    w.api.inject(Fault::reset("POST", "/api/v1/namespaces/default/events", 2));
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(w.event_reasons(), ["Draining", "Rebooting"], "each recorded once");
    let posts = w.count("POST", "/namespaces/default/events");
    assert_eq!(posts, 4, "Draining: two lost, the third recorded; Rebooting: the first");
}

/// Chaos seed 8975686117658740493: a hand-written entry (no `created`, here
/// an empty name, as `{}` reads) held a slot; a node whose drain stalled gave
/// way to it and then waited for its release forever. Nobody drains under a
/// hand-written entry: a stalled drain does not give way to one.
#[test]
fn a_stalled_drain_never_gives_way_to_a_hand_written_entry() {
    use kured::clock::Clock;
    let (w, host) = a_pod_no_budget_lets_go();
    let manual = LockEntry {
        created: kured::lock::GO_ZERO_TIME,
        ..LockEntry::new("", LockMeta::cordoned(false), host.now(), None)
    };
    w.set_lock_annotation(&LockValue::Multi { max_owners: 2, locks: vec![manual] }.to_annotation());
    let cfg = w.config(&["--concurrency=2", "--drain-stall-timeout=10s", "--drain-timeout=1m"]);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(w.event_reasons(), ["Draining"], "no GaveWay: the drain ran into its timeout");
    assert_eq!(w.holders(), [""], "the hand-written entry stays, ours is released");
    assert!(!w.cordoned());
}
