//! Beyond the basic paths: the taint over a whole reboot, node annotations and
//! labels, blocking pods, a corrupt or expired lock.

use crate::support::{agent, run_check, run_recover, Ended, FakeHost, World, NODE};

const IN_PROGRESS: &str = "weave.works/kured-reboot-in-progress";
const MOST_RECENT: &str = "weave.works/kured-most-recent-reboot-needed";

fn other_holds(w: &World, created: &str, ttl_ns: i64) {
    w.set_lock_annotation(&format!(
        r#"{{"nodeID":"node-2","metadata":{{"unschedulable":false}},"created":"{created}","TTL":{ttl_ns}}}"#
    ));
}

#[test]
fn taint_set_while_waiting_is_gone_after_the_reboot() {
    let w = World::new();
    other_holds(&w, "2026-11-25T11:00:00Z", 0);
    let cfg = w.config(&["--prefer-no-schedule-taint=kured-wait"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(w.taints(), ["kured-wait:PreferNoSchedule"]);

    // node-2 is done: our turn.
    let mut ds = w.api.get("daemonsets", "kube-system", "kured").unwrap();
    ds["metadata"]["annotations"].as_object_mut().unwrap().remove(crate::support::KEY);
    w.api.update(ds).unwrap();
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
    assert_eq!(w.holders(), [NODE]);

    let host = FakeHost::new(false);
    agent(&cfg, &w.client, &host).recover();
    assert_eq!(w.taints(), Vec::<String>::new());
    w.assert_put_back();
}

#[test]
fn annotations_and_labels_around_a_reboot() {
    let w = World::new();
    let cfg = w.config(&[
        "--annotate-nodes",
        "--pre-reboot-node-labels=kured=rebooting",
        "--post-reboot-node-labels=kured=done",
    ]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    let annotations = w.annotations();
    assert!(annotations.iter().any(|a| a == IN_PROGRESS), "{annotations:?}");
    assert!(annotations.iter().any(|a| a == MOST_RECENT), "{annotations:?}");
    assert_eq!(w.label("kured").as_deref(), Some("rebooting"));

    let host = FakeHost::new(false);
    agent(&cfg, &w.client, &host).recover();
    let annotations = w.annotations();
    assert!(!annotations.iter().any(|a| a == IN_PROGRESS), "{annotations:?}");
    assert!(annotations.iter().any(|a| a == MOST_RECENT), "{annotations:?}");
    assert_eq!(w.label("kured").as_deref(), Some("done"));
    w.assert_put_back();
}

#[test]
fn blocking_pod_on_this_node_holds_the_reboot_back() {
    let w = World::new();
    w.pod("blocker", NODE);
    let cfg = w.config(&["--blocking-pod-selector=app=blocker"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned());
    assert_eq!(w.lock_annotation(), None);

    // The same pod on another node blocks nothing here.
    w.api.delete("pods", "default", "blocker");
    w.pod("blocker", "node-2");
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(w.holders(), [NODE]);
}

#[test]
fn corrupt_lock_is_left_alone() {
    let w = World::new();
    w.set_lock_annotation("not a lock");
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned());
    assert_eq!(w.lock_annotation().as_deref(), Some("not a lock"));

    // Nor does an idle check; start-up keeps retrying (and never overwrites it)
    // until an operator fixes it.
    host.set_required(Ok(false));
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(run_recover(&mut a, &host), Err(()));
    assert_eq!(w.lock_annotation().as_deref(), Some("not a lock"));
}

#[test]
fn expired_lock_of_another_node_is_taken() {
    let w = World::new();
    // created 2 h before the fake clock's now, TTL 30 min (in nanoseconds, as upstream)
    other_holds(&w, "2026-11-25T10:00:00Z", 30 * 60 * 1_000_000_000);
    let cfg = w.config(&["--lock-ttl=30m"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(w.holders(), [NODE]);
    assert!(w.cordoned());
}

#[test]
fn leftover_lock_release_does_not_claim_a_reboot() {
    let w = World::new();
    w.pod("p1", NODE);
    w.api.inject(fakeapi::Fault::status("POST", "/api/v1/namespaces/default/pods/p1/eviction", 500, 1));
    w.api.inject(fakeapi::Fault::status("PATCH", crate::support::NODE_PATH, 500, 1).every(2));
    let cfg = w.config(&[]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    host.set_required(Ok(false));
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert!(!w.cordoned());
    assert_eq!(host.reboots(), 0);
    // The drain failed and the node never rebooted: no "uncordoned after its
    // reboot" Event (nor the "rebooted & uncordoned successfully" notification).
    assert!(!w.event_reasons().iter().any(|r| r == "Uncordoned"), "{:?}", w.event_reasons());
}
