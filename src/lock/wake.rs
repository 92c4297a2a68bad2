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

use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::Value;

use time::OffsetDateTime;

use super::stale::{key, EntryKey};
use super::{acquire, DaemonSetLock, Decision, LockMeta, LockValue};
use crate::error::Result;
use crate::kube::watch::{Ended, Event, Watch};

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

impl DaemonSetLock<'_> {
    /// Block until a slot looks free, `max_wait` passes or `stop()`. An error
    /// means the watch could not be used (the caller falls back to its period).
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

    fn wait_until(&self, max_wait: Duration, stop: &dyn Fn() -> bool, done: &dyn Fn(Option<&LockValue>, OffsetDateTime) -> bool) -> Result<Wake> {
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
            if free { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
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
        let raw = ds.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get(&self.annotation)).and_then(Value::as_str);
        match LockValue::from_optional(raw) {
            Ok(existing) => done(existing.as_ref(), self.clock.now()),
            Err(_) => false,
        }
    }
}

fn slot_free(existing: Option<&LockValue>, lock: &DaemonSetLock<'_>, now: OffsetDateTime) -> bool {
    !matches!(acquire(existing, &lock.node, now, lock.ttl, lock.concurrency, LockMeta::default()), Decision::HeldBy(_))
}
