//! The state every thread shares: the store, faults, the request log, the
//! accepted token and the bookkeeping of the controllers, under one mutex, with a
//! condition variable that wakes watches after each change.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fault::Fault;
use crate::store::{Key, Store};

/// One request as the server saw it, and the status it answered (0: no answer).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// raw query string, without `?`
    pub query: String,
    pub content_type: String,
    pub body: String,
    pub status: u16,
    /// When the request was answered, since the server started (zero where
    /// unknown, e.g. records read from a real server's audit log).
    pub at: Duration,
}

pub struct State {
    pub store: Store,
    pub faults: Vec<Fault>,
    pub requests: Vec<RequestRecord>,
    pub token: String,
    pub pdb_violations: u64,
    /// when a pod was first seen scheduled but not yet running
    pub scheduled_at: HashMap<Key, Instant>,
    /// when a gracefully deleted pod goes away
    pub deadlines: HashMap<Key, Instant>,
    pub pod_start_delay: Duration,
    /// run the workload controllers and the scheduler (not only pod lifecycles)
    pub controllers: bool,
}

pub struct Shared {
    pub state: Mutex<State>,
    /// Notified after every change of the store (all resources).
    pub changed: Condvar,
    /// One per resource (the index in `resources::RESOURCES`): a watch waits on
    /// its own resource's, so 1,000 watches of one DaemonSet do not all wake
    /// for every change of a pod or a node.
    pub changed_res: Vec<Condvar>,
    pub stop: AtomicBool,
    /// When the server started (request records are timed from it).
    pub started: Instant,
}

impl Shared {
    pub fn new(token: &str, pod_start_delay: Duration, controllers: bool) -> Shared {
        Shared {
            state: Mutex::new(State {
                store: Store::new(),
                faults: Vec::new(),
                requests: Vec::new(),
                token: token.to_string(),
                pdb_violations: 0,
                scheduled_at: HashMap::new(),
                deadlines: HashMap::new(),
                pod_start_delay,
                controllers,
            }),
            changed: Condvar::new(),
            changed_res: crate::resources::RESOURCES.iter().map(|_| Condvar::new()).collect(),
            stop: AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// Wake the watches of what changed since resourceVersion `before`.
    pub fn notify_since(&self, st: &State, before: u64) {
        if st.store.resource_version() == before {
            return;
        }
        let mut woken = vec![false; self.changed_res.len()];
        for ch in st.store.changes_since(before).into_iter().flatten() {
            if let Some(i) = crate::resources::index_of(&ch.res) {
                woken[i] = true;
            }
        }
        for (cv, _) in self.changed_res.iter().zip(woken).filter(|(_, w)| *w) {
            cv.notify_all();
        }
        self.changed.notify_all();
    }

    /// Wake every watch (a change made outside a request, e.g. by a test).
    pub fn notify_all(&self) {
        self.changed_res.iter().for_each(Condvar::notify_all);
        self.changed.notify_all();
    }

    /// The state; a panic in another thread (a test assertion) does not poison it for us.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
