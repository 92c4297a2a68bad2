//! Pure lock decisions: given the current annotation value, who we are and the
//! time, what to write. No I/O; `now` comes in as an argument.
//!
//! Rules: an expired entry (TTL > 0 and `now - created >= TTL`, upstream's
//! `ttlExpired`) is free; another node's live entry is never dropped; live
//! holders count against our concurrency whichever format they were written
//! in, so a fleet mixing concurrency settings (or upstream and us) never exceeds
//! the smaller limit it observes; a multi lock's `maxOwners` counts as one.

use std::time::Duration;

use time::OffsetDateTime;

use super::value::{LockEntry, LockMeta, LockValue};
use crate::error::{Error, Result};

/// The outcome of trying to take the lock.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// We hold a live entry already (e.g. we took it, then crashed before
    /// rebooting); its recorded metadata is the original one.
    AlreadyHeld(LockMeta),
    /// Write this value to take the lock.
    Acquired(LockValue),
    /// Full: these nodes hold live entries.
    HeldBy(Vec<String>),
}

pub fn acquire(
    existing: Option<&LockValue>,
    me: &str,
    now: OffsetDateTime,
    ttl: Option<Duration>,
    concurrency: u32,
    meta: LockMeta,
) -> Decision {
    let entries = existing.map_or(&[][..], LockValue::entries);
    if let Some(mine) = entries.iter().find(|e| e.node_id == me && !e.expired(now) && e.broken_by().is_none()) {
        return Decision::AlreadyHeld(mine.meta());
    }
    // Our own expired entry is dropped and taken afresh: others already count it
    // as free, so keeping it would let us hold a slot nobody sees. So is our own
    // entry broken as stale (`stale`): its grace is for us to stop, and we have.
    let others: Vec<LockEntry> = entries.iter().filter(|e| e.node_id != me && !e.expired(now)).cloned().collect();
    // A multi lock written by another pod carries its maxOwners: honour the
    // smaller limit, so pods configured differently never exceed either.
    let theirs = match existing {
        Some(LockValue::Multi { max_owners, .. }) if *max_owners >= 1 => Some(*max_owners),
        _ => None,
    };
    let limit = theirs.map_or(concurrency, |m| concurrency.min(u32::try_from(m).unwrap_or(u32::MAX))).max(1);
    if others.len() >= limit as usize {
        return Decision::HeldBy(others.into_iter().map(|e| e.node_id).collect());
    }
    // Retaking our own expired entry keeps what it recorded: by now the node may
    // be cordoned by us, and that must not pass for an operator's cordon.
    // The boot ID and streak are today's.
    let meta = match entries.iter().find(|e| e.node_id == me) {
        Some(old) => LockMeta { unschedulable: old.meta().unschedulable, ..meta },
        None => meta,
    };
    let mine = LockEntry::new(me, meta, now, ttl);
    if concurrency.max(1) == 1 {
        // Only reachable with no live other holder: nothing is lost.
        return Decision::Acquired(LockValue::Single(mine));
    }
    let mut locks = others;
    locks.push(mine);
    // Their maxOwners is theirs to change: keep it when it is the smaller.
    let max_owners = theirs.map_or(i64::from(concurrency), |m| m.min(i64::from(concurrency)));
    Decision::Acquired(LockValue::Multi { max_owners, locks })
}

/// The value to write after releasing our entry: `None` = remove the
/// annotation (single format, or the last multi entry). Works on the format
/// found, whatever our own concurrency. Not holding it is an error naming the
/// holders, as upstream ("not lock holder").
pub fn release(existing: Option<&LockValue>, me: &str) -> Result<Option<LockValue>> {
    match existing {
        None => Err(Error::Lock(format!("{me} does not hold the lock: nobody does"))),
        Some(LockValue::Single(e)) if e.node_id == me => Ok(None),
        Some(LockValue::Single(e)) => Err(Error::Lock(format!("{me} does not hold the lock: {} does", e.node_id))),
        Some(LockValue::Multi { max_owners, locks }) => {
            let Some(i) = locks.iter().position(|e| e.node_id == me) else {
                return Err(Error::Lock(format!("{me} does not hold the lock: {}", holders(locks))));
            };
            let mut locks = locks.clone();
            locks.remove(i);
            if locks.is_empty() {
                Ok(None)
            } else {
                Ok(Some(LockValue::Multi { max_owners: *max_owners, locks }))
            }
        }
    }
}

