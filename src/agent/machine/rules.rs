//! The rules the machine's steps apply, each a small pure function tested on
//! its own: what start-up recovery must do (told apart by the node's boot ID:
//! a reboot, or a mere restart of the pod), how long to wait for a reboot and
//! what its boot ID says, the reboot-loop guard, the back-off after failed
//! reboot commands, and the first check's delay.

/// Did the machine boot since this node took the lock?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boot {
    /// The boot ID changed: the reboot happened.
    Rebooted,
    /// Same boot ID: the pod restarted (killed mid-drain, OOM, a rollout).
    SameBoot,
    /// No boot ID to compare (a lock taken by upstream or an older kured-rs,
    /// or a kubelet that reports none): assume the reboot, as upstream does.
    Unknown,
}

pub fn boot(recorded: Option<&str>, current: Option<&str>) -> Boot {
    match (recorded, current) {
        (Some(a), Some(b)) if a == b => Boot::SameBoot,
        (Some(_), Some(_)) => Boot::Rebooted,
        _ => Boot::Unknown,
    }
}

/// Start-up recovery when this node still holds the lock (a reboot happened, or
/// a previous pod died mid-way), in upstream's order. Never waits on the
/// sentinel: that is asked only once the lock is released.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovery {
    /// uncordon unless an operator had cordoned the node
    pub uncordon: bool,
    /// the `Uncordoned` Event and the uncordon notification: only after a reboot
    pub announce: bool,
    pub post_labels: bool,
}

pub fn recovery(was_unschedulable: bool, has_post_labels: bool, boot: Boot) -> Recovery {
    Recovery {
        uncordon: !was_unschedulable,
        announce: !was_unschedulable && boot != Boot::SameBoot,
        post_labels: has_post_labels && !was_unschedulable,
    }
}

/// Remove the reboot-in-progress annotation (--annotate-nodes) after a reboot,
/// once the sentinel is gone, as upstream.
pub fn remove_in_progress(
    annotate_nodes: bool,
    has_annotation: bool,
    boot: Boot,
    still_required: &Result<bool, String>,
) -> bool {
    annotate_nodes && has_annotation && boot != Boot::SameBoot && matches!(still_required, Ok(false))
}

/// Consecutive confirmed reboots that left the sentinel set. A restart on the
/// same boot changes nothing; a sentinel that cannot be read neither counts
/// nor clears.
pub fn next_streak(recorded: u32, boot: Boot, still_required: &Result<bool, String>) -> u32 {
    match (boot, still_required) {
        (Boot::SameBoot, _) | (_, Err(_)) => recorded,
        (_, Ok(true)) => recorded.saturating_add(1),
        (_, Ok(false)) => 0,
    }
}

/// The reboot-loop guard: stop rebooting after `limit` such reboots in a row
/// (0 = never stop, as upstream).
pub fn loop_stopped(streak: u32, limit: u32) -> bool {
    limit > 0 && streak >= limit
}

/// After the reboot command: keep waiting, or the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootWait {
    /// Wait this long, then look again.
    Wait(std::time::Duration),
    /// Look at the node's boot ID now.
    Look,
}

/// How long to wait before the next look, given how long ago the reboot
/// command ran. None timeout = wait forever (upstream), logging each minute.
pub fn reboot_wait(elapsed: std::time::Duration, timeout: Option<std::time::Duration>) -> RebootWait {
    const TICK: std::time::Duration = std::time::Duration::from_secs(60);
    match timeout {
        None => RebootWait::Wait(TICK),
        Some(t) if elapsed >= t => RebootWait::Look,
        Some(t) => RebootWait::Wait((t - elapsed).min(TICK)),
    }
}

/// The look at the boot ID after --reboot-timeout, while this process still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootVerdict {
    /// Same boot (or no boot ID to tell by): the reboot did not happen.
    Failed,
    /// A new boot although we still run: finish as after a reboot.
    Rebooted,
}

