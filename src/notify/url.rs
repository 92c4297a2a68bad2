//! A small parser for shoutrrr service URLs (`scheme://user:pass@host:port/path?query#frag`),
//! close to Go's `net/url` because shoutrrr reads its fields from there, and
//! [`redact`] so that a URL can be named in logs without its secrets.

use crate::urlenc::decode;

/// The parts of a service URL, percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUrl {
    /// lowercase
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// without the port; IPv6 literals keep their brackets
    pub host: String,
    pub port: Option<u16>,
    /// decoded, with its leading `/` (empty when there is no path)
    pub path: String,
    /// decoded pairs in order; keys as written
    pub query: Vec<(String, String)>,
    pub fragment: String,
    /// the query string as written, for services that pass it on
    pub raw_query: String,
}

impl ServiceUrl {
    /// Parse; the error says what is wrong without repeating the URL (the
    /// caller names it redacted).
    pub fn parse(url: &str) -> Result<ServiceUrl, String> {
        let (scheme, rest) = url.split_once("://").ok_or("missing scheme (expected service://...)")?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return Err("invalid scheme".into());
        }
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (rest, raw_query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(decode(u, false)), Some(decode(p, false))),
                None => (Some(decode(ui, false)), None),
            },
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(ServiceUrl {
            scheme: scheme.to_ascii_lowercase(),
            user,
            password,
            host: decode(host, false),
            port,
            path: decode(path, false),
            query: parse_query(raw_query),
            fragment: decode(fragment, false),
            raw_query: raw_query.to_string(),
        })
    }

    /// `host` or `host:port`, as it goes into a request URL.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// The path split on `/`, without the leading empty segment.
    pub fn segments(&self) -> Vec<&str> {
        let p = self.path.strip_prefix('/').unwrap_or(&self.path);
        if p.is_empty() {
            Vec::new()
        } else {
            p.split('/').collect()
        }
    }

    /// The first value of a query key, matched case-insensitively as
    /// shoutrrr's config keys are.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// The first of several alias keys that is present.
    pub fn param_any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.param(k))
    }

    /// Query keys not in `known` (case-insensitive), so callers can warn about them.
    pub fn unknown_params(&self, known: &[&str]) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| !known.iter().any(|n| n.eq_ignore_ascii_case(k)))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if hostport.starts_with('[') {
        let end = hostport.find(']').ok_or("unclosed '[' in host")?;
        let after = &hostport[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => (&hostport[..=end], Some(p)),
            None if after.is_empty() => (&hostport[..=end], None),
            None => return Err("unexpected characters after ']' in host".into()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| "invalid port (not a number up to 65535)".to_string())?),
    };
    Ok((host, port))
}

/// `a=1&b=2` into decoded pairs (`+` is a space, as in Go's `url.ParseQuery`).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

/// The URL with everything that may be a secret masked: user info, path and
/// query values. Tokens live in all three depending on the service (discord
/// and slack in the user info, gotify and mattermost in the path, Google Chat
/// in the query), so only the scheme, host and query keys survive.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable url>".into();
    };
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = format!("{scheme}://");
    let host = match authority.rfind('@') {
        Some(i) => {
            out.push_str("***@");
            &authority[i + 1..]
        }
        None => authority,
    };
    out.push_str(host);
    if path.len() > 1 {
        out.push_str("/***");
    } else {
        out.push_str(path);
    }
    if !query.is_empty() {
        let keys: Vec<String> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| format!("{}=***", kv.split_once('=').map_or(kv, |(k, _)| k)))
            .collect();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn red(url: &str, want: &str) {
        assert_eq!(redact(url), want, "redact({url:?})");
    }

    #[test]
    fn redaction() {
        red("slack://xoxb:123456789-123456789-abc@C001", "slack://***@C001");
        red("discord://tok@123", "discord://***@123");
        red("gotify://example.com/Atoken", "gotify://example.com/***");
        red(
            "googlechat://chat.googleapis.com/v1/spaces/S/messages?key=K&token=T",
            "googlechat://chat.googleapis.com/***?key=***&token=***",
        );
        red("smtp://u:p@mail:25/?from=a&to=b", "smtp://***@mail:25/?from=***&to=***");
        red("ntfy://ntfy.sh", "ntfy://ntfy.sh");
        red("garbage", "<unparsable url>");
    }

    #[test]
    fn parsing() {
        let u = ServiceUrl::parse("Mattermost://bob@mm.example.com:8065/tok/chan?icon=x%20y#f").unwrap();
        assert_eq!(u.scheme, "mattermost");
        assert_eq!(u.user.as_deref(), Some("bob"));
        assert_eq!(u.password, None);
        assert_eq!(u.host, "mm.example.com");
        assert_eq!(u.port, Some(8065));
        assert_eq!(u.segments(), vec!["tok", "chan"]);
        assert_eq!(u.param("ICON"), Some("x y"));
        assert_eq!(u.fragment, "f");

        let u = ServiceUrl::parse("telegram://123:abc@telegram?chats=@a,1").unwrap();
        assert_eq!((u.user.as_deref(), u.password.as_deref()), (Some("123"), Some("abc")));
        assert_eq!(u.param("chats"), Some("@a,1"));

        let u = ServiceUrl::parse("generic+http://[::1]:8080").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("[::1]", Some(8080), ""));
        assert!(u.segments().is_empty());

        assert!(ServiceUrl::parse("no-scheme").is_err());
        assert!(ServiceUrl::parse("x://h:notaport/").unwrap_err().contains("invalid port"));
    }
}
