//! The DaemonSet lock against the fake API server: whole-object PUTs, 409 races,
//! TTL takeover, both annotation formats, and nothing else in the DaemonSet touched.

#[path = "support/kube.rs"]
mod kube;

use std::time::Duration;

use fakeapi::{FakeApiServer, Fault};
use kube::{client, FakeClock};
use kured::clock::{Clock, RealClock};
use kured::error::Result;
use kured::kube::Client;
use kured::lock::{DaemonSetLock, LockMeta, LockValue, Taken};
use serde_json::{json, Value};
use time::macros::datetime;

const KEY: &str = "weave.works/kured-node-lock";
const DS_PATH: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";

fn daemonset(annotation: Option<&str>) -> Value {
    let mut annotations = json!({ "deprecated.daemonset.template.generation": "3", "team": "infra" });
    if let Some(a) = annotation {
        annotations[KEY] = json!(a);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": { "name": "kured", "namespace": "kube-system", "labels": { "app": "kured" },
                      "annotations": annotations },
        "spec": {
            "selector": { "matchLabels": { "name": "kured" } },
            "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
            "template": { "metadata": { "labels": { "name": "kured" } },
                "spec": { "hostPID": true, "serviceAccountName": "kured",
                          "containers": [{ "name": "kured", "image": "ghcr.io/kubereboot/kured:1.17.1",
                                           "someFutureField": { "x": [1, 2] } }] } }
        }
    })
}

fn server(annotation: Option<&str>) -> FakeApiServer {
    let api = FakeApiServer::start();
    api.create(daemonset(annotation));
    api
}

fn lock<'a>(
    c: &'a Client,
    node: &str,
    concurrency: u32,
    ttl: Option<Duration>,
    clock: &'a dyn Clock,
) -> DaemonSetLock<'a> {
    DaemonSetLock {
        client: c,
        namespace: "kube-system".into(),
        name: "kured".into(),
        annotation: KEY.into(),
        node: node.into(),
        ttl,
        concurrency,
        clock,
        guard: None,
    }
}

/// What a take of the lock came to, as these tests compare it: the metadata
/// recorded (the original one when we already held it), or the holders.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Acquisition {
    Acquired(LockMeta),
    HeldBy(Vec<String>),
}

/// The lock's real API as these tests use it.
trait Acquire {
    /// `try_acquire` (what the loop calls), recording whether the node was
    /// already cordoned, seen as an [`Acquisition`].
    fn acquire(&self, unschedulable: bool) -> Result<Acquisition>;
    /// Our entry's metadata, if we hold one (expired or not): `lock::holding`
    /// (what recovery asks) on the lock as read.
    fn holding(&self) -> Result<Option<LockMeta>>;
}

impl Acquire for DaemonSetLock<'_> {
    fn acquire(&self, unschedulable: bool) -> Result<Acquisition> {
        Ok(match self.try_acquire(LockMeta::cordoned(unschedulable))? {
            Taken::Acquired(held) => Acquisition::Acquired(held.meta),
            Taken::Full { holders, .. } => Acquisition::HeldBy(holders),
        })
    }
    fn holding(&self) -> Result<Option<LockMeta>> {
        Ok(kured::lock::holding(self.read()?.as_ref(), &self.node))
    }
}

fn annotation(api: &FakeApiServer) -> Option<String> {
    let ds = api.get("daemonsets", "kube-system", "kured").unwrap();
    ds["metadata"]["annotations"].get(KEY).and_then(Value::as_str).map(str::to_string)
}

fn holders(api: &FakeApiServer) -> Vec<String> {
    let Some(a) = annotation(api) else { return vec![] };
    let v = LockValue::from_annotation(&a).unwrap();
    v.entries().iter().map(|e| e.node_id.clone()).collect()
}

fn puts(api: &FakeApiServer) -> usize {
    api.requests().iter().filter(|r| r.method == "PUT" && r.path == DS_PATH).count()
}

