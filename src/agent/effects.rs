//! The loop's best-effort side effects: the PreferNoSchedule taint,
//! notifications and Events. None of them ever holds a reboot back.

use std::time::Duration;

use super::Agent;
use crate::clock::jitter;
use crate::node;
use crate::notify::render;

impl Agent<'_> {
    pub(super) fn set_taint(&self, present: bool) {
        let Some(key) = &self.config.prefer_no_schedule_taint else { return };
        if let Err(e) = node::set_prefer_no_schedule_taint(self.client, self.node_id(), key, present) {
            log::warn!("cannot {} taint {key}: {e}", if present { "set" } else { "remove" });
        }
    }

    /// A failed notification is logged and never holds a reboot back.
    pub(super) fn notify(&self, template: &str) {
        let Some(n) = &self.notifier else { return };
        if let Err(e) = n.notify(&render(template, self.node_id())) {
            log::warn!("{e}");
        }
    }

    /// A Kubernetes Event on the node, for `kubectl describe node`; best effort.
    pub(super) fn event(&self, reason: &str, message: &str) {
        let now = rfc3339(self.clock.now());
        let event = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": { "generateName": format!("{}.", self.node_id()), "namespace": "default" },
            "involvedObject": { "kind": "Node", "name": self.node_id(), "uid": self.node_id(), "apiVersion": "v1" },
            "reason": reason,
            "message": message,
            "type": "Normal",
            "source": { "component": "kured", "host": self.node_id() },
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        if let Err(e) = self.client.create_event("default", &event) {
            log::debug!("cannot record event {reason}: {e}");
        }
    }
}

pub(super) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A uniform sample in [0, 1) without a random-number crate.
pub(super) fn unit_random() -> f64 {
    const SCALE: u64 = 1 << 30;
    jitter(Duration::from_nanos(SCALE)).as_nanos() as f64 / SCALE as f64
}
