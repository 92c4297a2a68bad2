//! Stale lock entries: an entry kured wrote (it carries a `created` time) for a
//! node that no longer exists (cluster autoscaler, a replaced machine) would
//! block every other node forever. Any node breaks such an entry once the
//! node's absence was seen on looks at least `gap` apart with no sighting of it
//! in between (the period, but never less than 15 s nor more than 30 s), so a
//! node that is only briefly missing from the API (re-registering) keeps its
//! entry. A control-plane node's entry (marked `controlPlane`, or of a node
//! known to be one, see [`super::quorum`]) is broken only after its Node has
//! been missing for [`CONTROL_PLANE_GAP`]: a rebooting server's Node may be
//! deleted (a cloud controller, `kubectl delete node`) while the machine is
//! down, and breaking its entry early would let the next control-plane node
//! reboot with it, two etcd members down; by then its kubelet has registered
//! it again, which stops the sightings. Until broken (and through its grace)
//! the quorum guard counts it as a control-plane holder. Hand-written entries without `created`, such as `{"nodeID":"manual"}`
//! (upstream's documented way to pause all reboots), are never broken.
//!
//! Breaking is made safe at both ends, since a live holder might be mistaken
//! for a gone one (a Node deleted and re-registered, a flapping API server):
//! - the holder re-reads its entry and its own Node at least every
//!   [`HOLDER_CHECK`] while it drains and right before the reboot command, and
//!   stops (no reboot) when either is gone: the gap is three of its checks;
//! - a broken entry is not removed but marked (`metadata.brokenBy`) and given a
//!   TTL ending [`GRACE`] later: its slot stays taken meanwhile, for upstream
//!   pods too, so a holder that was alive after all has stopped before anyone
//!   else can cordon; once expired it is free, and swept at a later look.
//!
//! Pure: the caller observes and acts.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::value::{LockEntry, LockValue, GO_ZERO_TIME};

/// The longest wait between the two sightings of an absent node.
pub const MAX_GAP: Duration = Duration::from_secs(30);
/// How often, at the most, a lock holder that has not rebooted yet re-reads its
/// entry and its Node (each drain round, and the wait before the cordon).
pub const HOLDER_CHECK: Duration = Duration::from_secs(5);
/// The shortest wait between the two sightings: three of the holder's checks,
/// so that a live holder whose Node is missing has noticed and stopped first.
pub const MIN_GAP: Duration = Duration::from_secs(15);
/// How long a broken entry keeps its slot before it is free.
pub const GRACE: Duration = Duration::from_secs(15);
/// The gap two sightings of a control-plane holder's absent Node need: long
/// enough for a rebooting server to come back and its kubelet to register the
/// Node again.
pub const CONTROL_PLANE_GAP: Duration = Duration::from_secs(600);

/// The gap two sightings need: the period, within [`MIN_GAP`, `MAX_GAP`].
pub fn gap(period: Duration) -> Duration {
    period.clamp(MIN_GAP, MAX_GAP)
}

/// The gap for one entry: [`CONTROL_PLANE_GAP`] for a control-plane node's,
/// [`gap`] for the others.
pub fn gap_for(period: Duration, control_plane: bool) -> Duration {
    if control_plane {
        CONTROL_PLANE_GAP
    } else {
        gap(period)
    }
}

/// Could this entry ever be broken? Only kured's own (with `created`) naming a
/// node, and not one broken already.
pub fn breakable(entry: &LockEntry) -> bool {
    entry.created != GO_ZERO_TIME && !entry.node_id.is_empty() && entry.broken_by().is_none()
}

/// One entry, identified by holder and creation time (a holder that took the
/// lock again has a new entry, and its absence must be seen afresh).
pub type EntryKey = (String, OffsetDateTime);

pub fn key(entry: &LockEntry) -> EntryKey {
    (entry.node_id.clone(), entry.created)
}

/// When each entry's node was first seen absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sightings {
    first_absent: BTreeMap<EntryKey, OffsetDateTime>,
}

/// What a check of one holder's node found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSeen {
    Present,
    /// 404: the Node object does not exist
    Absent,
    /// the check failed: no conclusion either way
    Unknown,
}

