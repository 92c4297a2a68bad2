//! The operator's run-time controls, with a fake host and clock against the
//! fake API server: all reboots paused by `kured-rs.dev/pause` on the lock's
//! DaemonSet, one node opted out by `kured-rs.dev/opt-out` (label or
//! annotation). What the check does, what it costs, what it says (a node with
//! no reboot to do shows the pause too), and what a node already holding the
//! lock does when either arrives.

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
use serde_json::{json, Value};
use support::{agent, run_check, Ended, FakeHost, World, DS_PATH, KEY, NODE, NODE_PATH};
use time::OffsetDateTime;

const PAUSE: &str = "kured-rs.dev/pause";
const OPT_OUT: &str = "kured-rs.dev/opt-out";

fn status(w: &World) -> Value {
    let n = w.api.get("nodes", "", NODE).unwrap();
    let raw = n["metadata"]["annotations"]["kured-rs.dev/status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status on {n}"))
        .to_string();
    serde_json::from_str(&raw).unwrap()
}

fn pause(api: &Handle, reason: Option<&str>) {
    let mut ds = api.get("daemonsets", "kube-system", "kured").unwrap();
    ds["metadata"]["annotations"][PAUSE] = reason.map_or(Value::Null, |r| json!(r));
    if reason.is_none() {
        ds["metadata"]["annotations"].as_object_mut().unwrap().remove(PAUSE);
    }
    api.update(ds).expect("annotate the daemonset");
}

/// Set `kured-rs.dev/opt-out` on node-1 as a label or an annotation.
fn opt_out(api: &Handle, field: &str, value: &str) {
    let mut n = api.get("nodes", "", NODE).unwrap();
    n["metadata"][field][OPT_OUT] = json!(value);
    api.update(n).expect("opt node-1 out");
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

/// node-1 needs a reboot; its only pod, "web", is behind a budget that refuses
/// until it is deleted.
fn blocked_drain() -> (World, FakeHost) {
    let w = World::new();
    w.pod("web", NODE);
    w.api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"default"},
        "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}),
    );
    (w, FakeHost::new(true))
}

