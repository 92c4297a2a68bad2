//! The fake host: a `FakeHost` that is both the host and the clock (so "reboot
//! requested" and "waiting for the machine to go down" are one state).
//!
//! After a successful reboot `Agent::check` waits forever; the fake's `sleep`
//! unwinds with the [`RebootWait`] marker once a reboot was requested, and
//! [`run_check`] turns that into [`Ended::WaitingForReboot`]. A retry loop that
//! never ends unwinds with [`StillRetrying`] instead of hanging the test. Time
//! only moves when the agent sleeps: nothing here sleeps for real.
#![allow(dead_code)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use kured::agent::Agent;
use kured::clock::Clock;
use kured::host::Host;
use kured::Error;
use time::macros::datetime;
use time::OffsetDateTime;

/// A Wednesday, midday UTC: inside the default window.
pub const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
/// What the next `reboot()` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootResult {
    Ok,
    CommandFailed,
    Uncertain,
}

/// The panic payload that ends the endless "waiting for the reboot" loop.
pub struct RebootWait;

/// The panic payload when the agent slept more than [`SLEEP_LIMIT`] times: a
/// retry loop that does not end (a test would otherwise hang).
pub struct StillRetrying;

pub const SLEEP_LIMIT: usize = 200;

/// Host and clock in one: a settable sentinel, a recorded reboot, fake time.
pub struct FakeHost {
    required: Mutex<Result<bool, String>>,
    reboot_result: Mutex<RebootResult>,
    reboots: AtomicUsize,
    now: Mutex<OffsetDateTime>,
    sleeps: Mutex<Vec<Duration>>,
    /// Called after each sleep with the new time: the world changing while the
    /// agent waits (a lock entry broken, a Node deleted mid-drain).
    on_sleep: Mutex<Option<OnSleep>>,
}

type OnSleep = Box<dyn FnMut(OffsetDateTime) + Send>;

impl FakeHost {
    pub fn new(required: bool) -> FakeHost {
        FakeHost {
            required: Mutex::new(Ok(required)),
            reboot_result: Mutex::new(RebootResult::Ok),
            reboots: AtomicUsize::new(0),
            now: Mutex::new(NOW),
            sleeps: Mutex::new(Vec::new()),
            on_sleep: Mutex::new(None),
        }
    }
    /// Run `f` after every sleep of the agent, with the fake time then.
    pub fn on_sleep(&self, f: impl FnMut(OffsetDateTime) + Send + 'static) {
        *self.on_sleep.lock().unwrap() = Some(Box::new(f));
    }
    pub fn set_required(&self, r: Result<bool, &str>) {
        *self.required.lock().unwrap() = r.map_err(str::to_string);
    }
    pub fn set_reboot_result(&self, r: RebootResult) {
        *self.reboot_result.lock().unwrap() = r;
    }
    /// Let time pass without the agent sleeping.
    pub fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }
    pub fn reboots(&self) -> usize {
        self.reboots.load(Ordering::SeqCst)
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Host for FakeHost {
    fn reboot_required(&self) -> kured::Result<bool> {
        self.required.lock().unwrap().clone().map_err(|e| Error::CommandFailed {
            command: "fake sentinel".into(),
            status: e,
            stdout: String::new(),
            stderr: String::new(),
        })
    }
    fn reboot(&self) -> kured::Result<()> {
        self.reboots.fetch_add(1, Ordering::SeqCst);
        let command = "fake reboot".to_string();
        match *self.reboot_result.lock().unwrap() {
            RebootResult::Ok => Ok(()),
            RebootResult::CommandFailed => Err(Error::CommandFailed {
                command,
                status: "exit status: 1".into(),
                stdout: String::new(),
                stderr: "no".into(),
            }),
            RebootResult::Uncertain => Err(Error::RebootUncertain { command, status: "timed out".into() }),
        }
    }
}

impl Clock for FakeHost {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        // Once the reboot was requested the only thing left is to wait for the
        // machine to go down: end the test's check there.
        if self.reboots() > 0 {
            panic::panic_any(RebootWait);
        }
        let mut sleeps = self.sleeps.lock().unwrap();
        if sleeps.len() >= SLEEP_LIMIT {
            drop(sleeps);
            panic::panic_any(StillRetrying);
        }
        sleeps.push(d);
        drop(sleeps);
        let now = {
            let mut now = self.now.lock().unwrap();
            *now += d;
            *now
        };
        if let Some(f) = self.on_sleep.lock().unwrap().as_mut() {
            f(now);
        }
    }
}

/// How a `check()` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Returned,
    WaitingForReboot,
}

pub fn run_check(agent: &Agent<'_>) -> Ended {
    match catch_markers(|| agent.check()) {
        Ok(_) => Ended::Returned,
        Err(Marker::RebootWait) => Ended::WaitingForReboot,
        Err(Marker::StillRetrying) => panic!("check() kept sleeping: stuck in a loop"),
    }
}

/// `recover()`, or Err when it was still retrying after [`SLEEP_LIMIT`] sleeps.
pub fn run_recover(agent: &Agent<'_>) -> Result<(), ()> {
    match catch_markers(|| agent.recover()) {
        Ok(()) => Ok(()),
        Err(Marker::StillRetrying) => Err(()),
        Err(Marker::RebootWait) => panic!("recover() waited for a reboot"),
    }
}

/// `run_loop()` until the reboot was requested (true), or false when it kept
/// sleeping without one past [`SLEEP_LIMIT`] sleeps.
pub fn run_loop_until_reboot(agent: &Agent<'_>) -> bool {
    match catch_markers(|| agent.run_loop()) {
        Ok(()) | Err(Marker::StillRetrying) => false,
        Err(Marker::RebootWait) => true,
    }
}

pub enum Marker {
    RebootWait,
    StillRetrying,
}

fn catch_markers<T>(f: impl FnOnce() -> T) -> Result<T, Marker> {
    quiet_markers();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(p) if p.is::<RebootWait>() => Err(Marker::RebootWait),
        Err(p) if p.is::<StillRetrying>() => Err(Marker::StillRetrying),
        Err(p) => panic::resume_unwind(p),
    }
}

/// The marker unwinds are expected: keep them out of the test output.
fn quiet_markers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<RebootWait>() && !info.payload().is::<StillRetrying>() {
                default(info)
            }
        }));
    });
}
