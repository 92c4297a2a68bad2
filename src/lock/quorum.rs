//! The control-plane quorum guard, decided from the same read of the lock that
//! the write taking it is based on (pure).
//!
//! Rule: whatever `--concurrency` says, a control-plane node takes a free slot
//! only when no other control-plane node holds a live entry and every other
//! control-plane node is Ready. Workers are not guarded.
//!
//! Why this is race-free: the write that takes the slot is a PUT conditional on
//! the resourceVersion of the read this rule looked at. Two control-plane nodes
//! that both saw no control-plane holder both write on the same version: one
//! wins, the other gets a 409, reads again, and now sees the winner's entry.
//!
//! An entry is a control-plane holder's when it says so (`metadata.controlPlane`,
//! which a guarded node records beside `waitingSince`; upstream pods keep other
//! holders' metadata whole) or when its node is one of the control-plane nodes
//! the Node list showed (an upstream pod's entry, or one taken with the guard
//! off). An expired entry is free, as everywhere in the lock; a broken one
//! still counts until its grace is over (its machine may be rebooting after all).
//! Readiness comes from the Node list read just before the lock: a node going
//! down between the two reads without taking the lock is a failure no lock can
//! prevent. Ready is not enough right after a peer's reboot (its etcd member
//! may not have rejoined yet; a crashed node still shows Ready for about 40 s):
//! each other control-plane node must also have been Ready for
//! `--control-plane-settle`, from its Ready condition's `lastTransitionTime`
//! ([`settled`]; a node that reports no such time counts as settled).

use std::collections::BTreeSet;

use serde_json::Value;
use time::OffsetDateTime;

use super::{LockEntry, LockValue};

/// The key in a control-plane holder's metadata.
pub const CONTROL_PLANE: &str = "controlPlane";

/// What a control-plane node knows when it tries to take the lock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Guard {
    /// Every control-plane node the Node list showed (this one included).
    pub control_plane: BTreeSet<String>,
    /// The other control-plane nodes that are not Ready, as listed.
    pub not_ready: Vec<String>,
    /// The other control-plane nodes Ready for less than `--control-plane-settle`.
    pub settling: Vec<String>,
}

/// Why the guard holds a control-plane node back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Another control-plane node holds the lock.
    Rebooting(String),
    /// Another control-plane node is not Ready.
    NotReady(String),
    /// Another control-plane node has been Ready for less than `--control-plane-settle`.
    Settling(String),
}

impl Wait {
    /// For the status annotation and the log.
    pub fn reason(&self) -> String {
        match self {
            Wait::Rebooting(n) => format!("waiting: another control-plane node is rebooting ({n})"),
            Wait::NotReady(n) => format!("waiting: control-plane node {n} is not Ready"),
            Wait::Settling(n) => {
                format!("waiting: control-plane node {n} has been Ready for less than --control-plane-settle")
            }
        }
    }

    /// It says to look again soon (no watch event announces a Node's readiness).
    pub fn readiness(&self) -> bool {
        matches!(self, Wait::NotReady(_) | Wait::Settling(_))
    }
}

/// Whether a node Ready since `ready_since` (None: not reported) has been
/// Ready for `settle` at `now`. A time ahead of `now` (clock skew) is not.
pub fn settled(ready_since: Option<OffsetDateTime>, now: OffsetDateTime, settle: std::time::Duration) -> bool {
    ready_since.is_none_or(|t| now >= t && (now - t).unsigned_abs() >= settle)
}

/// Whether `entry` is a control-plane node's (see the module comment).
pub fn is_control_plane(entry: &LockEntry, guard: &Guard) -> bool {
    entry.metadata.get(CONTROL_PLANE).and_then(Value::as_bool).unwrap_or(false)
        || guard.control_plane.contains(&entry.node_id)
}

/// The other control-plane node holding a live entry, if any.
pub fn other_holder<'v>(
    existing: Option<&'v LockValue>,
    me: &str,
    now: OffsetDateTime,
    guard: &Guard,
) -> Option<&'v str> {
    let entries = existing.map_or(&[][..], LockValue::entries);
    entries
        .iter()
        .find(|e| e.node_id != me && !e.expired(now) && is_control_plane(e, guard))
        .map(|e| e.node_id.as_str())
}

/// Whether the guard holds `me` (a control-plane node) back from a free slot.
pub fn check(existing: Option<&LockValue>, me: &str, now: OffsetDateTime, guard: &Guard) -> Option<Wait> {
    if let Some(n) = other_holder(existing, me, now, guard) {
        return Some(Wait::Rebooting(n.to_string()));
    }
    if let Some(n) = guard.not_ready.iter().find(|n| *n != me) {
        return Some(Wait::NotReady(n.clone()));
    }
    guard.settling.iter().find(|n| *n != me).map(|n| Wait::Settling(n.clone()))
}

