//! The kured pod as the rendered manifests describe it: the one DaemonSet of a
//! multi-document YAML stream (`kubectl kustomize`, `helm template`), reduced to
//! what a kubelet turns into a container: command and args, env (with
//! `fieldRef`s), ports, volume mounts, the security context (container level
//! over pod level, as Kubernetes merges them), hostPID/hostNetwork/hostIPC and
//! the termination grace period. Anything the runner cannot honour is an error
//! naming the field, never silently dropped.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// `RuntimeDefault` (containerd's default profile, see [`crate::seccomp`])
    RuntimeDefault,
    /// `Unconfined`, or no `seccompProfile` at all (Kubernetes' default unless
    /// the kubelet runs with `--seccomp-default`)
    Unconfined,
}

#[derive(Debug, Clone)]
pub struct Security {
    pub privileged: bool,
    /// `allowPrivilegeEscalation`; unset means true (no `no_new_privs`)
    pub allow_privilege_escalation: bool,
    pub read_only_root: bool,
    pub run_as_user: Option<u32>,
    pub run_as_group: Option<u32>,
    /// upper case, without `CAP_` (as written in the spec)
    pub caps_add: Vec<String>,
    pub caps_drop: Vec<String>,
    pub seccomp: Seccomp,
    /// `appArmorProfile.type` (or the legacy annotation), reported and ignored
    pub apparmor: Option<String>,
}

#[derive(Debug, Clone)]
pub enum EnvValue {
    Value(String),
    /// `valueFrom.fieldRef.fieldPath`
    Field(String),
}

#[derive(Debug, Clone)]
pub struct VolumeMount {
    pub volume: String,
    pub path: String,
    pub read_only: bool,
}

#[derive(Debug, Clone)]
pub enum Volume {
    HostPath { path: String, kind: String },
    Other(String),
}

#[derive(Debug, Clone)]
pub struct PodSpec {
    pub daemonset: String,
    pub namespace: String,
    pub service_account: String,
    pub automount_token: bool,
    pub host_pid: bool,
    pub host_network: bool,
    pub host_ipc: bool,
    pub grace_seconds: u64,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, EnvValue)>,
    pub ports: Vec<u16>,
    pub mounts: Vec<VolumeMount>,
    pub volumes: Vec<(String, Volume)>,
    pub security: Security,
}

/// Every document of a YAML stream, as JSON values (empty documents skipped).
pub fn documents(yaml: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let v: Value = serde::Deserialize::deserialize(doc).map_err(|e| format!("YAML document {}: {e}", i + 1))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// The pod of the only DaemonSet in `yaml` (a kustomize or helm rendering).
pub fn from_yaml(yaml: &str) -> Result<PodSpec, String> {
    let docs = documents(yaml)?;
    let mut sets: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "DaemonSet").collect();
    // `kind: List` (kubectl get -o yaml) holds its objects in items
    let listed: Vec<&Value> =
        docs.iter().filter(|d| d["kind"] == "List").flat_map(|l| l["items"].as_array().into_iter().flatten()).collect();
    sets.extend(listed.into_iter().filter(|d| d["kind"] == "DaemonSet"));
    match sets.as_slice() {
        [ds] => from_daemonset(ds),
        [] => Err("no DaemonSet in the rendered manifests".into()),
        many => Err(format!("{} DaemonSets in the rendered manifests; give the runner one", many.len())),
    }
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| format!("{what}: {i} is not a string")))
            .collect(),
        other => Err(format!("{what}: {other} is not a list")),
    }
}

fn flag(v: &Value, default: bool) -> bool {
    v.as_bool().unwrap_or(default)
}

pub fn from_daemonset(ds: &Value) -> Result<PodSpec, String> {
    let pod = &ds["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().ok_or("spec.template.spec.containers is missing")?;
    let [c] = containers.as_slice() else {
        return Err(format!("{} containers in the pod; the runner runs one", containers.len()));
    };
    if pod["initContainers"].as_array().is_some_and(|a| !a.is_empty()) {
        return Err("initContainers are not run by this runner".into());
    }
    let mut env = Vec::new();
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().ok_or("env entry without a name")?.to_string();
        let value = if let Some(path) = e.pointer("/valueFrom/fieldRef/fieldPath").and_then(Value::as_str) {
            EnvValue::Field(path.to_string())
        } else if e.get("valueFrom").is_some() {
            return Err(format!("env {name}: only value and valueFrom.fieldRef are supported"));
        } else {
            EnvValue::Value(e["value"].as_str().unwrap_or("").to_string())
        };
        env.push((name, value));
    }
    if c["envFrom"].as_array().is_some_and(|a| !a.is_empty()) {
        return Err("envFrom is not supported by this runner".into());
    }
    let ports = c["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            p["containerPort"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| format!("bad containerPort in {p}"))
        })
        .collect::<Result<_, _>>()?;
    let mounts = c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            Ok(VolumeMount {
                volume: m["name"].as_str().ok_or("volumeMount without a name")?.to_string(),
                path: m["mountPath"].as_str().ok_or("volumeMount without a mountPath")?.to_string(),
                read_only: flag(&m["readOnly"], false),
            })
        })
        .collect::<Result<_, String>>()?;
    let volumes = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let name = v["name"].as_str().ok_or("volume without a name")?.to_string();
            let vol = match v.get("hostPath") {
                Some(h) => Volume::HostPath {
                    path: h["path"]
                        .as_str()
                        .ok_or_else(|| format!("volume {name}: hostPath without a path"))?
                        .to_string(),
                    kind: h["type"].as_str().unwrap_or("").to_string(),
                },
                None => Volume::Other(
                    v.as_object().and_then(|o| o.keys().find(|k| *k != "name").cloned()).unwrap_or_default(),
                ),
            };
            Ok((name, vol))
        })
        .collect::<Result<_, String>>()?;
    Ok(PodSpec {
        daemonset: ds["metadata"]["name"].as_str().unwrap_or("kured").to_string(),
        namespace: ds["metadata"]["namespace"].as_str().unwrap_or("default").to_string(),
        service_account: pod["serviceAccountName"].as_str().unwrap_or("default").to_string(),
        automount_token: flag(&pod["automountServiceAccountToken"], true),
        host_pid: flag(&pod["hostPID"], false),
        host_network: flag(&pod["hostNetwork"], false),
        host_ipc: flag(&pod["hostIPC"], false),
        grace_seconds: pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30),
        image: c["image"].as_str().unwrap_or("").to_string(),
        command: strings(&c["command"], "command")?,
        args: strings(&c["args"], "args")?,
        env,
        ports,
        mounts,
        volumes,
        security: security(&pod["securityContext"], &c["securityContext"], ds)?,
    })
}

