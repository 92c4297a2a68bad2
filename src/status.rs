//! Why a node is or is not rebooting, said in two places: Prometheus metrics
//! (`kured_lock_held`, `kured_reboot_blocked{reason}`,
//! `kured_maintenance_window_open`, `kured_maintenance_window_next_open_timestamp_seconds`,
//! `kured_reboot_pending_seconds` and the
//! `kured_phase_duration_seconds` histogram) and a short JSON annotation on the
//! Node ([`ANNOTATION`]), so `kubectl get nodes -o custom-columns=...` shows
//! each node's state at a glance. The loop reports what it sees here; the
//! metrics server renders it; the annotation is written only when it changes.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::promtext::{escape_label, header};

/// The node annotation holding `{"state":..,"reason":..,"since":..}`.
pub const ANNOTATION: &str = "kured-rs.dev/status";

/// At most this many characters of a reason go into the annotation (a list
/// of firing alerts or blocking pods can be long; the log has all of it).
pub const MAX_REASON: usize = 160;

/// How a status reason says when the closed window opens: "opens at
/// 2026-12-09T02:00:00Z" (UTC, as `since`), or that it never does.
pub fn window_opens(at: Option<OffsetDateTime>) -> String {
    let rfc3339 = |t: OffsetDateTime| {
        t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    };
    match at {
        Some(t) => format!("opens at {}", rfc3339(t)),
        None => "which never opens".into(),
    }
}

/// A reason with the cluster-wide pause (its reason, from the lock's DaemonSet)
/// in front: "paused: <why>", then what else there is to say after "; ". A
/// node with no reboot to do says it too, so every node shows the pause.
pub fn with_pause(pause: Option<&str>, reason: &str) -> String {
    match (pause, reason) {
        (None, _) => reason.to_string(),
        (Some(why), "") => format!("paused: {why}"),
        (Some(why), _) => format!("paused: {why}; {reason}"),
    }
}

/// `reason` cut to [`MAX_REASON`] characters, with an ellipsis when cut.
pub fn short(reason: &str) -> String {
    match reason.char_indices().nth(MAX_REASON) {
        Some((i, _)) => format!("{}...", &reason[..i]),
        None => reason.to_string(),
    }
}

/// Why a needed reboot is not happening now (`kured_reboot_blocked{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Blocked {
    Window,
    Lock,
    Prometheus,
    Pods,
    RebootLoop,
    BackOff,
    /// All reboots paused by the annotation on the lock's DaemonSet.
    Paused,
    /// This node opted out by its label or annotation.
    OptedOut,
    /// The control-plane quorum guard or `--control-plane-order` (see `controlplane`).
    ControlPlane,
}

impl Blocked {
    pub const ALL: [Blocked; 9] = [
        Blocked::Window,
        Blocked::Lock,
        Blocked::Prometheus,
        Blocked::Pods,
        Blocked::RebootLoop,
        Blocked::BackOff,
        Blocked::Paused,
        Blocked::OptedOut,
        Blocked::ControlPlane,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Blocked::Window => "window",
            Blocked::Lock => "lock",
            Blocked::Prometheus => "prometheus",
            Blocked::Pods => "pods",
            Blocked::RebootLoop => "reboot-loop",
            Blocked::BackOff => "back-off",
            Blocked::Paused => "paused",
            Blocked::OptedOut => "opted-out",
            Blocked::ControlPlane => "control-plane",
        }
    }

    /// The label of a blocker's kind (`blockers::summary`), whatever its reason says.
    pub fn of(by: crate::blockers::Kind) -> Blocked {
        match by {
            crate::blockers::Kind::Prometheus => Blocked::Prometheus,
            crate::blockers::Kind::Pods => Blocked::Pods,
        }
    }
}

/// A phase whose duration goes into the histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    LockWait,
    Drain,
    /// From the reboot command until kured runs again on the node.
    Reboot,
    ReleaseGate,
}

impl Phase {
    const ALL: [Phase; 4] = [Phase::LockWait, Phase::Drain, Phase::Reboot, Phase::ReleaseGate];

    fn label(self) -> &'static str {
        match self {
            Phase::LockWait => "lock_wait",
            Phase::Drain => "drain",
            Phase::Reboot => "reboot",
            Phase::ReleaseGate => "release_gate",
        }
    }
}

/// Upper bounds of the histogram's buckets, in seconds (a drain takes seconds
/// to minutes; a lock wait up to hours).
pub const BUCKETS: [f64; 11] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What a node is doing, as its status annotation and the metrics say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Nothing to do (or nothing it can do: the window is closed).
    Ok,
    /// A reboot is needed and waits (for the lock, a blocker, the window, ...).
    Pending,
    /// Holding the lock, draining.
    Draining,
    /// The reboot command ran.
    Rebooting,
    /// After the reboot, waiting for the node and its budgets before releasing.
    ReleaseGate,
    /// The sentinel could not be checked.
    Error,
}

