//! Draining against the fake API server (its controllers recreate ReplicaSet
//! pods elsewhere and honour PodDisruptionBudgets).

#[path = "support/drain.rs"]
mod drain;
#[path = "support/kube.rs"]
mod kube;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use drain::drain_node;
use fakeapi::{FakeApiServer, Fault};
use kube::{client, two_nodes, FakeClock};
use kured::clock::{Clock, RealClock};
use kured::drain::{drain_node_guided, DrainOptions, Drained, Guide, SkipReason};
use kured::Error;
use serde_json::{json, Value};
use time::OffsetDateTime;

const WAIT: Duration = Duration::from_secs(10);

/// A pod on `node`: `extra` is merged into the object (owner, volumes, status...).
fn pod(api: &FakeApiServer, name: &str, node: &str, extra: Value) -> Value {
    let mut p = json!({"apiVersion":"v1","kind":"Node","metadata":{"name":name,"namespace":"default","labels":{"app":name}},
        "spec":{"nodeName":node,"containers":[{"name":"c","image":"busybox"}]}});
    p["kind"] = json!("Pod");
    merge(&mut p, extra);
    api.create(p)
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn opts() -> DrainOptions {
    DrainOptions {
        grace_period: Some(0),
        timeout: Some(Duration::from_secs(20)),
        retry_after_pdb: Duration::from_millis(100),
        poll: Duration::from_millis(50),
        ..DrainOptions::default()
    }
}

fn pods_on(api: &FakeApiServer, node: &str) -> BTreeSet<String> {
    api.list("pods")
        .iter()
        .filter(|p| p["spec"]["nodeName"] == node)
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn evictions(api: &FakeApiServer) -> Vec<fakeapi::RequestRecord> {
    api.requests().into_iter().filter(|r| r.method == "POST" && r.path.ends_with("/eviction")).collect()
}

// Templates carry `annotations: {}` because the fake copies a missing one into
// its pods as `null`, which no real API server sends (and our types refuse).
fn replicaset(api: &FakeApiServer, name: &str, replicas: i64) {
    api.create(json!({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":name,"namespace":"default"},
        "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":name}},
                "template":{"metadata":{"labels":{"app":name},"annotations":{}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}));
}

fn pdb(api: &FakeApiServer, name: &str, app: &str, min_available: i64) {
    api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":name,"namespace":"default"},
        "spec":{"minAvailable":min_available,"selector":{"matchLabels":{"app":app}}}}),
    );
}

fn running(api: &FakeApiServer, app: &str, node: &str) -> usize {
    api.list("pods")
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == app && p["spec"]["nodeName"] == node)
        .filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null())
        .count()
}

fn set_unschedulable(api: &FakeApiServer, node: &str, value: bool) {
    let mut n = api.get("nodes", "", node).unwrap();
    n["spec"]["unschedulable"] = json!(value);
    api.update(n).unwrap();
}

#[test]
fn skips_mirror_and_daemonset_pods_evicts_and_deletes_the_rest() {
    let api = two_nodes();
    api.create(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kured","namespace":"kube-system"},
        "spec":{"selector":{"matchLabels":{"name":"kured"}},
                "template":{"metadata":{"labels":{"name":"kured"},"annotations":{}},"spec":{"containers":[{"name":"k","image":"kured"}]}}}}));
    assert!(api.wait_until(WAIT, |a| a
        .list("pods")
        .iter()
        .filter(|p| p["metadata"]["namespace"] == "kube-system")
        .count()
        == 2));
    let ds_pod = api.list("pods").into_iter().find(|p| p["spec"]["nodeName"] == "n1").unwrap();
    pod(&api, "static-etcd", "n1", json!({"metadata":{"annotations":{"kubernetes.io/config.mirror":"abc"}}}));
    pod(&api, "scratch", "n1", json!({"spec":{"volumes":[{"name":"tmp","emptyDir":{}}]}}));
    pod(&api, "bare", "n1", json!({}));
    pod(&api, "job-done", "n1", json!({"status":{"phase":"Succeeded"}}));
    pod(&api, "elsewhere", "n2", json!({}));

    let c = client(&api);
    let report = drain_node(&c, "n1", &opts(), &RealClock).unwrap();

    assert_eq!(report.evicted, ["default/bare", "default/scratch"]);
    assert_eq!(report.deleted, ["default/job-done"]);
    let ds_key = format!("kube-system/{}", ds_pod["metadata"]["name"].as_str().unwrap());
    let skipped: BTreeSet<_> = report.skipped.iter().cloned().collect();
    assert_eq!(
        skipped,
        BTreeSet::from([("default/static-etcd".into(), SkipReason::Mirror), (ds_key, SkipReason::DaemonSet)])
    );
    assert_eq!(api.get("nodes", "", "n1").unwrap()["spec"]["unschedulable"], true);
    let left = pods_on(&api, "n1");
    assert!(left.contains("static-etcd") && left.len() == 2, "{left:?}");
    assert!(pods_on(&api, "n2").contains("elsewhere"));
    // The grace period travels in each eviction's deleteOptions.
    let ev = evictions(&api);
    assert_eq!(ev.len(), 2);
    for r in ev {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["deleteOptions"]["gracePeriodSeconds"], 0, "{}", r.body);
    }
}

