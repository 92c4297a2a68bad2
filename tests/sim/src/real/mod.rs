//! Real mode: the simulated cluster on a real Kubernetes control plane (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler built from the
//! official modules, see tests/control-plane) instead of the fake API server.
//! The harness talks to it as cluster-admin; kured gets only the `kube-system/kured`
//! service account's token, with the RBAC from manifests/base applied as is.
//! The simulated kubelet plays the nodes; the audit log stands in for the fake
//! server's request log.

pub mod audit;
pub mod client;
pub mod controlplane;
pub mod kubelet;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use fakeapi::RequestRecord;
use serde_json::{json, Value};

use audit::AuditLog;
use client::Client;
use controlplane::{repo_root, ControlPlane};
use kubelet::Kubelet;

pub struct RealApi {
    client: Client,
    kubelet: Mutex<Kubelet>,
    audit: Mutex<AuditLog>,
    /// Per budget: was it ever satisfied, and how often it fell below since.
    budgets: Mutex<(BTreeMap<String, bool>, u64)>,
    // last: the control plane goes after everything that talks to it
    cp: ControlPlane,
}

fn status(e: &client::ApiError) -> Value {
    if e.body.is_object() {
        e.body.clone()
    } else {
        json!({"kind": "Status", "code": e.code, "message": e.to_string()})
    }
}

impl RealApi {
    /// Start a control plane in `dir` (a fresh directory the caller removes).
    pub fn start(dir: &Path) -> Result<RealApi, String> {
        let cp = ControlPlane::start(dir)?;
        let client = Client::new(&cp.server, &cp.admin_token()?, &cp.ca_pem()?)?;
        let audit = Mutex::new(AuditLog::new(&cp.audit_log()));
        Ok(RealApi {
            client,
            kubelet: Mutex::new(Kubelet::default()),
            audit,
            budgets: Mutex::new((BTreeMap::new(), 0)),
            cp,
        })
    }

    pub fn url(&self) -> String {
        self.cp.server.clone()
    }
    pub fn port(&self) -> u16 {
        self.cp.port().unwrap_or(0)
    }
    pub fn client(&self) -> &Client {
        &self.client
    }
    /// Stop the control plane now (it also stops when dropped).
    pub fn stop(&mut self) {
        self.cp.stop();
    }
    pub fn startup(&self) -> std::time::Duration {
        self.cp.startup
    }

    fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.cp.kubeconfig())
            .args(args)
            .output()
            .map_err(|e| format!("run kubectl (needed on PATH for real mode): {e}"))?;
        if !out.status.success() {
            return Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// kured's identity, as a cluster operator would set it up: the
    /// ServiceAccount and RBAC from manifests/base applied unchanged (unless
    /// `apply_rbac` is false: an install command made them), and a
    /// TokenRequest token for `kube-system/kured` in `dir` (`token`, `ca.crt`,
    /// `namespace`, as in a pod).
    pub fn write_service_account(
        &self,
        dir: impl AsRef<Path>,
        namespace: &str,
        apply_rbac: bool,
    ) -> Result<(), String> {
        if apply_rbac {
            let base = repo_root().join("manifests/base");
            let sa = base.join("serviceaccount.yaml");
            let rbac = base.join("rbac.yaml");
            self.kubectl(&["apply", "-f", &sa.to_string_lossy(), "-f", &rbac.to_string_lossy()])?;
        }
        let token = self.kubectl(&["create", "token", "kured", "-n", "kube-system", "--duration=2h"])?;
        let dir = dir.as_ref();
        let write =
            |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).map_err(|e| format!("write {name}: {e}"));
        write("token", token.trim().as_bytes())?;
        write("ca.crt", &self.cp.ca_pem()?)?;
        write("namespace", namespace.as_bytes())
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), String> {
        std::fs::copy(self.cp.kubeconfig(), path).map(|_| ()).map_err(|e| format!("copy kubeconfig: {e}"))
    }

    /// Create; a Node is registered by the simulated kubelet.
    pub fn try_create(&self, obj: Value) -> Result<Value, Value> {
        if obj["kind"] == "Node" {
            let mut k = self.kubelet.lock().unwrap_or_else(|p| p.into_inner());
            k.register(&self.client, &obj).map_err(|e| json!({"message": e}))?;
            let name = obj["metadata"]["name"].as_str().unwrap_or("");
            return self.client.get("nodes", "", name).ok_or_else(|| json!({"message": "node vanished"}));
        }
        self.client.create(&obj).map_err(|e| status(&e))
    }

    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.client.get(plural, namespace, name)
    }

    pub fn list(&self, plural: &str) -> Vec<Value> {
        self.client.list(plural)
    }

    pub fn update(&self, obj: Value) -> Result<Value, Value> {
        self.client.update(&obj).map_err(|e| status(&e))
    }

    /// Remove at once, as the fake's `delete` does (grace period 0).
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.client.delete(plural, namespace, name, Some(&json!({"gracePeriodSeconds": 0}))).ok()
    }

    pub fn set_node_ready(&self, name: &str, ready: bool) {
        self.kubelet.lock().unwrap_or_else(|p| p.into_inner()).set_ready(&self.client, name, ready);
    }

    /// The simulated kubelet's round.
    pub fn sync(&self) {
        self.kubelet.lock().unwrap_or_else(|p| p.into_inner()).sync(&self.client);
    }

    /// kured's requests so far, from the audit log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.audit.lock().unwrap_or_else(|p| p.into_inner()).records().to_vec()
    }

    pub fn clear_requests(&self) {
        self.audit.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// How many times a PodDisruptionBudget that had been satisfied was seen
    /// below its minimum (status computed by the real disruption controller).
    pub fn pdb_violations(&self) -> u64 {
        let mut b = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        for pdb in self.client.list("poddisruptionbudgets") {
            let key = format!(
                "{}/{}",
                pdb["metadata"]["namespace"].as_str().unwrap_or(""),
                pdb["metadata"]["name"].as_str().unwrap_or("")
            );
            let s = &pdb["status"];
            let (Some(current), Some(desired)) = (s["currentHealthy"].as_i64(), s["desiredHealthy"].as_i64()) else {
                continue;
            };
            let ok = current >= desired;
            let was = b.0.get(&key).copied();
            if was == Some(true) && !ok {
                b.1 += 1;
            }
            if ok || was.is_some() {
                b.0.insert(key, ok);
            }
        }
        b.1
    }
}
