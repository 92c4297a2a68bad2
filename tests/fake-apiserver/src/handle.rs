//! A handle on the fake server's objects that can be moved into a callback or
//! another thread (a test's host stand-in changing the world while the daemon
//! waits): create, get, update, delete and faults, as the server's own methods.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::state::Shared;
use crate::{ops, resource, resources, Fault};

#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    /// See [`crate::FakeApiServer::try_create`].
    pub fn try_create(&self, obj: Value) -> Result<Value, Value> {
        let api_version = obj["apiVersion"].as_str().unwrap_or("");
        let kind = obj["kind"].as_str().unwrap_or("");
        let res =
            resources::by_kind(api_version, kind).ok_or_else(|| json!(format!("unknown kind {api_version}/{kind}")))?;
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
        let mut st = self.shared.lock();
        let out = ops::create(&mut st, res, &ns, obj).map_err(|e| e.to_status());
        drop(st);
        self.shared.notify_all();
        out
    }

    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.shared.lock().store.get(resource(plural), namespace, name).ok().cloned()
    }

    /// See [`crate::FakeApiServer::update`].
    pub fn update(&self, obj: Value) -> Result<Value, Value> {
        let res = resources::by_kind(obj["apiVersion"].as_str().unwrap_or(""), obj["kind"].as_str().unwrap_or(""))
            .ok_or_else(|| json!("unknown kind"))?;
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let out = self.shared.lock().store.update(res, &ns, &name, obj, true).map_err(|e| e.to_status());
        self.shared.notify_all();
        out
    }

    /// Add a fault (see [`Fault`]).
    pub fn inject(&self, f: Fault) {
        self.shared.lock().faults.push(f);
    }

    /// Remove at once (no grace period, no budget checks).
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let out = self.shared.lock().store.remove(resource(plural), namespace, name).ok();
        self.shared.notify_all();
        out
    }
}