#[test]
fn a_budget_blocks_until_replicas_run_elsewhere() {
    let api = two_nodes();
    set_unschedulable(&api, "n2", true); // every replica starts on n1
    replicaset(&api, "web", 3);
    assert!(api.wait_until(WAIT, |a| running(a, "web", "n1") == 3));
    set_unschedulable(&api, "n2", false);
    pdb(&api, "web", "web", 2);

    let c = client(&api);
    let report = drain_node(&c, "n1", &opts(), &RealClock).unwrap();

    assert_eq!(report.evicted.len(), 3);
    assert!(
        api.requests().iter().any(|r| r.path.ends_with("/eviction") && r.status == 429),
        "the budget never refused"
    );
    assert_eq!(api.pdb_violations(), 0);
    assert!(api.wait_until(WAIT, |a| running(a, "web", "n2") == 3));
}

/// One "db" replica, on the node returned, behind a budget that needs it:
/// never satisfiable while the replica is on that node.
fn one_replica_behind_a_budget() -> (FakeApiServer, &'static str) {
    let api = two_nodes();
    replicaset(&api, "db", 1);
    assert!(api.wait_until(WAIT, |a| running(a, "db", "n1") + running(a, "db", "n2") == 1));
    let node = if running(&api, "db", "n1") == 1 { "n1" } else { "n2" };
    pdb(&api, "db", "db", 1);
    (api, node)
}

#[test]
fn the_drain_timeout_bounds_a_blocked_eviction() {
    let (api, node) = one_replica_behind_a_budget();
    let c = client(&api);
    // The drain's own time is a fake clock (its sleeps advance it), so the
    // count of retries and the moment it gives up do not depend on how loaded
    // the machine is; only the requests are real.
    let t0 = OffsetDateTime::now_utc();
    let clock = FakeClock::at(t0);
    let timeout = Duration::from_millis(700);
    let started = Instant::now();
    let o = DrainOptions { timeout: Some(timeout), ..opts() };
    let err = drain_node(&c, node, &o, &clock).unwrap_err();
    // it gave up at its own timeout, not at the 20 s of opts() or never
    let spent = clock.now() - t0;
    assert!(spent >= timeout && spent < timeout + o.retry_after_pdb, "gave up after {spent} of drain time");
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
    let Error::Drain(msg) = &err else { panic!("{err}") };
    assert!(msg.contains("default/db-") && msg.contains("timed out"), "{msg}");
    let refusals = evictions(&api).iter().filter(|r| r.status == 429).count();
    // retried every 100 ms of drain time until the timeout, not hammered
    assert!((2..=12).contains(&refusals), "{refusals} refusals");
}

/// A guide that answers the give-way question with `answer` and halts when
/// `halt` says so, counting its questions.
struct Asked<'f> {
    give_way: &'f mut dyn FnMut() -> Option<Vec<String>>,
    halt: &'f mut dyn FnMut() -> Option<String>,
    every: Option<Duration>,
}

impl Guide for Asked<'_> {
    fn check_every(&self) -> Option<Duration> {
        self.every
    }
    fn halt(&mut self) -> Option<String> {
        (self.halt)()
    }
    fn give_way(&mut self) -> Option<Vec<String>> {
        (self.give_way)()
    }
}

