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
use crate::kube::Patch;
use crate::status::{self, Blocked, NodeState, Phase};

impl Agent<'_> {
    /// Say what this node is doing now. The annotation is written only when
    /// (state, reason) changed, so a steady state costs no requests. A new
    /// reason of the same kind (the lock's holders changing at each
    /// hand-over) waits a period; a new kind (paused, opted out), or `news`
    /// (a node not going for the lock: its reason changes only with the pause
    /// or the window), is written at once.
    pub(super) fn report(&mut self, state: NodeState, reason: &str, blocked: Option<Blocked>, news: bool) {
        let s = &self.metrics.status;
        let same_kind = s.blocked() == blocked;
        let gap = if same_kind && !news { self.config.period } else { Duration::ZERO };
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
    pub(super) fn hold(&mut self) {
        let now = self.clock.now();
        self.metrics.status.lock_taken(now);
        self.metrics.status.set_lock_held(true);
        self.metrics.status.set_blocked(None);
        let mut map = Map::new();
        let annotations = self.io.node.as_ref().map(|n| n.metadata.annotations.clone()).unwrap_or_default();
        for (k, v) in autoscaler::on_hold(&annotations) {
            map.insert(k.into(), v.map_or(Value::Null, Value::from));
        }
        if let Some(record) = self.release_gate_record() {
            map.insert(gate::ANNOTATION.into(), record.into());
        }
        if let Some(v) = self.metrics.status.annotation(NodeState::Draining, "", now, self.config.period) {
            map.insert(status::ANNOTATION.into(), v.into());
        }
        self.patch_annotations(map);
    }

    /// After a reboot: how long it took, from the status annotation's
    /// "rebooting" (written right before the command) to now.
    pub(super) fn time_reboot(&mut self) {
        let Some(node) = &self.io.node else { return };
        if let Some(took) = rebooting_for(&node.metadata.annotations, self.clock.now()) {
            self.metrics.status.observe(Phase::Reboot, took);
        }
    }

    /// Before the lock is released: take the marks off (only the autoscaler
    /// annotation we set), after a reboot record it (`history`), and report
    /// "ok", in one PATCH (the annotations as last read).
    pub(super) fn unhold(&mut self, after_reboot: bool) {
        let annotations = self.io.node.as_ref().map(|n| n.metadata.annotations.clone()).unwrap_or_default();
        let mut map = Map::new();
        if after_reboot {
            let recent = super::history::with_reboot(&annotations, self.clock.now(), self.config.reboot_loop_window);
            map.insert(super::history::ANNOTATION.into(), recent.into());
        }
        for (k, v) in autoscaler::on_release(&annotations) {
            map.insert(k.into(), v.map_or(Value::Null, Value::from));
        }
        if annotations.contains_key(gate::ANNOTATION) {
            map.insert(gate::ANNOTATION.into(), Value::Null);
        }
        if let Some(v) = self.metrics.status.annotation(NodeState::Ok, "", self.clock.now(), self.config.period) {
            map.insert(status::ANNOTATION.into(), v.into());
        }
        self.metrics.status.set_lock_held(false);
        self.metrics.status.set_blocked(None);
        self.patch_annotations(map);
    }

    /// Take the marks off after a give-up (the node is not rebooting).
    pub(super) fn unhold_now(&mut self) {
        match self.client.get_node(self.node_id()) {
            Ok(node) => {
                self.io.node = Some(node);
                self.unhold(false);
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
}

/// Whether the status annotation says the release gate was under way (a
/// previous pod announced the reboot, then was stopped in the gate).
pub(super) fn in_release_gate(annotations: &BTreeMap<String, String>) -> bool {
    annotations
        .get(status::ANNOTATION)
        .and_then(|a| serde_json::from_str::<status::State>(a).ok())
        .is_some_and(|s| s.state == NodeState::ReleaseGate.label())
}

/// How long since the status annotation said "rebooting".
fn rebooting_for(annotations: &BTreeMap<String, String>, now: time::OffsetDateTime) -> Option<std::time::Duration> {
    let s: status::State = serde_json::from_str(annotations.get(status::ANNOTATION)?).ok()?;
    if s.state != NodeState::Rebooting.label() {
        return None;
    }
    let since = time::OffsetDateTime::parse(&s.since, &time::format_description::well_known::Rfc3339).ok()?;
    std::time::Duration::try_from(now - since).ok()
}
