//! The cluster-wide reboot lock in an annotation on kured's own DaemonSet,
//! compatible with upstream kured's `daemonsetlock` (see `value` for the format
//! and `decide` for the pure rules).
//!
//! Every change is a read-modify-write of the whole DaemonSet with PUT: the
//! resourceVersion we read makes the API server refuse (409) a write based on a
//! stale read, so two nodes can never both take the last slot. On 409 we re-read
//! and decide again, a bounded number of times.
//!
//! A corrupt annotation is an error naming it; we never overwrite it, because
//! it may be a lock some other writer holds that we fail to understand. The agent
//! logs the error and tries again later; an operator fixes or deletes the
//! annotation (`kubectl -n kube-system annotate ds kured weave.works/kured-node-lock-`).

mod decide;
pub mod pause;
pub mod quorum;
pub mod stale;
mod value;
pub mod wake;

use std::time::Duration;

pub use decide::{acquire, earlier_holders, holding, next_expiry, release, standing, without, Decision, Standing};
pub use value::{LockEntry, LockMeta, LockValue, GO_ZERO_TIME};

use crate::clock::{jitter, Clock};
use crate::error::{Error, Result};
use crate::kube::{Client, DaemonSet};

/// How many times a write that lost a race (409) is re-read and retried.
const MAX_TRIES: u32 = 10;

/// The result of [`DaemonSetLock::try_acquire`].
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    Acquired(Held),
    /// No free slot: the nodes holding live entries, and every entry as read.
    Full {
        holders: Vec<String>,
        entries: Vec<LockEntry>,
    },
}

/// The entry this node holds: what it recorded, and which entry it is (its
/// `created`), so the holder can tell its own entry from a newer one of the
/// same name, and notice when it was broken or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub meta: LockMeta,
    pub key: stale::EntryKey,
}

/// The lock as seen by one node.
pub struct DaemonSetLock<'a> {
    pub client: &'a Client,
    pub namespace: String,
    pub name: String,
    pub annotation: String,
    pub node: String,
    /// None = our entry never expires
    pub ttl: Option<Duration>,
    /// how many nodes may hold it at once; > 1 writes the multi format
    pub concurrency: u32,
    pub clock: &'a dyn Clock,
    /// Set when this node is a control-plane node under the quorum guard
    /// (see [`quorum`]): a free slot is taken only when the guard allows.
    pub guard: Option<quorum::Guard>,
}