/// Chaos campaign, seed 5257644953516760521 (3 nodes, concurrency 3): every
/// node cordoned at once, each one's budgets waiting for replacements that
/// could only start on another's. A drain refused only by budgets for
/// `stall_timeout` asks whether to give way; "no" asks again a stall later,
/// "yes" ends it with `Drained::GaveWay` and the node still cordoned.
#[test]
fn a_drain_stalled_on_budgets_asks_whether_to_give_way() {
    let (api, node) = one_replica_behind_a_budget();
    let c = client(&api);
    let t0 = OffsetDateTime::now_utc();
    let clock = FakeClock::at(t0);
    let stall = Duration::from_millis(500);
    let o = DrainOptions { stall_timeout: Some(stall), ..opts() };
    let mut asked = Vec::new();
    let mut give_way = || {
        asked.push(clock.now() - t0);
        (asked.len() == 2).then(|| vec!["n0".to_string()])
    };
    let mut guide = Asked { give_way: &mut give_way, halt: &mut || None, every: None };
    let end = drain_node_guided(&c, node, &o, &clock, &mut guide).unwrap();
    assert_eq!(end, Drained::GaveWay(vec!["n0".to_string()]));
    assert_eq!(asked.len(), 2, "asked at {asked:?}");
    assert!(asked[0] >= stall && asked[1] - asked[0] >= stall, "asked at {asked:?}: a stall apart");
    assert!(
        api.get("nodes", "", node).unwrap()["spec"]["unschedulable"] == json!(true),
        "the caller decides about the cordon"
    );
    assert_eq!(running(&api, "db", node), 1, "the refused pod stays");
}

#[test]
fn a_drain_that_moves_never_asks_to_give_way() {
    let api = two_nodes();
    for n in ["a", "b"] {
        pod(&api, n, "n1", json!({"status":{"phase":"Running"}}));
    }
    let c = client(&api);
    let clock = FakeClock::at(OffsetDateTime::now_utc());
    let o = DrainOptions { stall_timeout: Some(Duration::from_millis(1)), ..opts() };
    let mut guide = Asked {
        give_way: &mut || panic!("asked to give way without a budget refusal"),
        halt: &mut || None,
        every: None,
    };
    let Drained::Done(report) = drain_node_guided(&c, "n1", &o, &clock, &mut guide).unwrap() else {
        panic!("not done")
    };
    assert_eq!(report.deleted.len() + report.evicted.len(), 2);
}

/// The lock holder's checks (issue 24): asked before the cordon, so a holder
/// that lost its lock never cordons; and asked again while budgets refuse,
/// at least `check_every`, so a drain that lost its lock stops at once.
#[test]
fn a_halted_drain_stops_before_the_cordon_or_between_rounds() {
    let (api, node) = one_replica_behind_a_budget();
    let c = client(&api);
    let clock = FakeClock::at(OffsetDateTime::now_utc());
    let mut never = || None;
    let mut guide = Asked { give_way: &mut never, halt: &mut || Some("lost".to_string()), every: None };
    assert_eq!(drain_node_guided(&c, node, &opts(), &clock, &mut guide).unwrap(), Drained::Halted("lost".into()));
    assert!(api.get("nodes", "", node).unwrap()["spec"]["unschedulable"] != json!(true), "never cordoned");

    let t0 = clock.now();
    let mut asked = Vec::new();
    let mut halt = || {
        asked.push(clock.now() - t0);
        (asked.len() == 4).then(|| "lost".to_string())
    };
    let mut never = || None;
    let every = Duration::from_secs(2);
    let mut guide = Asked { give_way: &mut never, halt: &mut halt, every: Some(every) };
    assert_eq!(drain_node_guided(&c, node, &opts(), &clock, &mut guide).unwrap(), Drained::Halted("lost".into()));
    assert_eq!(asked.len(), 4, "asked at {asked:?}");
    assert!(
        asked.windows(2).all(|w| w[1] - w[0] <= every + Duration::from_millis(500)),
        "asked at {asked:?}: at least every {every:?}"
    );
    assert_eq!(running(&api, "db", node), 1, "the refused pod stays");
}

