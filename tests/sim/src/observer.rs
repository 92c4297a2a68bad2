//! The observer: from successive snapshots of the API server's state it derives
//! the timeline (lock taken/released, cordon/uncordon, evictions, labels and
//! kured annotations on nodes) and the maxima the invariants are checked on.
//! Pure: the caller takes the snapshots.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::events::Event;
use crate::lockview;

/// One look at the cluster.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The lock annotation's value on the kured DaemonSet (None = absent).
    pub lock: Option<String>,
    pub nodes: Vec<Value>,
    /// Requests since the previous snapshot: (method, path, status).
    pub new_requests: Vec<(String, String, u16)>,
    /// The server's running count of evictions that broke a budget.
    pub pdb_violations: usize,
}

/// Node annotations worth a line in the timeline.
const ANNOTATION_PREFIX: &str = "weave.works/kured";

#[derive(Debug, Default)]
pub struct Observer {
    /// Nodes an operator had cordoned before the simulation: not counted.
    precordoned: BTreeSet<String>,
    holders: BTreeSet<String>,
    /// When each holder took it (`created`): a new value means released and
    /// taken again between two looks.
    taken_at: BTreeMap<String, String>,
    cordoned: BTreeSet<String>,
    labels: BTreeMap<String, BTreeMap<String, String>>,
    annotations: BTreeMap<String, BTreeMap<String, String>>,
    seen_first: bool,
    last_lock_error: Option<String>,
    pub max_lock_holders: usize,
    pub max_cordoned: usize,
    pub pdb_violations: usize,
    /// Control-plane nodes (by role label) and the ones NotReady, as last seen.
    control_plane: BTreeSet<String>,
    not_ready: BTreeSet<String>,
    /// The most control-plane nodes holding the lock, or cordoned, at once.
    pub max_concurrent_control_plane: usize,
    /// Control-plane nodes seen taking the lock while another was NotReady
    /// (with the one that was), in order.
    pub control_plane_taken_while_not_ready: Vec<String>,
}

impl Observer {
    pub fn new(precordoned: impl IntoIterator<Item = String>) -> Observer {
        Observer { precordoned: precordoned.into_iter().collect(), ..Observer::default() }
    }

    /// Lock holders now (as of the last snapshot).
    pub fn holders(&self) -> &BTreeSet<String> {
        &self.holders
    }

    /// Nodes cordoned now, operator-cordoned ones excluded.
    pub fn cordoned(&self) -> impl Iterator<Item = &String> {
        self.cordoned.iter().filter(|n| !self.precordoned.contains(*n))
    }

    pub fn observe(&mut self, snap: &Snapshot) -> Vec<Event> {
        // Within one look, list events in causal order: a lock is taken before
        // its node is cordoned, and released after its node is uncordoned.
        let (mut ev, mut released) = (Vec::new(), Vec::new());
        self.observe_lock(snap.lock.as_deref().unwrap_or(""), &mut ev, &mut released);
        self.observe_nodes(&snap.nodes, &mut ev);
        for (method, path, status) in &snap.new_requests {
            if let Some(e) = eviction_event(method, path, *status) {
                ev.push(e);
            }
        }
        if snap.pdb_violations > self.pdb_violations {
            ev.push(Event::PdbViolated { total: snap.pdb_violations });
            self.pdb_violations = snap.pdb_violations;
        }
        self.observe_control_plane(&ev);
        ev.append(&mut released);
        self.max_lock_holders = self.max_lock_holders.max(self.holders.len());
        self.max_cordoned = self.max_cordoned.max(self.cordoned().count());
        self.seen_first = true;
        ev
    }

    fn observe_lock(&mut self, annotation: &str, ev: &mut Vec<Event>, released: &mut Vec<Event>) {
        let entries = match lockview::holders(annotation) {
            Ok(h) => {
                self.last_lock_error = None;
                h
            }
            Err(error) => {
                // Say it once; keep the previous holders rather than guess.
                if self.last_lock_error.as_ref() != Some(&error) {
                    ev.push(Event::BadLock { error: error.clone() });
                    self.last_lock_error = Some(error);
                }
                return;
            }
        };
        let taken_at: BTreeMap<String, String> = entries.into_iter().map(|h| (h.node_id, h.created)).collect();
        let now: BTreeSet<String> = taken_at.keys().cloned().collect();
        for (n, created) in &taken_at {
            if self.taken_at.get(n).is_some_and(|old| old != created) {
                ev.push(Event::LockReleased { node: n.clone() });
                ev.push(Event::LockTaken { node: n.clone() });
            }
        }
        for n in now.difference(&self.holders) {
            ev.push(Event::LockTaken { node: n.clone() });
        }
        for n in self.holders.difference(&now) {
            released.push(Event::LockReleased { node: n.clone() });
        }
        self.taken_at = taken_at;
        self.holders = now;
    }

