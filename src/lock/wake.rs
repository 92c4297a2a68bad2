//! Waiting for a slot in the lock: instead of sleeping a whole `--period`
//! after finding the lock full, a node watches the one DaemonSet that carries
//! the lock and wakes as soon as a holder lets go (upstream waits for its next
//! periodic check: on average half a period of idle lock per hand-over).
//!
//! "A slot is free" is the same pure rule acquisition uses ([`super::acquire`]
//! would not answer `HeldBy`), so expired entries, hand-written locks and
//! other concurrency settings count exactly as they do when taking the lock.
//! Waking is only a hint: the caller runs its whole check again (window,
//! sentinel, blockers, then the lock) and may well find the slot taken.
//!
//! A node whose drain gave way to earlier holders (`--drain-stall-timeout`)
//! waits the same way for one of those entries to go, not for a free slot
//! (which it just made itself).
//!
//! Waiting for a free slot ([`DaemonSetLock::wait_for_turn`]) keeps one watch
//! open across checks ([`Waiting`]) and decides from the object each event
//! carries: when a slot frees, only the node whose turn it is ([`turn`])
//! checks within about a quarter of a second; the others wait a little longer
//! and, seeing the slot taken again, make no request at all. So a release costs
//! the API server about one node's check, however many nodes wait.
//!
//! While reboots are paused ([`super::pause`]) a check takes nothing and no
//! event counts as a free slot; the event that removes the pause does, and
//! wakes the waiters in their turn.

pub mod turn;

use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::Value;

use time::OffsetDateTime;

use std::time::Instant;

use super::stale::{key, EntryKey};
use super::{acquire, pause, DaemonSetLock, Decision, Held, LockMeta, LockValue, Step, Taken};
use crate::error::Result;
use crate::kube::watch::{Cursor, Ended, Event, Next, Watch};

/// How a wait for the lock ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A slot is free now (or the DaemonSet changed beyond recognition): check again.
    Free,
    /// `max_wait` passed with the lock still full.
    TimedOut,
    /// The stop check said so.
    Stopped,
}

/// What a waiting node remembers between its waits: the watch (and its
/// request in flight), how far the queue has been served, the fleet's size.
#[derive(Debug, Default)]
pub struct Waiting {
    cursor: Cursor,
    /// The latest `waitingSince` among the holders seen.
    served: Option<OffsetDateTime>,
    /// The earliest `created` among holders seen without one: the reference
    /// only until a holder that waited is seen. The earliest, because such a
    /// holder took a free slot at its first check, out of turn: the latest
    /// would put every node that waited before it at the front at once.
    served_unqueued: Option<OffsetDateTime>,
    /// `status.desiredNumberScheduled` of the DaemonSet, as last seen.
    fleet: Option<u32>,
    /// The last check found a free slot and left it to the node whose turn
    /// it is ([`Queued::Deferred`]): the next wait starts from a free slot.
    deferred: bool,
    /// Set by a check woken for this node's turn: it takes a free slot.
    pub turn_due: bool,
    /// The watch could not be used: checks take a free slot at once (a node
    /// that can only poll must not wait for a turn it cannot see).
    pub broken: bool,
    /// This node has waited on the watch: it is in the queue. (A node that
    /// has not, at its first check, takes a free slot at once, as upstream.)
    watched: bool,
}

/// The result of [`DaemonSetLock::try_acquire_queued`].
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    Taken(Taken),
    /// A slot is free, but this check was not woken for this node's turn:
    /// left to whoever is next in line (see [`turn`]); this node waits for
    /// its own turn, which may well come at once.
    Deferred,
    /// Reboots are paused ([`super::pause`]; the reason): nothing was taken.
    Paused(String),
    /// A slot is free, but this control-plane node may not take it (the
    /// quorum guard, see [`super::quorum`]).
    Guarded(super::quorum::Wait),
}

impl Waiting {
    /// This node's last check left a free slot to the next in line (its
    /// wait must last long enough for its own turn to come).
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// How many arrivals ahead of a node that started waiting at `since` the
    /// queue has been served to (None: nothing seen yet).
    pub fn distance(&self, since: OffsetDateTime, period: Duration) -> Option<f64> {
        turn::distance(since, self.reference(since, period), self.fleet.unwrap_or(turn::DEFAULT_FLEET), period)
    }