#[test]
fn a_paused_cluster_takes_no_lock_and_says_why_at_the_cost_of_a_manual_lock() {
    // The same check against upstream's hand-written lock, for the request count.
    let manual = World::new();
    manual.set_lock_annotation(r#"{"nodeID":"manual"}"#);
    let cfg = manual.config(&["--prefer-no-schedule-taint=kured-rs.test/waits"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &manual.client, &host)), Ended::Returned);
    assert_eq!(status(&manual)["reason"], "lock held by manual");

    let w = World::new();
    pause(&w.api.handle(), Some("etcd upgrade, INC-42"));
    let cfg = w.config(&["--prefer-no-schedule-taint=kured-rs.test/waits"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    a.metrics().status.set_node(NODE);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!((host.reboots(), w.cordoned(), w.holders()), (0, false, Vec::<String>::new()));
    let st = status(&w);
    assert_eq!(
        (st["state"].as_str(), st["reason"].as_str()),
        (Some("pending"), Some("paused: etcd upgrade, INC-42")),
        "{st}"
    );
    let m = a.metrics().status.render(host.now());
    assert!(m.contains("kured_reboot_blocked{node=\"node-1\",reason=\"paused\"} 1"), "{m}");
    assert!(m.contains("kured_reboot_blocked{node=\"node-1\",reason=\"lock\"} 0"), "{m}");
    // no request the manual lock does not make: the pause came with the lock's read
    eprintln!(
        "one check: {} requests paused, {} against a manual lock",
        w.api.requests().len(),
        manual.api.requests().len()
    );
    assert_eq!(w.count("GET", DS_PATH), 1);
    assert_eq!(w.count("PUT", DS_PATH), 0);
    assert!(
        w.api.requests().len() <= manual.api.requests().len(),
        "{:?}",
        w.api.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>()
    );
    assert!(w.taints().is_empty(), "no PreferNoSchedule while paused: no drain is coming soon");

    // resumed: the next check takes the lock and reboots
    pause(&w.api.handle(), None);
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
}

/// (method path) of each request since `from`.
fn requests_since(w: &World, from: usize) -> Vec<String> {
    w.api.requests()[from..].iter().map(|r| format!("{} {}", r.method, r.path)).collect()
}

/// A node with no reboot to do reads the lock's DaemonSet each check anyway
/// (for a lock left over): it shows the pause from that read, `ok` and
/// `paused: <reason>`, and the pause costs it no request but the one status
/// write when it comes and the one when it goes.
#[test]
fn a_node_with_no_reboot_to_do_shows_the_pause_at_no_extra_request() {
    let w = World::new();
    let cfg = w.config(&[]);
    let host = FakeHost::new(false);
    let mut a = agent(&cfg, &w.client, &host);
    a.metrics().status.set_node(NODE);
    let (get_ds, patch_node) = (format!("GET {DS_PATH}"), format!("PATCH {NODE_PATH}"));
    let check = |a: &mut kured::agent::Agent<'_>, what: &str, want: &[&String]| {
        let from = w.api.requests().len();
        assert_eq!(run_check(a), Ended::Returned, "{what}");
        assert_eq!(requests_since(&w, from), want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{what}");
    };
    check(&mut a, "first check: its status", &[&get_ds, &patch_node]);
    // (an empty reason is left out of the annotation)
    assert_eq!((status(&w)["state"].as_str(), status(&w).get("reason")), (Some("ok"), None));
    check(&mut a, "steady", &[&get_ds]);

    pause(&w.api.handle(), Some("etcd upgrade, INC-42"));
    check(&mut a, "paused: the status says so", &[&get_ds, &patch_node]);
    let st = status(&w);
    assert_eq!(
        (st["state"].as_str(), st["reason"].as_str()),
        (Some("ok"), Some("paused: etcd upgrade, INC-42")),
        "{st}"
    );
    let m = a.metrics().status.render(host.now());
    assert!(m.contains("kured_reboot_blocked{node=\"node-1\",reason=\"paused\"} 0"), "no reboot is held back\n{m}");
    check(&mut a, "paused, steady", &[&get_ds]);

    pause(&w.api.handle(), None);
    check(&mut a, "resumed", &[&get_ds, &patch_node]);
    assert_eq!((status(&w)["state"].as_str(), status(&w).get("reason")), (Some("ok"), None));
    assert_eq!((host.reboots(), w.cordoned(), w.holders()), (0, false, Vec::<String>::new()));
}

/// Outside the maintenance window, a node says both: the pause first, then
/// when the window opens.
#[test]
fn outside_the_window_a_node_shows_the_pause_and_the_opening() {
    let w = World::new();
    pause(&w.api.handle(), Some("freeze"));
    // the fake host's clock is Wednesday 2026-11-25 12:00 UTC
    let cfg = w.config(&["--maintenance-window=wed 13:00-14:00 UTC"]);
    let host = FakeHost::new(false);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    let st = status(&w);
    assert_eq!(
        (st["state"].as_str(), st["reason"].as_str()),
        (Some("ok"), Some("paused: freeze; outside the maintenance window, opens at 2026-11-25T13:00:00Z")),
        "{st}"
    );
}

#[test]
fn an_empty_pause_still_pauses() {
    let w = World::new();
    pause(&w.api.handle(), Some(""));
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert_eq!(status(&w)["reason"], "paused: no reason given");
}

#[test]
fn a_holder_paused_mid_drain_finishes_its_reboot() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--drain-timeout=2m"]);
    at(&host, Duration::from_secs(8), w.api.handle(), |api, _| {
        pause(api, Some("freeze"));
        api.delete("poddisruptionbudgets", "default", "web");
    });
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1, "the holder finished");
    w.assert_held();
}