/// Drain n1, where pod `name` (grace period 300 s) is being evicted, while
/// `change` replaces or moves it: the drain must count it as gone.
fn drain_while(name: &str, change: impl FnOnce(&FakeApiServer)) -> Vec<String> {
    let api = two_nodes();
    pod(&api, name, "n1", json!({"spec":{"terminationGracePeriodSeconds":300}}));
    let c = client(&api);
    let o = DrainOptions { grace_period: None, ..opts() };
    let report = std::thread::scope(|s| {
        let drain = s.spawn(|| drain_node(&c, "n1", &o, &RealClock));
        assert!(api.wait_until(WAIT, |a| !evictions(a).is_empty()));
        change(&api);
        drain.join().unwrap()
    })
    .unwrap();
    report.evicted
}

#[test]
fn a_pod_replaced_by_one_with_the_same_name_counts_as_gone() {
    let evicted = drain_while("st-0", |api| {
        // A StatefulSet-like replacement: same name, new UID, still on n1.
        api.with_store(|st| {
            let pods = fakeapi::resources::by_name("pods").unwrap();
            st.remove(pods, "default", "st-0").unwrap();
            let p = json!({"metadata":{"name":"st-0","namespace":"default"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}});
            st.create(pods, "default", p).unwrap();
        });
    });
    assert_eq!(evicted, ["default/st-0"]);
}

#[test]
fn a_pod_that_moved_to_another_node_counts_as_gone() {
    let evicted = drain_while("sticky", |api| {
        let mut p = api.get("pods", "default", "sticky").unwrap();
        p["spec"]["nodeName"] = json!("n2");
        api.update(p).unwrap();
    });
    assert_eq!(evicted, ["default/sticky"]);
}

#[test]
fn a_failed_eviction_fails_that_pod_while_the_others_finish() {
    let api = two_nodes();
    pod(&api, "twice-budgeted", "n1", json!({"metadata":{"labels":{"tier":"x"}}}));
    pod(&api, "fine", "n1", json!({}));
    assert!(api.wait_until(WAIT, |a| running(a, "twice-budgeted", "n1") == 1));
    // Two budgets on one pod: the eviction subresource answers 500.
    pdb(&api, "b1", "twice-budgeted", 0);
    api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"b2","namespace":"default"},
        "spec":{"minAvailable":0,"selector":{"matchLabels":{"tier":"x"}}}}),
    );
    let c = client(&api);
    let err = drain_node(&c, "n1", &opts(), &RealClock).unwrap_err().to_string();
    assert!(err.contains("default/twice-budgeted") && err.contains("more than one PodDisruptionBudget"), "{err}");
    assert!(!err.contains("default/fine"), "{err}");
    assert_eq!(pods_on(&api, "n1"), BTreeSet::from(["twice-budgeted".to_string()]));
}

/// Chaos seed 2528334876560612050: one eviction whose answer was lost ended
/// the whole drain, and the attempt started over (uncordon, release, retake).
/// It is sent again, 1, 2, 4, 8 s apart, five tries in all.
#[test]
fn an_eviction_whose_answer_was_lost_is_sent_again_a_few_times() {
    let api = two_nodes();
    pod(&api, "a", "n1", json!({}));
    pod(&api, "b", "n1", json!({}));
    let c = client(&api);
    let clock = FakeClock::at(OffsetDateTime::now_utc());
    api.inject(Fault::reset("POST", "/api/v1/namespaces/default/pods/a/eviction", 2));
    api.inject(Fault::status("POST", "/api/v1/namespaces/default/pods/a/eviction", 503, 1));
    let report = drain_node(&c, "n1", &opts(), &clock).unwrap();
    assert_eq!(report.evicted.len(), 2, "{report:?}");
    let tries = evictions(&api).iter().filter(|r| r.path.ends_with("/pods/a/eviction")).count();
    assert_eq!(tries, 4, "two resets and a 503, then the eviction");

    pod(&api, "c", "n2", json!({}));
    api.inject(Fault::reset("POST", "/api/v1/namespaces/default/pods/c/eviction", 5));
    let err = drain_node(&c, "n2", &opts(), &clock).unwrap_err().to_string();
    assert!(err.contains("default/c"), "{err}");
    let tries = evictions(&api).iter().filter(|r| r.path.ends_with("/pods/c/eviction")).count();
    assert_eq!(tries, 5, "five tries, then the pod fails");
}

