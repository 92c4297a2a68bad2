//! The synchronous watch primitive (src/kube/watch.rs) against the fake API
//! server: a single object by name, one node's pods, resuming from the last
//! resourceVersion, re-listing on 410 Gone, bounded waits, the stop check, and
//! errors that make the caller fall back to polling.

#[path = "support/kube.rs"]
mod support;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fakeapi::Fault;
use kured::kube::watch::{Ended, Event, Watch};
use serde_json::{json, Value};
use support::{cluster, daemonset, node, pod, Cluster};

fn never() -> bool {
    false
}

fn name(v: &Value) -> String {
    v["metadata"]["name"].as_str().unwrap_or("").to_string()
}

fn annotate_ds(api: &fakeapi::FakeApiServer, key: &str, value: &str) {
    let mut ds = api.get("daemonsets", "kube-system", "kured").unwrap();
    ds["metadata"]["annotations"][key] = json!(value);
    api.update(ds).unwrap();
}

#[test]
fn a_single_object_watch_sees_its_changes_and_no_others() {
    let c = cluster();
    c.api.create(daemonset());
    let mut other = daemonset();
    other["metadata"]["name"] = json!("other");
    c.api.create(other);
    let mut w = Watch::daemonset(&c.client, "kube-system", "kured");
    let items = w.list().unwrap();
    assert_eq!(items.iter().map(name).collect::<Vec<_>>(), ["kured"]);

    let api = &c.api;
    std::thread::scope(|s| {
        s.spawn(|| {
            // the other DaemonSet first: its change must not reach the watch
            let mut o = api.get("daemonsets", "kube-system", "other").unwrap();
            o["metadata"]["annotations"] = json!({"x": "1"});
            api.update(o).unwrap();
            annotate_ds(api, "lock", "free");
        });
        let mut seen = Vec::new();
        let ended = w
            .run(Duration::from_secs(10), &never, |e| {
                seen.push(e.clone());
                match e {
                    Event::Modified(o) if o["metadata"]["annotations"]["lock"] == "free" => ControlFlow::Break(()),
                    _ => ControlFlow::Continue(()),
                }
            })
            .unwrap();
        assert_eq!(ended, Ended::Done);
        assert!(seen.iter().all(|e| matches!(e, Event::Modified(o) if name(o) == "kured")), "{seen:?}");
    });
    let watches: Vec<_> = c.api.requests().into_iter().filter(|r| r.query.contains("watch=1")).collect();
    assert_eq!(watches.len(), 1, "one request");
    let q = &watches[0].query;
    assert!(
        q.contains("fieldSelector=metadata.name%3Dkured")
            && q.contains("timeoutSeconds=")
            && q.contains("resourceVersion="),
        "{q}"
    );
}

