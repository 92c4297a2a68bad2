//! Pure decisions of the loop, apart from all I/O so they are table-tested
//! without a server: what a periodic check does given what it observed, what
//! start-up recovery must do, and what follows a drain.

/// The first gates of a periodic check, in upstream's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Outside the maintenance window: remove the PreferNoSchedule taint, wait.
    OutsideWindow,
    /// The sentinel says no reboot is needed: remove the taint, wait.
    NotRequired,
    /// The sentinel could not be checked. Upstream treats this as "not
    /// required"; we keep the taint as it is and try again next period, so a
    /// broken check neither reboots nor hides a pending reboot.
    CheckFailed(String),
    /// A reboot is needed and we are in the window: go on to blockers and lock.
    Required,
}

pub fn gate(in_window: bool, required: &Result<bool, String>) -> Gate {
    if !in_window {
        return Gate::OutsideWindow;
    }
    match required {
        Ok(true) => Gate::Required,
        Ok(false) => Gate::NotRequired,
        Err(e) => Gate::CheckFailed(e.clone()),
    }
}

/// Blockers as observed: reasons that hold the reboot back. An error asking a
/// blocker counts as blocking (an unreachable Prometheus must not let reboots
/// through while alerts may be firing).
pub fn blocked(reasons: &[String], errors: &[String]) -> Option<String> {
    let all: Vec<&str> = reasons.iter().chain(errors).map(String::as_str).collect();
    if all.is_empty() {
        None
    } else {
        Some(all.join("; "))
    }
}

/// What to do after the drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterDrain {
    Reboot,
    /// Release the lock; uncordon only when we cordoned the node.
    GiveUp { uncordon: bool },
}

/// `was_unschedulable`: the node was cordoned before we took the lock (by an
/// operator), so we must leave it cordoned whatever happens.
pub fn after_drain(drained: bool, force_reboot: bool, was_unschedulable: bool) -> AfterDrain {
    if drained || force_reboot {
        AfterDrain::Reboot
    } else {
        AfterDrain::GiveUp { uncordon: !was_unschedulable }
    }
}

/// Start-up recovery when this node still holds the lock (a reboot happened, or
/// a previous pod died mid-way), in upstream's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovery {
    /// uncordon (and notify) unless an operator had cordoned the node
    pub uncordon: bool,
    pub post_labels: bool,
    /// remove the reboot-in-progress annotation (--annotate-nodes, once the sentinel is gone)
    pub remove_in_progress: bool,
}

pub fn recovery(
    was_unschedulable: bool,
    has_post_labels: bool,
    annotate_nodes: bool,
    reboot_still_required: bool,
    has_in_progress_annotation: bool,
) -> Recovery {
    Recovery {
        uncordon: !was_unschedulable,
        post_labels: has_post_labels && !was_unschedulable,
        remove_in_progress: annotate_nodes && !reboot_still_required && has_in_progress_annotation,
    }
}

/// After a reboot command failed (and the node was put back), the next attempt
/// waits 1, 2, 4, ... periods, at most a day. Upstream exits and gets the
/// kubelet's crash-loop back-off instead; without one, a broken reboot command
/// would drain the node's workloads again every period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebootRetry {
    pub failures: u32,
    pub not_before: Option<time::OffsetDateTime>,
}

const MAX_RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl RebootRetry {
    pub fn failed(self, now: time::OffsetDateTime, period: std::time::Duration) -> RebootRetry {
        let failures = self.failures.saturating_add(1);
        let factor = 1u32 << (failures - 1).min(16);
        let wait = period.saturating_mul(factor).min(MAX_RETRY_WAIT);
        RebootRetry { failures, not_before: Some(now + wait) }
    }

    pub fn allows(&self, now: time::OffsetDateTime) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }
}

/// The first check comes after a random delay in [period/2, 3*period/2), as
/// upstream's delaytick, so that a DaemonSet rollout does not make every node
/// ask at once. `unit` is a uniform sample in [0, 1).
pub fn initial_delay(period: std::time::Duration, unit: f64) -> std::time::Duration {
    let unit = if (0.0..1.0).contains(&unit) { unit } else { 0.5 };
    period.mul_f64(0.5 + unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[track_caller]
    fn g(in_window: bool, req: Result<bool, &str>, want: Gate) {
        assert_eq!(gate(in_window, &req.map_err(str::to_string)), want);
    }

    #[test]
    fn gates() {
        g(false, Ok(true), Gate::OutsideWindow);
        g(false, Err("x"), Gate::OutsideWindow);
        g(true, Ok(false), Gate::NotRequired);
        g(true, Ok(true), Gate::Required);
        g(true, Err("boom"), Gate::CheckFailed("boom".into()));
    }

    #[test]
    fn blockers() {
        assert_eq!(blocked(&[], &[]), None);
        assert_eq!(blocked(&["alert X".into()], &[]), Some("alert X".into()));
        assert_eq!(blocked(&[], &["prometheus down".into()]), Some("prometheus down".into()));
        assert_eq!(blocked(&["a".into()], &["b".into()]), Some("a; b".into()));
    }

    #[track_caller]
    fn d(drained: bool, force: bool, was: bool, want: AfterDrain) {
        assert_eq!(after_drain(drained, force, was), want);
    }

    #[test]
    fn after_drains() {
        d(true, false, false, AfterDrain::Reboot);
        d(true, true, true, AfterDrain::Reboot);
        d(false, true, false, AfterDrain::Reboot);
        d(false, false, false, AfterDrain::GiveUp { uncordon: true });
        d(false, false, true, AfterDrain::GiveUp { uncordon: false });
    }

    #[track_caller]
    fn r(args: (bool, bool, bool, bool, bool), want: (bool, bool, bool)) {
        let got = recovery(args.0, args.1, args.2, args.3, args.4);
        assert_eq!((got.uncordon, got.post_labels, got.remove_in_progress), want);
    }

    #[test]
    fn recoveries() {
        r((false, false, false, false, false), (true, false, false));
        r((true, true, false, false, false), (false, false, false));
        r((false, true, false, false, false), (true, true, false));
        r((false, false, true, false, true), (true, false, true));
        r((false, false, true, true, true), (true, false, false));
        r((false, false, true, false, false), (true, false, false));
    }

    #[test]
    fn reboot_retries_back_off() {
        let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
        let hour = Duration::from_secs(3600);
        let r = RebootRetry::default();
        assert!(r.allows(t0));
        let r = r.failed(t0, hour);
        assert!(!r.allows(t0 + Duration::from_secs(3599)) && r.allows(t0 + hour));
        let r = r.failed(t0, hour).failed(t0, hour);
        assert_eq!((r.failures, r.not_before), (3, Some(t0 + hour * 4)));
        let r = (0..40).fold(r, |r, _| r.failed(t0, hour));
        assert_eq!(r.not_before, Some(t0 + Duration::from_secs(24 * 3600)), "capped at a day");
    }

    #[test]
    fn initial_delays() {
        let p = Duration::from_secs(60);
        assert_eq!(initial_delay(p, 0.0), Duration::from_secs(30));
        assert_eq!(initial_delay(p, 0.5), Duration::from_secs(60));
        assert_eq!(initial_delay(p, f64::NAN), Duration::from_secs(60));
        assert!(initial_delay(p, 0.999) < Duration::from_secs(90));
    }
}
