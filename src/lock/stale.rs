//! Stale lock entries: an entry kured wrote (it carries a `created` time) for a
//! node that no longer exists (cluster autoscaler, a replaced machine) would
//! block every other node forever. Any node that needs the lock breaks such an
//! entry once the node's absence was seen on two checks at least `gap` apart
//! (a period, or 30 s if shorter), so a node that is only briefly missing from
//! the API (re-registering) keeps its entry. Hand-written entries without
//! `created`, such as `{"nodeID":"manual"}` (upstream's documented way to pause
//! all reboots), are never broken. Pure: the caller observes and acts.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::value::{LockEntry, LockValue, GO_ZERO_TIME};

/// The longest wait between the two sightings of an absent node.
pub const MAX_GAP: Duration = Duration::from_secs(30);

/// The gap two sightings need: a period, or 30 s if that is shorter.
pub fn gap(period: Duration) -> Duration {
    period.min(MAX_GAP)
}

/// Could this entry ever be broken? Only kured's own (with `created`) naming a node.
pub fn breakable(entry: &LockEntry) -> bool {
    entry.created != GO_ZERO_TIME && !entry.node_id.is_empty()
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

/// The lock without that exact entry (`None` = remove the annotation), or
/// `Err(())` if it is not there any more (released, or taken again).
#[allow(clippy::result_unit_err)]
pub fn without(existing: Option<&LockValue>, k: &EntryKey) -> Result<Option<LockValue>, ()> {
    let matches = |e: &LockEntry| e.node_id == k.0 && e.created == k.1;
    match existing {
        Some(LockValue::Single(e)) if matches(e) => Ok(None),
        Some(LockValue::Multi { max_owners, locks }) if locks.iter().any(matches) => {
            let locks: Vec<LockEntry> = locks.iter().filter(|e| !matches(e)).cloned().collect();
            if locks.is_empty() {
                Ok(None)
            } else {
                Ok(Some(LockValue::Multi { max_owners: *max_owners, locks }))
            }
        }
        _ => Err(()),
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
        seq(&gone, &[(0, Absent), (10, Present), (40, Absent), (60, Absent), (70, Absent)], &[false, false, false, false, true]);
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
        assert_eq!(gap(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn removing_an_entry() {
        let (a, b) = (entry("a"), entry("b"));
        let single = LockValue::Single(a.clone());
        assert_eq!(without(Some(&single), &key(&a)), Ok(None));
        assert_eq!(without(Some(&single), &key(&b)), Err(()));
        assert_eq!(without(None, &key(&a)), Err(()));
        let retaken = LockEntry::new("a", LockMeta::default(), at(5), None);
        assert_eq!(without(Some(&LockValue::Single(retaken)), &key(&a)), Err(()), "taken again since: not the same entry");
        let multi = LockValue::Multi { max_owners: 2, locks: vec![a.clone(), b.clone()] };
        assert_eq!(without(Some(&multi), &key(&a)), Ok(Some(LockValue::Multi { max_owners: 2, locks: vec![b.clone()] })));
        let only = LockValue::Multi { max_owners: 2, locks: vec![a.clone()] };
        assert_eq!(without(Some(&only), &key(&a)), Ok(None));
    }

    #[test]
    fn forgetting() {
        let mut s = Sightings::default();
        s.observe(&entry("a"), NodeSeen::Absent, T0, GAP);
        s.retain(&[]);
        assert_eq!(s, Sightings::default());
    }
}