#[test]
fn an_opted_out_node_is_never_cordoned_and_does_not_queue() {
    for field in ["labels", "annotations"] {
        let w = World::new();
        opt_out(&w.api.handle(), field, "true");
        let cfg = w.config(&["--prefer-no-schedule-taint=kured-rs.test/waits"]);
        let host = FakeHost::new(true);
        let mut a = agent(&cfg, &w.client, &host);
        a.metrics().status.set_node(NODE);
        assert_eq!(run_check(&mut a), Ended::Returned, "{field}");
        assert_eq!((host.reboots(), w.cordoned(), w.holders()), (0, false, Vec::<String>::new()), "{field}");
        let st = status(&w);
        assert_eq!(
            (st["state"].as_str(), st["reason"].as_str()),
            (Some("pending"), Some("opted out")),
            "{field}: {st}"
        );
        let m = a.metrics().status.render(host.now());
        assert!(m.contains("kured_reboot_blocked{node=\"node-1\",reason=\"opted-out\"} 1"), "{m}");
        assert_eq!(w.count("PUT", DS_PATH), 0, "{field}: never wrote the lock");
        assert!(a.metrics().status.lock_wait_since().is_none(), "{field}: not waiting in the lock's queue");
        assert!(w.taints().is_empty());
    }
    let w = World::new();
    opt_out(&w.api.handle(), "annotations", "holds the only replica of db-0");
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(status(&w)["reason"], "opted out: holds the only replica of db-0");
}

#[test]
fn a_node_waiting_for_the_lock_leaves_the_queue_when_opted_out() {
    let w = World::new();
    w.set_lock_annotation(r#"{"nodeID":"node-2","created":"2026-01-01T00:00:00Z","TTL":0}"#);
    let cfg = w.config(&["--prefer-no-schedule-taint=kured-rs.test/waits"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(a.metrics().status.lock_wait_since().is_some(), "waits for node-2's slot");
    assert_eq!(w.taints().len(), 1, "the PreferNoSchedule taint while waiting");
    opt_out(&w.api.handle(), "labels", "true");
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(a.metrics().status.lock_wait_since().is_none(), "left the queue");
    assert!(w.taints().is_empty(), "the taint is off");
    assert_eq!(status(&w)["reason"], "opted out");
}

#[test]
fn a_holder_opted_out_mid_drain_stops_before_the_reboot_and_puts_the_node_back() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--drain-timeout=2m"]);
    at(&host, Duration::from_secs(8), w.api.handle(), |api, _| {
        opt_out(api, "annotations", "not this one");
        // the budget frees: a holder that did not look would now reboot
        api.delete("poddisruptionbudgets", "default", "web");
    });
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!((host.reboots(), w.marker_written()), (0, false), "never rebooted");
    w.assert_put_back();
    assert_eq!(w.event_reasons(), ["Draining"], "no LockLost Warning: the operator asked for it");
    let m = a.metrics().render();
    assert!(!m.contains("kured_lock_lost_total{node=\"node-1\"} 1"), "not counted as a lost lock: {m}");
    assert_eq!(status(&w)["reason"], "opted out: not this one");
    // and it stays out
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!((host.reboots(), w.cordoned()), (0, false));
}

/// A holder whose entry was removed mid-drain and whose uncordon then failed
/// keeps kured's cordon to undo at its next take; a pause puts that take off,
/// so the paused check undoes it.
#[test]
fn a_cordon_left_by_a_lost_lock_is_undone_while_paused() {
    let (w, host) = blocked_drain();
    let cfg = w.config(&["--drain-timeout=2m"]);
    at(&host, Duration::from_secs(8), w.api.handle(), |api, _| {
        let mut ds = api.get("daemonsets", "kube-system", "kured").unwrap();
        ds["metadata"]["annotations"].as_object_mut().unwrap().remove(KEY);
        ds["metadata"]["annotations"][PAUSE] = json!("freeze");
        api.update(ds).expect("remove the entry, pause");
        api.delete("poddisruptionbudgets", "default", "web");
        // (each PATCH is sent three times: the client resends a bare 500 twice)
        api.inject(Fault::status("PATCH", NODE_PATH, 500, 12));
    });
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0, "never rebooted");
    assert!(w.cordoned(), "the uncordon failed four times");
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(
        (host.reboots(), w.cordoned(), w.holders()),
        (0, false, Vec::<String>::new()),
        "uncordoned while paused"
    );
    assert_eq!(status(&w)["reason"], "paused: freeze");
}
