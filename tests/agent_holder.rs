//! Never two at once (issue 24), with a fake host and clock against the fake
//! API server: a lock holder acts only on a lock it still holds. Its entry
//! broken as stale, removed, or expired past renewal, or its own Node deleted
//! (for good, or registered again) while it drains or waits to reboot: it
//! stops, puts the node back, says why, and never runs the reboot command.
//! And at the other end, a node breaking another's entry waits the gap and
//! the grace `lock::stale` documents, and two stray 404s break nothing.

#[path = "agent/fake_host.rs"]
mod fake_host;
#[path = "support/host.rs"]
mod host;
#[path = "support/kube.rs"]
mod kube;
#[path = "agent/support.rs"]
mod support;

use std::time::Duration;

use fakeapi::{Fault, Handle};
use kured::clock::Clock;
use kured::lock::{stale, LockEntry, LockMeta, LockValue};
use serde_json::{json, Value};
use support::{agent, run_check, Ended, FakeHost, World, KEY, NODE};
use time::OffsetDateTime;

/// node-1 needs a reboot; its only pod, "web", is behind a budget that refuses
/// until the test deletes it.
fn blocked_drain() -> (World, FakeHost) {
    let w = World::new();
    w.pod("web", NODE);
    w.api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"default"},
        "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}),
    );
    (w, FakeHost::new(true))
}

/// Run `change` once, at the first sleep that ends `after` past the start.
fn at(host: &FakeHost, after: Duration, api: Handle, change: impl Fn(&Handle, OffsetDateTime) + Send + 'static) {
    let when = host.now() + after;
    let mut done = false;
    host.on_sleep(move |now| {
        if !done && now >= when {
            done = true;
            change(&api, now);
        }
    });
}

fn edit_lock(api: &Handle, f: impl FnOnce(&LockValue) -> Option<LockValue>) {
    let mut ds = api.get("daemonsets", "kube-system", "kured").expect("kured daemonset");
    let v = LockValue::from_annotation(ds["metadata"]["annotations"][KEY].as_str().expect("locked")).unwrap();
    ds["metadata"]["annotations"][KEY] = f(&v).map_or(Value::Null, |v| json!(v.to_annotation()));
    api.update(ds).expect("edit the lock");
}

fn break_entry_of_node_1(api: &Handle, now: OffsetDateTime) {
    edit_lock(api, |v| Some(LockValue::Single(v.entries()[0].broken("node-2", now, stale::GRACE))));
    // the budget frees: a holder that did not look would now reboot
    api.delete("poddisruptionbudgets", "default", "web");
}

fn daemonset_events(w: &World, reason: &str) -> usize {
    w.api.list("events").iter().filter(|e| e["reason"] == reason && e["involvedObject"]["kind"] == "DaemonSet").count()
}

#[track_caller]
fn assert_stopped_without_reboot(w: &World, host: &FakeHost) {
    assert_eq!((host.reboots(), w.marker_written()), (0, false), "never rebooted");
    assert_eq!(w.holders(), Vec::<String>::new(), "its entry let go");
}

#[test]
fn a_holder_whose_entry_was_broken_mid_drain_stops_and_puts_the_node_back() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--drain-timeout=2m"]);
    at(&host, Duration::from_secs(8), w.api.handle(), break_entry_of_node_1);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_stopped_without_reboot(&w, &host);
    assert!(!w.cordoned(), "its own cordon undone");
    assert_eq!(w.event_reasons(), ["Draining", "LockLost"]);
}

#[test]
fn a_holder_whose_node_was_deleted_mid_drain_stops() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--drain-timeout=2m"]);
    at(&host, Duration::from_secs(8), w.api.handle(), |api, _| {
        api.delete("nodes", "", NODE).expect("node-1");
        api.delete("poddisruptionbudgets", "default", "web");
    });
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_stopped_without_reboot(&w, &host);
    assert_eq!(daemonset_events(&w, "LockLost"), 1, "said on the DaemonSet, its Node being gone");
}

#[test]
fn a_holder_whose_node_was_registered_again_mid_drain_stops_and_leaves_the_new_node_alone() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--drain-timeout=2m"]);
    at(&host, Duration::from_secs(8), w.api.handle(), |api, _| {
        api.delete("nodes", "", NODE).expect("node-1");
        api.try_create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":NODE},"spec":{"unschedulable":true}}))
            .expect("re-registered");
        api.delete("poddisruptionbudgets", "default", "web");
    });
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_stopped_without_reboot(&w, &host);
    assert!(w.cordoned(), "the new Node's cordon is not kured's: left as it is");
    assert!(w.event_reasons().contains(&"LockLost".to_string()), "{:?}", w.event_reasons());
}

/// The reboot command runs only after a look just before it: here the entry
/// is removed by hand during --reboot-delay.
#[test]
fn the_reboot_command_waits_for_a_fresh_look_at_the_lock() {
    let w = World::new();
    let host = FakeHost::new(true);
    let cfg = w.config(&["--reboot-delay=10s"]);
    at(&host, Duration::from_secs(5), w.api.handle(), |api, _| edit_lock(api, |_| None));
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!((host.reboots(), w.marker_written()), (0, false), "never rebooted");
    assert!(!w.cordoned());
    assert_eq!(w.event_reasons(), ["Draining", "LockLost"]);
}