    /// The quorum invariants, on this look's nodes and lock takes.
    fn observe_control_plane(&mut self, ev: &[Event]) {
        let cp = &self.control_plane;
        let holding = self.holders.iter().filter(|n| cp.contains(*n)).count();
        let cordoned = self.cordoned().filter(|n| cp.contains(*n)).count();
        let mut taken_while_down = Vec::new();
        for e in ev {
            let Event::LockTaken { node } = e else { continue };
            if !cp.contains(node) {
                continue;
            }
            if let Some(down) = self.not_ready.iter().find(|n| *n != node && cp.contains(*n)) {
                taken_while_down.push(format!("{node} (while {down} was NotReady)"));
            }
        }
        self.max_concurrent_control_plane = self.max_concurrent_control_plane.max(holding).max(cordoned);
        self.control_plane_taken_while_not_ready.extend(taken_while_down);
    }

    fn observe_nodes(&mut self, nodes: &[Value], ev: &mut Vec<Event>) {
        let mut cordoned = BTreeSet::new();
        self.not_ready.clear();
        for node in nodes {
            let Some(name) = node.pointer("/metadata/name").and_then(Value::as_str) else { continue };
            if node.pointer("/metadata/labels").and_then(|l| l.get(crate::objects::CONTROL_PLANE_ROLE)).is_some() {
                self.control_plane.insert(name.to_string());
            }
            let conditions = node.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten();
            if !conditions.clone().any(|c| c["type"] == "Ready" && c["status"] == "True") {
                self.not_ready.insert(name.to_string());
            }
            if node.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false) {
                cordoned.insert(name.to_string());
            }
            let labels = string_map(node.pointer("/metadata/labels"), "");
            let annotations = string_map(node.pointer("/metadata/annotations"), ANNOTATION_PREFIX);
            if self.seen_first {
                let old = self.labels.get(name).cloned().unwrap_or_default();
                for (key, value) in diff(&old, &labels) {
                    ev.push(Event::NodeLabel { node: name.into(), key, value });
                }
                let old = self.annotations.get(name).cloned().unwrap_or_default();
                for (key, value) in diff(&old, &annotations) {
                    ev.push(Event::NodeAnnotation { node: name.into(), key, value });
                }
            }
            self.labels.insert(name.into(), labels);
            self.annotations.insert(name.into(), annotations);
        }
        for n in cordoned.difference(&self.cordoned) {
            ev.push(Event::Cordoned { node: n.clone() });
        }
        for n in self.cordoned.difference(&cordoned) {
            ev.push(Event::Uncordoned { node: n.clone() });
        }
        self.cordoned = cordoned;
    }
}

fn string_map(v: Option<&Value>, prefix: &str) -> BTreeMap<String, String> {
    let Some(Value::Object(m)) = v else { return BTreeMap::new() };
    m.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect()
}

/// Keys added or changed (with the new value) and removed (None).
fn diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> =
        new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    out.extend(old.keys().filter(|k| !new.contains_key(*k)).map(|k| (k.clone(), None)));
    out
}