#[test]
fn a_node_pods_watch_sees_deletions_on_that_node_only() {
    let c = cluster();
    for n in ["n1", "n2"] {
        c.api.create(node(n));
    }
    for (p, n) in [("a", "n1"), ("b", "n1"), ("c", "n2")] {
        c.api.create(pod("default", p, n, "x"));
    }
    let mut w = Watch::node_pods(&c.client, "n1");
    assert_eq!(w.list().unwrap().len(), 2);
    for p in ["c", "a", "b"] {
        c.api.delete("pods", "default", p);
    }
    let mut deleted = Vec::new();
    let ended = w
        .run(Duration::from_secs(10), &never, |e| {
            if let Event::Deleted(o) = e {
                deleted.push(name(&o));
            }
            if deleted.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!((ended, deleted), (Ended::Done, vec!["a".to_string(), "b".to_string()]));
}

#[test]
fn a_quiet_watch_ends_at_its_deadline_and_renews_requests_from_the_last_version() {
    let c = cluster();
    c.api.create(daemonset());
    let mut w = Watch::daemonset(&c.client, "kube-system", "kured");
    w.request_timeout = Duration::from_secs(1);
    w.list().unwrap();
    annotate_ds(&c.api, "k", "1");
    let started = Instant::now();
    let mut n = 0;
    let ended = w
        .run(Duration::from_millis(2500), &never, |_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    let took = started.elapsed();
    assert_eq!((ended, n), (Ended::TimedOut, 1));
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "{took:?}");
    let rv = w.resource_version().unwrap().to_string();
    let watches: Vec<_> = c.api.requests().into_iter().filter(|r| r.query.contains("watch=1")).collect();
    assert!(watches.len() >= 2, "renewed: {}", watches.len());
    assert!(watches.last().unwrap().query.contains(&format!("resourceVersion={rv}")), "resumed from {rv}");
}

/// `--api-timeout` bounds each ordinary request; a watch, which the server
/// keeps open for its `timeoutSeconds`, gets its own bound instead (longer than
/// that): a short --api-timeout must not cut every watch into errors.
#[test]
fn a_short_api_timeout_does_not_cut_a_watch_short() {
    let c = cluster();
    c.api.create(daemonset());
    let mut config = c.client.config().clone();
    config.read_timeout = Duration::from_secs(1);
    let client = kured::kube::Client::new(config).unwrap();
    let mut w = Watch::daemonset(&client, "kube-system", "kured");
    w.request_timeout = Duration::from_secs(3);
    w.list().unwrap();
    let started = Instant::now();
    let ended = w.run(Duration::from_millis(3500), &never, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(ended, Ended::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(3400), "{:?}", started.elapsed());
    let watches: Vec<_> = c.api.requests().into_iter().filter(|r| r.query.contains("watch=1")).collect();
    assert!(
        watches.iter().any(|r| r.query.contains("timeoutSeconds=3")),
        "one request of 3 s, longer than --api-timeout"
    );
}

#[test]
fn gone_lists_again_and_hands_over_the_current_state() {
    let c = cluster();
    c.api.create(daemonset());
    let mut w = Watch::daemonset(&c.client, "kube-system", "kured");
    w.resume_from("1"); // far older than the server's change log
    let mut got = None;
    let ended = w
        .run(Duration::from_secs(10), &never, |e| {
            got = Some(e);
            ControlFlow::Break(())
        })
        .unwrap();
    assert_eq!(ended, Ended::Done);
    match got {
        Some(Event::Relisted(items)) => assert_eq!(items.iter().map(name).collect::<Vec<_>>(), ["kured"]),
        other => panic!("expected a re-list, got {other:?}"),
    }
    assert_ne!(w.resource_version(), Some("1"));
}

#[test]
fn the_stop_check_ends_a_watch_between_requests() {
    let c = cluster();
    c.api.create(daemonset());
    let mut w = Watch::daemonset(&c.client, "kube-system", "kured");
    w.request_timeout = Duration::from_secs(1);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let ended = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, Ordering::SeqCst);
        });
        w.run(Duration::from_secs(30), &|| stop.load(Ordering::SeqCst), |_| ControlFlow::Continue(())).unwrap()
    });
    assert_eq!(ended, Ended::Stopped);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[test]
fn errors_come_back_so_the_caller_can_fall_back() {
    let c = cluster();
    c.api.create(daemonset());
    let path = "/apis/apps/v1/namespaces/kube-system/daemonsets";
    let mut w = Watch::daemonset(&c.client, "kube-system", "kured");
    w.list().unwrap();
    c.api.inject(Fault::status("GET", path, 403, 1));
    let e = w.run(Duration::from_secs(5), &never, |_| ControlFlow::Continue(())).unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    c.api.inject(Fault::drop_connection("GET", path, 1));
    assert!(w.run(Duration::from_secs(5), &never, |_| ControlFlow::Continue(())).is_err());
}

mod wake {
    use super::*;
    use kured::clock::RealClock;
    use kured::lock::wake::Wake;
    use kured::lock::DaemonSetLock;

    const LOCK: &str = "weave.works/kured-node-lock";

