//! kured's requests on the real server, from the API server's audit log (the
//! control plane's policy records every request of the `kube-system/kured`
//! service account with its body): the real-mode counterpart of the fake
//! server's request log, in the same `RequestRecord` shape.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use fakeapi::RequestRecord;
use serde_json::Value;

pub struct AuditLog {
    path: PathBuf,
    offset: u64,
    partial: String,
    records: Vec<RequestRecord>,
}

/// The HTTP method of an audit verb.
fn method(verb: &str) -> &'static str {
    match verb {
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" | "deletecollection" => "DELETE",
        _ => "GET",
    }
}

/// One audit event (a JSON line) as a request record; None for other lines.
pub fn record(line: &str) -> Option<RequestRecord> {
    let ev: Value = serde_json::from_str(line).ok()?;
    if ev["stage"] != "ResponseComplete" && ev["stage"] != "Panic" {
        return None;
    }
    let uri = ev["requestURI"].as_str()?;
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let body = match &ev["requestObject"] {
        Value::Null => String::new(),
        v => v.to_string(),
    };
    Some(RequestRecord {
        method: method(ev["verb"].as_str().unwrap_or("")).to_string(),
        path: path.to_string(),
        query: query.to_string(),
        content_type: String::new(),
        body,
        status: ev["responseStatus"]["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(0),
        at: std::time::Duration::ZERO,
    })
}

impl AuditLog {
    pub fn new(path: &Path) -> AuditLog {
        AuditLog { path: path.to_path_buf(), offset: 0, partial: String::new(), records: Vec::new() }
    }

    /// Read what was appended since the last call; every record so far.
    pub fn records(&mut self) -> &[RequestRecord] {
        if let Ok(mut f) = std::fs::File::open(&self.path) {
            let mut more = String::new();
            if f.seek(SeekFrom::Start(self.offset)).is_ok() && f.read_to_string(&mut more).is_ok() {
                self.offset += more.len() as u64;
                self.partial.push_str(&more);
                if let Some(end) = self.partial.rfind('\n') {
                    let complete: String = self.partial.drain(..=end).collect();
                    self.records.extend(complete.lines().filter_map(record));
                }
            }
        }
        &self.records
    }

    /// Forget what was read so far (the next records start from now).
    pub fn clear(&mut self) {
        self.records();
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eviction_and_a_patch() {
        let ev = r#"{"kind":"Event","stage":"ResponseComplete","verb":"create","requestURI":"/api/v1/namespaces/default/pods/web-1/eviction","responseStatus":{"code":429},"requestObject":{"kind":"Eviction"}}"#;
        let r = record(ev).unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.status),
            ("POST", "/api/v1/namespaces/default/pods/web-1/eviction", 429)
        );
        let p = r#"{"stage":"ResponseComplete","verb":"patch","requestURI":"/api/v1/nodes/node-1?fieldManager=kured","responseStatus":{"code":200},"requestObject":{"spec":{"unschedulable":false}}}"#;
        let r = record(p).unwrap();
        assert_eq!((r.method.as_str(), r.query.as_str()), ("PATCH", "fieldManager=kured"));
        assert_eq!(r.body, r#"{"spec":{"unschedulable":false}}"#);
        assert!(record(r#"{"stage":"RequestReceived","verb":"get","requestURI":"/x"}"#).is_none());
    }
}
