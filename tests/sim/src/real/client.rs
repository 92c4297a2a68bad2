//! A small REST client for the real API server, for the harness's own admin
//! requests (never kured's): HTTPS with the control plane's CA as the only trust
//! anchor, a bearer token, JSON in and out. Objects are addressed like the fake
//! server's helpers: by plural, namespace and name.

use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

pub struct Client {
    agent: Agent,
    base: String,
    token: String,
}

/// A non-2xx answer: the status code and the `Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub body: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.body["message"].as_str().unwrap_or(""))
    }
}

/// (API prefix, namespaced) of a plural resource name.
pub fn prefix(plural: &str) -> Option<(&'static str, bool)> {
    Some(match plural {
        "nodes" | "namespaces" => ("/api/v1", false),
        "pods" | "serviceaccounts" | "configmaps" | "events" => ("/api/v1", true),
        "daemonsets" | "deployments" | "replicasets" => ("/apis/apps/v1", true),
        "poddisruptionbudgets" => ("/apis/policy/v1", true),
        "leases" => ("/apis/coordination.k8s.io/v1", true),
        "clusterroles" => ("/apis/rbac.authorization.k8s.io/v1", false),
        "roles" => ("/apis/rbac.authorization.k8s.io/v1", true),
        _ => return None,
    })
}

/// The plural resource of a kind.
pub fn plural_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Node" => "nodes",
        "Namespace" => "namespaces",
        "Pod" => "pods",
        "ServiceAccount" => "serviceaccounts",
        "ConfigMap" => "configmaps",
        "DaemonSet" => "daemonsets",
        "Deployment" => "deployments",
        "ReplicaSet" => "replicasets",
        "PodDisruptionBudget" => "poddisruptionbudgets",
        "Lease" => "leases",
        _ => return None,
    })
}

/// The collection path (`name` empty) or the object path.
pub fn path(plural: &str, namespace: &str, name: &str) -> String {
    let (prefix, namespaced) = prefix(plural).unwrap_or(("/api/v1", true));
    let mut p = String::from(prefix);
    if namespaced && !namespace.is_empty() {
        p.push_str(&format!("/namespaces/{namespace}"));
    }
    p.push_str(&format!("/{plural}"));
    if !name.is_empty() {
        p.push_str(&format!("/{name}"));
    }
    p
}

impl Client {
    pub fn new(base: &str, token: &str, ca_pem: &[u8]) -> Result<Client, String> {
        let mut certs = Vec::new();
        for item in CertificateDer::pem_slice_iter(ca_pem) {
            let der = item.map_err(|e| format!("bad CA PEM: {e}"))?;
            certs.push(Certificate::from_der(der.as_ref()).to_owned());
        }
        let tls = TlsConfig::builder().root_certs(RootCerts::from(certs)).build();
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .new_agent();
        Ok(Client { agent, base: base.trim_end_matches('/').to_string(), token: token.trim().to_string() })
    }

