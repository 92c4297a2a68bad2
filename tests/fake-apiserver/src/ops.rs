//! The write operations with the real server's semantics, shared by the HTTP
//! handlers and the test helpers: defaulting on create, the `status`
//! subresource split, patches, and graceful deletion of pods.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::patch::{self, PatchError};
use crate::pdb;
use crate::resources::Resource;
use crate::state::State;
use crate::status::{self, ApiError};
use crate::store::{now_rfc3339, rfc3339};

/// Fill in what the real server (or kubelet, soon after) would.
fn defaults(res: &Resource, obj: &mut Value) {
    match res.kind {
        "Node" => {
            if !obj["status"]["conditions"].is_array() {
                obj["status"]["conditions"] = json!([ready_condition(true)]);
            }
            if !obj["status"]["nodeInfo"].is_object() {
                obj["status"]["nodeInfo"] = json!({"kubeletVersion": "v1.32.0", "osImage": "fake", "containerRuntimeVersion": "fake://1.0", "architecture": "amd64", "operatingSystem": "linux"});
            }
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
        }
        "Pod" => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            if obj["spec"]["terminationGracePeriodSeconds"].is_null() {
                obj["spec"]["terminationGracePeriodSeconds"] = json!(30);
            }
            if obj["status"]["phase"].as_str().is_none() {
                obj["status"]["phase"] = json!("Pending");
            }
        }
        _ => {}
    }
}

/// A `Ready` node condition as kubelet reports it.
pub fn ready_condition(ready: bool) -> Value {
    let now = now_rfc3339();
    json!({
        "type": "Ready", "status": if ready { "True" } else { "False" },
        "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
        "message": if ready { "kubelet is posting ready status" } else { "node is not ready (fake)" },
        "lastHeartbeatTime": now, "lastTransitionTime": now,
    })
}

pub fn create(st: &mut State, res: &Resource, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
    if let Some(kind) = obj["kind"].as_str() {
        if kind != res.kind {
            return Err(status::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                res.kind
            )));
        }
    }
    defaults(res, &mut obj);
    st.store.create(res, ns, obj)
}

/// PUT: `sub` is None for the object (whose status is then kept) or "status".
pub fn replace(
    st: &mut State,
    res: &Resource,
    ns: &str,
    name: &str,
    mut obj: Value,
    sub: Option<&str>,
) -> Result<Value, ApiError> {
    let old = st.store.get(res, ns, name)?.clone();
    if !obj.is_object() {
        return Err(status::bad_request("the body of the request is not a JSON object"));
    }
    match sub {
        Some("status") => {
            let mut whole = old.clone();
            whole["status"] = obj["status"].clone();
            whole["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"].clone();
            obj = whole;
        }
        Some(_) => return Err(status::method_not_allowed()),
        None if res.has_status => obj["status"] = old["status"].clone(),
        None => {}
    }
    if obj["metadata"]["resourceVersion"].is_null() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
    }
    st.store.update(res, ns, name, obj, true)
}

/// PATCH with the content type naming the flavour.
pub fn patch(
    st: &mut State,
    res: &Resource,
    ns: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
    sub: Option<&str>,
) -> Result<Value, ApiError> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let kind = match ct.as_str() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/json-patch+json" => {
            ct.clone()
        }
        _ => return Err(status::unsupported_media_type(content_type)),
    };
    let p: Value =
        serde_json::from_slice(body).map_err(|e| status::bad_request(format!("error decoding patch: {e}")))?;
    let mut obj = st.store.get(res, ns, name)?.clone();
    let applied = match kind.as_str() {
        "application/merge-patch+json" => {
            patch::merge(&mut obj, &p);
            Ok(())
        }
        "application/strategic-merge-patch+json" => {
            patch::strategic(&mut obj, &p);
            Ok(())
        }
        _ => patch::json_patch(&mut obj, &p),
    };
    match applied {
        Ok(()) => {}
        Err(PatchError::Decode(m)) => return Err(status::bad_request(m)),
        // kube-apiserver v1.34 says no more than this (empty details), whatever failed
        Err(PatchError::Apply(_)) => {
            return Err(ApiError::new(422, "Invalid", "the server rejected our request due to an error in our request")
                .with_details(json!({})))
        }
    }
    replace(st, res, ns, name, obj, sub)
}

/// DELETE. Pods go gracefully: `deletionTimestamp` now, gone when the grace
/// period ends (the controller removes them); everything else goes at once.
pub fn delete(
    st: &mut State,
    res: &Resource,
    ns: &str,
    name: &str,
    grace: Option<i64>,
    precondition_rv: Option<&str>,
) -> Result<Value, ApiError> {
    let obj = st.store.get(res, ns, name)?.clone();
    if let Some(rv) = precondition_rv {
        if obj["metadata"]["resourceVersion"].as_str() != Some(rv) {
            return Err(ApiError::new(409, "Conflict", format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object meta: {}",
                res.qualified(), name, rv, obj["metadata"]["resourceVersion"].as_str().unwrap_or("")))
            .with_details(status::details(res, name)));
        }
    }
    if res.kind != "Pod" {
        return st.store.remove(res, ns, name);
    }
    let before = pdb::snapshot(st, ns);
    let grace = grace.or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64()).unwrap_or(30).max(0);
    let unscheduled = obj["spec"]["nodeName"].as_str().unwrap_or("").is_empty();
    let finished = matches!(obj["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    let out = if grace == 0 || unscheduled || finished {
        st.store.remove(res, ns, name)?
    } else {
        let existing = obj["metadata"]["deletionGracePeriodSeconds"].as_i64();
        if existing.is_some_and(|g| g <= grace) {
            return Ok(obj);
        }
        let at = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(grace));
        let key = (res.qualified(), ns.to_string(), name.to_string());
        st.deadlines.insert(key, Instant::now() + Duration::from_secs(grace as u64));
        st.store.mark_deleting(res, ns, name, grace, &at)?
    };
    pdb::count_violations(st, ns, &before);
    Ok(out)
}
