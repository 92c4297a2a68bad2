//! The fake host: a `FakeHost` that is both the host and the clock. Time only
//! moves when the agent sleeps: nothing here sleeps for real.
//!
//! `Agent::check` returns after the reboot command ([`Flow::Rebooting`],
//! which [`run_check`] reports as [`Ended::WaitingForReboot`]). A whole loop
//! ends the way a real one does: the fake's clock says "stopped" once the
//! reboot command ran ([`run_loop_until_reboot`]: the shutdown arriving), or
//! once the agent slept [`SLEEP_LIMIT`] times (a retry loop that would not
//! end: the test sees it, rather than hangs). No panic leaves the loop.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kured::agent::{Agent, Flow};
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

pub const SLEEP_LIMIT: usize = 200;

/// Host and clock in one: a settable sentinel, a recorded reboot, fake time.
pub struct FakeHost {
    required: Mutex<Result<bool, String>>,
    reboot_result: Mutex<RebootResult>,
    reboots: AtomicUsize,
    /// Reboot commands that worked (or may have): the machine goes down.
    going_down: AtomicUsize,
    /// Stop once a reboot command worked (see the module comment).
    stop_on_reboot: AtomicBool,
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
            going_down: AtomicUsize::new(0),
            stop_on_reboot: AtomicBool::new(false),
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
        let result = *self.reboot_result.lock().unwrap();
        if result != RebootResult::CommandFailed {
            self.going_down.fetch_add(1, Ordering::SeqCst);
        }
        match result {
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
        // As the daemon's clock: once stopped, waits return at once.
        if self.stopped() {
            return;
        }
        let mut sleeps = self.sleeps.lock().unwrap();
        if sleeps.len() >= SLEEP_LIMIT {
            return;
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
    fn stopped(&self) -> bool {
        let rebooted = self.stop_on_reboot.load(Ordering::SeqCst) && self.going_down.load(Ordering::SeqCst) > 0;
        rebooted || self.sleeps.lock().unwrap().len() >= SLEEP_LIMIT
    }
}

/// How a `check()` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Returned,
    WaitingForReboot,
}

pub fn run_check(agent: &mut Agent<'_>) -> Ended {
    match agent.check() {
        Flow::Rebooting => Ended::WaitingForReboot,
        Flow::Continue | Flow::LockFull | Flow::Exit => Ended::Returned,
    }
}

/// `recover()`, or Err when it was still retrying after [`SLEEP_LIMIT`] sleeps.
pub fn run_recover(agent: &mut Agent<'_>, host: &FakeHost) -> Result<(), ()> {
    agent.recover();
    match host.stopped() {
        true => Err(()),
        false => Ok(()),
    }
}

/// `run_loop()` until the reboot command ran (true), or false when it kept
/// sleeping without one past [`SLEEP_LIMIT`] sleeps.
pub fn run_loop_until_reboot(agent: &mut Agent<'_>, host: &FakeHost) -> bool {
    host.stop_on_reboot.store(true, Ordering::SeqCst);
    agent.run_loop();
    host.reboots() > 0
}
