//! The lock annotation's value, in upstream kured's `daemonsetlock` JSON formats.
//!
//! Single (concurrency 1):
//! `{"nodeID":"n1","metadata":{"unschedulable":false},"created":"2024-03-01T03:00:00.123Z","TTL":0}`
//! Multi (concurrency > 1): `{"maxOwners":2,"locks":[{...},{...}]}`.
//! `created` is Go's `time.Time` (RFC 3339, we accept any offset); `TTL` is Go's
//! `time.Duration`, an integer of nanoseconds where 0 (or less) means "never
//! expires". Both formats are read whatever our own concurrency, because a fleet
//! being migrated (or reconfigured) can hold either. Keys are read as Go's
//! `encoding/json` reads them (see `gojson`): any case, missing = zero value.

mod gojson;

use std::time::Duration;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::OffsetDateTime;

use self::gojson::{fold, has, matches, Json};
use crate::error::{Error, Result};

/// Go's zero `time.Time`, what a lock without `created` was created at. Far
/// enough back that any TTL has run out; `expired` computes in i128 nanoseconds,
/// so the ~2000 years between it and now cannot overflow.
pub const GO_ZERO_TIME: OffsetDateTime = datetime!(0001-01-01 00:00:00 UTC);

/// The largest lock value read (Kubernetes' `TotalAnnotationSizeLimitB`).
pub const MAX_ANNOTATION: usize = 256 * 1024;

/// What a holder recorded about its node when it took the lock. Upstream
/// records only `unschedulable`; kured-rs adds `bootID` and `rebootStreak` to
/// the same `metadata` object, which upstream decodes into a struct (extra
/// keys ignored) and, when it rewrites another holder's entry, keeps whole
/// (it is an `interface{}` there).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockMeta {
    /// The node was already cordoned before kured took it: do not uncordon it.
    pub unschedulable: bool,
    /// The node's boot ID when it took the lock: a different one at start-up
    /// means the reboot happened.
    pub boot_id: Option<String>,
    /// Confirmed reboots in a row before this one that left the sentinel set.
    pub reboot_streak: u32,
}