impl Sightings {
    /// Record what was seen of `entry`'s node at `now`; true when the entry is
    /// now stale (absent at least `gap` ago and still absent).
    pub fn observe(&mut self, entry: &LockEntry, seen: NodeSeen, now: OffsetDateTime, gap: Duration) -> bool {
        if !breakable(entry) {
            return false;
        }
        let k = key(entry);
        match seen {
            NodeSeen::Present => {
                self.first_absent.remove(&k);
                false
            }
            NodeSeen::Unknown => false,
            NodeSeen::Absent => {
                let first = *self.first_absent.entry(k).or_insert(now);
                now - first >= gap
            }
        }
    }

    /// Forget entries that are no longer in the lock.
    pub fn retain(&mut self, live: &[EntryKey]) {
        self.first_absent.retain(|k, _| live.contains(k));
    }
}

/// The lock with that exact entry broken by `by` (see [`LockEntry::broken`]),
/// or `Err(())` if it is not there any more (released, taken again, broken).
#[allow(clippy::result_unit_err)]
pub fn break_entry(existing: Option<&LockValue>, k: &EntryKey, by: &str, now: OffsetDateTime) -> Result<LockValue, ()> {
    let target = |e: &LockEntry| e.node_id == k.0 && e.created == k.1 && breakable(e);
    match existing {
        Some(LockValue::Single(e)) if target(e) => Ok(LockValue::Single(e.broken(by, now, GRACE))),
        Some(LockValue::Multi { max_owners, locks }) if locks.iter().any(target) => {
            let locks = locks.iter().map(|e| if target(e) { e.broken(by, now, GRACE) } else { e.clone() }).collect();
            Ok(LockValue::Multi { max_owners: *max_owners, locks })
        }
        _ => Err(()),
    }
}