/// With the API down right before the reboot command, no look succeeds: the
/// attempt is given up (node put back once the API answers), never rebooted
/// on an old look.
#[test]
fn no_reboot_on_an_old_look_when_the_lock_cannot_be_read() {
    let w = World::new();
    let host = FakeHost::new(true);
    let cfg = w.config(&["--reboot-delay=10s"]);
    at(&host, Duration::from_secs(5), w.api.handle(), |api, _| {
        api.inject(Fault::new(
            "GET",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/kured",
            fakeapi::FaultAction::Status(500),
        ));
    });
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!((host.reboots(), w.marker_written()), (0, false), "never rebooted");
    assert!(!w.cordoned(), "put back");
}

/// --lock-ttl shorter than the drain: the holder renews its entry when the
/// lock has room (a write that proves the slot is still its own), then reboots.
#[test]
fn an_expired_entry_is_renewed_when_the_lock_has_room() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--lock-ttl=20s", "--drain-timeout=2m"]);
    let t0 = host.now();
    at(&host, Duration::from_secs(30), w.api.handle(), |api, _| {
        api.delete("poddisruptionbudgets", "default", "web");
    });
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    let v = LockValue::from_annotation(&w.lock_annotation().expect("held")).unwrap();
    assert!(v.entries()[0].created >= t0 + Duration::from_secs(20), "a renewed entry");
}

/// node-2 holds the lock and its Node is gone: node-1 breaks the entry only
/// after looks [`stale::MIN_GAP`] apart (a short period does not shorten it),
/// and takes the slot only after the broken entry's grace.
#[test]
fn a_breaker_waits_the_gap_and_then_the_grace() {
    let w = World::new();
    let host = FakeHost::new(true);
    let gone = LockEntry::new("node-2", LockMeta::cordoned(false), host.now() - time::Duration::minutes(1), None);
    w.set_lock_annotation(&LockValue::Single(gone).to_annotation());
    w.api.delete("nodes", "", "node-2").expect("node-2 existed");
    let cfg = w.config(&[]);
    let mut a = agent(&cfg, &w.client, &host);
    let broken = || daemonset_events(&w, "StaleLockBroken");
    let start = host.now();
    while host.now() - start < stale::MIN_GAP - Duration::from_secs(1) {
        assert_eq!(run_check(&mut a), Ended::Returned);
        assert_eq!(broken(), 0, "broken after {:?}", host.now() - start);
        host.advance(Duration::from_secs(1));
    }
    host.advance(Duration::from_secs(1));
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(broken(), 1, "broken once the gap passed");
    assert_eq!(w.holders(), ["node-2"], "the broken entry keeps its slot for the grace");
    assert!(!w.cordoned(), "not taken during the grace");
    host.advance(stale::GRACE - Duration::from_secs(2));
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(!w.cordoned() && w.holders() == ["node-2"], "still in the grace");
    host.advance(Duration::from_secs(2));
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot, "taken once the grace is over");
    assert_eq!(w.holders(), [NODE]);
}

/// Two 404s for a Node that exists (a proxy, a flapping API server) break
/// nothing: a look that finds the Node starts the count over.
#[test]
fn two_stray_404s_break_no_entry() {
    let w = World::new();
    let host = FakeHost::new(true);
    let holder = LockEntry::new("node-2", LockMeta::cordoned(false), host.now() - time::Duration::minutes(1), None);
    w.set_lock_annotation(&LockValue::Single(holder).to_annotation());
    w.api.inject(Fault::status("GET", "/api/v1/nodes/node-2", 404, 2));
    let cfg = w.config(&[]);
    let mut a = agent(&cfg, &w.client, &host);
    for _ in 0..40 {
        assert_eq!(run_check(&mut a), Ended::Returned);
        host.advance(Duration::from_secs(1));
    }
    assert_eq!(daemonset_events(&w, "StaleLockBroken"), 0);
    assert_eq!(w.holders(), ["node-2"]);
    assert!(!w.cordoned());
}

/// Chaos seed 14377560584809746267: node-1's Node was deleted and registered
/// again between taking the lock and the cordon, so the cordon went to the new
/// object, which the holder then took for not its own and left cordoned. The
/// look right before the cordon is never an older one.
#[test]
fn a_node_registered_again_before_the_cordon_is_never_cordoned() {
    let w = World::new();
    let host = FakeHost::new(true);
    let cfg = w.config(&["--drain-delay=3s"]);
    at(&host, Duration::from_secs(1), w.api.handle(), |api, _| {
        api.delete("nodes", "", NODE).expect("node-1");
        api.try_create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":NODE}})).expect("re-registered");
    });
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_stopped_without_reboot(&w, &host);
    assert!(!w.cordoned(), "the new Node was cordoned and left so");
}