/// Our entry's metadata if we have one. Unlike `acquire`, an expired entry of
/// ours still counts: after a reboot that outlasted the TTL the node must still
/// be uncordoned and the entry released (upstream forgets, leaving it cordoned).
/// This holds only while nobody took the expired slot over: once another node
/// acquired it our entry is gone, and so is the record that the cordon is ours
/// (as upstream; the README asks for a --lock-ttl longer than drain + reboot).
pub fn holding(existing: Option<&LockValue>, me: &str) -> Option<LockMeta> {
    existing?.entries().iter().find(|e| e.node_id == me).map(LockEntry::meta)
}

/// Where the entry a holder wrote (`mine`: its name and `created`) stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// There, live and unbroken: the holder may go on.
    Held,
    /// There, but its `--lock-ttl` ran out: any pod may take the slot, so it
    /// must be renewed (a write that proves it is still ours) before going on.
    Expired,
    /// Broken as stale by the node named (its Node looked gone).
    Broken(String),
    /// Not there: released by someone else, overwritten after it expired, or
    /// removed by hand.
    Gone,
}

pub fn standing(existing: Option<&LockValue>, mine: &super::stale::EntryKey, now: OffsetDateTime) -> Standing {
    let entries = existing.map_or(&[][..], LockValue::entries);
    match entries.iter().find(|e| e.node_id == mine.0 && e.created == mine.1) {
        None => Standing::Gone,
        Some(e) => match e.broken_by() {
            Some(by) => Standing::Broken(by.to_string()),
            None if e.expired(now) => Standing::Expired,
            None => Standing::Held,
        },
    }
}

/// The lock without that exact entry (`None` inside = remove the annotation),
/// or `None` if it is not there (any more).
pub fn without(existing: Option<&LockValue>, mine: &super::stale::EntryKey) -> Option<Option<LockValue>> {
    let matches = |e: &LockEntry| e.node_id == mine.0 && e.created == mine.1;
    match existing? {
        LockValue::Single(e) if matches(e) => Some(None),
        LockValue::Multi { max_owners, locks } if locks.iter().any(matches) => {
            let locks: Vec<LockEntry> = locks.iter().filter(|e| !matches(e)).cloned().collect();
            Some((!locks.is_empty()).then_some(LockValue::Multi { max_owners: *max_owners, locks }))
        }
        _ => None,
    }
}

/// When the next live entry with a TTL expires (a slot may then be free with no
/// write that a watch would see), if any does.
pub fn next_expiry(entries: &[LockEntry], now: OffsetDateTime) -> Option<Duration> {
    entries
        .iter()
        .filter(|e| e.ttl_ns > 0 && !e.expired(now))
        .filter_map(|e| Duration::try_from(e.created + Duration::from_nanos(e.ttl_ns.unsigned_abs()) - now).ok())
        .min()
}

/// The live entries of nodes that took the lock before `me`, earliest first:
/// ordered by their `created` time, then by name, so that every reader of the
/// same value agrees on the order whatever its own clock says. Only entries a
/// node wrote when it took the lock count (they carry `created` and a name):
/// a hand-written lock such as `{"nodeID":"manual"}` drains nothing and is
/// never released by a node, so nobody waits on it. Empty when `me` holds no
/// live entry. A drain stalled by PodDisruptionBudgets gives way to these (see
/// `--drain-stall-timeout`): the earliest holder never does, so one always goes on.
pub fn earlier_holders<'v>(existing: Option<&'v LockValue>, me: &str, now: OffsetDateTime) -> Vec<&'v LockEntry> {
    let mut live: Vec<&LockEntry> = existing
        .map_or(&[][..], LockValue::entries)
        .iter()
        .filter(|e| !e.expired(now) && (e.node_id == me || super::stale::breakable(e)))
        .collect();
    live.sort_by(|a, b| (a.created, &a.node_id).cmp(&(b.created, &b.node_id)));
    match live.iter().position(|e| e.node_id == me) {
        Some(i) => live[..i].to_vec(),
        None => vec![],
    }
}

fn holders(locks: &[LockEntry]) -> String {
    if locks.is_empty() {
        return "nobody does".to_string();
    }
    let names: Vec<&str> = locks.iter().map(|e| e.node_id.as_str()).collect();
    format!("held by {}", crate::names::summary(&names))
}
