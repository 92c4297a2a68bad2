//! URL building for API paths: percent-encoding of path segments and query
//! values, so a pod name or a selector can never change which resource we address.

use crate::urlenc::percent_encode;

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
