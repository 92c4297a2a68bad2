//! The lock annotation's value, in upstream kured's `daemonsetlock` JSON formats.
//!
//! Single (concurrency 1):
//! `{"nodeID":"n1","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0}`
//! Multi (concurrency > 1): `{"maxOwners":2,"locks":[{...},{...}]}`.
//! `created` is Go's `time.Time` (RFC 3339, we accept any offset); `TTL` is Go's
//! `time.Duration`, an integer of nanoseconds where 0 (or less) means "never
//! expires". Both formats are read whatever our own concurrency, because a fleet
//! being migrated (or reconfigured) can hold either.

use std::time::Duration;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// What a holder recorded about its node when it took the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockMeta {
    /// The node was already cordoned before kured took it: do not uncordon it.
    pub unschedulable: bool,
}

/// One holder's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LockEntry {
    pub node_id: String,
    /// Kept as JSON so another holder's metadata survives our rewrite untouched.
    pub metadata: Value,
    pub created: OffsetDateTime,
    /// Go `time.Duration` in nanoseconds; 0 or negative = never expires.
    pub ttl_ns: i64,
}

impl LockEntry {
    pub fn new(node_id: &str, meta: LockMeta, created: OffsetDateTime, ttl: Option<Duration>) -> LockEntry {
        let ttl_ns = ttl.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        LockEntry {
            node_id: node_id.to_string(),
            metadata: serde_json::json!({ "unschedulable": meta.unschedulable }),
            created: created.to_offset(time::UtcOffset::UTC),
            ttl_ns,
        }
    }

    /// Upstream's `ttlExpired`: `ttl > 0 && time.Since(created) >= ttl`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.ttl_ns > 0 && (now - self.created).whole_nanoseconds() >= i128::from(self.ttl_ns)
    }

    /// `metadata.unschedulable` (validated as a boolean when parsed; absent = false).
    pub fn meta(&self) -> LockMeta {
        let unschedulable = self.metadata.get("unschedulable").and_then(Value::as_bool).unwrap_or(false);
        LockMeta { unschedulable }
    }

    fn from_json(v: &Value, what: &str) -> Result<LockEntry> {
        let obj = v.as_object().ok_or_else(|| bad(format!("{what} is not an object")))?;
        let node_id = match obj.get("nodeID") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | None => return Err(bad(format!("{what} has no nodeID"))),
            Some(_) => return Err(bad(format!("{what}: nodeID is not a string"))),
        };
        let created = match obj.get("created") {
            Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|e| bad(format!("{what}: created {s:?} is not an rfc 3339 time: {e}")))?,
            _ => return Err(bad(format!("{what} has no created time"))),
        };
        let ttl_ns = match obj.get("TTL") {
            None | Some(Value::Null) => 0,
            Some(t) => t.as_i64().ok_or_else(|| bad(format!("{what}: TTL {t} is not an integer of nanoseconds")))?,
        };
        let metadata = obj.get("metadata").cloned().unwrap_or(Value::Null);
        match metadata.get("unschedulable") {
            None | Some(Value::Bool(_)) | Some(Value::Null) => {}
            Some(other) => return Err(bad(format!("{what}: metadata.unschedulable {other} is not a boolean"))),
        }
        if !(metadata.is_object() || metadata.is_null()) {
            return Err(bad(format!("{what}: metadata is not an object")));
        }
        Ok(LockEntry { node_id, metadata, created, ttl_ns })
    }

    /// Field order and types as Go's `json.Marshal` of upstream's struct.
    fn to_json_string(&self) -> String {
        let created = self
            .created
            .to_offset(time::UtcOffset::UTC)
            .format(&Rfc3339)
            .unwrap_or_else(|_| "0001-01-01T00:00:00Z".to_string());
        let mut out = format!("{{\"nodeID\":{}", Value::String(self.node_id.clone()));
        // Go: `Metadata interface{} json:"metadata,omitempty"`.
        if !self.metadata.is_null() {
            out.push_str(&format!(",\"metadata\":{}", self.metadata));
        }
        out.push_str(&format!(",\"created\":{},\"TTL\":{}}}", Value::String(created), self.ttl_ns));
        out
    }
}

/// The whole annotation value.
#[derive(Debug, Clone, PartialEq)]
pub enum LockValue {
    /// Written when concurrency is 1.
    Single(LockEntry),
    /// Written when concurrency > 1.
    Multi { max_owners: i64, locks: Vec<LockEntry> },
}

impl LockValue {
    /// Parse either format. An error here means the annotation is corrupt.
    pub fn from_annotation(s: &str) -> Result<LockValue> {
        let v: Value = serde_json::from_str(s).map_err(|e| bad(format!("not json: {e}")))?;
        let obj: &Map<String, Value> = v.as_object().ok_or_else(|| bad("not a json object".to_string()))?;
        if obj.contains_key("locks") || obj.contains_key("maxOwners") {
            let max_owners = match obj.get("maxOwners") {
                None | Some(Value::Null) => 0,
                Some(m) => m.as_i64().ok_or_else(|| bad(format!("maxOwners {m} is not an integer")))?,
            };
            let locks = match obj.get("locks") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| LockEntry::from_json(item, &format!("locks[{i}]")))
                    .collect::<Result<Vec<_>>>()?,
                Some(_) => return Err(bad("locks is not an array".to_string())),
            };
            Ok(LockValue::Multi { max_owners, locks })
        } else {
            Ok(LockValue::Single(LockEntry::from_json(&v, "lock")?))
        }
    }

    /// An annotation that may be absent. An empty value holds no holder's
    /// information (e.g. left by `kubectl annotate ds kured key=`), so it counts
    /// as no lock rather than as corrupt.
    pub fn from_optional(s: Option<&str>) -> Result<Option<LockValue>> {
        match s {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => LockValue::from_annotation(s).map(Some),
        }
    }

    pub fn to_annotation(&self) -> String {
        match self {
            LockValue::Single(e) => e.to_json_string(),
            LockValue::Multi { max_owners, locks } => {
                let items: Vec<String> = locks.iter().map(LockEntry::to_json_string).collect();
                format!("{{\"maxOwners\":{max_owners},\"locks\":[{}]}}", items.join(","))
            }
        }
    }

    pub fn entries(&self) -> &[LockEntry] {
        match self {
            LockValue::Single(e) => std::slice::from_ref(e),
            LockValue::Multi { locks, .. } => locks,
        }
    }
}

fn bad(message: String) -> Error {
    Error::Decode { what: "lock annotation".to_string(), message }
}