#[test]
fn acquire_hold_release_keeps_the_rest_of_the_daemonset() {
    let api = server(None);
    let c = client(&api);
    let (a, b) = (lock(&c, "node-a", 1, None, &RealClock), lock(&c, "node-b", 1, None, &RealClock));

    assert_eq!(a.acquire(true).unwrap(), Acquisition::Acquired(LockMeta::cordoned(true)));
    let raw = annotation(&api).unwrap();
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["nodeID"], "node-a");
    assert_eq!(v["metadata"], json!({ "unschedulable": true }));
    assert_eq!(v["TTL"], 0);
    assert!(v["created"].as_str().unwrap().ends_with('Z'), "{raw}");

    // Again: already held, no write, the original metadata.
    let before = puts(&api);
    assert_eq!(a.acquire(false).unwrap(), Acquisition::Acquired(LockMeta::cordoned(true)));
    assert_eq!(puts(&api), before);
    assert_eq!(b.acquire(false).unwrap(), Acquisition::HeldBy(vec!["node-a".into()]));
    assert_eq!(a.holding().unwrap(), Some(LockMeta::cordoned(true)));
    assert_eq!(b.holding().unwrap(), None);

    // Releasing someone else's lock is an error and changes nothing.
    let err = b.release().unwrap_err().to_string();
    assert!(err.contains("node-a"), "{err}");
    assert_eq!(holders(&api), ["node-a"]);

    a.release().unwrap();
    assert_eq!(annotation(&api), None, "single format: the annotation is removed");
    a.release().unwrap(); // nothing to release: fine (a lost answer retried)

    let mut now = api.get("daemonsets", "kube-system", "kured").unwrap();
    let mut want = daemonset(None);
    for v in [&mut now, &mut want] {
        let meta = v["metadata"].as_object_mut().unwrap();
        for k in ["resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"] {
            meta.remove(k);
        }
        v.as_object_mut().unwrap().remove("status");
    }
    assert_eq!(now, want, "everything but the lock annotation untouched");
}

#[test]
fn a_conflict_is_reread_and_retried() {
    let api = server(None);
    let c = client(&api);
    api.inject(Fault::status("PUT", DS_PATH, 409, 2));
    assert!(matches!(lock(&c, "node-a", 1, None, &RealClock).acquire(false).unwrap(), Acquisition::Acquired(_)));
    assert_eq!(puts(&api), 3);
    assert_eq!(holders(&api), ["node-a"]);
}

