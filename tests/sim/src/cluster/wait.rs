//! Waiting on the cluster: poll until a condition or an event, within a
//! [`Limit`] counted in kured cycles ([`crate::budget`]). The limit is turned
//! into seconds again at each look, from the period and the first checks
//! measured so far, so a machine that got slower while waiting gives more time.
//! A wait that gives up says so in [`Cluster::report`].

use std::time::{Duration, Instant};

use super::{Cluster, POLL_EVERY};
use crate::budget::{parse_go_duration, Budget, Limit};
use crate::events::{Event, Timed};
use crate::summary::Summary;

impl Cluster {
    /// kured's `--period`, as the daemons were given it (the last one wins).
    pub fn period(&self) -> Duration {
        let last = self.launch.common_args.iter().rev().find_map(|a| a.strip_prefix("--period="));
        last.and_then(parse_go_duration).unwrap_or(Duration::from_secs(1))
    }

    /// What a cycle is expected to take here, as measured so far.
    pub fn budget(&self) -> Budget {
        let period = self.period();
        let measured = self.nodes.iter().filter_map(|n| n.slowest_first_check).max().unwrap_or_default();
        Budget { period, first_check: measured, real_server: self.api.is_real() }
    }

    /// `limit` in seconds, as of now.
    pub fn allows(&self, limit: impl Into<Limit>) -> Duration {
        self.budget().allows(limit.into())
    }

    /// Poll until `done` says so or `limit` (from now) passes; `on_event` sees
    /// each event as it happens. True if `done`.
    pub fn poll_until(
        &mut self,
        limit: impl Into<Limit>,
        mut on_event: impl FnMut(&Timed),
        mut done: impl FnMut(&Cluster) -> bool,
    ) -> bool {
        let limit = limit.into();
        let started = Instant::now();
        loop {
            for e in self.poll() {
                on_event(&e);
            }
            if done(self) {
                return true;
            }
            if self.out_of_time(limit, started) {
                return false;
            }
            std::thread::sleep(self.poll_every());
        }
    }

    /// The real server is asked over HTTPS (several requests a look): look less often.
    pub fn poll_every(&self) -> Duration {
        if self.api.is_real() {
            POLL_EVERY * 4
        } else if self.nodes.len() > 200 {
            // each look copies every Node out of the fake server, under its lock
            POLL_EVERY * 4
        } else {
            POLL_EVERY
        }
    }

    /// Poll until an event matching `want` happens (after this call), or `limit` passes.
    pub fn wait_for(&mut self, limit: impl Into<Limit>, want: impl Fn(&Event) -> bool) -> Result<Timed, String> {
        let limit = limit.into();
        let started = Instant::now();
        loop {
            if let Some(e) = self.poll().into_iter().find(|e| want(&e.event)) {
                return Ok(e);
            }
            if self.all_dead() {
                return Err(format!("every kured exited\n{}", self.report()));
            }
            if self.out_of_time(limit, started) {
                return Err(format!("no matching event\n{}", self.report()));
            }
            std::thread::sleep(self.poll_every());
        }
    }

    pub fn run_until_all_rebooted(&mut self, limit: impl Into<Limit>) -> Summary {
        self.run_until_all_rebooted_with(limit, |_| {})
    }

    pub fn run_until_all_rebooted_with(&mut self, limit: impl Into<Limit>, on_event: impl FnMut(&Timed)) -> Summary {
        self.poll_until(limit, on_event, |c| c.settled() || c.all_dead());
        self.summary()
    }

    /// The wait that started at `started` is over; if so, remember why for the report.
    fn out_of_time(&mut self, limit: Limit, started: Instant) -> bool {
        let budget = self.budget();
        let waited = started.elapsed();
        if waited < budget.allows(limit) {
            return false;
        }
        let unchecked: Vec<&str> =
            self.nodes.iter().filter(|n| n.slowest_first_check.is_none()).map(|n| n.name.as_str()).collect();
        let mut why = format!("gave up after {waited:?}, the limit being {}", budget.explain(limit));
        if !unchecked.is_empty() {
            why.push_str(&format!("; no check logged yet by {}", unchecked.join(", ")));
        }
        self.gave_up = Some(why);
        true
    }
}
