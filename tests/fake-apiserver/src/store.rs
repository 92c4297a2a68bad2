//! The in-memory object store: one map for every resource, one global
//! resourceVersion bumped on every write (as etcd's revision), server-set metadata
//! (`uid`, `creationTimestamp`, `generation`), and a bounded log of changes that
//! watches replay.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use crate::resources::{self, Resource};
use crate::status::{self, ApiError};

/// (qualified resource, namespace or "", name)
pub type Key = (String, String, String);

/// How many changes a watch can catch up on before it gets 410 Expired.
const EVENT_LOG: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub res: String,
    pub kind: &'static str,
    pub object: Value,
}

#[derive(Clone)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    serial: u64,
    changes: VecDeque<Change>,
}

pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A store holding the namespaces every cluster has.
    pub fn new() -> Store {
        let mut s = Store { objects: BTreeMap::new(), rv: 1000, serial: 0, changes: VecDeque::new() };
        let ns = resources::by_name("namespaces").expect("namespaces is a known resource");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            s.create(ns, "", obj).expect("fresh store has no namespaces");
        }
        s
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    fn key(res: &Resource, ns: &str, name: &str) -> Key {
        (res.qualified(), if res.namespaced { ns.to_string() } else { String::new() }, name.to_string())
    }

    fn record(&mut self, kind: &'static str, res: &Resource, object: Value) {
        if self.changes.len() >= EVENT_LOG {
            self.changes.pop_front();
        }
        self.changes.push_back(Change { rv: self.rv, res: res.qualified(), kind, object });
    }

    /// Changes after `rv`, or None when the log no longer reaches back that far.
    pub fn changes_since(&self, rv: u64) -> Option<impl Iterator<Item = &Change>> {
        let oldest = self.changes.front().map_or(self.rv, |c| c.rv);
        if rv + 1 < oldest && rv < self.rv {
            return None;
        }
        // The log is in rv order: start at the first newer change instead of
        // filtering all of it (every watch asks this after every change).
        let first = self.changes.partition_point(|c| c.rv <= rv);
        Some(self.changes.range(first..))
    }

    /// Where in the log changes newer than `rv` start (see [`Store::change_log`]).
    pub fn changes_after_index(&self, rv: u64) -> usize {
        self.changes.partition_point(|c| c.rv <= rv)
    }

    /// Every change still in the log, oldest first.
    pub fn change_log(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter()
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    pub fn create(&mut self, res: &Resource, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(status::bad_request("the body of the request is not a JSON object"));
        }
        let serial = self.next_serial();
        let meta = &mut obj["metadata"];
        if !meta.is_object() {
            *meta = json!({});
        }
        if name_of(&obj).is_empty() {
            let Some(prefix) = obj["metadata"]["generateName"].as_str().filter(|p| !p.is_empty()) else {
                return Err(status::invalid(res, "", "metadata.name", "name or generateName is required"));
            };
            obj["metadata"]["name"] = json!(format!("{prefix}{}", suffix(serial)));
        }
        let name = name_of(&obj).to_string();
        if res.namespaced {
            let body_ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            let nsres = resources::by_name("namespaces").expect("known");
            if !self.objects.contains_key(&Store::key(nsres, "", ns)) {
                return Err(status::not_found(nsres, ns));
            }
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        let key = Store::key(res, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(status::already_exists(res, &name));
        }
        self.rv += 1;
        obj["apiVersion"] = json!(res.api_version());
        obj["kind"] = json!(res.kind);
        let m = &mut obj["metadata"];
        m["uid"] =
            json!(format!("{:08x}-5e1f-4c0d-9a7e-{:012x}", serial.wrapping_mul(2654435761) & 0xffff_ffff, serial));
        m["resourceVersion"] = json!(self.rv.to_string());
        m["creationTimestamp"] = json!(now_rfc3339());
        if tracks_generation(res) {
            m["generation"] = json!(1);
        }
        if let Some(m) = m.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        self.objects.insert(key, obj.clone());
        self.record("ADDED", res, obj.clone());
        Ok(obj)
    }

    pub fn get(&self, res: &Resource, ns: &str, name: &str) -> Result<&Value, ApiError> {
        self.objects.get(&Store::key(res, ns, name)).ok_or_else(|| status::not_found(res, name))
    }

    /// Replace an existing object. With `check_rv`, a `metadata.resourceVersion`
    /// that is present and stale is a 409; an absent one means "unconditional".
    pub fn update(
        &mut self,
        res: &Resource,
        ns: &str,
        name: &str,
        mut obj: Value,
        check_rv: bool,
    ) -> Result<Value, ApiError> {
        let key = Store::key(res, ns, name);
        let old = self.objects.get(&key).ok_or_else(|| status::not_found(res, name))?;
        if !obj.is_object() || !obj["metadata"].is_object() {
            return Err(status::bad_request("the body of the request is not a JSON object with metadata"));
        }
        let body_name = name_of(&obj);
        if !body_name.is_empty() && body_name != name {
            return Err(status::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if check_rv {
            if let Some(rv) = obj["metadata"]["resourceVersion"].as_str().filter(|r| !r.is_empty()) {
                if rv != old["metadata"]["resourceVersion"].as_str().unwrap_or("") {
                    return Err(status::conflict(res, name));
                }
            }
        }
        let om = &old["metadata"];
        let mut generation = om["generation"].as_i64().unwrap_or(1);
        if old.get("spec") != obj.get("spec") {
            generation += 1;
        }
        let keep = ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"];
        let kept: Vec<(&str, Value)> = keep.iter().filter_map(|k| om.get(*k).map(|v| (*k, v.clone()))).collect();
        self.rv += 1;
        obj["apiVersion"] = json!(res.api_version());
        obj["kind"] = json!(res.kind);
        let m = &mut obj["metadata"];
        m["name"] = json!(name);
        for (k, v) in kept {
            m[k] = v;
        }
        if tracks_generation(res) {
            m["generation"] = json!(generation);
        }
        m["resourceVersion"] = json!(self.rv.to_string());
        self.objects.insert(key, obj.clone());
        self.record("MODIFIED", res, obj.clone());
        Ok(obj)
    }

    /// Set or clear deletion metadata (only the server may).
    pub fn mark_deleting(
        &mut self,
        res: &Resource,
        ns: &str,
        name: &str,
        grace: i64,
        at: &str,
    ) -> Result<Value, ApiError> {
        let key = Store::key(res, ns, name);
        let mut obj = self.objects.get(&key).cloned().ok_or_else(|| status::not_found(res, name))?;
        self.rv += 1;
        obj["metadata"]["deletionTimestamp"] = json!(at);
        obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects.insert(key, obj.clone());
        self.record("MODIFIED", res, obj.clone());
        Ok(obj)
    }

    pub fn remove(&mut self, res: &Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        let mut obj = self.objects.remove(&Store::key(res, ns, name)).ok_or_else(|| status::not_found(res, name))?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record("DELETED", res, obj.clone());
        Ok(obj)
    }

    /// Objects of `res` in key order (namespace, then name), in `ns` if given.
    pub fn list<'a>(&'a self, res: &Resource, ns: Option<&'a str>) -> impl Iterator<Item = &'a Value> + 'a {
        let q = res.qualified();
        let start = (q.clone(), ns.unwrap_or("").to_string(), String::new());
        self.objects.range(start..).take_while(move |(k, _)| k.0 == q && ns.is_none_or(|n| k.1 == n)).map(|(_, v)| v)
    }

    /// Like `list` but owned, for callers that then write.
    pub fn list_owned(&self, res: &Resource, ns: Option<&str>) -> Vec<Value> {
        self.list(res, ns).cloned().collect()
    }
}

/// Objects whose controllers report `observedGeneration` (nodes and pods have none).
fn tracks_generation(res: &Resource) -> bool {
    res.group == "apps" || res.group == "policy"
}

/// The 5-character random-looking suffix of generated names (`kured-x7k2q`).
fn suffix(serial: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = serial.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}
