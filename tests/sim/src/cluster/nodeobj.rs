//! A Node object deleted while its machine and its kured run on (a `kubectl
//! delete node`, a cloud controller deleting it by mistake), and registered
//! again by the kubelet: a new object (new UID) for the same machine, on the
//! same boot. The harness's `remove_node` is the other case: the machine gone.

use serde_json::Value;

use super::{set_boot_id, Cluster};
use crate::objects;

impl Cluster {
    /// Delete `name`'s Node object only, with the real kubectl (as an operator
    /// would); kured and the machine go on.
    pub fn delete_node_object(&self, name: &str) -> Result<(), String> {
        let out = std::process::Command::new("kubectl")
            .args(["--kubeconfig", &self.kubeconfig().display().to_string(), "delete", "node", name, "--wait=false"])
            .output()
            .map_err(|e| format!("kubectl: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // a try whose answer was lost may have deleted it already
        if !out.status.success() && !stderr.contains("NotFound") {
            return Err(format!("kubectl delete node {name}: {stderr}"));
        }
        Ok(())
    }

    /// The kubelet registers `name` again: a new Node object, Ready, with the
    /// machine's current boot ID.
    pub fn register_node_again(&self, name: &str) -> Result<(), String> {
        let reboots = self.node(name).map(|n| n.reboots).ok_or_else(|| format!("no machine {name}"))?;
        let obj: Value = objects::node(name, false);
        self.api.try_create(obj).map_err(|s| format!("register {name} again: {}", s["message"]))?;
        if !self.api.is_real() {
            set_boot_id(&self.api, name, &objects::boot_id(name, reboots));
        }
        Ok(())
    }

    /// The Node's UID (None: no Node object).
    pub fn node_uid(&self, name: &str) -> Option<String> {
        self.get_node(name)?.pointer("/metadata/uid")?.as_str().map(str::to_string)
    }
}
