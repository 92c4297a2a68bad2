//! The generic webhook, as shoutrrr defines it: `generic://host/path` and
//! `generic+https://...` post over HTTPS, `generic+http://...` (or
//! `disabletls=yes`) over plain HTTP. By default the body is the message as
//! plain text (with `Content-Type: application/json`, shoutrrr's default);
//! `template=json` sends `{"message": ..., "title": ...}` (keys renamed by
//! `messagekey`/`titlekey`, extra fields from `$key=value`). `@Name=value`
//! adds a request header. Other query parameters stay on the webhook URL.

use serde_json::{json, Map, Value};

use super::url::ServiceUrl;
use super::{Expect, Request};
use crate::outbound::basic_auth;
use crate::urlenc::percent_encode;

#[derive(Debug, Clone)]
pub struct Generic {
    url: String,
    method: String,
    content_type: String,
    json: bool,
    title: String,
    title_key: String,
    message_key: String,
    headers: Vec<(String, String)>,
    extra: Vec<(String, String)>,
}

impl Generic {
    pub fn parse(u: &ServiceUrl) -> Result<Generic, String> {
        if u.host.is_empty() {
            return Err("host missing (expected generic+https://host/path)".into());
        }
        let mut g = Generic {
            url: String::new(),
            method: "POST".into(),
            content_type: "application/json".into(),
            json: false,
            title: String::new(),
            title_key: "title".into(),
            message_key: "message".into(),
            headers: Vec::new(),
            extra: Vec::new(),
        };
        let mut disable_tls = u.scheme == "generic+http";
        let mut passed_on = Vec::new();
        for (k, v) in &u.query {
            if let Some(name) = k.strip_prefix('@') {
                g.headers.push((name.to_string(), v.clone()));
                continue;
            }
            if let Some(name) = k.strip_prefix('$') {
                g.extra.push((name.to_string(), v.clone()));
                continue;
            }
            match k.to_ascii_lowercase().as_str() {
                "contenttype" => g.content_type = v.clone(),
                "disabletls" => disable_tls = matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1"),
                "template" => match v.as_str() {
                    "" => g.json = false,
                    "json" | "JSON" => g.json = true,
                    other => return Err(format!("unsupported template {other:?} (only json or none)")),
                },
                "title" => g.title = v.clone(),
                "titlekey" => g.title_key = v.clone(),
                "messagekey" => g.message_key = v.clone(),
                "method" => g.method = v.to_ascii_uppercase(),
                _ => passed_on.push(format!("{}={}", percent_encode(k), percent_encode(v))),
            }
        }
        if !g.method.chars().all(|c| c.is_ascii_uppercase()) || g.method.is_empty() {
            return Err(format!("invalid method {:?}", g.method));
        }
        let scheme = if disable_tls { "http" } else { "https" };
        let path: Vec<String> = u.path.split('/').map(percent_encode).collect();
        let mut url = format!("{scheme}://{}{}", u.host_port(), path.join("/"));
        if !passed_on.is_empty() {
            url.push('?');
            url.push_str(&passed_on.join("&"));
        }
        g.url = url;
        // Go's HTTP client sends user info in the URL as basic authentication.
        if let Some(user) = &u.user {
            g.headers.push(("Authorization".into(), basic_auth(user, u.password.as_deref().unwrap_or(""))));
        }
        Ok(g)
    }

    pub fn request(&self, message: &str) -> Request {
        let body = if self.json {
            let mut m = Map::new();
            for (k, v) in &self.extra {
                m.insert(k.clone(), json!(v));
            }
            if !self.title.is_empty() {
                m.insert(self.title_key.clone(), json!(self.title));
            }
            m.insert(self.message_key.clone(), json!(message));
            Value::Object(m).to_string()
        } else {
            message.to_string()
        };
        let mut headers = vec![
            ("Content-Type".to_string(), self.content_type.clone()),
            ("Accept".to_string(), self.content_type.clone()),
        ];
        headers.extend(self.headers.iter().cloned());
        Request { method: self.method.clone(), url: self.url.clone(), headers, body, expect: Expect::Success }
    }
}