    /// How far, in expected arrivals, a node that started waiting at `since`
    /// is from where the queue has been served, either way: behind it, or
    /// passed over (None: nothing seen yet). Only the nodes close to it look
    /// for stale holders at each periodic check ([`turn::looks_for_stale`]).
    pub fn offset(&self, since: OffsetDateTime, period: Duration) -> Option<f64> {
        let reference = self.reference(since, period)?;
        let gap = period.as_secs_f64() / f64::from(self.fleet.unwrap_or(turn::DEFAULT_FLEET).max(1));
        Some((since - reference).as_seconds_f64().abs() / gap.max(1e-3))
    }

    /// How far the queue has been served (see [`turn`]), for a node waiting
    /// since `since`. A holder that never waited tells only when it took the
    /// lock within a period before: a hand-written lock (`{"nodeID":"manual"}`
    /// dates from year 1) or an old entry says nothing about the queue.
    fn reference(&self, since: OffsetDateTime, period: Duration) -> Option<OffsetDateTime> {
        self.served.or(self.served_unqueued.filter(|t| (since - *t).unsigned_abs() <= period))
    }

    /// Learn from the lock as read (by a check or an event).
    fn saw(&mut self, existing: Option<&LockValue>, ds: Option<&Value>) {
        for e in existing.map_or(&[][..], LockValue::entries) {
            match turn::waiting_since(e) {
                Some(t) if self.served.is_none_or(|s| t > s) => self.served = Some(t),
                Some(_) => {}
                // (a hand-written lock has no `created`: Go's zero time, year 1)
                None if e.created != super::GO_ZERO_TIME && self.served_unqueued.is_none_or(|s| e.created < s) => {
                    self.served_unqueued = Some(e.created)
                }
                None => {}
            }
        }
        let desired = ds.and_then(|d| d.pointer("/status/desiredNumberScheduled")).and_then(Value::as_u64);
        if let Some(n) = desired.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0) {
            self.fleet = Some(n);
        }
    }
}