impl<'a> DaemonSetLock<'a> {
    /// The same lock, with the quorum guard of a control-plane node (None: not one).
    pub fn guarded(self, guard: Option<quorum::Guard>) -> DaemonSetLock<'a> {
        DaemonSetLock { guard, ..self }
    }

    /// Take a slot, recording `meta` (cordon, boot ID, reboot streak): which
    /// entry is ours, or when the lock is full the holders and every entry it
    /// held (for the stale-entry check, without a re-read).
    /// Not guarded: the loop takes the lock with `try_acquire_queued`
    /// (`wake`), which applies [`DaemonSetLock::guard`].
    pub fn try_acquire(&self, meta: LockMeta) -> Result<Taken> {
        self.update(|existing, now| {
            match acquire(existing, &self.node, now, self.ttl, self.concurrency, meta.clone()) {
                Decision::AlreadyHeld(meta) => {
                    let entries = existing.map_or(&[][..], LockValue::entries);
                    let mine =
                        entries.iter().find(|e| e.node_id == self.node && !e.expired(now) && e.broken_by().is_none());
                    let key = mine.map_or_else(|| (self.node.clone(), now), stale::key);
                    Ok(Step::Done(Taken::Acquired(Held { meta, key })))
                }
                Decision::HeldBy(holders) => {
                    let entries = existing.map(|v| v.entries().to_vec()).unwrap_or_default();
                    Ok(Step::Done(Taken::Full { holders, entries }))
                }
                Decision::Acquired(v) => {
                    let held =
                        self.held_in(&v).unwrap_or_else(|| Held { meta: meta.clone(), key: (self.node.clone(), now) });
                    Ok(Step::Write(Some(v.to_annotation()), Taken::Acquired(held)))
                }
            }
        })
        .inspect(|a| match a {
            Taken::Acquired(_) => log::info!("{}: {} holds the lock", self.what(), self.node),
            Taken::Full { holders, .. } => {
                log::info!("{}: lock held by {}", self.what(), crate::names::summary(holders))
            }
        })
    }

    /// Is `held` still our entry? A fresh read; an entry whose `--lock-ttl` ran
    /// out is renewed if the lock has room for us (the write, with the
    /// resourceVersion read, proves the slot is ours), which updates `held`.
    /// Anything but [`Standing::Held`] means this node must not go on.
    pub fn confirm(&self, held: &mut Held) -> Result<Standing> {
        let (standing, renewed) = self.update(|existing, now| match standing(existing, &held.key, now) {
            // (a control-plane node renews only while no other one took the
            // lock meanwhile: see `quorum`)
            Standing::Expired
                if self.guard.as_ref().and_then(|g| quorum::other_holder(existing, &self.node, now, g)).is_some() =>
            {
                Ok(Step::Done((Standing::Expired, None)))
            }
            Standing::Expired => {
                match acquire(existing, &self.node, now, self.ttl, self.concurrency, held.meta.clone()) {
                    Decision::Acquired(mut v) => {
                        if self.guard.is_some() {
                            v.entries_mut()
                                .iter_mut()
                                .filter(|e| e.node_id == self.node && e.broken_by().is_none())
                                .for_each(quorum::mark);
                        }
                        let renewed = self.held_in(&v);
                        Ok(Step::Write(Some(v.to_annotation()), (Standing::Held, renewed)))
                    }
                    _ => Ok(Step::Done((Standing::Expired, None))),
                }
            }
            other => Ok(Step::Done((other, None))),
        })?;
        if let Some(r) = renewed {
            log::info!("{}: {}'s entry had expired (--lock-ttl): renewed", self.what(), self.node);
            *held = r;
        }
        Ok(standing)
    }

    fn held_in(&self, v: &LockValue) -> Option<Held> {
        v.entries()
            .iter()
            .find(|e| e.node_id == self.node && e.broken_by().is_none())
            .map(|e| Held { meta: e.meta(), key: stale::key(e) })
    }

    /// Drop our entry. No lock at all is fine (a previous release whose answer
    /// was lost); a lock held only by others is an error.
    pub fn release(&self) -> Result<()> {
        self.update(|existing, _now| {
            if existing.is_none_or(|v| v.entries().is_empty()) {
                return Ok(Step::Done(()));
            }
            let next = release(existing, &self.node)?;
            Ok(Step::Write(next.map(|v| v.to_annotation()), ()))
        })?;
        log::info!("{}: {} released the lock", self.what(), self.node);
        Ok(())
    }

    /// The lock as it is now (None: no annotation).
    pub fn read(&self) -> Result<Option<LockValue>> {
        Ok(self.look()?.0)
    }

    /// The lock as it is now, and the [`pause`] reason the same read carries
    /// (None: not paused).
    pub fn look(&self) -> Result<(Option<LockValue>, Option<String>)> {
        let ds = self.client.get_daemonset(&self.namespace, &self.name)?;
        Ok((self.parse(&ds)?, pause::paused(ds.annotation(pause::ANNOTATION))))
    }

    /// The entries of the nodes that took the lock before us, earliest first
    /// (see [`earlier_holders`]).
    pub fn earlier_holders(&self) -> Result<Vec<stale::EntryKey>> {
        let existing = self.read()?;
        Ok(earlier_holders(existing.as_ref(), &self.node, self.clock.now()).into_iter().map(stale::key).collect())
    }

    /// Break another holder's entry as stale (see [`stale`]), only if it is
    /// still that same entry. True if it was broken by us.
    pub fn break_entry(&self, key: &stale::EntryKey) -> Result<bool> {
        self.update(|existing, now| match stale::break_entry(existing, key, &self.node, now) {
            Ok(next) => Ok(Step::Write(Some(next.to_annotation()), true)),
            Err(()) => Ok(Step::Done(false)),
        })
    }

    /// Drop exactly this entry of ours, if it is still there (broken or not):
    /// a holder that stops lets its slot go. True if it was there.
    pub fn release_entry(&self, key: &stale::EntryKey) -> Result<bool> {
        self.update(|existing, _now| match without(existing, key) {
            Some(next) => Ok(Step::Write(next.map(|v| v.to_annotation()), true)),
            None => Ok(Step::Done(false)),
        })
    }

    /// Remove broken entries whose grace is over. True if any was removed.
    pub fn sweep(&self) -> Result<bool> {
        self.update(|existing, now| match stale::sweep(existing, now) {
            Some(next) => Ok(Step::Write(next.map(|v| v.to_annotation()), true)),
            None => Ok(Step::Done(false)),
        })
    }

    /// Read, decide, write; on a 409 re-read and decide again.
    fn update<T>(&self, decide: impl Fn(Option<&LockValue>, time::OffsetDateTime) -> Result<Step<T>>) -> Result<T> {
        self.update_seen(|_, existing, now| decide(existing, now))
    }

    /// As [`update`](Self::update), the decision also seeing the DaemonSet
    /// read (its [`pause`] annotation).
    fn update_seen<T>(
        &self,
        decide: impl Fn(&DaemonSet, Option<&LockValue>, time::OffsetDateTime) -> Result<Step<T>>,
    ) -> Result<T> {
        let mut backoff = Duration::from_millis(50);
        for attempt in 1..=MAX_TRIES {
            let mut ds = self.client.get_daemonset(&self.namespace, &self.name)?;
            let existing = self.parse(&ds)?;
            let (value, outcome) = match decide(&ds, existing.as_ref(), self.clock.now())? {
                Step::Done(outcome) => return Ok(outcome),
                Step::Write(value, outcome) => (value, outcome),
            };
            ds.set_annotation(&self.annotation, value.as_deref());
            match self.client.replace_daemonset(&ds) {
                Ok(_) => return Ok(outcome),
                Err(e) if e.is_conflict() && attempt < MAX_TRIES => {
                    log::debug!("lock {}: lost a write race (attempt {attempt}), re-reading", self.what());
                    self.clock.sleep(backoff + jitter(backoff));
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Lock(format!("{}: gave up after {MAX_TRIES} conflicting updates", self.what())))
    }

    fn parse(&self, ds: &DaemonSet) -> Result<Option<LockValue>> {
        LockValue::from_optional(ds.annotation(&self.annotation))
            .map_err(|e| Error::Lock(format!("{} is corrupt, leaving it untouched: {e}", self.what())))
    }

    fn what(&self) -> String {
        format!("annotation {} on daemonset {}/{}", self.annotation, self.namespace, self.name)
    }
}

enum Step<T> {
    /// Nothing to write.
    Done(T),
    /// Set (Some) or remove (None) the annotation, then answer T.
    Write(Option<String>, T),
}

#[cfg(test)]
mod tests;
