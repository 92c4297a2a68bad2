//! Which API server the simulated cluster runs on: the in-process fake (the
//! default: it starts in a second and can inject faults) or a real control plane
//! (see `real`). Both answer the harness through the same methods, named as
//! the fake server's; fault injection and direct store access exist only on the
//! fake (`Deref` reaches them, and panics in real mode saying so).

use std::path::Path;

use fakeapi::{FakeApiServer, RequestRecord};
use serde_json::Value;

use crate::real::RealApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlPlaneKind {
    #[default]
    Fake,
    Real,
}

impl std::str::FromStr for ControlPlaneKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fake" => Ok(ControlPlaneKind::Fake),
            "real" => Ok(ControlPlaneKind::Real),
            _ => Err(format!("--control-plane: expected fake or real, got {s:?}")),
        }
    }
}

impl std::fmt::Display for ControlPlaneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ControlPlaneKind::Fake => "fake",
            ControlPlaneKind::Real => "real",
        })
    }
}

pub enum Api {
    Fake(FakeApiServer),
    Real(Box<RealApi>),
}

impl Api {
    /// Start the server; a real one keeps its files under `dir`.
    pub fn start(kind: ControlPlaneKind, dir: &Path) -> Result<Api, String> {
        Ok(match kind {
            ControlPlaneKind::Fake => Api::Fake(FakeApiServer::start()),
            ControlPlaneKind::Real => Api::Real(Box::new(RealApi::start(&dir.join("control-plane"))?)),
        })
    }

    pub fn kind(&self) -> ControlPlaneKind {
        match self {
            Api::Fake(_) => ControlPlaneKind::Fake,
            Api::Real(_) => ControlPlaneKind::Real,
        }
    }
    pub fn is_real(&self) -> bool {
        matches!(self, Api::Real(_))
    }
    pub fn fake(&self) -> Option<&fakeapi::FakeApiServer> {
        match self {
            Api::Fake(f) => Some(f),
            Api::Real(_) => None,
        }
    }
    pub fn real(&self) -> Option<&RealApi> {
        match self {
            Api::Real(r) => Some(r),
            Api::Fake(_) => None,
        }
    }
    pub fn url(&self) -> String {
        match self {
            Api::Fake(f) => f.url(),
            Api::Real(r) => r.url(),
        }
    }
    pub fn port(&self) -> u16 {
        match self {
            Api::Fake(f) => f.port(),
            Api::Real(r) => r.port(),
        }
    }
    /// kured's credentials (`token`, `ca.crt`, `namespace`) in `dir`; on the
    /// real server `apply_rbac` first applies manifests/base's ServiceAccount
    /// and RBAC (false: something else installed them).
    pub fn write_service_account(&self, dir: &Path, namespace: &str, apply_rbac: bool) -> Result<(), String> {
        match self {
            Api::Fake(f) => f.write_service_account(dir, namespace).map_err(|e| e.to_string()),
            Api::Real(r) => r.write_service_account(dir, namespace, apply_rbac),
        }
    }
    /// A cluster-admin kubeconfig at `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), String> {
        match self {
            Api::Fake(f) => f.write_kubeconfig(path).map_err(|e| e.to_string()),
            Api::Real(r) => r.write_kubeconfig(path),
        }
    }
    pub fn try_create(&self, obj: Value) -> Result<Value, Value> {
        match self {
            Api::Fake(f) => f.try_create(obj),
            Api::Real(r) => r.try_create(obj),
        }
    }
    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        match self {
            Api::Fake(f) => f.get(plural, namespace, name),
            Api::Real(r) => r.get(plural, namespace, name),
        }
    }
    pub fn list(&self, plural: &str) -> Vec<Value> {
        match self {
            Api::Fake(f) => f.list(plural),
            Api::Real(r) => r.list(plural),
        }
    }
    pub fn update(&self, obj: Value) -> Result<Value, Value> {
        match self {
            Api::Fake(f) => f.update(obj),
            Api::Real(r) => r.update(obj),
        }
    }
    /// Read-modify-write `plural/namespace/name` with `change`, read again on a
    /// conflict (the daemons write the same objects meanwhile). The object as
    /// written, or why not.
    pub fn edit(
        &self,
        plural: &str,
        namespace: &str,
        name: &str,
        change: impl Fn(&mut Value),
    ) -> Result<Value, String> {
        for _ in 0..50 {
            let mut obj = self.get(plural, namespace, name).ok_or_else(|| format!("no {plural} {namespace}/{name}"))?;
            change(&mut obj);
            match self.update(obj) {
                Ok(written) => return Ok(written),
                Err(status) if status["code"] == 409 => continue,
                Err(status) => return Err(format!("update {plural} {namespace}/{name}: {status}")),
            }
        }
        Err(format!("update {plural} {namespace}/{name}: 50 conflicts in a row"))
    }
    /// Remove at once (no grace period).
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        match self {
            Api::Fake(f) => f.delete(plural, namespace, name),
            Api::Real(r) => r.delete(plural, namespace, name),
        }
    }
    pub fn set_node_ready(&self, name: &str, ready: bool) {
        match self {
            // A Node deleted by a fault has no status to write (the real kubelet logs it).
            Api::Fake(f) => {
                f.set_node_ready_if_present(name, ready);
            }
            Api::Real(r) => r.set_node_ready(name, ready),
        }
    }
    /// kured's requests: the fake's request log, or the real server's audit log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        match self {
            Api::Fake(f) => f.requests(),
            Api::Real(r) => r.requests(),
        }
    }
    /// The requests after the first `n` (on the fake, only those are copied:
    /// a 200-node run logs hundreds of thousands).
    pub fn requests_since(&self, n: usize) -> Vec<RequestRecord> {
        match self {
            Api::Fake(f) => f.requests_since(n),
            Api::Real(r) => r.requests().get(n..).map(<[RequestRecord]>::to_vec).unwrap_or_default(),
        }
    }
    pub fn request_count(&self) -> usize {
        match self {
            Api::Fake(f) => f.request_count(),
            Api::Real(r) => r.requests().len(),
        }
    }
    pub fn clear_requests(&self) {
        match self {
            Api::Fake(f) => f.clear_requests(),
            Api::Real(r) => r.clear_requests(),
        }
    }
    pub fn pdb_violations(&self) -> u64 {
        match self {
            Api::Fake(f) => f.pdb_violations(),
            Api::Real(r) => r.pdb_violations(),
        }
    }
    /// What the machines do between two looks (the simulated kubelet); the
    /// fake server plays its own kubelet.
    pub fn sync(&self) {
        if let Api::Real(r) = self {
            r.sync();
        }
    }
}

impl std::ops::Deref for Api {
    type Target = FakeApiServer;
    fn deref(&self) -> &FakeApiServer {
        match self {
            Api::Fake(f) => f,
            Api::Real(_) => panic!("this test uses a fake-API-server-only feature (faults, the store); it cannot run on the real control plane"),
        }
    }
}