impl DaemonSetLock<'_> {
    /// As [`DaemonSetLock::try_acquire`], recording in our new entry when this
    /// node started waiting (`waiting_since`), which orders the queue for the
    /// others (see [`turn`]). Once this node waits in the queue, a free slot
    /// is taken only by a check woken for its turn (`waiting.turn_due`), or
    /// when the watch cannot be used; its periodic checks leave it to the
    /// next in line and answer [`Queued::Deferred`]. Also tells `waiting`
    /// what the read showed.
    pub fn try_acquire_queued(
        &self,
        meta: LockMeta,
        waiting_since: Option<OffsetDateTime>,
        waiting: &mut Waiting,
    ) -> Result<Queued> {
        let read = std::cell::RefCell::new(None);
        let may_take = std::mem::take(&mut waiting.turn_due) || waiting.broken || !waiting.watched;
        waiting.deferred = false;
        let taken = self.update_seen(|ds, existing, now| {
            read.replace(existing.cloned());
            let decision = acquire(existing, &self.node, now, self.ttl, self.concurrency, meta.clone());
            if let Some(why) = pause::holds_back(ds.annotation(pause::ANNOTATION), &decision) {
                return Ok(Step::Done(Queued::Paused(why)));
            }
            // decided on this same read: the write below is conditional on it
            let guard_wait = self.guard.as_ref().and_then(|g| super::quorum::check(existing, &self.node, now, g));
            match (decision, guard_wait) {
                (Decision::AlreadyHeld(meta), _) => {
                    let entries = existing.map_or(&[][..], LockValue::entries);
                    let mine =
                        entries.iter().find(|e| e.node_id == self.node && !e.expired(now) && e.broken_by().is_none());
                    let key = mine.map_or_else(|| (self.node.clone(), now), super::stale::key);
                    Ok(Step::Done(Queued::Taken(Taken::Acquired(Held { meta, key }))))
                }
                (Decision::HeldBy(holders), _) => {
                    let entries = existing.map(|v| v.entries().to_vec()).unwrap_or_default();
                    Ok(Step::Done(Queued::Taken(Taken::Full { holders, entries })))
                }
                // The guard first: a control-plane node held back does not
                // defer to the next in line (it is woken when the other
                // control-plane holder leaves, see `slot_free`).
                (Decision::Acquired(_), Some(wait)) => Ok(Step::Done(Queued::Guarded(wait))),
                (Decision::Acquired(_), None) if !may_take => Ok(Step::Done(Queued::Deferred)),
                (Decision::Acquired(mut v), None) => {
                    let mine = v.entries_mut().iter_mut().find(|e| e.node_id == self.node && e.broken_by().is_none());
                    if let Some(e) = mine {
                        if let (Some(m), Some(Ok(t))) = (
                            e.metadata.as_object_mut(),
                            waiting_since.map(|t| t.format(&time::format_description::well_known::Rfc3339)),
                        ) {
                            m.insert(turn::WAITING_SINCE.into(), Value::String(t));
                        }
                        if self.guard.is_some() {
                            super::quorum::mark(e);
                        }
                    }
                    let held =
                        self.held_in(&v).unwrap_or_else(|| Held { meta: meta.clone(), key: (self.node.clone(), now) });
                    Ok(Step::Write(Some(v.to_annotation()), Queued::Taken(Taken::Acquired(held))))
                }
            }
        });
        waiting.saw(read.into_inner().as_ref(), None);
        let taken = taken?;
        match &taken {
            Queued::Taken(Taken::Acquired(_)) => log::info!("{}: {} holds the lock", self.what(), self.node),
            Queued::Taken(Taken::Full { holders, .. }) => {
                log::info!("{}: lock held by {}", self.what(), crate::names::summary(holders))
            }
            // (the agent says so, with the node's status)
            Queued::Paused(why) => {
                log::debug!("{}: reboots are paused by {} on it: {why}", self.what(), pause::ANNOTATION)
            }
            Queued::Guarded(wait) => {
                log::info!("{}: a slot is free, but {} may not take it: {}", self.what(), self.node, wait.reason())
            }
            Queued::Deferred => {
                waiting.deferred = true;
                log::info!(
                    "{}: a slot is free: waiting for this node's turn (nodes waiting longer go first)",
                    self.what()
                );
            }
        }
        Ok(taken)
    }

    /// After a check found the lock full: block until it is this node's turn
    /// at a free slot (see [`turn`]), `max_wait` passes or `stop()`. The watch
    /// stays open in `waiting` for the next wait. `since`: when this node
    /// started waiting. An error means the watch could not be used (the
    /// caller falls back to its period).
    pub fn wait_for_turn(
        &self,
        waiting: &mut Waiting,
        since: OffsetDateTime,
        period: Duration,
        max_wait: Duration,
        stop: &dyn Fn() -> bool,
    ) -> Result<Wake> {
        let cursor = std::mem::take(&mut waiting.cursor);
        let mut watch = Watch::daemonset(self.client, &self.namespace, &self.name).resume(cursor);
        let woken = self.turn_loop(&mut watch, waiting, since, period, max_wait, stop);
        waiting.cursor = watch.into_cursor();
        waiting.watched |= woken.is_ok();
        woken
    }

    fn turn_loop(
        &self,
        watch: &mut Watch<'_>,
        waiting: &mut Waiting,
        since: OffsetDateTime,
        period: Duration,
        max_wait: Duration,
        stop: &dyn Fn() -> bool,
    ) -> Result<Wake> {
        let end = Instant::now() + max_wait;
        // The check just found the lock full (wait for an event saying
        // otherwise), or a free slot it left to the next in line.
        let mut act_at = std::mem::take(&mut waiting.deferred).then(|| {
            let wait = turn::delay(
                since,
                waiting.reference(since, period),
                waiting.fleet.unwrap_or(turn::DEFAULT_FLEET),
                period,
                unit_random(),
            );
            Instant::now() + wait
        });
        loop {
            let next = watch.next(act_at.unwrap_or(end).min(end), stop)?;
            let objects = match next {
                Next::Stopped => return Ok(Wake::Stopped),
                Next::Deadline if act_at.is_some_and(|t| Instant::now() >= t) => {
                    let at = |t: Option<OffsetDateTime>| {
                        t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                            .unwrap_or_else(|| "unknown".into())
                    };
                    log::info!(
                        "the reboot lock has a free slot and it is this node's turn (waiting since {}, the queue served to {}): checking again",
                        at(Some(since)),
                        at(waiting.reference(since, period))
                    );
                    return Ok(Wake::Free);
                }
                Next::Deadline => return Ok(Wake::TimedOut),
                Next::Event(Event::Added(o) | Event::Modified(o)) => vec![o],
                Next::Event(Event::Relisted(items)) => items,
                // Without its DaemonSet there is no lock to take: wait for it
                // to be created again (its ADDED event), not for the period.
                Next::Event(Event::Deleted(_)) => vec![],
            };
            let Some(ds) = objects.first() else {
                act_at = None;
                continue;
            };
            let existing = match LockValue::from_optional(annotation(ds, &self.annotation)) {
                Ok(v) => v,
                // corrupt: acquisition would refuse it too; the periodic check reports it
                Err(_) => {
                    act_at = None;
                    continue;
                }
            };
            waiting.saw(existing.as_ref(), Some(ds));
            let paused = pause::paused(annotation(ds, pause::ANNOTATION)).is_some();
            act_at = match !paused && slot_free(existing.as_ref(), self, self.clock.now()) {
                // keep an earlier deadline: a second free event is no news
                true => act_at.or_else(|| {
                    let fleet = waiting.fleet.unwrap_or(turn::DEFAULT_FLEET);
                    let wait = turn::delay(since, waiting.reference(since, period), fleet, period, unit_random());
                    log::debug!("the reboot lock has a free slot: checking in {wait:?} unless it is taken first");
                    Some(Instant::now() + wait)
                }),
                false => None,
            };
        }
    }

    /// Block until a slot looks free, `max_wait` passes or `stop()`. An error
    /// means the watch could not be used (the caller falls back to its period).
    #[cfg(any(test, feature = "test-support"))]
    pub fn wait_for_free_slot(&self, max_wait: Duration, stop: &dyn Fn() -> bool) -> Result<Wake> {
        self.wait_until(max_wait, stop, &|existing, now| slot_free(existing, self, now))
    }

    /// Block until one of `entries` has left the lock (released, expired or
    /// broken), `max_wait` passes or `stop()`.
    pub fn wait_for_release(&self, entries: &[EntryKey], max_wait: Duration, stop: &dyn Fn() -> bool) -> Result<Wake> {
        self.wait_until(max_wait, stop, &|existing, now| {
            let live = existing.map_or(&[][..], LockValue::entries).iter().filter(|e| !e.expired(now)).map(key);
            live.filter(|k| entries.contains(k)).count() < entries.len()
        })
    }

    fn wait_until(
        &self,
        max_wait: Duration,
        stop: &dyn Fn() -> bool,
        done: &dyn Fn(Option<&LockValue>, OffsetDateTime) -> bool,
    ) -> Result<Wake> {
        let mut watch = Watch::daemonset(self.client, &self.namespace, &self.name);
        let items = watch.list()?;
        if self.done_in(&items, done) {
            return Ok(Wake::Free);
        }
        let ended = watch.run(max_wait, stop, |event| {
            let free = match event {
                Event::Added(o) | Event::Modified(o) => self.done_in(&[o], done),
                Event::Relisted(items) => self.done_in(&items, done),
                // Without its DaemonSet there is no lock to take: wait for it
                // to be created again (its ADDED event), not for the period.
                Event::Deleted(_) => false,
            };
            if free {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(match ended {
            Ended::Done => Wake::Free,
            Ended::TimedOut => Wake::TimedOut,
            Ended::Stopped => Wake::Stopped,
        })
    }

    /// Whether the lock in the first of `items` (the DaemonSet, if it exists)
    /// is what the wait is for. A corrupt annotation is not: acquisition would
    /// refuse it too, and the periodic check reports it.
    fn done_in(&self, items: &[Value], done: &dyn Fn(Option<&LockValue>, OffsetDateTime) -> bool) -> bool {
        // No DaemonSet (deleted, to be created again): nothing to take yet.
        let Some(ds) = items.first() else {
            return false;
        };
        let raw = ds
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(&self.annotation))
            .and_then(Value::as_str);
        match LockValue::from_optional(raw) {
            Ok(existing) => done(existing.as_ref(), self.clock.now()),
            Err(_) => false,
        }
    }
}

/// A number in [0, 1) (the spread of waiters with no queue seen, ties).
fn unit_random() -> f64 {
    const SCALE: u64 = 1 << 30;
    crate::clock::jitter(Duration::from_nanos(SCALE)).as_nanos() as f64 / SCALE as f64
}

/// One annotation of a DaemonSet as a watch event carries it.
fn annotation<'v>(ds: &'v Value, key: &str) -> Option<&'v str> {
    ds.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get(key)).and_then(Value::as_str)
}