    /// Send; the JSON body of a 2xx answer or the error.
    pub fn send(&self, method: &str, path: &str, content_type: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let res = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", None) => self.agent.delete(&url).header("Authorization", &auth).call(),
            ("DELETE", Some(b)) => self
                .agent
                .delete(&url)
                .force_send_body()
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            (m, b) => {
                let b = b.map(Value::to_string).unwrap_or_default();
                let r = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.patch(&url),
                };
                r.header("Authorization", &auth).header("Content-Type", content_type).send(b)
            }
        };
        let mut res = res.map_err(|e| ApiError { code: 0, body: serde_json::json!({"message": e.to_string()}) })?;
        let code = res.status().as_u16();
        let text = res.body_mut().with_config().limit(64 << 20).read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&code) {
            Ok(v)
        } else {
            Err(ApiError { code, body: v })
        }
    }

    /// Send a body as is (not necessarily JSON).
    pub fn send_text(&self, method: &str, path: &str, content_type: &str, body: &str) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let r = match method {
            "POST" => self.agent.post(&url),
            "PUT" => self.agent.put(&url),
            _ => self.agent.patch(&url),
        };
        let mut res = r
            .header("Authorization", &auth)
            .header("Content-Type", content_type)
            .send(body.to_string())
            .map_err(|e| ApiError { code: 0, body: serde_json::json!({"message": e.to_string()}) })?;
        let code = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&code) {
            Ok(v)
        } else {
            Err(ApiError { code, body: v })
        }
    }

    /// GET a path and read the whole body as text (a watch with
    /// `timeoutSeconds` ends by itself).
    pub fn send_text_get(&self, path: &str) -> Result<String, String> {
        let url = format!("{}{path}", self.base);
        let mut res = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| e.to_string())?;
        let code = res.status().as_u16();
        let text = res.body_mut().with_config().limit(64 << 20).read_to_string().map_err(|e| e.to_string())?;
        if (200..300).contains(&code) {
            Ok(text)
        } else {
            Err(format!("{code} {text}"))
        }
    }

    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.send("GET", &path(plural, namespace, name), "", None).ok()
    }

    /// Every object of a resource, all namespaces; with `kind` and `apiVersion`
    /// filled in as the fake server's store has them.
    pub fn list(&self, plural: &str) -> Vec<Value> {
        let Ok(list) = self.send("GET", &path(plural, "", ""), "", None) else { return Vec::new() };
        let kind = list["kind"].as_str().unwrap_or("").trim_end_matches("List").to_string();
        let api_version = list["apiVersion"].clone();
        let mut items = list["items"].as_array().cloned().unwrap_or_default();
        for item in &mut items {
            item["kind"] = Value::String(kind.clone());
            item["apiVersion"] = api_version.clone();
        }
        items
    }

    pub fn create(&self, obj: &Value) -> Result<Value, ApiError> {
        let kind = obj["kind"].as_str().unwrap_or("");
        let plural = plural_of(kind).ok_or_else(|| ApiError {
            code: 0,
            body: serde_json::json!({"message": format!("unknown kind {kind}")}),
        })?;
        let namespaced = prefix(plural).is_some_and(|(_, n)| n);
        let ns = if namespaced { obj["metadata"]["namespace"].as_str().unwrap_or("default") } else { "" };
        self.send("POST", &path(plural, ns, ""), "application/json", Some(obj))
    }

    pub fn update(&self, obj: &Value) -> Result<Value, ApiError> {
        let plural = plural_of(obj["kind"].as_str().unwrap_or("")).unwrap_or("");
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        self.send("PUT", &path(plural, ns, name), "application/json", Some(obj))
    }

    /// JSON merge patch, on the object or (`sub = "/status"`) its status.
    pub fn merge_patch(
        &self,
        plural: &str,
        namespace: &str,
        name: &str,
        sub: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let p = format!("{}{sub}", path(plural, namespace, name));
        self.send("PATCH", &p, "application/merge-patch+json", Some(patch))
    }

    pub fn delete(
        &self,
        plural: &str,
        namespace: &str,
        name: &str,
        options: Option<&Value>,
    ) -> Result<Value, ApiError> {
        self.send("DELETE", &path(plural, namespace, name), "application/json", options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn p(plural: &str, ns: &str, name: &str, want: &str) {
        assert_eq!(path(plural, ns, name), want);
    }

    #[test]
    fn paths() {
        p("nodes", "", "node-1", "/api/v1/nodes/node-1");
        p("nodes", "x", "", "/api/v1/nodes");
        p("pods", "", "", "/api/v1/pods");
        p("pods", "default", "web", "/api/v1/namespaces/default/pods/web");
        p("daemonsets", "kube-system", "kured", "/apis/apps/v1/namespaces/kube-system/daemonsets/kured");
        p("poddisruptionbudgets", "d", "", "/apis/policy/v1/namespaces/d/poddisruptionbudgets");
        p("leases", "kube-node-lease", "n", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n");
    }
}
