//! Lists (selectors, `limit` + `continue` pagination) and the parameters of
//! watches, as the real server reads them from the query string.

use std::time::Duration;

use serde_json::{json, Value};

use crate::http::Request;
use crate::resources::Resource;
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::State;
use crate::status::{self, ApiError};

/// What to list or watch.
pub struct Query {
    pub res: &'static Resource,
    pub ns: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Query {
    pub fn from_request(res: &'static Resource, ns: Option<String>, req: &Request) -> Result<Query, ApiError> {
        let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or("")).map_err(status::bad_request)?;
        let fields =
            FieldSelector::parse(req.param("fieldSelector").unwrap_or(""), res).map_err(status::bad_request)?;
        Ok(Query { res, ns, labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let ns_ok =
            self.ns.as_deref().is_none_or(|n| obj["metadata"]["namespace"].as_str() == Some(n) || !self.res.namespaced);
        ns_ok && self.labels.matches(obj) && self.fields.matches(obj)
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// The opaque `continue` token: where the next page starts.
fn token(rv: u64, obj: &Value) -> String {
    let m = &obj["metadata"];
    format!(
        "fk1{}",
        hex(&format!("{rv}\n{}\n{}", m["namespace"].as_str().unwrap_or(""), m["name"].as_str().unwrap_or("")))
    )
}

fn parse_token(t: &str) -> Option<(String, String)> {
    let s = unhex(t.strip_prefix("fk1")?)?;
    let mut parts = s.splitn(3, '\n');
    let (_rv, ns, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some((ns.to_string(), name.to_string()))
}

/// One page of the list, as `{kind: XList, metadata: {resourceVersion, continue}, items}`.
pub fn list(st: &State, q: &Query, req: &Request) -> Result<Value, ApiError> {
    let limit: usize = match req.param("limit") {
        Some(l) => l.parse().map_err(|_| status::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let after = match req.param("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            Some(parse_token(c).ok_or_else(|| status::bad_request(format!("continue key is not valid: {c:?}")))?)
        }
        None => None,
    };
    let rv = st.store.resource_version();
    let all: Vec<&Value> = st
        .store
        .list(q.res, q.ns.as_deref())
        .filter(|o| q.matches(o))
        .filter(|o| {
            let m = &o["metadata"];
            let k = (m["namespace"].as_str().unwrap_or("").to_string(), m["name"].as_str().unwrap_or("").to_string());
            after.as_ref().is_none_or(|a| k > *a)
        })
        .collect();
    let page: Vec<&Value> = if limit > 0 { all.iter().copied().take(limit).collect() } else { all.clone() };
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if page.len() < all.len() {
        meta["continue"] = json!(token(rv, page[page.len() - 1]));
        meta["remainingItemCount"] = json!(all.len() - page.len());
    }
    let items: Vec<Value> = page
        .into_iter()
        .map(|o| {
            let mut o = o.clone();
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    Ok(json!({ "kind": q.res.list_kind(), "apiVersion": q.res.api_version(), "metadata": meta, "items": items }))
}

/// Which objects a watch has told its client about, so that a change is
/// translated as the real server's watch cache does: an object that stops
/// matching the selectors (a pod whose labels or fields change) is DELETED
/// for this watch, one that starts matching is ADDED.
#[derive(Default)]
pub struct Seen(std::collections::HashSet<(String, String)>);

fn key_of(obj: &Value) -> (String, String) {
    let m = &obj["metadata"];
    (m["namespace"].as_str().unwrap_or("").to_string(), m["name"].as_str().unwrap_or("").to_string())
}

impl Seen {
    /// What matched `q` at resourceVersion `since`, as far as the change log
    /// tells: an object changed since then is judged by its last state at or
    /// before `since` (absent if its first later change is ADDED; assumed to
    /// match when the log does not reach back to it).
    pub fn at(st: &State, q: &Query, since: u64) -> Seen {
        let qualified = q.res.qualified();
        let log: Vec<&crate::store::Change> = st.store.change_log().collect();
        let split = st.store.changes_after_index(since);
        // Only the objects changed after `since` need their earlier state, and
        // only the log before `since` is searched for it, newest first (the
        // whole log, 10,000 changes, for every resumed watch was the fake
        // server's cost at 1,000 nodes).
        let mut first_after: std::collections::HashMap<(String, String), &'static str> = Default::default();
        for ch in log[split..].iter().filter(|ch| ch.res == qualified) {
            first_after.entry(key_of(&ch.object)).or_insert(ch.kind);
        }
        let mut before: std::collections::HashMap<(String, String), bool> = Default::default();
        if !first_after.is_empty() {
            for ch in log[..split].iter().rev().filter(|ch| ch.res == qualified) {
                let key = key_of(&ch.object);
                if first_after.contains_key(&key) && !before.contains_key(&key) {
                    before.insert(key, ch.kind != "DELETED" && q.matches(&ch.object));
                    if before.len() == first_after.len() {
                        break;
                    }
                }
            }
        }
        let mut seen = Seen::default();
        for o in st.store.list(q.res, q.ns.as_deref()) {
            let key = key_of(o);
            if !first_after.contains_key(&key) && q.matches(o) {
                seen.0.insert(key);
            }
        }
        for (key, kind) in first_after {
            let matched = match before.get(&key) {
                Some(m) => *m,
                None => kind != "ADDED",
            };
            if matched {
                seen.0.insert(key);
            }
        }
        seen
    }

    pub fn insert(&mut self, obj: &Value) {
        self.0.insert(key_of(obj));
    }

    /// The event type this watch sends for a change of `kind`, or None.
    pub fn translate(&mut self, kind: &'static str, matches: bool, obj: &Value) -> Option<&'static str> {
        let key = key_of(obj);
        let was = self.0.contains(&key);
        match (kind, matches, was) {
            ("DELETED", _, true) | ("DELETED", true, false) => {
                self.0.remove(&key);
                Some("DELETED")
            }
            ("DELETED", false, false) => None,
            (_, true, true) => Some(kind),
            (_, true, false) => {
                self.0.insert(key);
                Some("ADDED")
            }
            (_, false, true) => {
                self.0.remove(&key);
                Some("DELETED")
            }
            (_, false, false) => None,
        }
    }
}

/// A watch: from `resourceVersion` (None or 0: start with ADDED for what exists).
pub struct Watch {
    pub query: Query,
    pub since: Option<u64>,
    pub timeout: Duration,
    pub table: bool,
}

pub fn watch(q: Query, req: &Request) -> Result<Watch, ApiError> {
    let since = match req.param("resourceVersion").filter(|r| !r.is_empty() && *r != "0") {
        Some(r) => Some(r.parse().map_err(|_| status::bad_request(format!("invalid resourceVersion {r:?}")))?),
        None => None,
    };
    let secs: u64 = req.param("timeoutSeconds").and_then(|t| t.parse().ok()).unwrap_or(300);
    let table = req.header("accept").is_some_and(|a| a.contains("as=Table"));
    Ok(Watch { query: q, since, timeout: Duration::from_secs(secs.clamp(1, 3600)), table })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_leaving_or_entering_a_selection_are_deleted_or_added() {
        let a = json!({"metadata": {"namespace": "d", "name": "a"}});
        let mut seen = Seen::default();
        let mut t = |kind, matches| seen.translate(kind, matches, &a);
        assert_eq!(t("MODIFIED", false), None);
        assert_eq!(t("MODIFIED", true), Some("ADDED"));
        assert_eq!(t("MODIFIED", true), Some("MODIFIED"));
        assert_eq!(t("MODIFIED", false), Some("DELETED"));
        assert_eq!(t("DELETED", false), None);
        assert_eq!(t("ADDED", true), Some("ADDED"));
        assert_eq!(t("DELETED", true), Some("DELETED"));
        assert_eq!(t("DELETED", true), Some("DELETED"));
    }
}
