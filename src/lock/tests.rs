//! Table-driven tests of the lock format and the pure decisions.

use std::time::Duration;

use time::macros::datetime;
use time::OffsetDateTime;

use super::*;

const T0: OffsetDateTime = datetime!(2024-03-01 03:00:00 UTC);

fn entry(node: &str, created: OffsetDateTime, ttl_s: u64) -> LockEntry {
    let ttl = (ttl_s > 0).then(|| Duration::from_secs(ttl_s));
    LockEntry::new(node, LockMeta::cordoned(false), created, ttl)
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
        &["node-a"],
        &[false],
        &[0],
    );
    parses(
        r#"{"nodeID":"node-a","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:00.123456789Z","TTL":3600000000000}"#,
        &["node-a"],
        &[true],
        &[3_600_000_000_000],
    );
    // Go omits nil metadata (omitempty); offsets are valid RFC 3339.
    parses(r#"{"nodeID":"n","created":"2024-03-01T05:00:00+02:00","TTL":0}"#, &["n"], &[false], &[0]);
    parses(
        r#"{"maxOwners":2,"locks":[{"nodeID":"a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00Z","TTL":0},{"nodeID":"b","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:01.5Z","TTL":60000000000}]}"#,
        &["a", "b"],
        &[false, true],
        &[0, 60_000_000_000],
    );
    // Go marshals an empty slice as null.
    parses(r#"{"maxOwners":2,"locks":null}"#, &[], &[], &[]);
}

/// Go's zero `time.Time`, what a lock written without `created` holds.
const YEAR_1: OffsetDateTime = datetime!(0001-01-01 00:00:00 UTC);

/// `max_owners` None = the single format; `want` = (nodeID, created, TTL ns, unschedulable).
#[track_caller]
fn decodes_like_go(json: &str, max_owners: Option<i64>, want: &[(&str, OffsetDateTime, i64, bool)]) {
    let v = LockValue::from_annotation(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    match (&v, max_owners) {
        (LockValue::Single(_), None) => {}
        (LockValue::Multi { max_owners: got, .. }, Some(m)) => assert_eq!(*got, m, "{json}"),
        (v, m) => panic!("{json}: got {v:?}, want max_owners {m:?}"),
    }
    let got: Vec<_> =
        v.entries().iter().map(|e| (e.node_id.as_str(), e.created, e.ttl_ns, e.meta().unschedulable)).collect();
    assert_eq!(got, want, "{json}");
    assert_eq!(LockValue::from_annotation(&v.to_annotation()).unwrap(), v, "{json}: rewritten");
}

#[test]
fn hand_written_locks_decode_as_go_does() {
    let manual = [("manual", YEAR_1, 0, false)];
    // Upstream's README way to pause all reboots, and a public script's spelling.
    decodes_like_go(r#"{"nodeID":"manual"}"#, None, &manual);
    decodes_like_go(r#"{"nodeid":"manual"}"#, None, &manual);
    decodes_like_go(r#"{"NODEID":"x","CREATED":"2024-03-01T03:00:00Z","ttl":0}"#, None, &[("x", T0, 0, false)]);
    decodes_like_go(r#"{"Nodeid":"x","ttl":5,"Metadata":{"Unschedulable":true}}"#, None, &[("x", YEAR_1, 5, true)]);
    decodes_like_go("{}", None, &[("", YEAR_1, 0, false)]);
    decodes_like_go(r#"{"nodeID":""}"#, None, &[("", YEAR_1, 0, false)]);
    // null leaves a field as it was; unknown keys are ignored.
    decodes_like_go(r#"{"nodeID":"a","created":null,"TTL":null,"metadata":null}"#, None, &[("a", YEAR_1, 0, false)]);
    decodes_like_go(r#"{"nodeID":"a","nodeid":null,"reason":"kernel","TTL":7}"#, None, &[("a", YEAR_1, 7, false)]);
    // Go decodes keys in document order: the last one for a field wins.
    decodes_like_go(r#"{"nodeID":"a","nodeid":"b"}"#, None, &[("b", YEAR_1, 0, false)]);
    decodes_like_go(r#"{"nodeid":"b","nodeID":"a"}"#, None, &[("a", YEAR_1, 0, false)]);
    // Multi format: any key of it, in any case.
    decodes_like_go(r#"{"maxOwners":2}"#, Some(2), &[]);
    decodes_like_go(r#"{"locks":null}"#, Some(0), &[]);
    decodes_like_go(r#"{"maxowners":2,"LOCKS":[{"nodeID":"a"}]}"#, Some(2), &[("a", YEAR_1, 0, false)]);
    decodes_like_go(
        r#"{"MaxOwners":3,"Locks":[{"NodeId":"a","ttl":1},{}]}"#,
        Some(3),
        &[("a", YEAR_1, 1, false), ("", YEAR_1, 0, false)],
    );
}

#[test]
fn another_holders_entry_is_rewritten_without_invented_metadata() {
    let v = LockValue::from_annotation(r#"{"maxowners":2,"LOCKS":[{"nodeID":"a"}]}"#).unwrap();
    let Decision::Acquired(next) = acquire(Some(&v), "me", T0, None, 2, LockMeta::cordoned(false)) else {
        panic!("not acquired")
    };
    assert_eq!(
        next.to_annotation(),
        r#"{"maxOwners":2,"locks":[{"nodeID":"a","created":"0001-01-01T00:00:00Z","TTL":0},{"nodeID":"me","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00Z","TTL":0}]}"#
    );
}

#[test]
fn a_manual_lock_is_never_ours_and_never_expires() {
    let manual = LockValue::from_annotation(r#"{"nodeID":"manual"}"#).unwrap();
    let centuries = T0 + Duration::from_secs(100 * 365 * 86_400);
    for now in [T0, centuries] {
        // Our --lock-ttl applies to our entries only, never to another holder's TTL 0.
        for ttl in [None, Some(Duration::from_secs(60))] {
            let got = acquire(Some(&manual), "me", now, ttl, 1, LockMeta::cordoned(false));
            assert_eq!(got, Decision::HeldBy(vec!["manual".to_string()]), "{now} {ttl:?}");
        }
    }
    let Decision::Acquired(v) = acquire(Some(&manual), "me", T0, None, 2, LockMeta::cordoned(false)) else {
        panic!("concurrency 2")
    };
    assert_eq!(names(&v), ["manual", "me"]);
    let err = release(Some(&manual), "me").unwrap_err().to_string();
    assert!(err.contains("me does not hold the lock: manual does"), "{err}");
    assert_eq!(holding(Some(&manual), "me"), None);
    // A holder with no name is still someone else.
    let nobody = LockValue::from_annotation("{}").unwrap();
    assert_eq!(
        acquire(Some(&nobody), "me", T0, None, 1, LockMeta::cordoned(false)),
        Decision::HeldBy(vec![String::new()])
    );
    assert!(release(Some(&nobody), "me").is_err());
    // A TTL with no created time: created in year 1, so long expired.
    let stale = LockValue::from_annotation(r#"{"nodeID":"a","TTL":1}"#).unwrap();
    assert!(stale.entries()[0].expired(T0));
    assert!(matches!(acquire(Some(&stale), "me", T0, None, 1, LockMeta::cordoned(false)), Decision::Acquired(_)));
    let max_ttl = LockValue::from_annotation(r#"{"nodeID":"a","TTL":9223372036854775807}"#).unwrap();
    assert!(max_ttl.entries()[0].expired(T0), "~292 years is over since year 1");
    let early = LockEntry { created: YEAR_1, ..entry("a", T0, 0) };
    assert!(!early.expired(datetime!(0001-01-01 00:00:00 UTC)));
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
    corrupt("null", "not a json object");
    corrupt(r#""manual""#, "not a json object");
    corrupt(r#"{"nodeID":5}"#, "nodeID 5 is not a string");
    corrupt(r#"{"nodeID":"a","created":5}"#, "created 5");
    corrupt(r#"{"nodeID":"a","created":"2024-03-01"}"#, "created");
    corrupt(r#"{"nodeID":"a","metadata":5}"#, "metadata 5 is not an object");
    corrupt(r#"{"nodeID":"a","metadata":{"UNSCHEDULABLE":1}}"#, "unschedulable");
    // Go reports a bad value even when a later key for the same field is fine.
    corrupt(r#"{"nodeID":"a","TTL":"1h","ttl":5}"#, "TTL \"1h\"");
    corrupt(r#"{"nodeID":"a","TTL":9223372036854775808}"#, "out of range");
    corrupt(r#"{"maxOwners":"2"}"#, "maxOwners");
    corrupt(r#"{"MAXOWNERS":2,"locks":[5]}"#, "locks[0] is not an object");
    corrupt(r#"{"nodeID":"a","created":"yesterday","TTL":0}"#, "created");
    corrupt(r#"{"nodeID":"a","created":"2024-03-01T03:00:00Z","TTL":"1h"}"#, "TTL");
    corrupt(r#"{"nodeID":"a","created":"2024-03-01T03:00:00Z","TTL":1.5}"#, "TTL");
    corrupt(r#"{"nodeID":"a","metadata":{"unschedulable":"yes"},"created":"2024-03-01T03:00:00Z"}"#, "unschedulable");
    corrupt(r#"{"maxOwners":2,"locks":{}}"#, "locks");
    assert_eq!(LockValue::from_optional(Some("  ")).unwrap(), None);
    assert_eq!(LockValue::from_optional(None).unwrap(), None);
}

#[test]
fn written_format_matches_upstream_field_names_and_types() {
    let created = datetime!(2024-03-01 03:00:00.123 UTC);
    let e = LockEntry::new("node-a", LockMeta::cordoned(false), created, None);
    assert_eq!(
        LockValue::Single(e.clone()).to_annotation(),
        r#"{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0}"#
    );
    let offset = datetime!(2024-03-01 05:00:00.123456789 +02:00);
    let b = LockEntry::new("node-b", LockMeta::cordoned(true), offset, Some(Duration::from_secs(90)));
    assert_eq!(
        multi(2, vec![e, b]).to_annotation(),
        r#"{"maxOwners":2,"locks":[{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0},{"nodeID":"node-b","metadata":{"unschedulable":true},"created":"2024-03-01T03:00:00.123456789Z","TTL":90000000000}]}"#
    );
}

#[track_caller]
fn decides(existing: Option<LockValue>, concurrency: u32, now: OffsetDateTime, want: &str) {
    let got = match acquire(existing.as_ref(), "me", now, None, concurrency, LockMeta::cordoned(false)) {
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
    // another pod's smaller maxOwners is honoured, and kept when written
    decides(Some(multi(1, vec![entry("a", T0, 0)])), 3, T0, "held by a");
    decides(Some(multi(2, vec![entry("a", T0, 0), entry("b", T0, 0)])), 3, T0, "held by a,b");
    decides(Some(multi(0, vec![entry("a", T0, 0)])), 2, T0, "multi a,me"); // 0: Go's zero, no limit given
    let Decision::Acquired(LockValue::Multi { max_owners, .. }) =
        acquire(Some(&multi(2, vec![entry("a", T0, 0)])), "me", T0, None, 3, LockMeta::cordoned(false))
    else {
        panic!("acquired in the multi format")
    };
    assert_eq!(max_owners, 2);
}

#[test]
fn boot_id_and_streak_ride_in_metadata() {
    let meta = LockMeta { unschedulable: true, boot_id: Some("b-1".into()), reboot_streak: 2 };
    let v = LockValue::Single(LockEntry::new("me", meta.clone(), T0, None));
    let text = v.to_annotation();
    assert_eq!(
        text,
        r#"{"nodeID":"me","metadata":{"bootID":"b-1","rebootStreak":2,"unschedulable":true},"created":"2024-03-01T03:00:00Z","TTL":0}"#
    );
    assert_eq!(LockValue::from_annotation(&text).unwrap().entries()[0].meta(), meta);
    // retaking our own expired entry keeps its cordon record, with today's boot ID
    let old = LockValue::Single(LockEntry::new("me", meta, T0, Some(Duration::from_secs(1))));
    let now = LockMeta { unschedulable: false, boot_id: Some("b-2".into()), reboot_streak: 0 };
    let Decision::Acquired(v) = acquire(Some(&old), "me", T0 + Duration::from_secs(5), None, 1, now) else { panic!() };
    assert_eq!(v.entries()[0].meta(), LockMeta { unschedulable: true, boot_id: Some("b-2".into()), reboot_streak: 0 });
    // other writers' values of other types are read as absent
    let odd = r#"{"nodeID":"x","metadata":{"unschedulable":false,"bootID":7,"rebootStreak":"2"}}"#;
    assert_eq!(LockValue::from_annotation(odd).unwrap().entries()[0].meta(), LockMeta::default());
}

#[test]
fn acquire_records_metadata_ttl_and_time() {
    let d = acquire(None, "me", T0, Some(Duration::from_millis(1500)), 1, LockMeta::cordoned(true));
    let Decision::Acquired(LockValue::Single(e)) = d else { panic!("{d:?}") };
    assert_eq!((e.node_id.as_str(), e.meta().unschedulable, e.created, e.ttl_ns), ("me", true, T0, 1_500_000_000));
    let held = Some(LockValue::Single(LockEntry::new("me", LockMeta::cordoned(true), T0, None)));
    assert_eq!(
        acquire(held.as_ref(), "me", T0, None, 1, LockMeta::cordoned(false)),
        Decision::AlreadyHeld(LockMeta::cordoned(true))
    );
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
    releases(Some(multi(2, vec![entry("a", T0, 0), entry("b", T0, 0)])), Err("held by a, b"));
    releases(Some(multi(2, vec![])), Err("nobody"));
}

#[test]
fn holding_counts_our_entry_even_expired() {
    let mine = LockEntry::new("me", LockMeta::cordoned(true), T0, Some(Duration::from_secs(1)));
    let yes = Some(LockMeta::cordoned(true));
    assert_eq!(holding(Some(&LockValue::Single(mine.clone())), "me"), yes);
    assert_eq!(holding(Some(&multi(2, vec![entry("a", T0, 0), mine])), "me"), yes);
    assert_eq!(holding(Some(&LockValue::Single(entry("a", T0, 0))), "me"), None);
    assert_eq!(holding(None, "me"), None);
}

#[test]
fn earlier_holders_are_ordered_by_creation_then_name_and_skip_expired_and_hand_written_entries() {
    let t = |s: i64| T0 + time::Duration::seconds(s);
    let manual = LockEntry { created: GO_ZERO_TIME, ..entry("manual", t(0), 0) };
    let nobody = entry("", t(1), 0);
    let v = multi(
        5,
        vec![entry("c", t(5), 0), entry("a", t(10), 0), manual, nobody, entry("b", t(5), 0), entry("old", t(0), 60)],
    );
    let now = t(100);
    let before = |me: &str, now| -> Vec<String> {
        earlier_holders(Some(&v), me, now).iter().map(|e| e.node_id.clone()).collect()
    };
    // "old" expired (60 s TTL): it is free. "manual" (no `created`) and ""
    // were written by hand: no node drains or releases them, nobody waits on them.
    for (me, want) in [("b", vec![]), ("c", vec!["b"]), ("a", vec!["b", "c"]), ("stranger", vec![]), ("old", vec![])] {
        assert_eq!(before(me, now), want, "{me}");
    }
    assert_eq!(before("old", t(30)), Vec::<String>::new(), "the earliest holder gives way to nobody");
    assert_eq!(before("b", t(30)), vec!["old"]);
    assert!(earlier_holders(None, "a", now).is_empty());
}

/// Issue 24: a broken entry keeps its slot for its grace, for everybody but
/// its own node (which has stopped when it acquires again), and is never
/// taken for ours again.
#[test]
fn broken_entries_keep_their_slot_until_their_grace_ends() {
    let now = T0 + Duration::from_secs(100);
    let grace = stale::GRACE;
    let broken = |n: &str| entry(n, T0, 0).broken("x", now, grace);
    let during = now + grace - Duration::from_secs(1);
    let after = now + grace;
    decides(Some(LockValue::Single(broken("a"))), 1, during, "held by a");
    decides(Some(LockValue::Single(broken("a"))), 1, after, "single me");
    decides(Some(multi(2, vec![broken("a"), entry("b", T0, 0)])), 2, during, "held by a,b");
    decides(Some(multi(2, vec![broken("a"), entry("b", T0, 0)])), 2, after, "multi b,me");
    // our own broken entry is not ours to go on with: it is replaced
    decides(Some(LockValue::Single(broken("me"))), 1, during, "single me");
    decides(Some(multi(2, vec![broken("me"), entry("b", T0, 0)])), 2, during, "multi b,me");
}

#[track_caller]
fn stands(existing: Option<LockValue>, mine: (&str, OffsetDateTime), now: OffsetDateTime, want: Standing) {
    assert_eq!(standing(existing.as_ref(), &(mine.0.to_string(), mine.1), now), want, "{existing:?}");
}

#[test]
fn where_a_holders_entry_stands() {
    let later = T0 + Duration::from_secs(100);
    let me = ("me", T0);
    stands(Some(LockValue::Single(entry("me", T0, 0))), me, later, Standing::Held);
    stands(Some(multi(2, vec![entry("b", T0, 0), entry("me", T0, 0)])), me, later, Standing::Held);
    stands(Some(LockValue::Single(entry("me", T0, 60))), me, later, Standing::Expired);
    stands(
        Some(LockValue::Single(entry("me", T0, 0).broken("b", later, stale::GRACE))),
        me,
        later,
        Standing::Broken("b".into()),
    );
    stands(Some(LockValue::Single(entry("me", T0 + Duration::from_secs(1), 0))), me, later, Standing::Gone);
    stands(Some(LockValue::Single(entry("b", T0, 0))), me, later, Standing::Gone);
    stands(None, me, later, Standing::Gone);
}

#[test]
fn removing_exactly_one_entry() {
    let (a, b) = (entry("a", T0, 0), entry("b", T0, 0));
    let key = stale::key(&a);
    assert_eq!(without(Some(&LockValue::Single(a.clone())), &key), Some(None));
    assert_eq!(without(Some(&LockValue::Single(b.clone())), &key), None);
    assert_eq!(
        without(Some(&LockValue::Single(entry("a", T0 + Duration::from_secs(1), 0))), &key),
        None,
        "a newer entry of the same node"
    );
    assert_eq!(without(Some(&multi(2, vec![a.clone(), b.clone()])), &key), Some(Some(multi(2, vec![b.clone()]))));
    assert_eq!(without(Some(&multi(2, vec![a.clone()])), &key), Some(None));
    assert_eq!(without(None, &key), None);
}

#[test]
fn the_next_expiry_is_that_of_the_live_entry_with_the_shortest_ttl_left() {
    let now = T0 + Duration::from_secs(10);
    assert_eq!(next_expiry(&[entry("a", T0, 0)], now), None, "no TTL: never");
    assert_eq!(
        next_expiry(&[entry("a", T0, 60), entry("b", T0, 30), entry("c", T0, 5)], now),
        Some(Duration::from_secs(20))
    );
    assert_eq!(next_expiry(&[], now), None);
}
