//! The loop's best-effort side effects: the PreferNoSchedule taint,
//! notifications and Events (Normal and Warning, on the node or on kured's
//! DaemonSet). None of them ever holds a reboot back. An Event is named by us
//! (as client-go's recorder does), so one whose answer was lost is resent a
//! few times without ever being recorded twice.

use std::time::Duration;

use super::Agent;
use crate::clock::jitter;
use crate::error::ApiErrorKind;
use crate::node;
use crate::notify::{render, render_args};

impl Agent<'_> {
    pub(super) fn set_taint(&self, present: bool) {
        let Some(key) = &self.config.prefer_no_schedule_taint else { return };
        if let Err(e) = node::set_prefer_no_schedule_taint(self.client, self.node_id(), key, present) {
            log::warn!("cannot {} taint {key}: {e}", if present { "set" } else { "remove" });
        }
    }

    /// A failed notification is logged (each destination's on its own) and
    /// never holds a reboot back.
    pub(super) fn notify(&self, template: &str) {
        self.send_notification(&render(template, self.node_id()));
    }

    fn send_notification(&self, message: &str) {
        let Some(n) = &self.notifier else { return };
        for e in n.notify_each(message) {
            log::warn!("{e}");
        }
    }

    /// What went wrong, to the notification URLs too (issue 23), when its
    /// reason has a `--message-template-*`.
    pub(super) fn notify_warning(&self, reason: &str, message: &str) {
        if let Some(template) = self.config.warning_templates.for_reason(reason) {
            self.send_notification(&render_args(template, &[self.node_id(), message]));
        }
    }

    /// A Kubernetes Event on the node, for `kubectl describe node`; best effort.
    pub(super) fn event(&self, reason: &str, message: &str) {
        self.record(&self.node_ref(), "Normal", reason, message);
    }

    /// A Warning Event on the node: something failed that an operator should see.
    pub(super) fn warning(&self, reason: &str, message: &str) {
        self.record(&self.node_ref(), "Warning", reason, message);
        self.notify_warning(reason, message);
    }

    /// A Warning Event on kured's DaemonSet (the lock's home).
    pub(super) fn daemonset_warning(&self, reason: &str, message: &str) {
        let c = self.config;
        let ds = Involved { kind: "DaemonSet", api_version: "apps/v1", namespace: &c.ds_namespace, name: &c.ds_name };
        self.record(&ds, "Warning", reason, message);
        self.notify_warning(reason, message);
    }

    fn node_ref(&self) -> Involved<'_> {
        Involved { kind: "Node", api_version: "v1", namespace: "", name: self.node_id() }
    }

    fn record(&self, object: &Involved<'_>, kind: &str, reason: &str, message: &str) {
        let now = rfc3339(self.clock.now());
        // Node Events live in "default", as kubelet's; namespaced objects' in theirs.
        let namespace = if object.namespace.is_empty() { "default" } else { object.namespace };
        let mut involved =
            serde_json::json!({ "kind": object.kind, "name": object.name, "apiVersion": object.api_version });
        if object.kind == "Node" {
            involved["uid"] = serde_json::json!(object.name);
        } else {
            involved["namespace"] = serde_json::json!(object.namespace);
        }
        let event = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": { "name": event_name(object.name), "namespace": namespace },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": kind,
            "source": { "component": "kured", "host": self.node_id() },
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        let mut wait = EVENT_RETRY;
        for attempt in 1..=EVENT_TRIES {
            match self.client.create_event(namespace, &event) {
                Ok(_) => return,
                // Ours, from a try whose answer was lost.
                Err(e) if e.api_kind() == Some(ApiErrorKind::Conflict) && attempt > 1 => return,
                Err(e) if attempt < EVENT_TRIES && transient(&e) && !self.clock.stopped() => {
                    log::debug!("cannot record event {reason} yet ({e}), retrying in {wait:?}");
                    self.clock.sleep(wait + jitter(wait));
                    wait *= 2;
                }
                Err(e) => {
                    // 403: the RBAC lacks create on events (upstream's chart): said once.
                    let level = match (e.api_kind(), kind) {
                        (Some(ApiErrorKind::Forbidden), _) => crate::logging::warn_once("create events"),
                        (_, "Warning") => log::Level::Warn,
                        _ => log::Level::Debug,
                    };
                    log::log!(level, "cannot record event {reason}: {e}");
                    return;
                }
            }
        }
    }
}

/// How many times an Event is sent, and the first wait between tries.
const EVENT_TRIES: u32 = 3;
const EVENT_RETRY: Duration = Duration::from_millis(200);

/// Worth another try: no answer, or the server's trouble (not a refusal).
fn transient(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Transport { .. })
        || matches!(e.api_kind(), Some(ApiErrorKind::Server | ApiErrorKind::TooManyRequests))
}

/// `<object>.<hex>`, unique to this process and time, as client-go's
/// `<name>.<unix nanoseconds in hex>`.
fn event_name(object: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{object}.{:x}{seq:04x}", nanos)
}

struct Involved<'a> {
    kind: &'static str,
    api_version: &'static str,
    /// "" for cluster-scoped objects
    namespace: &'a str,
    name: &'a str,
}

pub(super) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A uniform sample in [0, 1) without a random-number crate.
pub(super) fn unit_random() -> f64 {
    const SCALE: u64 = 1 << 30;
    jitter(Duration::from_nanos(SCALE)).as_nanos() as f64 / SCALE as f64
}
