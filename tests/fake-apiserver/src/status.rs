//! `Status` objects: every error the fake server returns has the shape and the
//! message of the real kube-apiserver's, because clients (ours and kubectl) parse
//! `reason` and `code`, and people read `message`.

use serde_json::{json, Value};

use crate::resources::Resource;

/// An API error, rendered as a `Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        if self.reason.is_empty() {
            v.as_object_mut().map(|o| o.remove("reason"));
        }
        v
    }
}

/// `details` as the real server fills it: name, group (if any), kind = resource plural.
pub fn details(res: &Resource, name: &str) -> Value {
    let mut d = json!({ "name": name, "kind": res.plural });
    if !res.group.is_empty() {
        d["group"] = json!(res.group);
    }
    d
}

pub fn not_found(res: &Resource, name: &str) -> ApiError {
    ApiError::new(404, "NotFound", format!("{} \"{}\" not found", res.qualified(), name))
        .with_details(details(res, name))
}

pub fn already_exists(res: &Resource, name: &str) -> ApiError {
    ApiError::new(409, "AlreadyExists", format!("{} \"{}\" already exists", res.qualified(), name))
        .with_details(details(res, name))
}

pub fn conflict(res: &Resource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            res.qualified(),
            name
        ),
    )
    .with_details(details(res, name))
}

pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "BadRequest", message)
}

/// 422 for an object that fails validation, with one cause per field.
pub fn invalid(res: &Resource, name: &str, field: &str, why: &str) -> ApiError {
    let mut d = details(res, name);
    d["kind"] = json!(res.kind);
    d["causes"] =
        json!([{ "reason": "FieldValueInvalid", "message": format!("Invalid value: {why}"), "field": field }]);
    ApiError::new(422, "Invalid", format!("{} \"{}\" is invalid: {}: Invalid value: {}", res.kind, name, field, why))
        .with_details(d)
}

pub fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized", "Unauthorized")
}

pub fn path_not_found() -> ApiError {
    ApiError::new(404, "NotFound", "the server could not find the requested resource").with_details(json!({}))
}

pub fn method_not_allowed() -> ApiError {
    ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        .with_details(json!({}))
}

/// A PATCH whose Content-Type is not a patch type. The real server answers
/// this (checked against kube-apiserver v1.34) before looking up the object,
/// with this short message, not the longer negotiation text.
pub fn unsupported_media_type(_ct: &str) -> ApiError {
    ApiError::new(415, "UnsupportedMediaType", "415: Unsupported Media Type").with_details(json!({}))
}

/// A DELETE whose `preconditions.uid` is not the object's (kube-apiserver
/// v1.34's wording: the kind, not the resource, and this sentence).
pub fn uid_precondition_failed(kind: &str, name: &str, want: &str, have: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {kind} \"{name}\": the UID in the precondition ({want}) does not match \
             the UID in record ({have}). The object might have been deleted and then recreated"
        ),
    )
    .with_details(json!({"name": name, "kind": kind}))
}

pub fn expired_continue() -> ApiError {
    ApiError::new(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. \
         You can start a new list without the continue parameter.",
    )
}

/// The reason the real server pairs with a bare status code (used by injected faults).
pub fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

/// The `Status` a fault injects for `code`.
pub fn injected(code: u16) -> ApiError {
    let msg = match code {
        403 => "forbidden: injected fault".to_string(),
        429 => "Too many requests, please try again later.".to_string(),
        500 => "Internal error occurred: injected fault".to_string(),
        _ => format!("injected fault ({code})"),
    };
    let mut e = ApiError::new(code, reason_for(code), msg).with_details(json!({}));
    if code == 429 || code == 503 {
        e = e.with_details(json!({ "retryAfterSeconds": 1 }));
    }
    e
}

pub fn success(code: u16) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code })
}
