//! Request paths as the real server lays them out: `/api/v1/...` for the core
//! group, `/apis/{group}/{version}/...` for the others, optional
//! `namespaces/{ns}/`, then resource, name and subresource.

use crate::resources::{self, Resource};

#[derive(Debug, PartialEq)]
pub struct ResPath {
    pub res: &'static Resource,
    /// None: cluster-scoped, or a list across all namespaces
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    /// the legacy `/watch/` path segment
    pub watch: bool,
}

#[derive(Debug, PartialEq)]
pub enum Route {
    Version,
    Health,
    ApiRoot,
    ApisRoot,
    Group(String),
    GroupVersion(String, String),
    Resource(ResPath),
    NotFound,
}

pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "readyz" | "livez", ..] => return Route::Health,
        ["api"] => return Route::ApiRoot,
        ["apis"] => return Route::ApisRoot,
        ["apis", g] if resources::GROUPS.contains(g) => return Route::Group(g.to_string()),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    if rest.is_empty() {
        let known = resources::RESOURCES.iter().any(|r| r.group == group && r.version == version);
        return if known { Route::GroupVersion(group.to_string(), version.to_string()) } else { Route::NotFound };
    }
    let (watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, r @ ..] if !r.is_empty() => (Some(ns.to_string()), r),
        r => (None, r),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Route::NotFound,
    };
    let Some(res) = resources::by_path(group, version, plural) else { return Route::NotFound };
    if ns.is_some() && !res.namespaced || res.namespaced && ns.is_none() && name.is_some() {
        return Route::NotFound;
    }
    Route::Resource(ResPath { res, ns, name, sub, watch })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (qualified resource, namespace, name, subresource)
    type Parts<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

    #[track_caller]
    fn check(path: &str, want: Option<Parts>) {
        let got = match parse(path) {
            Route::Resource(r) => Some((r.res.qualified(), r.ns, r.name, r.sub)),
            _ => None,
        };
        let want =
            want.map(|(q, n, m, s)| (q.to_string(), n.map(String::from), m.map(String::from), s.map(String::from)));
        assert_eq!(got, want, "{path}");
    }

    #[test]
    fn paths() {
        check("/api/v1/nodes/n1", Some(("nodes", None, Some("n1"), None)));
        check("/api/v1/pods", Some(("pods", None, None, None)));
        check(
            "/api/v1/namespaces/kube-system/pods/p/eviction",
            Some(("pods", Some("kube-system"), Some("p"), Some("eviction"))),
        );
        check(
            "/apis/apps/v1/namespaces/kube-system/daemonsets/kured",
            Some(("daemonsets.apps", Some("kube-system"), Some("kured"), None)),
        );
        check("/api/v1/namespaces/default", Some(("namespaces", None, Some("default"), None)));
        check("/api/v1/pods/x", None);
        check("/api/v1/namespaces/a/nodes", None);
        check("/apis/nope/v1/x", None);
        assert_eq!(parse("/apis/apps/v1"), Route::GroupVersion("apps".into(), "v1".into()));
    }
}
