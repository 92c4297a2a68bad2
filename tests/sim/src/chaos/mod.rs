//! The chaos campaign: randomized rollouts with injected faults, each drawn
//! from a seed ([`plan`]), run on the simulated cluster with invariants checked
//! while it goes and at the end ([`run`]), and the campaign's figures
//! ([`Totals`]) ending in the one line CI greps:
//! `runs=N failed=F lock_violations=L pdb_violations=P left_cordoned=C crashes=X stranded=S seed=S0`.

pub mod plan;
pub mod rng;
pub mod run;
pub mod sockets;

use std::collections::BTreeMap;
use std::fmt;

pub use plan::Plan;
pub use run::{Counts, RunResult};

/// The seed of run `i` of a campaign seeded `s0`: run 0 is `s0` itself, so
/// `--runs 1 --seed S` replays the run whose seed is S.
pub fn run_seed(s0: u64, i: u64) -> u64 {
    if i == 0 {
        s0
    } else {
        rng::mix(s0.wrapping_add(i))
    }
}

/// The campaign's figures.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub runs: u32,
    pub failed: u32,
    pub counts: Counts,
    pub injected: BTreeMap<&'static str, u32>,
    /// planned but not injectable on this control plane
    pub skipped: BTreeMap<&'static str, u32>,
    pub seed: u64,
}

impl Totals {
    pub fn new(seed: u64) -> Totals {
        Totals { seed, ..Totals::default() }
    }

    pub fn add(&mut self, r: &RunResult) {
        self.runs += 1;
        self.failed += u32::from(r.failed());
        let (t, c) = (&mut self.counts, &r.counts);
        t.lock_violations += c.lock_violations;
        t.pdb_violations += c.pdb_violations;
        t.left_cordoned += c.left_cordoned;
        t.crashes += c.crashes;
        t.stranded += c.stranded;
        for (k, v) in &r.injected {
            *self.injected.entry(k).or_default() += v;
        }
        for (k, v) in &r.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }

    /// `faults injected: api-500=3 sigkill=2 ...` and the kinds not injected, if any.
    pub fn faults_line(&self) -> String {
        let injected: Vec<String> = self.injected.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let not: Vec<&str> = plan::NOT_INJECTED.iter().map(|(k, _)| *k).collect();
        let mut line = format!("faults injected: {}", injected.join(" "));
        if !not.is_empty() {
            line.push_str(&format!("; not injected (harness cannot yet): {}", not.join(", ")));
        }
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&format!(
                "; planned but not injected (the real control plane has no fault injection): {}",
                skipped.join(" ")
            ));
        }
        line
    }
}

/// The last line, exactly as the issue specifies.
impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "runs={} failed={} lock_violations={} pdb_violations={} left_cordoned={} crashes={} stranded={} seed={}",
            self.runs,
            self.failed,
            c.lock_violations,
            c.pdb_violations,
            c.left_cordoned,
            c.crashes,
            c.stranded,
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn last_line_format() {
        let mut t = Totals::new(42);
        let ok = RunResult {
            seed: 1,
            problems: vec![],
            counts: Counts::default(),
            injected: BTreeMap::from([("sigkill", 1)]),
            elapsed: Duration::ZERO,
            kept: None,
            skipped: BTreeMap::new(),
        };
        let bad = RunResult {
            seed: 2,
            problems: vec!["left cordoned: node-1".into()],
            counts: Counts { left_cordoned: 1, stranded: 2, ..Counts::default() },
            injected: BTreeMap::from([("sigkill", 2), ("api-500", 1)]),
            elapsed: Duration::ZERO,
            kept: None,
            skipped: BTreeMap::new(),
        };
        t.add(&ok);
        t.add(&bad);
        assert_eq!(
            t.to_string(),
            "runs=2 failed=1 lock_violations=0 pdb_violations=0 left_cordoned=1 crashes=0 stranded=2 seed=42"
        );
        assert_eq!(t.faults_line(), "faults injected: api-500=1 sigkill=3");
        let skewed =
            RunResult { injected: BTreeMap::from([("clock-skew", 1), ("api-slower-than-client-timeout", 1)]), ..ok };
        t.add(&skewed);
        assert_eq!(
            t.faults_line(),
            "faults injected: api-500=1 api-slower-than-client-timeout=1 clock-skew=1 sigkill=3"
        );
    }

    #[test]
    fn run_zero_is_the_campaign_seed() {
        assert_eq!(run_seed(7, 0), 7);
        assert_ne!(run_seed(7, 1), run_seed(7, 2));
        assert_eq!(run_seed(7, 3), run_seed(7, 3));
    }
}