impl NodeState {
    pub const ALL: [NodeState; 6] = [
        NodeState::Ok,
        NodeState::Pending,
        NodeState::Draining,
        NodeState::Rebooting,
        NodeState::ReleaseGate,
        NodeState::Error,
    ];

    /// The annotation's `state`.
    pub fn label(self) -> &'static str {
        match self {
            NodeState::Ok => "ok",
            NodeState::Pending => "pending",
            NodeState::Draining => "draining",
            NodeState::Rebooting => "rebooting",
            NodeState::ReleaseGate => "release-gate",
            NodeState::Error => "error",
        }
    }

    /// The state an annotation's `state` names (None: not one of ours).
    pub fn parse(label: &str) -> Option<NodeState> {
        NodeState::ALL.into_iter().find(|s| s.label() == label)
    }
}

/// The annotation's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// ok, pending, draining, rebooting, release-gate, error
    pub state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// RFC 3339, when this state began
    pub since: String,
    /// What holds a `pending` reboot back ([`Blocked::label`]), for other
    /// nodes to read (`--control-plane-order` skips nodes that will not reboot).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub blocked: String,
}

#[derive(Debug, Default)]
struct Inner {
    node: String,
    lock_held: bool,
    blocked: Option<Blocked>,
    window_open: Option<bool>,
    /// When the maintenance window opens next (Unix seconds), if it does.
    window_next_open: Option<i64>,
    pending_since: Option<OffsetDateTime>,
    lock_wait_since: Option<OffsetDateTime>,
    phases: [Histogram; 4],
    /// (state, reason, when) last written to the annotation by this process
    written: Option<(NodeState, String, OffsetDateTime)>,
}

/// Shared between the loop and the metrics server.
#[derive(Debug, Clone, Default)]
pub struct Status(Arc<Mutex<Inner>>);

impl Status {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_node(&self, node: &str) {
        self.inner().node = node.to_string();
    }

    pub fn set_lock_held(&self, held: bool) {
        let mut i = self.inner();
        i.lock_held = held;
        if held {
            i.lock_wait_since = None;
        }
    }

    /// None: nothing holds a needed reboot back (or none is needed).
    pub fn set_blocked(&self, why: Option<Blocked>) {
        self.inner().blocked = why;
    }

    /// What holds a needed reboot back, as last reported.
    pub fn blocked(&self) -> Option<Blocked> {
        self.inner().blocked
    }

    pub fn set_window_open(&self, open: bool) {
        self.inner().window_open = Some(open);
    }

    /// None: the window never closes (the default) or never opens.
    pub fn set_window_next_open(&self, at: Option<OffsetDateTime>) {
        self.inner().window_next_open = at.map(OffsetDateTime::unix_timestamp);
    }

    /// The sentinel says a reboot is (not) needed; the pending time counts
    /// from the first time it said so.
    pub fn set_required(&self, required: bool, now: OffsetDateTime) {
        let mut i = self.inner();
        match (required, i.pending_since) {
            (true, None) => i.pending_since = Some(now),
            (false, _) => i.pending_since = None,
            _ => {}
        }
    }

    /// Whether the sentinel last said a reboot is needed.
    pub fn pending(&self) -> bool {
        self.inner().pending_since.is_some()
    }

    /// When this node first found the lock full in its current wait, if it waits.
    pub fn lock_wait_since(&self) -> Option<OffsetDateTime> {
        self.inner().lock_wait_since
    }

    /// The lock was found full at `now`: the lock wait starts (if not yet).
    pub fn lock_wait_started(&self, now: OffsetDateTime) {
        let mut i = self.inner();
        i.lock_wait_since.get_or_insert(now);
    }

    /// The node left the lock's queue without taking it (opted out): a
    /// later wait starts over, behind those waiting now.
    pub fn lock_wait_left(&self) {
        self.inner().lock_wait_since = None;
    }

    /// The lock was taken: the lock wait (if any) ends at `now`.
    pub fn lock_taken(&self, now: OffsetDateTime) {
        let since = self.inner().lock_wait_since.take();
        if let Some(since) = since {
            self.observe(Phase::LockWait, Duration::try_from(now - since).unwrap_or(Duration::ZERO));
        }
    }

