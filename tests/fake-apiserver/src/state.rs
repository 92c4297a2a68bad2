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
    pub changed: Condvar,
    pub stop: AtomicBool,
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
            stop: AtomicBool::new(false),
        }
    }

    /// The state; a panic in another thread (a test assertion) does not poison it for us.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
