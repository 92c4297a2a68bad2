//! URL building for API paths: percent-encoding of path segments and query
//! values, so a pod name or a selector can never change which resource we address.

/// Percent-encode everything but RFC 3986 unreserved characters. Used for both
/// path segments and query values: `=` and `,` inside a selector must arrive as
/// data, not as query syntax.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Join `/`-free segments into a path, escaping each one.
pub fn path(segments: &[&str]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&percent_encode(s));
    }
    out
}

/// Append `?k=v&...` (values escaped) to `path`; nothing when `params` is empty.
pub fn with_query(path: &str, params: &[(&str, String)]) -> String {
    let mut out = path.to_string();
    for (i, (k, v)) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn enc(input: &str, want: &str) {
        assert_eq!(percent_encode(input), want, "percent_encode({input:?})");
    }

    #[test]
    fn percent_encoding() {
        enc("", "");
        enc("kured-abc_1.2~x", "kured-abc_1.2~x");
        enc("spec.nodeName=n1", "spec.nodeName%3Dn1");
        enc("app in (a,b)", "app%20in%20%28a%2Cb%29");
        enc("a/b?c&d#e", "a%2Fb%3Fc%26d%23e");
        enc("x!=y", "x%21%3Dy");
        enc("é", "%C3%A9");
        enc("%", "%25");
    }

    #[track_caller]
    fn url(segments: &[&str], params: &[(&str, String)], want: &str) {
        assert_eq!(with_query(&path(segments), params), want);
    }

    #[test]
    fn urls() {
        url(&["api", "v1", "nodes", "n1"], &[], "/api/v1/nodes/n1");
        url(&["api", "v1", "nodes", "a/../b"], &[], "/api/v1/nodes/a%2F..%2Fb");
        url(
            &["api", "v1", "pods"],
            &[("fieldSelector", "spec.nodeName=n1".into()), ("limit", "500".into())],
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&limit=500",
        );
        url(
            &["api", "v1", "namespaces", "ns", "pods", "p"],
            &[("gracePeriodSeconds", "0".into())],
            "/api/v1/namespaces/ns/pods/p?gracePeriodSeconds=0",
        );
    }
}