    fn lock<'a>(client: &'a kured::kube::Client, concurrency: u32) -> DaemonSetLock<'a> {
        DaemonSetLock {
            client,
            namespace: "kube-system".into(),
            name: "kured".into(),
            annotation: LOCK.into(),
            node: "n1".into(),
            ttl: None,
            concurrency,
            clock: &RealClock,
            guard: None,
        }
    }

    #[test]
    fn a_full_lock_wakes_its_waiter_when_a_holder_lets_go() {
        let c = cluster();
        let mut ds = daemonset();
        ds["metadata"]["annotations"][LOCK] = json!(r#"{"nodeID":"n2"}"#);
        c.api.create(ds);
        let api = &c.api;
        let started = Instant::now();
        let woke = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                annotate_ds(api, "unrelated", "change"); // not a release: keeps waiting
                std::thread::sleep(Duration::from_millis(300));
                let mut ds = api.get("daemonsets", "kube-system", "kured").unwrap();
                ds["metadata"]["annotations"].as_object_mut().unwrap().remove(LOCK);
                api.update(ds).unwrap();
            });
            lock(&c.client, 1).wait_for_free_slot(Duration::from_secs(20), &never).unwrap()
        });
        assert_eq!(woke, Wake::Free);
        assert!(
            started.elapsed() >= Duration::from_millis(600) && started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    /// A multi lock of two slots, n2 holding one since 2026-01-01.
    fn held_by_n2_of_two() -> Cluster {
        let c = cluster();
        let mut ds = daemonset();
        ds["metadata"]["annotations"][LOCK] =
            json!(r#"{"maxOwners":2,"locks":[{"nodeID":"n2","created":"2026-01-01T00:00:00Z","TTL":0}]}"#);
        c.api.create(ds);
        c
    }

    #[test]
    fn a_slot_free_already_wakes_at_once_and_a_full_one_times_out() {
        let c = held_by_n2_of_two();
        assert_eq!(lock(&c.client, 2).wait_for_free_slot(Duration::from_secs(5), &never).unwrap(), Wake::Free);
        assert_eq!(lock(&c.client, 1).wait_for_free_slot(Duration::from_millis(1500), &never).unwrap(), Wake::TimedOut);
    }

    /// After giving way (`--drain-stall-timeout`) a node waits for one of the
    /// holders it gave way to, not for the free slot it made itself.
    #[test]
    fn a_node_that_gave_way_wakes_when_that_holder_lets_go_not_for_a_free_slot() {
        let c = held_by_n2_of_two();
        let n2 = ("n2".to_string(), time::macros::datetime!(2026-01-01 00:00:00 UTC));
        let l = lock(&c.client, 2);
        assert_eq!(
            l.wait_for_release(std::slice::from_ref(&n2), Duration::from_millis(1500), &never).unwrap(),
            Wake::TimedOut
        );
        // n2 takes the lock again (a new entry): that is a release of the one we gave way to.
        let api = &c.api;
        // Its list is answered before it watches, from that list's version on:
        // a change made once the list is in cannot be missed.
        let lists =
            || api.requests().iter().filter(|r| r.path.ends_with("/daemonsets") && !r.query.contains("watch=")).count();
        let before = lists();
        let woke = std::thread::scope(|s| {
            let n2 = &n2;
            let waiter = s.spawn(move || {
                lock(&c.client, 2).wait_for_release(std::slice::from_ref(n2), Duration::from_secs(20), &never).unwrap()
            });
            assert!(api.wait_until(Duration::from_secs(10), |_| lists() > before), "the waiter never listed the lock");
            annotate_ds(
                api,
                LOCK,
                r#"{"maxOwners":2,"locks":[{"nodeID":"n2","created":"2026-01-01T00:01:00Z","TTL":0}]}"#,
            );
            waiter.join().unwrap()
        });
        assert_eq!(woke, Wake::Free);
    }

    #[test]
    fn a_forbidden_watch_is_an_error_for_the_caller_to_fall_back_on() {
        let c = cluster();
        let mut ds = daemonset();
        ds["metadata"]["annotations"][LOCK] = json!(r#"{"nodeID":"n2"}"#);
        c.api.create(ds);
        c.api.inject(Fault::status("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets", 403, 2));
        assert!(lock(&c.client, 1).wait_for_free_slot(Duration::from_secs(5), &never).is_err());
    }

    /// A lock held by n2, which started waiting at `served` (so the queue
    /// has been served that far).
    fn held_by_n2_since(served: time::OffsetDateTime) -> Cluster {
        let c = cluster();
        let since = served.format(&time::format_description::well_known::Rfc3339).unwrap();
        let value = format!(
            r#"{{"nodeID":"n2","metadata":{{"unschedulable":false,"waitingSince":"{since}"}},"created":"{since}","TTL":0}}"#
        );
        let mut ds = daemonset();
        ds["metadata"]["annotations"][LOCK] = json!(value);
        c.api.create(ds);
        c
    }

    fn lock_as<'a>(client: &'a kured::kube::Client, node: &str) -> DaemonSetLock<'a> {
        DaemonSetLock { node: node.into(), ..lock(client, 1) }
    }

    /// The next in line checks soon after a release; a node far back in the
    /// queue sees the slot taken before its turn and makes no request but its
    /// one watch (no list, no GET): a release costs about one node's check.
    #[test]
    fn only_the_next_in_line_wakes_and_the_others_stay_quiet() {
        use kured::lock::wake::Waiting;
        let served = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
        let c = held_by_n2_since(served);
        let period = Duration::from_secs(60);
        // 100 nodes (the default without DaemonSet status) over 60 s: 0.6 s apart
        let next = served + time::Duration::milliseconds(600);
        let far = served + time::Duration::seconds(60);
        let api = &c.api;
        let (front, back) = std::thread::scope(|s| {
            let back = s.spawn(|| {
                let mut w = Waiting::default();
                let t = Instant::now();
                (
                    lock_as(&c.client, "n3")
                        .wait_for_turn(&mut w, far, period, Duration::from_secs(4), &never)
                        .unwrap(),
                    t.elapsed(),
                )
            });
            let release = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(500));
                let mut ds = api.get("daemonsets", "kube-system", "kured").unwrap();
                ds["metadata"]["annotations"].as_object_mut().unwrap().remove(LOCK);
                api.update(ds).unwrap();
                Instant::now()
            });
            let mut w = Waiting::default();
            let woke =
                lock_as(&c.client, "n1").wait_for_turn(&mut w, next, period, Duration::from_secs(10), &never).unwrap();
            let released = release.join().unwrap();
            let after = released.elapsed();
            // n1 takes the slot, as its check would
            annotate_ds(api, LOCK, r#"{"nodeID":"n1"}"#);
            ((woke, after), back.join().unwrap())
        });
        assert_eq!(front.0, Wake::Free);
        assert!(
            front.1 >= Duration::from_millis(200) && front.1 < Duration::from_secs(2),
            "the next in line checked {:?} after the release",
            front.1
        );
        assert_eq!(back.0, Wake::TimedOut, "the node far back woke for a slot already taken");
        let ds_requests: Vec<_> = c
            .api
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/apis/apps/v1/namespaces/kube-system/daemonsets"))
            .collect();
        let watches = ds_requests.iter().filter(|r| r.query.contains("watch=1")).count();
        assert_eq!((watches, ds_requests.len()), (2, 2), "one watch per waiter and nothing else: {ds_requests:?}");
    }

    /// The watch outlives one wait: the next wait goes on from the events
    /// queued meanwhile, without a new request.
    #[test]
    fn a_kept_open_watch_needs_no_new_request_for_the_next_wait() {
        let c = cluster();
        c.api.create(daemonset());
        let mut w = Watch::daemonset(&c.client, "kube-system", "kured");
        let far = Instant::now() + Duration::from_secs(10);
        // no resourceVersion: the server's first event is the object as it is (no list)
        assert!(matches!(w.next(far, &never).unwrap(), kured::kube::watch::Next::Event(Event::Added(_))));
        let cursor = w.into_cursor();
        annotate_ds(&c.api, "lock", "changed while nobody waited");
        let mut w = Watch::daemonset(&c.client, "kube-system", "kured").resume(cursor);
        match w.next(far, &never).unwrap() {
            kured::kube::watch::Next::Event(Event::Modified(o)) => {
                assert_eq!(o["metadata"]["annotations"]["lock"], "changed while nobody waited")
            }
            other => panic!("{other:?}"),
        }
        // a quiet stream: the caller's own deadline, then its stop check
        let t = Instant::now();
        assert_eq!(
            w.next(Instant::now() + Duration::from_millis(300), &never).unwrap(),
            kured::kube::watch::Next::Deadline
        );
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert_eq!(w.next(far, &|| true).unwrap(), kured::kube::watch::Next::Stopped);
        let ds_requests = c
            .api
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/apis/apps/v1/namespaces/kube-system/daemonsets"))
            .count();
        assert_eq!(ds_requests, 1, "one watch request for both waits");
    }

    /// A control-plane node held back by the guard sleeps through a worker's
    /// release (a slot frees, but another control-plane node still holds one)
    /// and wakes when that control-plane node releases.
    #[test]
    fn a_guarded_control_plane_node_wakes_when_the_control_plane_holder_leaves() {
        use kured::lock::quorum::Guard;
        use kured::lock::wake::Waiting;
        let c = cluster();
        let both = r#"{"maxOwners":2,"locks":[{"nodeID":"cp-2","created":"2024-03-01T03:00:00Z","TTL":0},{"nodeID":"w-1","created":"2024-03-01T03:00:00Z","TTL":0}]}"#;
        let mut ds = daemonset();
        ds["metadata"]["annotations"][LOCK] = json!(both);
        c.api.create(ds);
        let guard = Guard {
            control_plane: ["cp-1", "cp-2"].iter().map(|s| s.to_string()).collect(),
            not_ready: vec![],
            settling: vec![],
        };
        let cp1 = DaemonSetLock { node: "cp-1".into(), ..lock(&c.client, 2) }.guarded(Some(guard));
        let api = &c.api;
        let (woke, cp_released) = std::thread::scope(|s| {
            let releases = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(500));
                annotate_ds(
                    api,
                    LOCK,
                    r#"{"maxOwners":2,"locks":[{"nodeID":"cp-2","created":"2024-03-01T03:00:00Z","TTL":0}]}"#,
                );
                std::thread::sleep(Duration::from_millis(2500));
                let released = Instant::now();
                annotate_ds(api, LOCK, r#"{"maxOwners":2,"locks":[]}"#);
                released
            });
            let mut w = Waiting::default();
            let since = time::OffsetDateTime::now_utc();
            let woke =
                cp1.wait_for_turn(&mut w, since, Duration::from_secs(60), Duration::from_secs(10), &never).unwrap();
            ((woke, Instant::now()), releases.join().unwrap())
        });
        let (woke, woke_at) = woke;
        assert_eq!(woke, Wake::Free);
        // woken by cp-2's release, not by w-1's (2.5 s before it), and soon
        assert!(woke_at >= cp_released, "woke {:?} before cp-2's release", cp_released - woke_at);
        assert!(
            woke_at - cp_released < Duration::from_secs(6),
            "woke {:?} after cp-2's release",
            woke_at - cp_released
        );
    }
}