#[test]
fn racing_nodes_never_exceed_the_concurrency() {
    for concurrency in [1u32, 2, 3] {
        let api = server(None);
        // Slow reads, so all racers read the same version and most writes are stale.
        api.inject(Fault::latency("GET", DS_PATH, Duration::from_millis(250)));
        let nodes: Vec<String> = (0..6).map(|i| format!("node-{i}")).collect();
        let start = std::sync::Barrier::new(nodes.len());
        let results: Vec<Acquisition> = std::thread::scope(|s| {
            let handles: Vec<_> = nodes
                .iter()
                .map(|n| {
                    let (api, start) = (&api, &start);
                    s.spawn(move || {
                        let c = client(api);
                        // Connect (TLS) before the start line, so the reads do line up.
                        let _ = c.get_node("warm-up");
                        start.wait();
                        lock(&c, n, concurrency, None, &RealClock).acquire(false).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = results.iter().filter(|r| matches!(r, Acquisition::Acquired(_))).count();
        assert_eq!(won, concurrency as usize, "{results:?}");
        assert_eq!(holders(&api).len(), concurrency as usize);
        let conflicts = api.requests().iter().filter(|r| r.method == "PUT" && r.status == 409).count();
        let log: Vec<String> = api.requests().iter().map(|r| format!("{} {} {}", r.method, r.path, r.status)).collect();
        assert!(conflicts > 0, "the race was not exercised: {log:#?}");
    }
}

#[test]
fn multi_lock_release_drops_only_our_entry() {
    let api = server(None);
    let c = client(&api);
    let (a, b) = (lock(&c, "a", 2, None, &RealClock), lock(&c, "b", 2, None, &RealClock));
    a.acquire(false).unwrap();
    b.acquire(false).unwrap();
    assert_eq!(
        lock(&c, "x", 2, None, &RealClock).acquire(false).unwrap(),
        Acquisition::HeldBy(vec!["a".into(), "b".into()])
    );
    a.release().unwrap();
    assert_eq!(holders(&api), ["b"]);
    assert!(annotation(&api).unwrap().starts_with(r#"{"maxOwners":2,"locks":["#));
    b.release().unwrap();
    assert_eq!(annotation(&api), None);
}

#[test]
fn an_expired_lock_is_taken_over() {
    let api = server(None);
    let c = client(&api);
    let clock = FakeClock::at(datetime!(2024-03-01 03:00:00 UTC));
    let a = lock(&c, "node-a", 1, Some(Duration::from_secs(60)), &clock);
    let b = lock(&c, "node-b", 1, Some(Duration::from_secs(60)), &clock);
    a.acquire(false).unwrap();
    let v: Value = serde_json::from_str(&annotation(&api).unwrap()).unwrap();
    assert_eq!(v["TTL"], 60_000_000_000i64, "TTL in nanoseconds");
    clock.advance(Duration::from_secs(59));
    assert_eq!(b.acquire(false).unwrap(), Acquisition::HeldBy(vec!["node-a".into()]));
    clock.advance(Duration::from_secs(1));
    assert!(matches!(b.acquire(false).unwrap(), Acquisition::Acquired(_)));
    assert_eq!(holders(&api), ["node-b"]);
}

#[test]
fn locks_written_by_upstream_are_respected() {
    let single =
        r#"{"nodeID":"up-1","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123456789Z","TTL":0}"#;
    let api = server(Some(single));
    let c = client(&api);
    assert_eq!(lock(&c, "me", 1, None, &RealClock).acquire(false).unwrap(), Acquisition::HeldBy(vec!["up-1".into()]));
    // With concurrency 2 we join it in the multi format, keeping up-1's entry.
    assert!(matches!(lock(&c, "me", 2, None, &RealClock).acquire(false).unwrap(), Acquisition::Acquired(_)));
    assert_eq!(holders(&api), ["up-1", "me"]);

    let multi = r#"{"maxOwners":2,"locks":[{"nodeID":"up-1","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:00Z","TTL":0}]}"#;
    let api = server(Some(multi));
    let c = client(&api);
    assert_eq!(lock(&c, "me", 1, None, &RealClock).acquire(false).unwrap(), Acquisition::HeldBy(vec!["up-1".into()]));
    assert_eq!(lock(&c, "up-1", 1, None, &RealClock).holding().unwrap(), Some(LockMeta::cordoned(true)));
}

#[test]
fn a_corrupt_annotation_is_reported_and_left_alone() {
    let api = server(Some("{not json"));
    let c = client(&api);
    let l = lock(&c, "node-a", 1, None, &RealClock);
    for err in [l.acquire(false).unwrap_err(), l.release().unwrap_err(), l.holding().unwrap_err()] {
        let msg = err.to_string();
        assert!(msg.contains(KEY) && msg.contains("kube-system/kured"), "{msg}");
    }
    assert_eq!(annotation(&api).as_deref(), Some("{not json"));
    assert_eq!(puts(&api), 0);
}

#[test]
fn a_manual_lock_from_the_upstream_readme_pauses_us_untouched() {
    // `kubectl -n kube-system annotate ds kured weave.works/kured-node-lock='{"nodeID":"manual"}'`
    for manual in [r#"{"nodeID":"manual"}"#, r#"{"nodeid":"manual"}"#] {
        let api = server(Some(manual));
        let c = client(&api);
        let clock = FakeClock::at(datetime!(2024-03-01 03:00:00 UTC));
        // Our --lock-ttl is for our entries: it never expires the manual one.
        for ttl in [None, Some(Duration::from_secs(60))] {
            let l = lock(&c, "node-a", 1, ttl, &clock);
            let held = Acquisition::HeldBy(vec!["manual".into()]);
            assert_eq!(l.acquire(false).unwrap(), held, "{manual} ttl {ttl:?}");
            clock.advance(Duration::from_secs(3600));
            assert_eq!(l.acquire(true).unwrap(), held, "{manual} ttl {ttl:?}");
            assert_eq!(l.holding().unwrap(), None);
            let err = l.release().unwrap_err().to_string();
            assert!(err.contains("manual does"), "{err}");
        }
        assert_eq!(annotation(&api).as_deref(), Some(manual), "left byte for byte");
        assert_eq!(puts(&api), 0);
    }
}

fn control_plane_guard(names: &[&str]) -> kured::lock::quorum::Guard {
    kured::lock::quorum::Guard {
        control_plane: names.iter().map(|n| n.to_string()).collect(),
        not_ready: vec![],
        settling: vec![],
    }
}

/// Three control-plane nodes race for a lock with three free slots: exactly
/// one gets in, whoever loses the 409 sees its entry on the re-read.
fn race_control_plane_nodes() -> (FakeApiServer, Vec<kured::lock::wake::Queued>) {
    use kured::lock::wake::Waiting;
    let api = server(None);
    // Slow reads, so all racers read the same version: the 409 must decide.
    api.inject(Fault::latency("GET", DS_PATH, Duration::from_millis(250)));
    let cp = ["cp-1", "cp-2", "cp-3"];
    let start = std::sync::Barrier::new(cp.len());
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = cp
            .iter()
            .map(|n| {
                let (api, start, cp) = (&api, &start, &cp);
                s.spawn(move || {
                    let c = client(api);
                    let _ = c.get_node("warm-up");
                    start.wait();
                    let l = lock(&c, n, 3, None, &RealClock).guarded(Some(control_plane_guard(cp)));
                    l.try_acquire_queued(LockMeta::default(), None, &mut Waiting::default()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (api, results)
}

#[test]
fn racing_control_plane_nodes_take_the_lock_one_at_a_time() {
    use kured::lock::wake::Queued;
    use kured::lock::Taken;
    let mut raced = 0;
    // until the race was exercised (a 409), at most 5 rounds; the rule holds in every one
    for _ in 0..5 {
        let (api, results) = race_control_plane_nodes();
        let won = results.iter().filter(|r| matches!(r, Queued::Taken(Taken::Acquired(_)))).count();
        let guarded =
            results.iter().filter(|r| matches!(r, Queued::Guarded(kured::lock::quorum::Wait::Rebooting(_)))).count();
        assert_eq!((won, guarded), (1, 2), "{results:?}");
        assert_eq!(holders(&api).len(), 1, "three slots, one control-plane holder");
        assert!(annotation(&api).unwrap().contains(r#""controlPlane":true"#));
        // a worker still gets a slot beside it
        let c = client(&api);
        assert!(matches!(lock(&c, "w-1", 3, None, &RealClock).acquire(false).unwrap(), Acquisition::Acquired(_)));
        raced += api.requests().iter().filter(|r| r.method == "PUT" && r.status == 409).count();
        if raced > 0 {
            break;
        }
    }
    assert!(raced > 0, "the race was not exercised in 5 rounds");
}

#[test]
fn an_expired_control_plane_entry_is_not_renewed_beside_another_control_plane_holder() {
    // cp-1's entry ran out during its drain; cp-2 (an upstream pod, or the guard
    // off) holds a slot beside it
    let value = r#"{"maxOwners":3,"locks":[{"nodeID":"cp-1","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00Z","TTL":60000000000},{"nodeID":"cp-2","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:30Z","TTL":0}]}"#;
    let api = server(Some(value));
    let clock = FakeClock::at(datetime!(2024-03-01 03:02:00 UTC));
    let c = client(&api);
    let key = ("cp-1".to_string(), datetime!(2024-03-01 03:00:00 UTC));
    let mut held = kured::lock::Held { meta: LockMeta::default(), key: key.clone() };
    let mine = lock(&c, "cp-1", 3, Some(Duration::from_secs(60)), &clock)
        .guarded(Some(control_plane_guard(&["cp-1", "cp-2"])));
    assert_eq!(mine.confirm(&mut held).unwrap(), kured::lock::Standing::Expired, "not renewed: cp-1 must stop");
    assert_eq!(annotation(&api).as_deref(), Some(value), "nothing written");
    // a worker's entry (no guard) is renewed in the same place
    let unguarded = lock(&c, "cp-1", 3, Some(Duration::from_secs(60)), &clock);
    assert_eq!(unguarded.confirm(&mut held).unwrap(), kured::lock::Standing::Held);
}
