//! A small synchronous Kubernetes REST client: in-cluster configuration, TLS that
//! trusts only the service-account CA, typed errors from `Status` objects, and the
//! handful of operations kured needs. It knows nothing of locks or drains.

pub mod config;
pub mod http;
pub mod list;
pub mod pdb;
pub mod ready;
pub mod status;
pub mod tls;
pub mod token;
pub mod types;
pub mod url;
pub mod watch;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::{Error, Result};
pub use types::{DaemonSet, Node, OwnerReference, Pod, Taint};

/// Pods asked for per list page (`limit`); the rest follows with `continue`.
pub const POD_PAGE: u32 = 100;
/// Nodes asked for per list page.
pub const NODE_PAGE: u32 = 100;

/// The largest answer read per kind of request. The pod's memory limit is
/// 32 MiB; real objects are far smaller (etcd stores at most 1.5 MiB per
/// object, annotations at most 256 KiB in all), so only a broken server or
/// proxy meets these, and gets a clear error instead of our memory.
pub mod limits {
    const MIB: u64 = 1024 * 1024;
    /// One Node, DaemonSet (with the lock annotation) or Pod.
    pub const OBJECT: u64 = 4 * MIB;
    /// One page of a pod list ([`super::POD_PAGE`] pods).
    pub const POD_PAGE: u64 = 8 * MIB;
    /// One page of a node list ([`super::NODE_PAGE`] nodes: a Node lists its
    /// images, so it is larger than a pod).
    pub const NODE_PAGE: u64 = 16 * MIB;
    /// Answers we do not use (a created Event, an eviction's Status).
    pub const STATUS: u64 = MIB;
}

/// Where and how to reach the API server.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// `https://host:port` (IPv6 hosts in brackets), no trailing slash
    pub base_url: String,
    /// file holding the bearer token (re-read when it changes and after a 401)
    pub token_path: String,
    /// PEM file of the only CA we trust
    pub ca_path: String,
    pub connect_timeout: Duration,
    /// Whole-request bound (`--api-timeout`): connect, send, and read the
    /// whole answer. Not for watches: each has its own bound, beyond the
    /// `timeoutSeconds` it asks of the server (`watch::socket_bound`).
    pub read_timeout: Duration,
}

impl KubeConfig {
    /// From `KUBERNETES_SERVICE_HOST`/`_PORT` and the service-account directory
    /// (`KURED_SERVICE_ACCOUNT_DIR`, default /var/run/secrets/kubernetes.io/serviceaccount).
    /// `Error::InCluster` when not in a cluster.
    pub fn in_cluster(env: &dyn Fn(&str) -> Option<String>) -> Result<KubeConfig> {
        config::in_cluster(env)
    }
}

/// The body of a PATCH, by content type.
#[derive(Debug, Clone)]
pub enum Patch {
    /// application/merge-patch+json
    Merge(Value),
    /// application/strategic-merge-patch+json
    Strategic(Value),
    /// application/json-patch+json
    Json(Value),
}