/// A slot this node could take: for a guarded control-plane node, also no
/// other control-plane holder (readiness is not in the lock: the loop looks
/// again for that on its own).
fn slot_free(existing: Option<&LockValue>, lock: &DaemonSetLock<'_>, now: OffsetDateTime) -> bool {
    let guard_allows =
        lock.guard.as_ref().is_none_or(|g| super::quorum::other_holder(existing, &lock.node, now, g).is_none());
    guard_allows
        && !matches!(
            acquire(existing, &lock.node, now, lock.ttl, lock.concurrency, LockMeta::default()),
            Decision::HeldBy(_)
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn value(entries: &[(&str, Option<&str>, &str)]) -> LockValue {
        let locks: Vec<String> = entries
            .iter()
            .map(|(n, since, created)| {
                let meta = since.map_or(String::new(), |s| format!(r#","metadata":{{"waitingSince":"{s}"}}"#));
                format!(r#"{{"nodeID":"{n}"{meta},"created":"{created}","TTL":0}}"#)
            })
            .collect();
        LockValue::from_annotation(&format!(r#"{{"maxOwners":3,"locks":[{}]}}"#, locks.join(","))).unwrap()
    }

    #[test]
    fn the_queue_is_served_as_far_as_the_latest_holder_that_waited() {
        let mut w = Waiting::default();
        let p = Duration::from_secs(60);
        let me = datetime!(2024-03-01 03:00:30 UTC);
        assert_eq!(w.reference(me, p), None);
        // a hand-written lock from year 1 says nothing
        w.saw(Some(&LockValue::from_annotation(r#"{"nodeID":"manual"}"#).unwrap()), None);
        assert_eq!(w.reference(me, p), None);
        // holders that never waited: counted from the first that took the lock
        w.saw(Some(&value(&[("a", None, "2024-03-01T03:00:05Z"), ("b", None, "2024-03-01T03:00:00Z")])), None);
        w.saw(Some(&value(&[("e", None, "2024-03-01T03:00:20Z")])), None);
        assert_eq!(w.reference(me, p), Some(datetime!(2024-03-01 03:00:00 UTC)));
        // one that waited since 03:00:10 was served: the reference from now on ...
        w.saw(Some(&value(&[("c", Some("2024-03-01T03:00:10Z"), "2024-03-01T03:01:00Z")])), None);
        assert_eq!(w.reference(me, p), Some(datetime!(2024-03-01 03:00:10 UTC)));
        // ... even when a node takes a free slot at its first check later on
        // (or every waiter would be at the front)
        w.saw(Some(&value(&[("d", None, "2024-03-01T03:02:00Z")])), None);
        assert_eq!(w.reference(me, p), Some(datetime!(2024-03-01 03:00:10 UTC)));
        // the fleet's size from the DaemonSet's status
        let ds = serde_json::json!({"status": {"desiredNumberScheduled": 1000}});
        w.saw(None, Some(&ds));
        assert_eq!(w.fleet, Some(1000));
        let d = w.distance(datetime!(2024-03-01 03:00:10.12 UTC), Duration::from_secs(60)).unwrap();
        assert!((d - 2.0).abs() < 1e-6, "{d}");
    }
}
