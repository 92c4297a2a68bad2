//! The release gate's pure rule: after a reboot the lock is released only
//! when the node is Ready and every PodDisruptionBudget that covered the pods
//! drained from it allows disruptions again: `status.disruptionsAllowed` at
//! least what it was before the drain, or at least 1. Otherwise the next node
//! would start draining while this one's workloads are still recovering and
//! its evictions would only be refused (kured#76, #277, #1113).

use serde::{Deserialize, Serialize};

/// A budget as it was before the drain (kept on the node across the reboot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub namespace: String,
    pub name: String,
    /// `status.disruptionsAllowed` before the drain
    pub before: i64,
}

/// What the gate saw: a budget's `disruptionsAllowed` now, None if it is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen<'a> {
    pub budget: &'a Budget,
    pub now: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Open,
    /// Why it stays shut, for the log line and the Event when it times out.
    Shut(String),
}

pub fn decide(node_ready: bool, budgets: &[Seen<'_>]) -> Verdict {
    if !node_ready {
        return Verdict::Shut("the node is not Ready".into());
    }
    let short: Vec<String> = budgets
        .iter()
        .filter_map(|s| {
            // A budget deleted meanwhile protects nothing any more.
            let now = s.now?;
            let recovered = now >= s.budget.before || now >= 1;
            (!recovered).then(|| {
                format!(
                    "PodDisruptionBudget {}/{} allows {now} disruption(s), {} before the drain",
                    s.budget.namespace, s.budget.name, s.budget.before
                )
            })
        })
        .collect();
    if short.is_empty() {
        Verdict::Open
    } else {
        Verdict::Shut(short.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn d(ready: bool, budgets: &[(i64, Option<i64>)], want_open: bool) {
        let owned: Vec<Budget> =
            budgets.iter().map(|(b, _)| Budget { namespace: "ns".into(), name: "b".into(), before: *b }).collect();
        let seen: Vec<Seen> = owned.iter().zip(budgets).map(|(budget, (_, now))| Seen { budget, now: *now }).collect();
        let got = decide(ready, &seen);
        assert_eq!(got == Verdict::Open, want_open, "{ready} {budgets:?}: {got:?}");
    }

    #[test]
    fn verdicts() {
        d(false, &[], false);
        d(true, &[], true);
        d(true, &[(1, Some(1))], true);
        d(true, &[(1, Some(0))], false);
        d(true, &[(0, Some(0))], true);
        d(true, &[(3, Some(1))], true);
        d(true, &[(3, Some(0))], false);
        d(true, &[(2, None)], true);
        d(true, &[(1, Some(1)), (1, Some(0))], false);
        d(false, &[(1, Some(1))], false);
    }

    #[test]
    fn the_reason_names_the_short_budget() {
        let b = Budget { namespace: "shop".into(), name: "web".into(), before: 1 };
        let Verdict::Shut(why) = decide(true, &[Seen { budget: &b, now: Some(0) }]) else { panic!() };
        assert_eq!(why, "PodDisruptionBudget shop/web allows 0 disruption(s), 1 before the drain");
    }
}
