//! The resource types the fake server knows, with the names the real server uses
//! in paths, discovery and error messages (`daemonsets.apps "kured"`).

#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    pub plural: &'static str,
    pub singular: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    /// whether `status` is a subresource (then PUT/PATCH of the object leave it alone)
    pub has_status: bool,
}

const fn r(
    plural: &'static str,
    singular: &'static str,
    group: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    has_status: bool,
) -> Resource {
    Resource { plural, singular, group, version: "v1", kind, namespaced, short, has_status }
}

pub static RESOURCES: &[Resource] = &[
    r("nodes", "node", "", "Node", false, &["no"], true),
    r("pods", "pod", "", "Pod", true, &["po"], true),
    r("namespaces", "namespace", "", "Namespace", false, &["ns"], true),
    r("events", "event", "", "Event", true, &["ev"], false),
    r("configmaps", "configmap", "", "ConfigMap", true, &["cm"], false),
    r("daemonsets", "daemonset", "apps", "DaemonSet", true, &["ds"], true),
    r("replicasets", "replicaset", "apps", "ReplicaSet", true, &["rs"], true),
    r("deployments", "deployment", "apps", "Deployment", true, &["deploy"], true),
    r("poddisruptionbudgets", "poddisruptionbudget", "policy", "PodDisruptionBudget", true, &["pdb"], true),
    r("events", "event", "events.k8s.io", "Event", true, &["ev"], false),
];

/// API groups other than the core one, in discovery order.
pub static GROUPS: &[&str] = &["apps", "policy", "events.k8s.io"];

impl Resource {
    /// `nodes`, `daemonsets.apps`: how errors and the store name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

pub fn by_path(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// By `pods`, `daemonsets`, `daemonsets.apps` or kind `Pod`; the core group wins ties.
pub fn by_name(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.plural == name || r.qualified() == name || r.kind == name)
}

/// By the `apiVersion` and `kind` of an object.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.api_version() == api_version && r.kind == kind)
}

pub fn in_group(group: &str) -> impl Iterator<Item = &'static Resource> + '_ {
    RESOURCES.iter().filter(move |r| r.group == group)
}

/// The position in [`RESOURCES`] of the resource qualified as `qualified`
/// (`pods`, `daemonsets.apps`).
pub fn index_of(qualified: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| r.qualified() == qualified)
}