/// `POST /api/v1/namespaces/<ns>/pods/<pod>/eviction` and its answer.
pub fn eviction_event(method: &str, path: &str, status: u16) -> Option<Event> {
    if method != "POST" {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path);
    let rest = path.strip_prefix("/api/v1/namespaces/")?.strip_suffix("/eviction")?;
    let (ns, pod) = rest.split_once("/pods/")?;
    let pod = format!("{ns}/{pod}");
    Some(match status {
        200..=299 => Event::Evicted { pod },
        429 => Event::EvictionBlocked { pod },
        status => Event::EvictionFailed { pod, status },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn evict(method: &str, path: &str, status: u16, want: Option<&str>) {
        assert_eq!(eviction_event(method, path, status).map(|e| e.to_string()).as_deref(), want);
    }

    #[test]
    fn evictions_from_the_request_log() {
        evict("POST", "/api/v1/namespaces/default/pods/web-1/eviction", 201, Some("evicted default/web-1"));
        evict(
            "POST",
            "/api/v1/namespaces/default/pods/web-1/eviction",
            429,
            Some("eviction of default/web-1 refused by a PodDisruptionBudget (429)"),
        );
        evict("POST", "/api/v1/namespaces/d/pods/p/eviction", 500, Some("eviction of d/p failed (500)"));
        evict("GET", "/api/v1/namespaces/d/pods/p/eviction", 200, None);
        evict("POST", "/api/v1/namespaces/d/pods", 201, None);
    }

    fn node(name: &str, cordoned: bool, label: Option<&str>) -> Value {
        let mut n = json!({"metadata": {"name": name, "labels": {}, "annotations": {"other": "x"}}, "spec": {"unschedulable": cordoned}});
        if let Some(l) = label {
            n["metadata"]["labels"]["kured"] = json!(l);
            n["metadata"]["annotations"]["weave.works/kured-reboot-in-progress"] = json!("t");
        }
        n
    }

    fn strings(ev: Vec<Event>) -> Vec<String> {
        ev.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn diffs_successive_snapshots() {
        let mut o = Observer::new(vec!["op".to_string()]);
        let first = Snapshot { nodes: vec![node("a", false, None), node("op", true, None)], ..Snapshot::default() };
        assert_eq!(strings(o.observe(&first)), ["op cordoned"]);
        assert_eq!(o.max_cordoned, 0, "operator-cordoned nodes do not count");

        let lock = lockview::upstream_single("a", "2024-01-01T00:00:00Z", 0);
        let second = Snapshot {
            lock: Some(lock),
            nodes: vec![node("a", true, Some("rebooting")), node("op", true, None)],
            ..Snapshot::default()
        };
        assert_eq!(
            strings(o.observe(&second)),
            [
                "a took the lock",
                "a label kured=rebooting",
                "a annotation weave.works/kured-reboot-in-progress=t",
                "a cordoned"
            ]
        );
        assert_eq!((o.max_lock_holders, o.max_cordoned), (1, 1));

        let third = Snapshot {
            nodes: vec![node("a", false, None), node("op", true, None)],
            pdb_violations: 2,
            ..Snapshot::default()
        };
        assert_eq!(
            strings(o.observe(&third)),
            [
                "a label kured removed",
                "a annotation weave.works/kured-reboot-in-progress removed",
                "a uncordoned",
                "PodDisruptionBudget VIOLATED (total 2)",
                "a released the lock"
            ]
        );
        assert_eq!(o.pdb_violations, 2);
    }

    fn cp_node(name: &str, ready: bool, cordoned: bool) -> Value {
        json!({"metadata": {"name": name, "labels": {crate::objects::CONTROL_PLANE_ROLE: ""}}, "spec": {"unschedulable": cordoned},
               "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn control_plane_nodes_at_once_and_takes_while_one_is_down() {
        let mut o = Observer::default();
        let worker = node("w", true, None);
        let first = Snapshot {
            nodes: vec![cp_node("cp-1", true, true), cp_node("cp-2", true, false), worker.clone()],
            ..Snapshot::default()
        };
        o.observe(&first);
        assert_eq!(o.max_concurrent_control_plane, 1, "one cordoned; the cordoned worker does not count");
        // cp-1 down (rebooting), then cp-2 takes the lock: both counted
        let lock = lockview::upstream_single("cp-2", "2024-01-01T00:00:00Z", 0);
        let second = Snapshot {
            lock: Some(lock),
            nodes: vec![cp_node("cp-1", false, true), cp_node("cp-2", true, false), worker],
            ..Snapshot::default()
        };
        o.observe(&second);
        assert_eq!(o.max_concurrent_control_plane, 1);
        assert_eq!(o.control_plane_taken_while_not_ready, ["cp-2 (while cp-1 was NotReady)"]);
        let third = Snapshot {
            lock: second.lock.clone(),
            nodes: vec![cp_node("cp-1", true, true), cp_node("cp-2", true, true)],
            ..Snapshot::default()
        };
        o.observe(&third);
        assert_eq!(o.max_concurrent_control_plane, 2);
    }

    #[test]
    fn a_lock_released_and_taken_again_between_looks_shows() {
        let mut o = Observer::default();
        let snap =
            |created: &str| Snapshot { lock: Some(lockview::upstream_single("a", created, 0)), ..Snapshot::default() };
        assert_eq!(strings(o.observe(&snap("2024-01-01T00:00:00Z"))), ["a took the lock"]);
        assert!(o.observe(&snap("2024-01-01T00:00:00Z")).is_empty());
        assert_eq!(strings(o.observe(&snap("2024-01-01T00:00:03Z"))), ["a released the lock", "a took the lock"]);
    }

    #[test]
    fn bad_lock_is_said_once() {
        let mut o = Observer::default();
        let snap = Snapshot { lock: Some("{".into()), ..Snapshot::default() };
        assert_eq!(o.observe(&snap).len(), 1);
        assert_eq!(o.observe(&snap).len(), 0);
    }
}
