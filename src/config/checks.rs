//! Start-up checks of values that could otherwise only fail later, on every
//! period: the node id (a Kubernetes node name), the Prometheus URL, label
//! selectors and message templates. Each returns the reason, and
//! `validate` turns it into a usage error naming the flag or variable.

use std::time::Duration;

use super::duration::format_duration;
use super::flags::RawFlags;
use super::selector;
use crate::error::Result;

/// `--api-timeout` bounds. Below a second a busy API server (or a loaded node)
/// fails requests that were about to succeed. Above a minute nothing is
/// gained: the API server ends a request itself after its `--request-timeout`
/// (1 min by default), and a longer wait on a server that stopped answering
/// only holds the loop (and a graceful stop, which has 60 s).
pub const API_TIMEOUT_MIN: Duration = Duration::from_secs(1);
pub const API_TIMEOUT_MAX: Duration = Duration::from_secs(60);

pub fn api_timeout(raw: &RawFlags) -> Result<Duration> {
    let d = raw.duration("api-timeout");
    if (API_TIMEOUT_MIN..=API_TIMEOUT_MAX).contains(&d) {
        return Ok(d);
    }
    let why = format!("must be from {} to {}", format_duration(API_TIMEOUT_MIN), format_duration(API_TIMEOUT_MAX));
    Err(raw.invalid("api-timeout", &format_duration(d), &why))
}

/// The node id must be a node name the API server can have: a DNS subdomain
/// of at most 253 characters. A `KURED_NODE_ID` that was not UTF-8 arrives
/// here with U+FFFD in it, and is refused like any other bad name.
pub fn node_id(raw: &RawFlags) -> Result<String> {
    let id = raw.str("node-id");
    let why = match selector::dns_subdomain(id) {
        Ok(()) => return Ok(id.to_string()),
        Err(_) if id.contains('\u{fffd}') => "is not valid UTF-8 (or holds U+FFFD)".to_string(),
        Err(e) => format!("not a Kubernetes node name: {e}"),
    };
    Err(raw.invalid("node-id", id, &why))
}

/// `http://host[:port][/path]` or https: what the blocker appends
/// `/api/v1/query` to. Anything else fails on every check at run time.
pub fn http_url(url: &str) -> std::result::Result<(), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("scheme {other:?} is not http or https")),
        None => return Err("expected http://host:port or https://host:port".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    let host_port = uri.authority().map_or("", |a| a.as_str()).rsplit('@').next().unwrap_or("");
    if let Some((_, port)) = host_port.rsplit_once(':').filter(|_| !host_port.ends_with(']')) {
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(format!("port {port:?} is not a number from 0 to 65535"));
        }
    }
    if uri.query().is_some() {
        return Err("must not have a query (?...): /api/v1/query is appended to it".into());
    }
    Ok(())
}

pub fn prometheus_url(raw: &RawFlags) -> Result<Option<String>> {
    match raw.str("prometheus-url") {
        "" => Ok(None),
        url => http_url(url).map(|_| Some(url.to_string())).map_err(|why| raw.invalid("prometheus-url", url, &why)),
    }
}

/// The most a `--prometheus-query` may be (it goes into a GET URL).
const MAX_QUERY: usize = 8 * 1024;

/// Each `--prometheus-query`: not blank, bounded, and with a Prometheus to ask.
pub fn prometheus_queries(raw: &RawFlags) -> Result<Vec<String>> {
    let queries: Vec<String> = raw.list("prometheus-query").iter().map(|q| q.trim().to_string()).collect();
    for (q, given) in queries.iter().zip(raw.list("prometheus-query")) {
        if q.is_empty() {
            return Err(raw.invalid("prometheus-query", given, "an empty query"));
        }
        if q.len() > MAX_QUERY {
            return Err(raw.invalid(
                "prometheus-query",
                &q.chars().take(64).collect::<String>(),
                &format!("longer than {MAX_QUERY} bytes"),
            ));
        }
    }
    if !queries.is_empty() && raw.str("prometheus-url").is_empty() {
        return Err(raw.invalid("prometheus-query", &queries[0], "needs --prometheus-url to ask"));
    }
    Ok(queries)
}

/// `--alertmanager-url`: an http(s) URL, beside a `--prometheus-url` whose
/// alerts it can silence.
pub fn alertmanager_url(raw: &RawFlags) -> Result<Option<String>> {
    match raw.str("alertmanager-url") {
        "" => Ok(None),
        url => {
            http_url(url).map_err(|why| raw.invalid("alertmanager-url", url, &why))?;
            if raw.str("prometheus-url").is_empty() {
                return Err(raw.invalid(
                    "alertmanager-url",
                    url,
                    "silences alerts from --prometheus-url, which is not set",
                ));
            }
            Ok(Some(url.to_string()))
        }
    }
}

/// A label selector flag (one string).
pub fn selector(raw: &RawFlags, name: &str) -> Result<String> {
    let s = raw.str(name);
    selector::label_selector(s).map_err(|why| raw.invalid(name, s, &format!("not a label selector: {why}")))?;
    Ok(s.to_string())
}

/// Each selector of a repeatable selector flag.
pub fn selectors(raw: &RawFlags, name: &str) -> Result<Vec<String>> {
    for s in raw.list(name) {
        selector::label_selector(s).map_err(|why| raw.invalid(name, s, &format!("not a label selector: {why}")))?;
    }
    Ok(raw.list(name).to_vec())
}

/// A message template that renders within the message bound.
pub fn template(raw: &RawFlags, name: &str) -> Result<String> {
    let t = raw.str(name);
    crate::template::check(t).map_err(|why| raw.invalid(name, t, &why))?;
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::http_url;

    #[test]
    fn prometheus_urls() {
        for good in ["http://prometheus:9090", "https://p.example/prefix/", "http://[::1]:9090", "http://10.0.0.1"] {
            assert_eq!(http_url(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("not a url", "not a URL"),
            ("prometheus:9090", "expected http"),
            ("ftp://p", "scheme \"ftp\""),
            ("/api", "expected http"),
            ("http://p:9090/?x=1", "query"),
            ("http://p:notaport", "port"),
            ("http://p:99999", "port"),
        ] {
            let err = http_url(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