/// Mark our new entry as a control-plane node's.
pub fn mark(entry: &mut LockEntry) {
    if let Some(m) = entry.metadata.as_object_mut() {
        m.insert(CONTROL_PLANE.into(), Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-03-01 03:10:00 UTC);

    fn guard(cp: &[&str], not_ready: &[&str]) -> Guard {
        Guard {
            control_plane: cp.iter().map(|s| s.to_string()).collect(),
            not_ready: not_ready.iter().map(|s| s.to_string()).collect(),
            settling: vec![],
        }
    }

    fn lock(json: &str) -> LockValue {
        LockValue::from_annotation(json).unwrap()
    }

    #[track_caller]
    fn case(existing: Option<&str>, g: &Guard, want: Option<Wait>) {
        let v = existing.map(lock);
        assert_eq!(check(v.as_ref(), "cp-1", NOW, g), want, "{existing:?}");
    }

    #[test]
    fn one_control_plane_node_at_a_time_and_only_with_the_others_ready() {
        let g = guard(&["cp-1", "cp-2", "cp-3"], &[]);
        let w = |n: &str| Some(Wait::Rebooting(n.into()));
        case(None, &g, None);
        // workers holding slots do not matter
        case(
            Some(
                r#"{"maxOwners":3,"locks":[{"nodeID":"w-1","created":"2024-03-01T03:00:00Z","TTL":0},{"nodeID":"w-2","created":"2024-03-01T03:00:00Z","TTL":0}]}"#,
            ),
            &g,
            None,
        );
        // a control-plane holder known by name (an upstream pod's entry)
        case(
            Some(
                r#"{"maxOwners":3,"locks":[{"nodeID":"w-1","created":"2024-03-01T03:00:00Z","TTL":0},{"nodeID":"cp-2","created":"2024-03-01T03:00:00Z","TTL":0}]}"#,
            ),
            &g,
            w("cp-2"),
        );
        // ... or by its mark, even when the Node list missed it
        case(
            Some(
                r#"{"nodeID":"cp-9","metadata":{"unschedulable":false,"controlPlane":true},"created":"2024-03-01T03:00:00Z","TTL":0}"#,
            ),
            &g,
            w("cp-9"),
        );
        // an expired entry is free; a broken one counts until its grace is over
        case(Some(r#"{"nodeID":"cp-2","created":"2024-03-01T03:00:00Z","TTL":60000000000}"#), &g, None);
        case(
            Some(
                r#"{"nodeID":"cp-2","metadata":{"brokenBy":"w-1"},"created":"2024-03-01T03:00:00Z","TTL":900000000000}"#,
            ),
            &g,
            w("cp-2"),
        );
        // our own entry is not another's
        case(
            Some(r#"{"nodeID":"cp-1","metadata":{"controlPlane":true},"created":"2024-03-01T03:00:00Z","TTL":0}"#),
            &g,
            None,
        );
        // a hand-written lock names no control-plane node
        case(Some(r#"{"nodeID":"manual"}"#), &g, None);
        // another control-plane node not Ready
        case(None, &guard(&["cp-1", "cp-2", "cp-3"], &["cp-3"]), Some(Wait::NotReady("cp-3".into())));
        // a holder is the first reason given
        case(
            Some(r#"{"nodeID":"cp-2","created":"2024-03-01T03:00:00Z","TTL":0}"#),
            &guard(&["cp-1", "cp-2", "cp-3"], &["cp-2"]),
            w("cp-2"),
        );
    }

    #[test]
    fn every_other_control_plane_node_must_have_settled() {
        let mut g = guard(&["cp-1", "cp-2", "cp-3"], &[]);
        g.settling = vec!["cp-2".into()];
        case(None, &g, Some(Wait::Settling("cp-2".into())));
        // not Ready is the first readiness reason given
        g.not_ready = vec!["cp-3".into()];
        case(None, &g, Some(Wait::NotReady("cp-3".into())));
        g.settling = vec!["cp-1".into()];
        g.not_ready = vec![];
        case(None, &g, None);
        let two_min = std::time::Duration::from_secs(120);
        let ago = |s: i64| Some(NOW - time::Duration::seconds(s));
        assert!(settled(ago(120), NOW, two_min));
        assert!(!settled(ago(119), NOW, two_min));
        assert!(!settled(ago(-5), NOW, two_min), "a time ahead of ours");
        assert!(settled(ago(0), NOW, std::time::Duration::ZERO));
        assert!(settled(None, NOW, two_min), "no lastTransitionTime reported: Ready is all there is");
        assert!(Wait::Settling("cp-2".into()).reason().contains("--control-plane-settle"));
        assert!(Wait::Settling("x".into()).readiness() && !Wait::Rebooting("x".into()).readiness());
    }

    #[test]
    fn the_mark_goes_into_the_metadata_upstream_keeps() {
        let mut e = LockEntry::new("cp-1", super::super::LockMeta::default(), NOW, None);
        mark(&mut e);
        let v = LockValue::Single(e);
        let text = v.to_annotation();
        assert!(text.contains(r#""controlPlane":true"#) && text.contains(r#""unschedulable":false"#), "{text}");
        let back = LockValue::from_annotation(&text).unwrap();
        assert!(is_control_plane(&back.entries()[0], &Guard::default()));
        assert_eq!(Wait::NotReady("cp-2".into()).reason(), "waiting: control-plane node cp-2 is not Ready");
    }
}