impl LockMeta {
    pub fn cordoned(unschedulable: bool) -> LockMeta {
        LockMeta { unschedulable, ..LockMeta::default() }
    }
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
        let mut metadata = serde_json::json!({ "unschedulable": meta.unschedulable });
        if let Some(boot) = &meta.boot_id {
            metadata["bootID"] = Value::String(boot.clone());
        }
        if meta.reboot_streak > 0 {
            metadata["rebootStreak"] = Value::from(meta.reboot_streak);
        }
        LockEntry { node_id: node_id.to_string(), metadata, created: created.to_offset(time::UtcOffset::UTC), ttl_ns }
    }

    /// Upstream's `ttlExpired`: `ttl > 0 && time.Since(created) >= ttl`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.ttl_ns > 0 && (now - self.created).whole_nanoseconds() >= i128::from(self.ttl_ns)
    }

    /// The node that broke this entry as stale (`metadata.brokenBy`, kured-rs's
    /// own key; see `lock::stale`): a broken entry is nobody's to act on any
    /// more, and only keeps its slot until its (shortened) TTL runs out.
    pub fn broken_by(&self) -> Option<&str> {
        self.metadata.get("brokenBy").and_then(Value::as_str).filter(|b| !b.is_empty())
    }

    /// This entry broken by `by` at `now`: kept, so its slot stays taken for
    /// `grace` (its holder, should it be alive after all, sees the mark and
    /// stops), then free for any pod, upstream's too (its TTL ends then).
    pub fn broken(&self, by: &str, now: OffsetDateTime, grace: Duration) -> LockEntry {
        let mut metadata = match &self.metadata {
            Value::Object(m) => Value::Object(m.clone()),
            _ => serde_json::json!({}),
        };
        metadata["brokenBy"] = Value::String(by.to_string());
        let until = (now + grace - self.created).whole_nanoseconds();
        let ttl_ns = i64::try_from(until).unwrap_or(i64::MAX).max(1);
        LockEntry { metadata, ttl_ns, ..self.clone() }
    }

    /// `metadata.unschedulable` (validated as a boolean when parsed; absent =
    /// false), its key matched in any case as Go does. Should the metadata hold
    /// several spellings, the exact one wins (Go would take the last written,
    /// an order the parsed metadata no longer has).
    pub fn meta(&self) -> LockMeta {
        let Some(obj) = self.metadata.as_object() else { return LockMeta::default() };
        let folded = || obj.iter().rev().filter(|(k, _)| fold(k) == "UNSCHEDULABLE").find_map(|(_, v)| v.as_bool());
        let unschedulable = obj.get("unschedulable").and_then(Value::as_bool).or_else(folded).unwrap_or(false);
        // Our own keys, exactly as we write them; a value of another type is
        // read as absent (it is not ours to call corrupt).
        let boot_id = obj.get("bootID").and_then(Value::as_str).filter(|b| !b.is_empty()).map(str::to_string);
        let reboot_streak =
            obj.get("rebootStreak").and_then(Value::as_u64).map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        LockMeta { unschedulable, boot_id, reboot_streak }
    }

    /// One entry as Go decodes it into upstream's struct: fields missing (or
    /// `null`) keep their zero value, so `{"nodeID":"manual"}` (upstream's README
    /// way to pause all reboots) is a lock held by "manual" since year 1, forever.
    fn from_json(v: &Json, what: &str) -> Result<LockEntry> {
        let Json::Obj(obj) = v else { return Err(bad(format!("{what} is not an object"))) };
        let mut node_id = String::new();
        for v in matches(obj, "nodeID") {
            match v {
                Json::Null => {}
                Json::Str(s) => node_id.clone_from(s),
                other => return Err(bad(format!("{what}: nodeID {other} is not a string"))),
            }
        }
        let mut created = GO_ZERO_TIME;
        for v in matches(obj, "created") {
            match v {
                Json::Null => {}
                Json::Str(s) => {
                    created = OffsetDateTime::parse(s, &Rfc3339)
                        .map_err(|e| bad(format!("{what}: created {s:?} is not an rfc 3339 time: {e}")))?;
                }
                other => return Err(bad(format!("{what}: created {other} is not an rfc 3339 time"))),
            }
        }
        let mut ttl_ns = 0;
        for v in matches(obj, "TTL") {
            match v {
                Json::Null => {}
                Json::Num(n) if n.is_i64() || n.is_u64() => {
                    ttl_ns = n.as_i64().ok_or_else(|| bad(format!("{what}: TTL {n} is out of range")))?;
                }
                other => return Err(bad(format!("{what}: TTL {other} is not an integer of nanoseconds"))),
            }
        }
        // Absent stays absent (Go's `omitempty`), so rewriting another holder's
        // entry never invents metadata for it.
        let mut metadata = Value::Null;
        for v in matches(obj, "metadata") {
            match v {
                Json::Null => metadata = Value::Null,
                Json::Obj(fields) => {
                    for u in matches(fields, "unschedulable") {
                        if !matches!(u, Json::Null | Json::Bool(_)) {
                            return Err(bad(format!("{what}: metadata.unschedulable {u} is not a boolean")));
                        }
                    }
                    metadata = v.clone().into_value();
                }
                other => return Err(bad(format!("{what}: metadata {other} is not an object"))),
            }
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
        let v: Json = serde_json::from_str(s).map_err(|e| bad(format!("not json: {e}")))?;
        let Json::Obj(obj) = &v else { return Err(bad("not a json object".to_string())) };
        // Upstream reads the format its concurrency implies; we read both, so a
        // key of the multi format (in any case) decides.
        if !(has(obj, "locks") || has(obj, "maxOwners")) {
            return Ok(LockValue::Single(LockEntry::from_json(&v, "lock")?));
        }
        let mut max_owners = 0;
        for m in matches(obj, "maxOwners") {
            match m {
                Json::Null => {}
                Json::Num(n) if n.is_i64() => max_owners = n.as_i64().unwrap_or(0),
                other => return Err(bad(format!("maxOwners {other} is not an integer"))),
            }
        }
        let mut locks = Vec::new();
        for l in matches(obj, "locks") {
            locks = match l {
                // Go sets a slice to nil on null, and marshals an empty one as null.
                Json::Null => Vec::new(),
                Json::Arr(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| LockEntry::from_json(item, &format!("locks[{i}]")))
                    .collect::<Result<Vec<_>>>()?,
                _ => return Err(bad("locks is not an array".to_string())),
            };
        }
        Ok(LockValue::Multi { max_owners, locks })
    }

    /// An annotation that may be absent. An empty value holds no holder's
    /// information (e.g. left by `kubectl annotate ds kured key=`), so it counts
    /// as no lock rather than as corrupt.
    pub fn from_optional(s: Option<&str>) -> Result<Option<LockValue>> {
        match s {
            None => Ok(None),
            // Kubernetes allows 256 KiB for all of an object's annotations
            // together: a bigger value comes from a broken server, and parsing
            // it could take more memory than the pod has.
            Some(s) if s.len() > MAX_ANNOTATION => Err(bad(format!(
                "{} bytes, more than the {} KiB Kubernetes allows for all annotations of an object",
                s.len(),
                MAX_ANNOTATION / 1024
            ))),
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

    pub fn entries_mut(&mut self) -> &mut [LockEntry] {
        match self {
            LockValue::Single(e) => std::slice::from_mut(e),
            LockValue::Multi { locks, .. } => locks,
        }
    }
}

fn bad(message: String) -> Error {
    Error::Decode { what: "lock annotation".to_string(), message }
}