    pub fn observe(&self, phase: Phase, d: Duration) {
        let secs = d.as_secs_f64();
        let mut i = self.inner();
        let h = &mut i.phases[Phase::ALL.iter().position(|p| *p == phase).unwrap_or(0)];
        for (k, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[k] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The annotation value to write for (state, reason), or None when this
    /// process already wrote that (so a steady state costs no writes). A new
    /// reason for the same state is written at most once per `min_gap`: the
    /// holders of a busy lock change at every hand-over, and a node waiting on
    /// it must not write its annotation each time.
    pub fn annotation(&self, state: NodeState, reason: &str, now: OffsetDateTime, min_gap: Duration) -> Option<String> {
        let mut i = self.inner();
        if let Some((s, r, at)) = &i.written {
            if *s == state && (r == reason || now - *at < min_gap) {
                return None;
            }
        }
        i.written = Some((state, reason.to_string(), now));
        let since = now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let blocked = match (state, i.blocked) {
            (NodeState::Pending, Some(b)) => b.label().to_string(),
            _ => String::new(),
        };
        serde_json::to_string(&State { state: state.label().into(), reason: reason.into(), since, blocked }).ok()
    }

    /// Forget what was written (the write failed): the next report writes again.
    pub fn annotation_failed(&self) {
        self.inner().written = None;
    }

    /// The Prometheus text of these metrics (empty before the loop reported a node).
    pub fn render(&self, now: OffsetDateTime) -> String {
        let i = self.inner();
        if i.node.is_empty() {
            return String::new();
        }
        let node = escape_label(&i.node);
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str| header(out, name, help, "gauge");
        gauge(&mut out, "kured_lock_held", "Whether this node holds the reboot lock.");
        let _ = writeln!(out, "kured_lock_held{{node=\"{node}\"}} {}", u8::from(i.lock_held));
        gauge(&mut out, "kured_reboot_blocked", "Whether a needed reboot of this node is held back, by reason.");
        for r in Blocked::ALL {
            let _ = writeln!(
                out,
                "kured_reboot_blocked{{node=\"{node}\",reason=\"{}\"}} {}",
                r.label(),
                u8::from(i.blocked == Some(r))
            );
        }
        if let Some(open) = i.window_open {
            gauge(&mut out, "kured_maintenance_window_open", "Whether the maintenance window is open now.");
            let _ = writeln!(out, "kured_maintenance_window_open{{node=\"{node}\"}} {}", u8::from(open));
        }
        if let Some(at) = i.window_next_open {
            gauge(&mut out, "kured_maintenance_window_next_open_timestamp_seconds", "When the maintenance window opens next (Unix time; while it is open, the opening after it; absent when it never closes or never opens).");
            let _ = writeln!(out, "kured_maintenance_window_next_open_timestamp_seconds{{node=\"{node}\"}} {at}");
        }
        gauge(
            &mut out,
            "kured_reboot_pending_seconds",
            "Seconds since the sentinel was first seen asking for a reboot (0 when none is needed).",
        );
        let pending = i.pending_since.map_or(0.0, |s| (now - s).as_seconds_f64().max(0.0));
        let _ = writeln!(out, "kured_reboot_pending_seconds{{node=\"{node}\"}} {pending:.3}");
        header(
            &mut out,
            "kured_phase_duration_seconds",
            "How long each phase of a reboot took: lock wait, drain, reboot until back, release gate.",
            "histogram",
        );
        for (p, h) in Phase::ALL.iter().zip(&i.phases) {
            let labels = format!("node=\"{node}\",phase=\"{}\"", p.label());
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "kured_phase_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "kured_phase_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "kured_phase_duration_seconds_sum{{{labels}}} {:.3}", h.sum);
            let _ = writeln!(out, "kured_phase_duration_seconds_count{{{labels}}} {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[track_caller]
    fn pause_case(pause: Option<&str>, reason: &str, want: &str) {
        assert_eq!(with_pause(pause, reason), want, "pause {pause:?}, reason {reason:?}");
    }

    #[test]
    fn the_pause_goes_first_in_a_reason() {
        pause_case(None, "", "");
        pause_case(
            None,
            "outside the maintenance window, opens at 2026-12-09T02:00:00Z",
            "outside the maintenance window, opens at 2026-12-09T02:00:00Z",
        );
        pause_case(Some("etcd upgrade"), "", "paused: etcd upgrade");
        pause_case(
            Some("freeze"),
            "outside the maintenance window, opens at 2026-12-09T02:00:00Z",
            "paused: freeze; outside the maintenance window, opens at 2026-12-09T02:00:00Z",
        );
    }

    #[test]
    fn renders_every_metric_once_with_its_labels() {
        let s = Status::default();
        assert_eq!(s.render(datetime!(2026-01-01 0:00 UTC)), "");
        s.set_node("n1");
        let t0 = datetime!(2026-01-01 0:00 UTC);
        s.set_required(true, t0);
        s.set_required(true, t0 + Duration::from_secs(5));
        s.set_window_open(true);
        s.set_window_next_open(Some(datetime!(2026-01-07 3:00 UTC)));
        s.set_blocked(Some(Blocked::Lock));
        s.lock_wait_started(t0);
        s.lock_taken(t0 + Duration::from_secs(3));
        s.set_lock_held(true);
        s.observe(Phase::Drain, Duration::from_secs(20));
        let text = s.render(t0 + Duration::from_secs(90));
        for line in [
            "kured_lock_held{node=\"n1\"} 1",
            "kured_reboot_blocked{node=\"n1\",reason=\"lock\"} 1",
            "kured_reboot_blocked{node=\"n1\",reason=\"back-off\"} 0",
            "kured_reboot_blocked{node=\"n1\",reason=\"paused\"} 0",
            "kured_reboot_blocked{node=\"n1\",reason=\"opted-out\"} 0",
            "kured_maintenance_window_open{node=\"n1\"} 1",
            "kured_maintenance_window_next_open_timestamp_seconds{node=\"n1\"} 1767754800",
            "kured_reboot_pending_seconds{node=\"n1\"} 90.000",
            "kured_phase_duration_seconds_bucket{node=\"n1\",phase=\"lock_wait\",le=\"1\"} 0",
            "kured_phase_duration_seconds_bucket{node=\"n1\",phase=\"lock_wait\",le=\"5\"} 1",
            "kured_phase_duration_seconds_bucket{node=\"n1\",phase=\"drain\",le=\"15\"} 0",
            "kured_phase_duration_seconds_bucket{node=\"n1\",phase=\"drain\",le=\"30\"} 1",
            "kured_phase_duration_seconds_bucket{node=\"n1\",phase=\"drain\",le=\"+Inf\"} 1",
            "kured_phase_duration_seconds_sum{node=\"n1\",phase=\"drain\"} 20.000",
            "kured_phase_duration_seconds_count{node=\"n1\",phase=\"reboot\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE kured_phase_duration_seconds histogram").count(), 1);
        s.set_required(false, t0);
        assert!(s.render(t0).contains("kured_reboot_pending_seconds{node=\"n1\"} 0.000"));
    }

    #[test]
    fn a_pending_annotation_says_what_holds_it_back() {
        let s = Status::default();
        let t = datetime!(2026-01-01 0:00 UTC);
        s.set_blocked(Some(Blocked::OptedOut));
        assert_eq!(
            s.annotation(NodeState::Pending, "opted out", t, Duration::ZERO).as_deref(),
            Some(r#"{"state":"pending","reason":"opted out","since":"2026-01-01T00:00:00Z","blocked":"opted-out"}"#),
            "for other nodes to read (--control-plane-order)"
        );
    }

    #[test]
    fn the_annotation_is_written_only_when_it_changes() {
        let s = Status::default();
        let t = datetime!(2026-01-01 0:00 UTC);
        let gap = Duration::from_secs(60);
        let v = s.annotation(NodeState::Pending, "lock held by n2", t, gap).unwrap();
        assert_eq!(v, r#"{"state":"pending","reason":"lock held by n2","since":"2026-01-01T00:00:00Z"}"#);
        assert_eq!(s.annotation(NodeState::Pending, "lock held by n2", t + gap * 2, gap), None);
        assert_eq!(
            s.annotation(NodeState::Pending, "lock held by n3", t + gap / 2, gap),
            None,
            "a new reason waits a gap"
        );
        assert!(s.annotation(NodeState::Pending, "lock held by n3", t + gap, gap).is_some());
        assert_eq!(
            s.annotation(NodeState::Ok, "", t + gap, gap).as_deref(),
            Some(r#"{"state":"ok","since":"2026-01-01T00:01:00Z"}"#),
            "a new state at once"
        );
        s.annotation_failed();
        assert!(s.annotation(NodeState::Ok, "", t, gap).is_some());
    }

    #[test]
    fn long_reasons_are_cut() {
        assert_eq!(short("lock held by n2"), "lock held by n2");
        let long = "é".repeat(MAX_REASON + 5);
        assert_eq!(short(&long).chars().count(), MAX_REASON + 3);
    }

    #[test]
    fn blocker_kinds_keep_their_labels() {
        use crate::blockers::Kind;
        assert_eq!(Blocked::of(Kind::Prometheus).label(), "prometheus");
        assert_eq!(Blocked::of(Kind::Pods).label(), "pods");
    }

    #[test]
    fn the_window_opening_is_said_in_utc() {
        assert_eq!(window_opens(Some(datetime!(2026-12-09 3:00 +1))), "opens at 2026-12-09T02:00:00Z");
        assert_eq!(window_opens(None), "which never opens");
        let s = Status::default();
        s.set_node("n1");
        s.set_window_next_open(None);
        assert!(
            !s.render(datetime!(2026-01-01 0:00 UTC)).contains("next_open"),
            "no sample when it never opens (or never closes)"
        );
    }
}