impl Patch {
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
        }
    }
    pub fn body(&self) -> &Value {
        match self {
            Patch::Merge(v) | Patch::Strategic(v) | Patch::Json(v) => v,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// page size (`limit`); the client follows `continue` to the end
    pub limit: Option<u32>,
}

#[derive(Debug)]
pub struct Client {
    config: KubeConfig,
    http: http::Http,
}

const JSON: &str = "application/json";

impl Client {
    /// Reads the CA now (a bad bundle is a start-up error); the token is read
    /// on first use and whenever it may have been rotated.
    pub fn new(config: KubeConfig) -> Result<Client> {
        let http = http::Http::new(&config)?;
        Ok(Client { config, http })
    }

    pub fn config(&self) -> &KubeConfig {
        &self.config
    }

    pub fn get_node(&self, name: &str) -> Result<Node> {
        let path = url::path(&["api", "v1", "nodes", name]);
        self.call("GET", &path, None, "Node", limits::OBJECT)
    }

    /// The node as the server stored it after the patch.
    pub fn patch_node(&self, name: &str, patch: &Patch) -> Result<Node> {
        let path = url::path(&["api", "v1", "nodes", name]);
        let body = patch.body().to_string().into_bytes();
        self.call("PATCH", &path, Some((patch.content_type(), &body)), "Node", limits::OBJECT)
    }

    /// All pods matching, across pages (a 410 restarts the list).
    pub fn list_pods(&self, params: &ListParams) -> Result<Vec<Pod>> {
        let base = url::path(&["api", "v1", "pods"]);
        list::collect(|continue_token| {
            let mut query = Vec::new();
            if let Some(s) = &params.label_selector {
                query.push(("labelSelector", s.clone()));
            }
            if let Some(s) = &params.field_selector {
                query.push(("fieldSelector", s.clone()));
            }
            if let Some(limit) = params.limit {
                query.push(("limit", limit.to_string()));
            }
            if let Some(t) = continue_token {
                query.push(("continue", t.to_string()));
            }
            self.call("GET", &url::with_query(&base, &query), None, "PodList", limits::POD_PAGE)
        })
    }

    /// All nodes matching the label selector (empty: all), across pages.
    pub fn list_nodes(&self, label_selector: &str) -> Result<Vec<Node>> {
        let base = url::path(&["api", "v1", "nodes"]);
        list::collect(|continue_token| {
            let mut query = vec![("limit", NODE_PAGE.to_string())];
            if !label_selector.is_empty() {
                query.push(("labelSelector", label_selector.to_string()));
            }
            if let Some(t) = continue_token {
                query.push(("continue", t.to_string()));
            }
            self.call("GET", &url::with_query(&base, &query), None, "NodeList", limits::NODE_PAGE)
        })
    }

    pub fn get_pod(&self, namespace: &str, name: &str) -> Result<Pod> {
        let path = url::path(&["api", "v1", "namespaces", namespace, "pods", name]);
        self.call("GET", &path, None, "Pod", limits::OBJECT)
    }

    /// DELETE with an optional grace period (as a query parameter: a body on a
    /// DELETE is dropped by some proxies and HTTP stacks).
    pub fn delete_pod(&self, namespace: &str, name: &str, grace_seconds: Option<i64>) -> Result<()> {
        let path = url::path(&["api", "v1", "namespaces", namespace, "pods", name]);
        let query: Vec<_> = grace_seconds.map(|g| ("gracePeriodSeconds", g.to_string())).into_iter().collect();
        // the answer is the Pod (or a Status): read it as large as a Pod may be
        self.send("DELETE", &url::with_query(&path, &query), None, true, ("Pod", limits::OBJECT)).map(drop)
    }

    /// POST a policy/v1 Eviction. A 429 comes back at once as
    /// `ApiErrorKind::TooManyRequests` (a PodDisruptionBudget said "not now"; the
    /// drain loop decides when to ask again), with `retry_after` when the server
    /// set it. A 5xx with Retry-After is waited out like any other request.
    pub fn evict_pod(&self, namespace: &str, name: &str, grace_seconds: Option<i64>) -> Result<()> {
        let path = url::path(&["api", "v1", "namespaces", namespace, "pods", name, "eviction"]);
        let body = eviction(namespace, name, grace_seconds).to_string().into_bytes();
        self.send("POST", &path, Some((JSON, &body)), false, ("Status", limits::STATUS)).map(drop)
    }

    pub fn get_daemonset(&self, namespace: &str, name: &str) -> Result<DaemonSet> {
        let path = daemonset_path(namespace, name);
        let raw: Value = self.call("GET", &path, None, "DaemonSet", limits::OBJECT)?;
        daemonset(raw, &path)
    }

    /// PUT the whole object (carrying its resourceVersion): a stale one is a 409.
    /// Returns the object as stored, with its new resourceVersion.
    pub fn replace_daemonset(&self, ds: &DaemonSet) -> Result<DaemonSet> {
        let path = daemonset_path(ds.namespace(), ds.name());
        let body = ds.raw.to_string().into_bytes();
        let raw: Value = self.call("PUT", &path, Some((JSON, &body)), "DaemonSet", limits::OBJECT)?;
        daemonset(raw, &path)
    }

    /// POST a core/v1 Event in `namespace`.
    pub fn create_event(&self, namespace: &str, event: &Value) -> Result<()> {
        let path = url::path(&["api", "v1", "namespaces", namespace, "events"]);
        let body = event.to_string().into_bytes();
        self.send("POST", &path, Some((JSON, &body)), true, ("Event", limits::STATUS)).map(drop)
    }

    /// Send; the answer (`what` it is, read up to `max_body` bytes) is not decoded.
    fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<(&'static str, &[u8])>,
        wait_on_429: bool,
        (what, max_body): (&'static str, u64),
    ) -> Result<Vec<u8>> {
        self.http.send(&http::Request { method, path, body, wait_on_429, max_body, what })
    }

    /// Send and decode the 2xx answer as `what`, read up to `max_body` bytes.
    fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        body: Option<(&'static str, &[u8])>,
        what: &'static str,
        max_body: u64,
    ) -> Result<T> {
        let req = http::Request { method, path, body, wait_on_429: true, max_body, what };
        let bytes = self.http.send(&req)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Decode { what: format!("{what} from {method} {path}"), message: e.to_string() })
    }
}

fn daemonset_path(namespace: &str, name: &str) -> String {
    url::path(&["apis", "apps", "v1", "namespaces", namespace, "daemonsets", name])
}

fn daemonset(raw: Value, path: &str) -> Result<DaemonSet> {
    if !raw.get("metadata").is_some_and(Value::is_object) {
        return Err(Error::Decode { what: format!("DaemonSet from {path}"), message: "no metadata object".into() });
    }
    Ok(DaemonSet { raw })
}

/// The policy/v1 Eviction body; `deleteOptions` only when a grace period is given
/// (without it the pod's own terminationGracePeriodSeconds applies).
pub fn eviction(namespace: &str, name: &str, grace_seconds: Option<i64>) -> Value {
    let mut body = json!({
        "kind": "Eviction",
        "apiVersion": "policy/v1",
        "metadata": {"name": name, "namespace": namespace},
    });
    if let Some(g) = grace_seconds {
        body["deleteOptions"] = json!({"gracePeriodSeconds": g});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Client>();
    }

    #[test]
    fn eviction_bodies() {
        assert_eq!(
            eviction("ns", "p", Some(5)).to_string(),
            r#"{"apiVersion":"policy/v1","deleteOptions":{"gracePeriodSeconds":5},"kind":"Eviction","metadata":{"name":"p","namespace":"ns"}}"#
        );
        assert!(eviction("ns", "p", None).get("deleteOptions").is_none());
    }

    #[test]
    fn patch_content_types() {
        assert_eq!(Patch::Merge(Value::Null).content_type(), "application/merge-patch+json");
        assert_eq!(Patch::Strategic(Value::Null).content_type(), "application/strategic-merge-patch+json");
        assert_eq!(Patch::Json(Value::Null).content_type(), "application/json-patch+json");
    }
}
