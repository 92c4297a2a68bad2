//! The timeline: what happened in the simulated cluster, with the time since the
//! cluster started, in words an operator reads (`12.3s  node-2 took the lock`).

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    LockTaken {
        node: String,
    },
    LockReleased {
        node: String,
    },
    Cordoned {
        node: String,
    },
    Uncordoned {
        node: String,
    },
    /// `pod` is `namespace/name`
    Evicted {
        pod: String,
    },
    /// 429: a PodDisruptionBudget said "not now"
    EvictionBlocked {
        pod: String,
    },
    EvictionFailed {
        pod: String,
        status: u16,
    },
    /// A label or kured annotation on a node changed (`value` None = removed).
    NodeLabel {
        node: String,
        key: String,
        value: Option<String>,
    },
    NodeAnnotation {
        node: String,
        key: String,
        value: Option<String>,
    },
    /// The reboot command ran: the machine goes down.
    Rebooted {
        node: String,
        count: u32,
    },
    /// The node is Ready again and its kured restarted.
    NodeBack {
        node: String,
    },
    /// A kured process ended although nobody rebooted its node.
    KuredExited {
        node: String,
        status: String,
    },
    /// The fake server counted new evictions that broke a budget.
    PdbViolated {
        total: usize,
    },
    /// The lock annotation could not be read.
    BadLock {
        error: String,
    },
}

impl Event {
    /// The node this event is about, if any.
    pub fn node(&self) -> Option<&str> {
        use Event::*;
        match self {
            LockTaken { node } | LockReleased { node } | Cordoned { node } | Uncordoned { node } => Some(node),
            NodeLabel { node, .. } | NodeAnnotation { node, .. } | Rebooted { node, .. } => Some(node),
            NodeBack { node } | KuredExited { node, .. } => Some(node),
            _ => None,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Event::*;
        match self {
            LockTaken { node } => write!(f, "{node} took the lock"),
            LockReleased { node } => write!(f, "{node} released the lock"),
            Cordoned { node } => write!(f, "{node} cordoned"),
            Uncordoned { node } => write!(f, "{node} uncordoned"),
            Evicted { pod } => write!(f, "evicted {pod}"),
            EvictionBlocked { pod } => write!(f, "eviction of {pod} refused by a PodDisruptionBudget (429)"),
            EvictionFailed { pod, status } => write!(f, "eviction of {pod} failed ({status})"),
            NodeLabel { node, key, value: Some(v) } => write!(f, "{node} label {key}={v}"),
            NodeLabel { node, key, value: None } => write!(f, "{node} label {key} removed"),
            NodeAnnotation { node, key, value: Some(v) } => write!(f, "{node} annotation {key}={v}"),
            NodeAnnotation { node, key, value: None } => write!(f, "{node} annotation {key} removed"),
            Rebooted { node, count } => write!(f, "{node} REBOOTS (reboot #{count}), NotReady"),
            NodeBack { node } => write!(f, "{node} back: Ready, kured restarted"),
            KuredExited { node, status } => write!(f, "{node}: kured exited unexpectedly ({status})"),
            PdbViolated { total } => write!(f, "PodDisruptionBudget VIOLATED (total {total})"),
            BadLock { error } => write!(f, "unreadable lock: {error}"),
        }
    }
}

/// An event and when it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed {
    pub at: Duration,
    pub event: Event,
}

impl fmt::Display for Timed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>7.1}s  {}", self.at.as_secs_f64(), self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(e: Event, want: &str) {
        assert_eq!(Timed { at: Duration::from_millis(12_340), event: e }.to_string(), want);
    }

    #[test]
    fn reads_as_a_timeline() {
        case(Event::LockTaken { node: "node-2".into() }, "   12.3s  node-2 took the lock");
        case(
            Event::EvictionBlocked { pod: "default/web-1".into() },
            "   12.3s  eviction of default/web-1 refused by a PodDisruptionBudget (429)",
        );
        case(Event::NodeLabel { node: "n".into(), key: "k".into(), value: None }, "   12.3s  n label k removed");
        case(Event::Rebooted { node: "n".into(), count: 1 }, "   12.3s  n REBOOTS (reboot #1), NotReady");
    }
}