pub fn reboot_verdict(before: Option<&str>, now: Option<&str>) -> RebootVerdict {
    match boot(before, now) {
        Boot::Rebooted => RebootVerdict::Rebooted,
        // This process outliving the timeout is itself the evidence.
        Boot::SameBoot | Boot::Unknown => RebootVerdict::Failed,
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

    #[test]
    fn boots() {
        assert_eq!(boot(Some("a"), Some("b")), Boot::Rebooted);
        assert_eq!(boot(Some("a"), Some("a")), Boot::SameBoot);
        assert_eq!(boot(None, Some("a")), Boot::Unknown);
        assert_eq!(boot(Some("a"), None), Boot::Unknown);
        assert_eq!(boot(None, None), Boot::Unknown);
    }

    #[track_caller]
    fn r(was: bool, post: bool, b: Boot, want: (bool, bool, bool)) {
        let got = recovery(was, post, b);
        assert_eq!((got.uncordon, got.announce, got.post_labels), want, "{was} {post} {b:?}");
    }

    #[test]
    fn recoveries() {
        r(false, false, Boot::Rebooted, (true, true, false));
        r(false, true, Boot::Rebooted, (true, true, true));
        r(false, false, Boot::Unknown, (true, true, false));
        // a restart on the same boot: put back, claim nothing
        r(false, true, Boot::SameBoot, (true, false, true));
        // an operator's cordon stays, and there is nothing to announce
        r(true, true, Boot::Rebooted, (false, false, false));
        r(true, false, Boot::SameBoot, (false, false, false));
    }

    #[test]
    fn in_progress_annotation() {
        let (yes, no, err) = (Ok(true), Ok(false), Err("x".to_string()));
        assert!(remove_in_progress(true, true, Boot::Rebooted, &no));
        assert!(remove_in_progress(true, true, Boot::Unknown, &no));
        assert!(!remove_in_progress(true, true, Boot::SameBoot, &no));
        assert!(!remove_in_progress(true, true, Boot::Rebooted, &yes));
        assert!(!remove_in_progress(true, true, Boot::Rebooted, &err));
        assert!(!remove_in_progress(false, true, Boot::Rebooted, &no));
        assert!(!remove_in_progress(true, false, Boot::Rebooted, &no));
    }

    #[test]
    fn streaks_and_the_guard() {
        let (yes, no, err) = (Ok(true), Ok(false), Err("x".to_string()));
        assert_eq!(next_streak(0, Boot::Rebooted, &yes), 1);
        assert_eq!(next_streak(2, Boot::Unknown, &yes), 3);
        assert_eq!(next_streak(2, Boot::Rebooted, &no), 0);
        assert_eq!(next_streak(2, Boot::Rebooted, &err), 2);
        assert_eq!(next_streak(2, Boot::SameBoot, &yes), 2);
        assert_eq!(next_streak(u32::MAX, Boot::Rebooted, &yes), u32::MAX);
        assert!(!loop_stopped(2, 3) && loop_stopped(3, 3) && loop_stopped(4, 3));
        assert!(!loop_stopped(100, 0), "0 turns the guard off");
    }

    #[test]
    fn reboot_waits() {
        let s = Duration::from_secs;
        assert_eq!(reboot_wait(s(0), None), RebootWait::Wait(s(60)));
        assert_eq!(reboot_wait(s(9999), None), RebootWait::Wait(s(60)));
        assert_eq!(reboot_wait(s(0), Some(s(10))), RebootWait::Wait(s(10)));
        assert_eq!(reboot_wait(s(4), Some(s(10))), RebootWait::Wait(s(6)));
        assert_eq!(reboot_wait(s(0), Some(s(1800))), RebootWait::Wait(s(60)));
        assert_eq!(reboot_wait(s(10), Some(s(10))), RebootWait::Look);
        assert_eq!(reboot_verdict(Some("a"), Some("a")), RebootVerdict::Failed);
        assert_eq!(reboot_verdict(None, None), RebootVerdict::Failed);
        assert_eq!(reboot_verdict(Some("a"), Some("b")), RebootVerdict::Rebooted);
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