/// The container's security context over the pod's (Kubernetes' merge: a
/// container field, when set, wins).
fn security(pod: &Value, c: &Value, ds: &Value) -> Result<Security, String> {
    let pick = |key: &str| if c.get(key).is_some_and(|v| !v.is_null()) { &c[key] } else { &pod[key] };
    let seccomp = match pick("seccompProfile")["type"].as_str() {
        None | Some("Unconfined") => Seccomp::Unconfined,
        Some("RuntimeDefault") => Seccomp::RuntimeDefault,
        Some(other) => {
            return Err(format!(
                "seccompProfile type {other:?} is not supported by this runner (RuntimeDefault, Unconfined)"
            ))
        }
    };
    let id = |key: &str| {
        pick(key).as_u64().map(|n| u32::try_from(n).map_err(|_| format!("{key} {n} out of range"))).transpose()
    };
    let legacy = ds.pointer("/spec/template/metadata/annotations").and_then(|a| a.as_object()).and_then(|a| {
        a.iter()
            .find(|(k, _)| k.starts_with("container.apparmor.security.beta.kubernetes.io/"))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    });
    Ok(Security {
        privileged: flag(&c["privileged"], false),
        allow_privilege_escalation: flag(&c["allowPrivilegeEscalation"], true),
        read_only_root: flag(&c["readOnlyRootFilesystem"], false),
        run_as_user: id("runAsUser")?,
        run_as_group: id("runAsGroup")?,
        caps_add: strings(&c["capabilities"]["add"], "capabilities.add")?,
        caps_drop: strings(&c["capabilities"]["drop"], "capabilities.drop")?,
        seccomp,
        apparmor: pick("appArmorProfile")["type"].as_str().map(str::to_string).or(legacy),
    })
}

/// The value of a `fieldRef`, as the kubelet resolves it for this pod.
pub fn field_value(path: &str, node: &str, pod_name: &str, namespace: &str) -> Result<String, String> {
    match path {
        "spec.nodeName" => Ok(node.to_string()),
        "metadata.name" => Ok(pod_name.to_string()),
        "metadata.namespace" => Ok(namespace.to_string()),
        "spec.serviceAccountName" => Ok("kured".to_string()),
        other => Err(format!("fieldRef {other:?} is not resolved by this runner")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: kured, namespace: kube-system}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kured, namespace: kube-system}
spec:
  template:
    spec:
      serviceAccountName: kured
      hostPID: true
      terminationGracePeriodSeconds: 90
      securityContext: {seccompProfile: {type: RuntimeDefault}}
      volumes: [{name: sentinel, hostPath: {path: /var/run, type: Directory}}]
      containers:
        - name: kured
          image: kured-rs:0.1.0
          command: [/usr/bin/kured]
          args: [--reboot-sentinel=/sentinel/reboot-required]
          env: [{name: KURED_NODE_ID, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
          ports: [{containerPort: 8080}]
          volumeMounts: [{name: sentinel, mountPath: /sentinel, readOnly: true}]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL], add: [SYS_ADMIN]}
"#;

    #[test]
    fn reads_the_daemonset_of_a_stream() {
        let p = from_yaml(DS).unwrap();
        assert!(p.host_pid && !p.host_network);
        assert_eq!((p.grace_seconds, p.ports.as_slice()), (90, &[8080][..]));
        assert_eq!(p.command, ["/usr/bin/kured"]);
        assert!(matches!(&p.env[0], (n, EnvValue::Field(f)) if n == "KURED_NODE_ID" && f == "spec.nodeName"));
        assert_eq!(p.security.seccomp, Seccomp::RuntimeDefault, "the pod's profile when the container sets none");
        assert!(!p.security.allow_privilege_escalation && p.security.read_only_root);
        assert_eq!(
            (p.security.caps_add.as_slice(), p.security.caps_drop.as_slice()),
            (&["SYS_ADMIN".to_string()][..], &["ALL".to_string()][..])
        );
        assert!(matches!(&p.volumes[0].1, Volume::HostPath { path, .. } if path == "/var/run"));
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        assert!(from_yaml("kind: ServiceAccount").unwrap_err().contains("no DaemonSet"));
        let two = format!("{DS}\n---\n{}", DS.split("---").nth(1).unwrap());
        assert!(from_yaml(&two).unwrap_err().contains("2 DaemonSets"));
        let local = DS.replace("type: RuntimeDefault", "type: Localhost");
        assert!(from_yaml(&local).unwrap_err().contains("\"Localhost\" is not supported"));
    }
}