/// The lock without the broken entries whose grace is over (`None` inside =
/// remove the annotation), or `None` when there is nothing to sweep.
pub fn sweep(existing: Option<&LockValue>, now: OffsetDateTime) -> Option<Option<LockValue>> {
    let done = |e: &LockEntry| e.broken_by().is_some() && e.expired(now);
    match existing? {
        LockValue::Single(e) if done(e) => Some(None),
        LockValue::Multi { max_owners, locks } if locks.iter().any(done) => {
            let locks: Vec<LockEntry> = locks.iter().filter(|e| !done(e)).cloned().collect();
            Some((!locks.is_empty()).then_some(LockValue::Multi { max_owners: *max_owners, locks }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::LockMeta;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 03:00 UTC);
    const GAP: Duration = Duration::from_secs(30);

    fn entry(node: &str) -> LockEntry {
        LockEntry::new(node, LockMeta::default(), T0, None)
    }

    fn at(s: u64) -> OffsetDateTime {
        T0 + Duration::from_secs(s)
    }

    #[track_caller]
    fn seq(e: &LockEntry, looks: &[(u64, NodeSeen)], want: &[bool]) {
        let mut s = Sightings::default();
        let got: Vec<bool> = looks.iter().map(|(t, seen)| s.observe(e, *seen, at(*t), GAP)).collect();
        assert_eq!(got, want, "{looks:?}");
    }

    #[test]
    fn absence_must_be_seen_twice_a_gap_apart() {
        use NodeSeen::*;
        let gone = entry("gone");
        seq(&gone, &[(0, Absent), (29, Absent), (30, Absent)], &[false, false, true]);
        seq(
            &gone,
            &[(0, Absent), (10, Present), (40, Absent), (60, Absent), (70, Absent)],
            &[false, false, false, false, true],
        );
        seq(&gone, &[(0, Absent), (20, Unknown), (40, Absent)], &[false, false, true]);
        seq(&gone, &[(0, Unknown), (40, Unknown)], &[false, false]);
        // hand-written entries are never broken
        let manual = LockValue::from_annotation(r#"{"nodeID":"manual"}"#).unwrap().entries()[0].clone();
        seq(&manual, &[(0, Absent), (100, Absent), (1000, Absent)], &[false, false, false]);
        let nobody = LockEntry { node_id: String::new(), ..entry("x") };
        seq(&nobody, &[(0, Absent), (100, Absent)], &[false, false]);
    }

    #[test]
    fn gaps() {
        assert_eq!(gap(Duration::from_secs(3600)), MAX_GAP);
        assert_eq!(gap(Duration::from_secs(20)), Duration::from_secs(20));
        assert_eq!(gap(Duration::from_secs(1)), MIN_GAP, "a short period never makes a short gap");
        assert!(MIN_GAP >= HOLDER_CHECK * 3);
        assert_eq!(gap_for(Duration::from_secs(3600), false), MAX_GAP, "workers' timings unchanged");
        assert_eq!(gap_for(Duration::from_secs(1), false), MIN_GAP);
        assert_eq!(gap_for(Duration::from_secs(1), true), CONTROL_PLANE_GAP);
        assert_eq!(gap_for(Duration::from_secs(3600), true), CONTROL_PLANE_GAP);
    }

    #[test]
    fn a_control_plane_holder_is_broken_only_after_its_longer_gap() {
        use NodeSeen::*;
        let cp = entry("cp-1");
        let mut s = Sightings::default();
        let g = gap_for(Duration::from_secs(30), true);
        assert!(!s.observe(&cp, Absent, at(0), g));
        assert!(!s.observe(&cp, Absent, at(45), g), "a worker's entry would be broken by now");
        assert!(!s.observe(&cp, Absent, at(599), g));
        assert!(s.observe(&cp, Absent, at(600), g));
        // re-registered meanwhile: the sightings start over
        let mut s = Sightings::default();
        assert!(!s.observe(&cp, Absent, at(0), g));
        assert!(!s.observe(&cp, Present, at(300), g));
        assert!(!s.observe(&cp, Absent, at(700), g));
        assert!(!s.observe(&cp, Absent, at(1299), g));
        assert!(s.observe(&cp, Absent, at(1300), g));
    }

    #[test]
    fn breaking_marks_the_entry_and_keeps_its_slot_for_the_grace() {
        let (a, b) = (entry("a"), entry("b"));
        let now = at(100);
        let Ok(LockValue::Single(broken)) = break_entry(Some(&LockValue::Single(a.clone())), &key(&a), "b", now) else {
            panic!()
        };
        assert_eq!(broken.broken_by(), Some("b"));
        assert_eq!((broken.node_id.as_str(), broken.created), ("a", T0), "the same entry, marked");
        assert!(!broken.expired(now + GRACE - Duration::from_millis(1)), "its slot stays taken for the grace");
        assert!(broken.expired(now + GRACE), "then it is free, for upstream pods too (TTL)");
        assert!(!breakable(&broken), "never broken twice");
        assert_eq!(break_entry(Some(&LockValue::Single(broken.clone())), &key(&a), "c", now), Err(()));
        assert_eq!(break_entry(Some(&LockValue::Single(a.clone())), &key(&b), "c", now), Err(()));
        assert_eq!(break_entry(None, &key(&a), "b", now), Err(()));
        let retaken = LockEntry::new("a", LockMeta::default(), at(5), None);
        assert_eq!(
            break_entry(Some(&LockValue::Single(retaken)), &key(&a), "b", now),
            Err(()),
            "taken again since: not the same entry"
        );
        let multi = LockValue::Multi { max_owners: 2, locks: vec![a.clone(), b.clone()] };
        let Ok(LockValue::Multi { locks, max_owners: 2 }) = break_entry(Some(&multi), &key(&a), "c", now) else {
            panic!()
        };
        assert_eq!(locks[0].broken_by(), Some("c"));
        assert_eq!(locks[1], b, "others untouched");
        // other metadata is kept (the cordon record, upstream's keys)
        assert_eq!(broken.meta(), a.meta());
    }

    #[test]
    fn sweeping_removes_broken_entries_once_their_grace_is_over() {
        let (a, b) = (entry("a"), entry("b"));
        let now = at(100);
        let broken = a.broken("b", now, GRACE);
        assert_eq!(sweep(Some(&LockValue::Single(broken.clone())), now), None, "still in its grace");
        assert_eq!(sweep(Some(&LockValue::Single(broken.clone())), now + GRACE), Some(None));
        assert_eq!(sweep(Some(&LockValue::Single(a.clone())), now + GRACE), None, "a live entry is not swept");
        let multi = LockValue::Multi { max_owners: 2, locks: vec![broken.clone(), b.clone()] };
        assert_eq!(
            sweep(Some(&multi), now + GRACE),
            Some(Some(LockValue::Multi { max_owners: 2, locks: vec![b.clone()] }))
        );
        let only = LockValue::Multi { max_owners: 2, locks: vec![broken] };
        assert_eq!(sweep(Some(&only), now + GRACE), Some(None));
        assert_eq!(sweep(None, now), None);
    }

    #[test]
    fn forgetting() {
        let mut s = Sightings::default();
        s.observe(&entry("a"), NodeSeen::Absent, T0, GAP);
        s.retain(&[]);
        assert_eq!(s, Sightings::default());
    }
}
