//! The lock as the simulation reads it: who holds the kured DaemonSet annotation,
//! in either upstream format (single `{"nodeID":..}` or multi `{"maxOwners":..,
//! "locks":[..]}`), and builders for that literal format so tests can plant a
//! lock "held by another node" exactly as an upstream pod would have written it.

use serde_json::{json, Value};

/// The annotation key upstream uses (`--lock-annotation` default).
pub const DEFAULT_LOCK_ANNOTATION: &str = "weave.works/kured-node-lock";

/// One holder of the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node_id: String,
    /// `metadata.unschedulable`: the node was already cordoned when it took the lock
    pub was_cordoned: bool,
    pub created: String,
    /// Go duration in nanoseconds; 0 = never expires
    pub ttl_ns: i64,
}

/// The holders named by an annotation value. An absent or empty value, or a
/// single lock with an empty `nodeID`, means nobody holds it.
pub fn holders(annotation: &str) -> Result<Vec<Holder>, String> {
    if annotation.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(annotation).map_err(|e| format!("lock annotation is not json: {e}"))?;
    match v.get("locks") {
        None => {}
        Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(locks)) => {
            let mut out = Vec::new();
            for l in locks {
                out.extend(holder(l)?);
            }
            return Ok(out);
        }
        Some(_) => return Err("lock annotation: \"locks\" is not an array".into()),
    }
    Ok(holder(&v)?.into_iter().collect())
}

fn holder(v: &Value) -> Result<Option<Holder>, String> {
    let node_id = match v.get("nodeID") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("lock annotation: nodeID is not a string: {other}")),
    };
    Ok(Some(Holder {
        node_id,
        was_cordoned: v.pointer("/metadata/unschedulable").and_then(Value::as_bool).unwrap_or(false),
        created: v.get("created").and_then(Value::as_str).unwrap_or_default().to_string(),
        ttl_ns: v.get("TTL").and_then(Value::as_i64).unwrap_or(0),
    }))
}

/// Upstream's single-lock value, as a Go kured pod writes it (concurrency 1).
pub fn upstream_single(node_id: &str, created_rfc3339: &str, ttl_ns: i64) -> String {
    entry(node_id, created_rfc3339, ttl_ns).to_string()
}

/// Upstream's multi-lock value (concurrency > 1).
pub fn upstream_multi(max_owners: u32, holders: &[(&str, &str, i64)]) -> String {
    let locks: Vec<Value> = holders.iter().map(|(n, c, t)| entry(n, c, *t)).collect();
    json!({"maxOwners": max_owners, "locks": locks}).to_string()
}

fn entry(node_id: &str, created: &str, ttl_ns: i64) -> Value {
    json!({"nodeID": node_id, "metadata": {"unschedulable": false}, "created": created, "TTL": ttl_ns})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(annotation: &str, want: &[&str]) {
        let got: Vec<String> = holders(annotation).unwrap().into_iter().map(|h| h.node_id).collect();
        assert_eq!(got, want, "annotation {annotation}");
    }

    #[test]
    fn reads_both_formats() {
        case("", &[]);
        case(r#"{"nodeID":"","metadata":{"unschedulable":false},"created":"","TTL":0}"#, &[]);
        case(
            r#"{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0}"#,
            &["node-a"],
        );
        case(r#"{"maxOwners":2,"locks":[]}"#, &[]);
        case(r#"{"maxOwners":2,"locks":null}"#, &[]);
        case(r#"{"maxOwners":2,"locks":[{"nodeID":"a","TTL":0},{"nodeID":"b","TTL":0}]}"#, &["a", "b"]);
        case(&upstream_single("x", "2024-03-01T03:00:00Z", 5), &["x"]);
        case(&upstream_multi(3, &[("x", "2024-03-01T03:00:00Z", 0), ("y", "2024-03-01T03:00:00Z", 0)]), &["x", "y"]);
    }

    #[test]
    fn keeps_metadata() {
        let h = holders(r#"{"nodeID":"a","metadata":{"unschedulable":true},"created":"c","TTL":60000000000}"#).unwrap();
        assert_eq!(
            h,
            vec![Holder { node_id: "a".into(), was_cordoned: true, created: "c".into(), ttl_ns: 60_000_000_000 }]
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(holders("{").unwrap_err().contains("not json"));
        assert!(holders(r#"{"locks":{}}"#).unwrap_err().contains("not an array"));
        assert!(holders(r#"{"nodeID":3}"#).unwrap_err().contains("nodeID"));
    }
}
