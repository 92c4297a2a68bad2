//! Pausing every reboot at run time, without redeploying: while the lock's
//! DaemonSet carries the annotation [`ANNOTATION`] (its value is the reason,
//! shown in every node's status), no node takes the lock. Upstream's
//! way was to write a fake holder into the lock (`{"nodeID":"manual"}`), which
//! still works; this one says why, and leaves the lock itself alone.
//!
//! The pause is read from the DaemonSet that the lock's own read (at each
//! check; a node with no reboot to do reads it too, for a leftover lock, and
//! shows the pause as well) or its watch event (while a node waits) already
//! carries, so it costs no request. It stops new takes only: a node that holds the lock
//! finishes (its drain, its reboot, its release), since undoing a drain
//! half-way only moves pods twice, and every holder then leaves the lock and
//! its cordon as usual. Removing the annotation is a watch event, which
//! wakes the waiting nodes in their turn ([`super::wake::turn`]).
//!
//! The annotation counts whatever its value (`"false"` too): it is removed to
//! resume, never set to something else.

use super::Decision;

/// The DaemonSet annotation that pauses all reboots; its value is the reason.
pub const ANNOTATION: &str = "kured-rs.dev/pause";

/// Shown when the annotation gives no reason.
const NO_REASON: &str = "no reason given";

/// The reason reboots are paused, from the annotation's value (None: not paused).
pub fn paused(value: Option<&str>) -> Option<String> {
    let reason = value?.trim();
    Some(if reason.is_empty() { NO_REASON.to_string() } else { reason.to_string() })
}

/// Whether the pause keeps this check from going on with the lock, given what
/// acquisition decided: it does unless this node already holds an entry (a
/// holder finishes). A full lock under a pause is reported as paused: that is
/// what holds the node back once the holders are done.
pub fn holds_back(pause: Option<&str>, decision: &Decision) -> Option<String> {
    match decision {
        Decision::AlreadyHeld(_) => None,
        Decision::Acquired(_) | Decision::HeldBy(_) => paused(pause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{LockMeta, LockValue};

    #[track_caller]
    fn case(pause: Option<&str>, decision: Decision, want: Option<&str>) {
        assert_eq!(holds_back(pause, &decision).as_deref(), want, "pause {pause:?}, {decision:?}");
    }

    #[test]
    fn a_pause_stops_new_takes_and_lets_holders_finish() {
        let free = || Decision::Acquired(LockValue::from_annotation(r#"{"nodeID":"n1"}"#).unwrap());
        let full = || Decision::HeldBy(vec!["n2".into()]);
        let mine = || Decision::AlreadyHeld(LockMeta::default());
        case(None, free(), None);
        case(None, full(), None);
        case(None, mine(), None);
        case(Some("etcd upgrade, INC-42"), free(), Some("etcd upgrade, INC-42"));
        case(Some("  freeze  "), full(), Some("freeze"));
        case(Some("freeze"), mine(), None);
        case(Some(""), free(), Some("no reason given"));
        case(Some(" "), free(), Some("no reason given"));
        // removed, not set to false, to resume
        case(Some("false"), free(), Some("false"));
    }
}
