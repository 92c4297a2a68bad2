//! Turning a non-2xx answer into `Error::Api`: the Kubernetes `Status` body when
//! there is one (reason, message, causes), else the HTTP status text and a short
//! excerpt of whatever the body was (a proxy's HTML page, a plain-text 503).

use std::time::Duration;

use serde::Deserialize;

use crate::error::{ApiErrorKind, Error};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Status {
    kind: String,
    reason: String,
    message: String,
    code: u16,
    details: Option<StatusDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusDetails {
    causes: Vec<StatusCause>,
    #[serde(rename = "retryAfterSeconds")]
    retry_after_seconds: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusCause {
    reason: String,
    message: String,
    field: String,
}

const EXCERPT_CHARS: usize = 200;

/// The `Error::Api` for answer `code` with `body` to `method path`.
pub fn api_error(method: &'static str, path: &str, code: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    let (reason, message) = match serde_json::from_slice::<Status>(body) {
        Ok(s) if s.kind == "Status" || !s.reason.is_empty() || !s.message.is_empty() => {
            let reason = if s.reason.is_empty() { status_text(code) } else { s.reason };
            (reason, with_causes(s.message, s.details))
        }
        _ => (status_text(code), excerpt(body)),
    };
    Error::Api {
        method,
        path: path.to_string(),
        code,
        kind: ApiErrorKind::from_code(code),
        reason,
        message,
        retry_after,
    }
}

/// Add causes the message does not already mention (a PDB refusal names the
/// budget only in its cause).
fn with_causes(message: String, details: Option<StatusDetails>) -> String {
    let causes: Vec<String> = details
        .map(|d| d.causes)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.message.is_empty() && !message.contains(&c.message))
        .map(|c| {
            let label = if c.field.is_empty() { c.reason } else { c.field };
            if label.is_empty() {
                c.message
            } else {
                format!("{label}: {}", c.message)
            }
        })
        .collect();
    match (message.is_empty(), causes.is_empty()) {
        (_, true) => message,
        (true, false) => causes.join("; "),
        (false, false) => format!("{message} ({})", causes.join("; ")),
    }
}

fn status_text(code: u16) -> String {
    ureq::http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown").to_string()
}

/// One line, at most `EXCERPT_CHARS` characters, of a body that was not a Status.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line,
    }
}

/// `Retry-After` in seconds (the only form the API server sends); HTTP dates
/// and garbage are ignored rather than guessed at.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The wait a 429/503 asks for: the `Retry-After` header, else the Status
/// body's `details.retryAfterSeconds` (which the API server copies into the
/// header; a proxy in between may drop one or the other). Zero means unset.
pub fn retry_after(header: Option<&str>, body: &[u8]) -> Option<Duration> {
    parse_retry_after(header).or_else(|| {
        let status = serde_json::from_slice::<Status>(body).ok()?;
        let secs = status.details?.retry_after_seconds;
        (secs > 0).then(|| Duration::from_secs(secs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(code: u16, body: &str, reason: &str, message: &str) {
        match api_error("GET", "/api/v1/nodes/n1", code, body.as_bytes(), None) {
            Error::Api { code: c, kind, reason: r, message: m, path, .. } => {
                assert_eq!((c, kind, r.as_str(), m.as_str()), (code, ApiErrorKind::from_code(code), reason, message));
                assert_eq!(path, "/api/v1/nodes/n1");
            }
            other => panic!("not an Api error: {other:?}"),
        }
    }

    #[test]
    fn status_bodies() {
        check(
            404,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes \"n1\" not found","reason":"NotFound","details":{"name":"n1","kind":"nodes"},"code":404}"#,
            "NotFound",
            "nodes \"n1\" not found",
        );
        check(
            409,
            r#"{"kind":"Status","reason":"Conflict","message":"the object has been modified"}"#,
            "Conflict",
            "the object has been modified",
        );
        check(429, r#"{"kind":"Status","reason":"TooManyRequests","message":"Cannot evict pod as it would violate the pod's disruption budget.","details":{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget pdb needs 1 healthy pods and has 1 currently"}]},"code":429}"#,
            "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget. (DisruptionBudget: The disruption budget pdb needs 1 healthy pods and has 1 currently)");
        check(
            422,
            r#"{"kind":"Status","reason":"Invalid","message":"","details":{"causes":[{"field":"spec.x","message":"bad"}]}}"#,
            "Invalid",
            "spec.x: bad",
        );
        check(403, r#"{"kind":"Status","message":"forbidden"}"#, "Forbidden", "forbidden");
        check(
            503,
            "  <html>\n<body>upstream\n  down</body></html>\n",
            "Service Unavailable",
            "<html> <body>upstream down</body></html>",
        );
        check(500, "", "Internal Server Error", "");
        check(410, r#"{"items":[]}"#, "Gone", r#"{"items":[]}"#);
        check(599, "x", "Unknown", "x");
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "y".repeat(1000);
        let Error::Api { message, .. } = api_error("GET", "/", 502, body.as_bytes(), None) else { unreachable!() };
        assert_eq!(message.len(), EXCERPT_CHARS + 3);
    }

    #[track_caller]
    fn retry(value: Option<&str>, want: Option<u64>) {
        assert_eq!(parse_retry_after(value), want.map(Duration::from_secs), "{value:?}");
    }

    #[test]
    fn retry_after_header() {
        retry(None, None);
        retry(Some("1"), Some(1));
        retry(Some(" 30 "), Some(30));
        retry(Some("0"), Some(0));
        retry(Some("-1"), None);
        retry(Some("1.5"), None);
        retry(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        retry(Some(""), None);
    }

    #[track_caller]
    fn effective(header: Option<&str>, body: &str, want: Option<u64>) {
        assert_eq!(retry_after(header, body.as_bytes()), want.map(Duration::from_secs), "{header:?} {body}");
    }

    #[test]
    fn retry_after_from_header_or_status() {
        let status = r#"{"kind":"Status","code":503,"details":{"retryAfterSeconds":3}}"#;
        effective(Some("2"), status, Some(2));
        effective(None, status, Some(3));
        effective(None, r#"{"kind":"Status","details":{"retryAfterSeconds":0}}"#, None);
        effective(None, r#"{"kind":"Status","details":{}}"#, None);
        effective(None, "<html>busy</html>", None);
        effective(Some("soon"), status, Some(3));
    }
}
