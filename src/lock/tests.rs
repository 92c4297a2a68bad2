//! Table-driven tests of the lock format and the pure decisions.

use std::time::Duration;

use time::macros::datetime;
use time::OffsetDateTime;

use super::*;

const T0: OffsetDateTime = datetime!(2024-03-01 03:00:00 UTC);

fn entry(node: &str, created: OffsetDateTime, ttl_s: u64) -> LockEntry {
    let ttl = (ttl_s > 0).then(|| Duration::from_secs(ttl_s));
    LockEntry::new(node, LockMeta { unschedulable: false }, created, ttl)
}

fn multi(max: i64, locks: Vec<LockEntry>) -> LockValue {
    LockValue::Multi { max_owners: max, locks }
}

fn names(v: &LockValue) -> Vec<&str> {
    v.entries().iter().map(|e| e.node_id.as_str()).collect()
}

#[track_caller]
fn parses(json: &str, nodes: &[&str], unschedulable: &[bool], ttl_ns: &[i64]) {
    let v = LockValue::from_annotation(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(names(&v), nodes, "{json}");
    let u: Vec<bool> = v.entries().iter().map(|e| e.meta().unschedulable).collect();
    assert_eq!(u, unschedulable, "{json}");
    let t: Vec<i64> = v.entries().iter().map(|e| e.ttl_ns).collect();
    assert_eq!(t, ttl_ns, "{json}");
    // What we write parses back to the same thing.
    assert_eq!(LockValue::from_annotation(&v.to_annotation()).unwrap(), v, "{json}");
}

#[test]
fn upstream_annotations_are_understood() {
    parses(
        r#"{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0}"#,
        &["node-a"], &[false], &[0],
    );
    parses(
        r#"{"nodeID":"node-a","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:00.123456789Z","TTL":3600000000000}"#,
        &["node-a"], &[true], &[3_600_000_000_000],
    );
    // Go omits nil metadata (omitempty); offsets are valid RFC 3339.
    parses(r#"{"nodeID":"n","created":"2024-03-01T05:00:00+02:00","TTL":0}"#, &["n"], &[false], &[0]);
    parses(
        r#"{"maxOwners":2,"locks":[{"nodeID":"a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00Z","TTL":0},{"nodeID":"b","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:01.5Z","TTL":60000000000}]}"#,
        &["a", "b"], &[false, true], &[0, 60_000_000_000],
    );
    // Go marshals an empty slice as null.
    parses(r#"{"maxOwners":2,"locks":null}"#, &[], &[], &[]);
}

#[track_caller]
fn corrupt(json: &str, needle: &str) {
    let err = LockValue::from_annotation(json).expect_err(json).to_string();
    assert!(err.contains("lock annotation") && err.contains(needle), "{json}: {err}");
}

#[test]
fn corrupt_annotations_are_errors() {
    corrupt("nonsense", "not json");
    corrupt("[]", "not a json object");
    corrupt(r#"{"created":"2024-03-01T03:00:00Z"}"#, "no nodeID");
    corrupt(r#"{"nodeID":"a","created":"yesterday","TTL":0}"#, "created");
    corrupt(r#"{"nodeID":"a","created":"2024-03-01T03:00:00Z","TTL":"1h"}"#, "TTL");
    corrupt(r#"{"nodeID":"a","created":"2024-03-01T03:00:00Z","TTL":1.5}"#, "TTL");
    corrupt(r#"{"nodeID":"a","metadata":{"unschedulable":"yes"},"created":"2024-03-01T03:00:00Z"}"#, "unschedulable");
    corrupt(r#"{"maxOwners":2,"locks":{}}"#, "locks");
    corrupt(r#"{"maxOwners":2,"locks":[{"nodeID":"a"}]}"#, "locks[0]");
    assert_eq!(LockValue::from_optional(Some("  ")).unwrap(), None);
    assert_eq!(LockValue::from_optional(None).unwrap(), None);
}

#[test]
fn written_format_matches_upstream_field_names_and_types() {
    let created = datetime!(2024-03-01 03:00:00.123 UTC);
    let e = LockEntry::new("node-a", LockMeta { unschedulable: false }, created, None);
    assert_eq!(
        LockValue::Single(e.clone()).to_annotation(),
        r#"{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0}"#
    );
    let offset = datetime!(2024-03-01 05:00:00.123456789 +02:00);
    let b = LockEntry::new("node-b", LockMeta { unschedulable: true }, offset, Some(Duration::from_secs(90)));
    assert_eq!(
        multi(2, vec![e, b]).to_annotation(),
        r#"{"maxOwners":2,"locks":[{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0},{"nodeID":"node-b","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:00.123456789Z","TTL":90000000000}]}"#
    );
}

#[track_caller]
fn decides(existing: Option<LockValue>, concurrency: u32, now: OffsetDateTime, want: &str) {
    let got = match acquire(existing.as_ref(), "me", now, None, concurrency, false) {
        Decision::AlreadyHeld(_) => "already".to_string(),
        Decision::HeldBy(h) => format!("held by {}", h.join(",")),
        Decision::Acquired(v @ LockValue::Single(_)) => format!("single {}", names(&v).join(",")),
        Decision::Acquired(v @ LockValue::Multi { .. }) => format!("multi {}", names(&v).join(",")),
    };
    assert_eq!(got, want, "{existing:?} concurrency {concurrency}");
}

#[test]
fn acquire_decisions() {
    let later = T0 + Duration::from_secs(100);
    let single = |n: &str, ttl| Some(LockValue::Single(entry(n, T0, ttl)));
    decides(None, 1, T0, "single me");
    decides(None, 2, T0, "multi me");
    decides(single("me", 0), 1, T0, "already");
    decides(single("a", 0), 1, later, "held by a");
    decides(single("a", 100), 1, later, "single me"); // created + TTL == now: expired, as upstream
    decides(single("a", 101), 1, later, "held by a");
    decides(single("me", 10), 1, later, "single me"); // our own expired entry is taken afresh
    // concurrency 2 and 3
    decides(Some(multi(2, vec![entry("a", T0, 0)])), 2, T0, "multi a,me");
    decides(Some(multi(2, vec![entry("a", T0, 0), entry("b", T0, 0)])), 2, T0, "held by a,b");
    decides(Some(multi(2, vec![entry("a", T0, 0), entry("b", T0, 10)])), 2, later, "multi a,me");
    decides(Some(multi(3, vec![entry("a", T0, 0), entry("b", T0, 0)])), 3, T0, "multi a,b,me");
    decides(Some(multi(3, vec![entry("a", T0, 0), entry("me", T0, 0)])), 3, T0, "already");
    decides(Some(multi(3, vec![entry("a", T0, 0), entry("b", T0, 0), entry("c", T0, 0)])), 3, T0, "held by a,b,c");
    // format mismatch: other holders kept and counted against our concurrency
    decides(single("a", 0), 2, T0, "multi a,me");
    decides(single("a", 0), 3, T0, "multi a,me");
    decides(single("a", 10), 2, later, "multi me");
    decides(Some(multi(2, vec![entry("a", T0, 0)])), 1, T0, "held by a");
    decides(Some(multi(5, vec![entry("a", T0, 0), entry("b", T0, 0)])), 2, T0, "held by a,b");
    decides(Some(multi(2, vec![entry("a", T0, 10)])), 1, later, "single me");
    decides(Some(multi(2, vec![])), 1, T0, "single me");
}

#[test]
fn acquire_records_metadata_ttl_and_time() {
    let d = acquire(None, "me", T0, Some(Duration::from_millis(1500)), 1, true);
    let Decision::Acquired(LockValue::Single(e)) = d else { panic!("{d:?}") };
    assert_eq!((e.node_id.as_str(), e.meta().unschedulable, e.created, e.ttl_ns), ("me", true, T0, 1_500_000_000));
    let held = Some(LockValue::Single(LockEntry::new("me", LockMeta { unschedulable: true }, T0, None)));
    assert_eq!(acquire(held.as_ref(), "me", T0, None, 1, false), Decision::AlreadyHeld(LockMeta { unschedulable: true }));
}

#[track_caller]
fn releases(existing: Option<LockValue>, want: Result<Option<Vec<&str>>, &str>) {
    let got = release(existing.as_ref(), "me");
    match (got, want) {
        (Ok(v), Ok(w)) => assert_eq!(v.as_ref().map(names), w, "{existing:?}"),
        (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{e}"),
        (got, want) => panic!("{existing:?}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn release_decisions() {
    let me = || entry("me", T0, 0);
    releases(Some(LockValue::Single(me())), Ok(None));
    releases(Some(LockValue::Single(entry("a", T0, 0))), Err("a does"));
    releases(None, Err("nobody"));
    releases(Some(multi(2, vec![entry("a", T0, 0), me()])), Ok(Some(vec!["a"])));
    releases(Some(multi(2, vec![me()])), Ok(None));
    releases(Some(multi(2, vec![entry("a", T0, 0), entry("b", T0, 0)])), Err("held by a,b"));
    releases(Some(multi(2, vec![])), Err("nobody"));
}

#[test]
fn holding_counts_our_entry_even_expired() {
    let mine = LockEntry::new("me", LockMeta { unschedulable: true }, T0, Some(Duration::from_secs(1)));
    let yes = Some(LockMeta { unschedulable: true });
    assert_eq!(holding(Some(&LockValue::Single(mine.clone())), "me"), yes);
    assert_eq!(holding(Some(&multi(2, vec![entry("a", T0, 0), mine])), "me"), yes);
    assert_eq!(holding(Some(&LockValue::Single(entry("a", T0, 0))), "me"), None);
    assert_eq!(holding(None, "me"), None);
}
