//! What the rest of the fleet sees of this node: the status annotation and
//! metrics (see [`crate::status`]), and the marks kured keeps on the Node
//! while it holds it (the cluster autoscaler's scale-down-disabled, the
//! release gate's record). Marks go on in one PATCH when the lock is taken
//! and come off in one PATCH before it is released. All best effort: a mark
//! that cannot be written is logged and never holds a reboot back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::Agent;
use crate::autoscaler;
use crate::gate;
use crate::kube::{Node, Patch};
use crate::status::{self, Blocked, Phase};

impl Agent<'_> {
    /// Say what this node is doing now. The annotation is written only when
    /// (state, reason) changed, so a steady state costs no requests.
    pub(super) fn report(&self, state: &str, reason: &str, blocked: Option<Blocked>) {
        // A new reason of the same kind (the lock's holders changing at each
        // hand-over) waits a period; a new kind (paused, opted out) is news.
        let same_kind = self.metrics.status.blocked() == blocked;
        self.report_after(state, reason, blocked, if same_kind { self.config.period } else { Duration::ZERO });
    }

    /// A node that is not going for the lock (no reboot to do, or the window
    /// closed), with the pause its look for a leftover lock saw in front of
    /// `reason` (so every node shows a pause, at no request of its own). Its
    /// reason changes only with the pause or the window: each change is news.
    pub(super) fn report_idle(&self, state: &str, reason: &str, blocked: Option<Blocked>) {
        let reason = status::with_pause(self.state.pause_seen.borrow().as_deref(), reason);
        self.report_after(state, &reason, blocked, Duration::ZERO);
    }

    /// Write (state, reason) unless this process wrote it already, or wrote
    /// another reason of the same state less than `gap` ago.
    fn report_after(&self, state: &str, reason: &str, blocked: Option<Blocked>, gap: Duration) {
        let s = &self.metrics.status;
        s.set_blocked(blocked);
        let reason = status::short(reason);
        let Some(value) = s.annotation(state, &reason, self.clock.now(), gap) else { return };
        let patch = json!({"metadata": {"annotations": {status::ANNOTATION: value}}});
        if let Err(e) = self.client.patch_node(self.node_id(), &Patch::Merge(patch)) {
            log::warn!("cannot write the annotation {}: {e}", status::ANNOTATION);
            s.annotation_failed();
        }
    }

    /// The lock was just taken: mark the node held (autoscaler, release gate
    /// record, status "draining") in one PATCH.
    pub(super) fn hold(&self, node: &Node) {
        let now = self.clock.now();
        self.metrics.status.lock_taken(now);
        self.metrics.status.set_lock_held(true);
        self.metrics.status.set_blocked(None);
        let mut map = Map::new();
        for (k, v) in autoscaler::on_hold(&node.metadata.annotations) {
            map.insert(k.into(), v.map_or(Value::Null, Value::from));
        }
        if let Some(record) = self.release_gate_record() {
            map.insert(gate::ANNOTATION.into(), record.into());
        }
        if let Some(v) = self.metrics.status.annotation("draining", "", now, self.config.period) {
            map.insert(status::ANNOTATION.into(), v.into());
        }
        self.patch_annotations(map);
    }

    /// Before the lock is released: after a reboot, time it and pass the
    /// release gate; then take the marks off (only the autoscaler annotation
    /// we set), record the reboot (`history`) and report "ok", in one PATCH.
    /// False when a stop came during the release gate: nothing is taken off,
    /// and the lock must be kept.
    pub(super) fn unhold(&self, annotations: &BTreeMap<String, String>, after_reboot: bool) -> bool {
        if after_reboot {
            if let Some(took) = rebooting_for(annotations, self.clock.now()) {
                self.metrics.status.observe(Phase::Reboot, took);
            }
            if !self.release_gate(annotations) {
                return false;
            }
        }
        let mut map = Map::new();
        if after_reboot {
            let recent = super::history::with_reboot(annotations, self.clock.now(), self.config.reboot_loop_window);
            map.insert(super::history::ANNOTATION.into(), recent.into());
        }
        for (k, v) in autoscaler::on_release(annotations) {
            map.insert(k.into(), v.map_or(Value::Null, Value::from));
        }
        if annotations.contains_key(gate::ANNOTATION) {
            map.insert(gate::ANNOTATION.into(), Value::Null);
        }
        if let Some(v) = self.metrics.status.annotation("ok", "", self.clock.now(), self.config.period) {
            map.insert(status::ANNOTATION.into(), v.into());
        }
        self.metrics.status.set_lock_held(false);
        self.metrics.status.set_blocked(None);
        self.patch_annotations(map);
        true
    }

    /// Take the marks off after a give-up (the node is not rebooting).
    pub(super) fn unhold_now(&self) {
        match self.client.get_node(self.node_id()) {
            Ok(node) => {
                self.unhold(&node.metadata.annotations, false);
            }
            Err(e) => log::warn!("cannot read the node to take kured's marks off: {e}"),
        }
    }

    fn patch_annotations(&self, map: Map<String, Value>) {
        if map.is_empty() {
            return;
        }
        let patch = json!({"metadata": {"annotations": map}});
        if let Err(e) = self.client.patch_node(self.node_id(), &Patch::Merge(patch)) {
            log::warn!("cannot update kured's annotations on the node: {e}");
            self.metrics.status.annotation_failed();
        }
    }

    /// The reboot is about to happen: status "rebooting" (its time is how the
    /// next start measures the reboot).
    pub(super) fn report_rebooting(&self) {
        self.report("rebooting", "", None);
    }
}

/// Whether the status annotation says the release gate was under way (a
/// previous pod announced the reboot, then was stopped in the gate).
pub(super) fn in_release_gate(annotations: &BTreeMap<String, String>) -> bool {
    annotations
        .get(status::ANNOTATION)
        .and_then(|a| serde_json::from_str::<status::State>(a).ok())
        .is_some_and(|s| s.state == "release-gate")
}

/// How long since the status annotation said "rebooting".
fn rebooting_for(annotations: &BTreeMap<String, String>, now: time::OffsetDateTime) -> Option<std::time::Duration> {
    let s: status::State = serde_json::from_str(annotations.get(status::ANNOTATION)?).ok()?;
    if s.state != "rebooting" {
        return None;
    }
    let since = time::OffsetDateTime::parse(&s.since, &time::format_description::well_known::Rfc3339).ok()?;
    std::time::Duration::try_from(now - since).ok()
}
