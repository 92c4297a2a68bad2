//! The `pods/{name}/eviction` subresource: a graceful delete that the server
//! refuses with 429 while it would take a PodDisruptionBudget below its minimum;
//! drainers retry on that 429 until replacements are running elsewhere.

use serde_json::{json, Value};

use crate::ops;
use crate::pdb;
use crate::resources;
use crate::state::State;
use crate::status::{self, ApiError};

/// POST of a policy/v1 Eviction: Ok(201 Status) or the refusal.
pub fn evict(st: &mut State, ns: &str, name: &str, body: &[u8]) -> Result<(u16, Value), ApiError> {
    let ev: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| status::bad_request(format!("error decoding Eviction: {e}")))?
    };
    if let Some(n) = ev["metadata"]["name"].as_str() {
        if n != name {
            return Err(status::bad_request("name in URL does not match name in Eviction object"));
        }
    }
    let pods = resources::by_name("pods").expect("known");
    let pod = st.store.get(pods, ns, name)?.clone();
    let grace = ev["deleteOptions"]["gracePeriodSeconds"].as_i64();
    let terminating = !pod["metadata"]["deletionTimestamp"].is_null();
    let phase = pod["status"]["phase"].as_str().unwrap_or("");
    // the real server lets pods that cannot count towards a budget go without checking
    let ignore_pdb = terminating || matches!(phase, "Succeeded" | "Failed" | "Pending");
    if !ignore_pdb {
        let budgets = pdb::matching(st, ns, &pod);
        if budgets.len() > 1 {
            return Err(ApiError::new(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            )
            .with_details(json!({"causes": [{"message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}]})));
        }
        if let Some(b) = budgets.first() {
            // an unhealthy pod may go while the budget is met (IfHealthyBudget)
            let blocked = if pdb::is_healthy(&pod) { b.disruptions_allowed() < 1 } else { b.healthy < b.desired };
            if blocked {
                return Err(ApiError::new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
                    .with_details(json!({"causes": [{
                        "reason": "DisruptionBudget",
                        "message": format!("The disruption budget {} needs {} healthy pods and has {} currently", b.name, b.desired, b.healthy),
                    }]})));
            }
        }
    }
    ops::delete(st, pods, ns, name, grace, None)?;
    Ok((201, status::success(201)))
}
