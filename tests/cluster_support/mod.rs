//! Shared by the integration tests: a client for the fake API server
//! (trusting its test CA through the service-account code path) and a clock the
//! test controls.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use fakeapi::FakeApiServer;
use kured::clock::Clock;
use kured::kube::{Client, KubeConfig};
use time::OffsetDateTime;

/// A server with two Ready nodes, n1 and n2.
pub fn cluster() -> FakeApiServer {
    let api = FakeApiServer::start();
    for n in ["n1", "n2"] {
        api.create(serde_json::json!({"apiVersion":"v1","kind":"Node","metadata":{"name":n}}));
    }
    api
}

/// A fresh directory for one client's service-account files. A client re-reads
/// its token for as long as it lives, so the directory cannot go with a guard:
/// all of them sit under one directory per test process, removed when the
/// process exits (the test harness ends with `exit`, which runs `atexit`).
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = process_root().join(format!("{tag}-{}", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn process_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        extern "C" fn remove_root() {
            if let Some(root) = ROOT.get() {
                let _ = std::fs::remove_dir_all(root);
            }
        }
        let root = std::env::temp_dir().join(format!("kured-tests-{}", std::process::id()));
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { libc::atexit(remove_root) };
        root
    })
    .clone()
}

pub fn client(api: &FakeApiServer) -> Client {
    let dir = temp_dir("sa");
    api.write_service_account(&dir, "kube-system").unwrap();
    Client::new(KubeConfig {
        base_url: api.url().to_string(),
        token_path: dir.join("token").to_string_lossy().into_owned(),
        ca_path: dir.join("ca.crt").to_string_lossy().into_owned(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
    })
    .unwrap()
}

/// Time that moves only when told (or when slept through).
pub struct FakeClock(Mutex<OffsetDateTime>);

impl FakeClock {
    pub fn at(t: OffsetDateTime) -> FakeClock {
        FakeClock(Mutex::new(t))
    }
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        self.advance(d)
    }
}