#[test]
fn evictions_are_all_sent_before_any_pod_is_gone() {
    let api = two_nodes();
    for name in ["a", "b", "c"] {
        pod(&api, name, "n1", json!({"spec":{"terminationGracePeriodSeconds":1}}));
    }
    let c = client(&api);
    let o = DrainOptions { grace_period: None, ..opts() };
    let report = drain_node(&c, "n1", &o, &RealClock).unwrap();
    assert_eq!(report.evicted.len(), 3);
    let log = api.requests();
    let last_eviction = log.iter().rposition(|r| r.path.ends_with("/eviction")).unwrap();
    let first_wait = log.iter().position(|r| r.query.contains("watch=1")).unwrap();
    // Each pod takes a second to go: one at a time, the first would be gone
    // before the second eviction.
    assert!(last_eviction < first_wait, "evictions were not sent together");
}

#[test]
fn the_deletions_are_awaited_on_one_watch_of_the_node_not_by_polling_each_pod() {
    let api = two_nodes();
    for i in 0..20 {
        pod(&api, &format!("p{i}"), "n1", json!({"spec":{"terminationGracePeriodSeconds":1}}));
    }
    let c = client(&api);
    let o = DrainOptions { grace_period: None, ..opts() };
    let report = drain_node(&c, "n1", &o, &RealClock).unwrap();
    assert_eq!(report.evicted.len(), 20);
    let log = api.requests();
    let pod_gets =
        log.iter().filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/namespaces/default/pods/")).count();
    let watches: Vec<_> = log.iter().filter(|r| r.query.contains("watch=1")).collect();
    assert_eq!(pod_gets, 0, "no pod polled");
    assert!(!watches.is_empty() && watches.len() <= 3, "{} watch requests", watches.len());
    assert!(
        watches.iter().all(|w| w.path == "/api/v1/pods" && w.query.contains("fieldSelector=spec.nodeName%3Dn1")),
        "{watches:?}"
    );
    assert!(pods_on(&api, "n1").iter().all(|p| p.starts_with("kured")), "{:?}", pods_on(&api, "n1"));
}

#[test]
fn without_a_watch_the_drain_polls_each_pod() {
    let api = two_nodes();
    for name in ["a", "b"] {
        pod(&api, name, "n1", json!({"spec":{"terminationGracePeriodSeconds":1}}));
    }
    // the drain's own list passes; the watch's list (the 2nd) is forbidden
    api.inject(Fault::status("GET", "/api/v1/pods", 403, 1).every(2));
    let c = client(&api);
    let o = DrainOptions { grace_period: None, ..opts() };
    let report = drain_node(&c, "n1", &o, &RealClock).unwrap();
    assert_eq!(report.evicted.len(), 2);
    let log = api.requests();
    assert!(
        log.iter().any(|r| r.method == "GET" && r.path == "/api/v1/namespaces/default/pods/a" && r.status == 404),
        "polled until gone"
    );
    assert!(!log.iter().any(|r| r.query.contains("watch=1")));
}

#[test]
fn a_failing_daemonset_lookup_aborts_before_any_eviction() {
    let api = two_nodes();
    pod(&api, "bare", "n1", json!({}));
    pod(
        &api,
        "agent",
        "n1",
        json!({"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"DaemonSet","name":"agent","uid":"u1","controller":true}]}}),
    );
    api.inject(Fault::status("GET", "/apis/apps/v1/namespaces/default/daemonsets/agent", 500, 100));
    let c = client(&api);
    let err = drain_node(&c, "n1", &opts(), &RealClock).unwrap_err().to_string();
    assert!(err.contains("daemonset default/agent"), "{err}");
    assert!(evictions(&api).is_empty());
    assert!(pods_on(&api, "n1").contains("bare"));
}

#[test]
fn the_pod_selector_limits_the_drain() {
    let api = two_nodes();
    pod(&api, "chosen", "n1", json!({"metadata":{"labels":{"drain":"yes"}}}));
    pod(&api, "spared", "n1", json!({}));
    let c = client(&api);
    let o = DrainOptions { pod_selector: "drain=yes".into(), ..opts() };
    let report = drain_node(&c, "n1", &o, &RealClock).unwrap();
    assert_eq!(report.evicted, ["default/chosen"]);
    assert!(pods_on(&api, "n1").contains("spared"));
    let list = api.requests().into_iter().find(|r| r.method == "GET" && r.path == "/api/v1/pods").unwrap();
    assert!(
        list.query.contains("labelSelector=drain") && list.query.contains("fieldSelector=spec.nodeName"),
        "{}",
        list.query
    );
}
