//! The OCI runtime config (`config.json`) for the kured container, built from
//! the pod spec the way a kubelet with containerd's CRI plugin would:
//!
//! - process: command/args (or the image's entrypoint/cmd), `$(VAR)` expanded;
//!   env = the image's, the `kubernetes` Service's variables (as the kubelet
//!   sets them), then the container's, `fieldRef`s resolved; user from
//!   `runAsUser`/`runAsGroup` or the image; `allowPrivilegeEscalation: false`
//!   = `noNewPrivileges`; capabilities = containerd's default set, `drop`
//!   (ALL = all of them), then `add`, in the bounding, effective and permitted
//!   sets (no inheritable, no ambient, as containerd since 1.6.18); a
//!   privileged container gets every capability the runtime holds.
//! - seccomp: RuntimeDefault = [`crate::seccomp`], Unconfined = none, and
//!   none for a privileged container (containerd applies no profile there).
//! - root: the unpacked image, read-only when `readOnlyRootFilesystem`.
//! - mounts: containerd's defaults (proc, /dev tmpfs, devpts, mqueue, shm,
//!   sysfs read-only unless privileged), each volume (hostPath volumes as
//!   bind mounts of the simulated host's directory), the service-account
//!   token, `ca.crt` and `namespace` read-only at the standard path.
//! - namespaces: pid = the simulated host's when `hostPID` (a new one
//!   otherwise), network = the pod's sandbox, new ipc, uts and mount.
//!
//! Left out, and why: the cgroup namespace and `linux.resources` (cgroup v1
//! hybrid machines make runc, crun and podman fail on them; kured's limits are
//! not what these tests measure); rlimits (podman/crun reject them here;
//! containerd sets none by default); containerd's masked/read-only paths are
//! kept. AppArmor is not applied (the profile name is reported by the runner):
//! runc cannot load a profile on hosts without AppArmor, and the manifests ask
//! for `Unconfined` anyway. Devices: a privileged container would get the
//! host's; kured opens none. The kubelet's `/etc/hosts`, `/etc/resolv.conf`
//! and `/dev/termination-log` are not mounted: kured reads none of them (it
//! reaches the API server by the Service's IP address).

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::spec::{field_value, EnvValue, PodSpec, Seccomp, Volume};

/// containerd's default capability set (`oci.WithDefaultSpec` -> `defaultCaps`).
pub const CONTAINERD_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability by number (capability.h), up to CAP_CHECKPOINT_RESTORE.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// What the image's config says (`buildah inspect`: OCIv1.config).
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
}

/// Where things are on this machine for one pod.
#[derive(Debug, Clone)]
pub struct Context {
    pub node: String,
    pub pod_name: String,
    pub rootfs: PathBuf,
    /// the simulated host's PID namespace (`/proc/<pid>/ns/pid`), for hostPID
    pub host_pid_ns: PathBuf,
    /// the pod sandbox's network namespace
    pub net_ns: PathBuf,
    /// hostPath path -> the simulated host's directory standing in for it
    pub host_paths: Vec<(String, PathBuf)>,
    /// `token`, `ca.crt`, `namespace` (None: the pod mounts no token)
    pub service_account_dir: Option<PathBuf>,
    /// the `kubernetes` Service: cluster IP and port
    pub service: (String, u16),
    /// appended to the container's args (the runner's `--host-pid`)
    pub extra_args: Vec<String>,
    pub image: ImageConfig,
}

pub const SERVICE_ACCOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The capabilities the runtime itself holds (our bounding set): what
/// containerd gives a privileged container (`cap.Current()`), never more.
pub fn runtime_caps() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    ALL_CAPS.iter().enumerate().filter(|(i, _)| bnd & (1u64 << i) != 0).map(|(_, c)| c.to_string()).collect()
}

/// The capability set, as containerd's CRI plugin computes it.
pub fn capabilities(spec: &PodSpec) -> Vec<String> {
    let s = &spec.security;
    if s.privileged {
        return runtime_caps();
    }
    let all = |l: &[String]| l.iter().any(|c| c.eq_ignore_ascii_case("ALL"));
    let mut caps: Vec<String> =
        if all(&s.caps_drop) { Vec::new() } else { CONTAINERD_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect() };
    if all(&s.caps_add) {
        caps = runtime_caps();
    }
    for c in s.caps_add.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        let c = cap_name(c);
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    let dropped: Vec<String> =
        s.caps_drop.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")).map(|c| cap_name(c)).collect();
    caps.retain(|c| !dropped.contains(c));
    caps
}

/// `$(NAME)` replaced by the variable's value, as the kubelet expands
/// command and args (`$$(NAME)` stays literal `$(NAME)`).
fn expand(word: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find("$(") {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("$(");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) if env.iter().any(|(k, _)| k == &after[..j]) => {
                out.push_str(
                    &env.iter().rev().find(|(k, _)| k == &after[..j]).map(|(_, v)| v.clone()).unwrap_or_default(),
                );
                rest = &after[j + 1..];
            }
            _ => {
                out.push_str("$(");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": kind, "source": source, "options": options})
}

/// The whole `config.json`.
pub fn config(spec: &PodSpec, ctx: &Context) -> Result<Value, String> {
    let sec = &spec.security;
    if spec.host_network {
        return Err(
            "hostNetwork: true is not run here: the pods would share the test machine's network (and its ports)".into(),
        );
    }
    if spec.host_ipc {
        return Err("hostIPC: true is not run here (the test machine's IPC namespace is not ours to share)".into());
    }
    // env: the image's, the Service's, then the container's (later wins)
    // containerd's default spec has PATH; the image's own env overrides it
    let mut env: Vec<(String, String)> =
        vec![("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())];
    env.extend(ctx.image.env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())));
    env.push(("HOSTNAME".into(), ctx.pod_name.clone()));
    let (ip, port) = &ctx.service;
    for (k, v) in [
        ("KUBERNETES_SERVICE_HOST", ip.clone()),
        ("KUBERNETES_SERVICE_PORT", port.to_string()),
        ("KUBERNETES_SERVICE_PORT_HTTPS", port.to_string()),
        ("KUBERNETES_PORT", format!("tcp://{ip}:{port}")),
        (&format!("KUBERNETES_PORT_{port}_TCP"), format!("tcp://{ip}:{port}")),
        (&format!("KUBERNETES_PORT_{port}_TCP_PROTO"), "tcp".into()),
        (&format!("KUBERNETES_PORT_{port}_TCP_PORT"), port.to_string()),
        (&format!("KUBERNETES_PORT_{port}_TCP_ADDR"), ip.clone()),
    ] {
        env.push((k.to_string(), v));
    }
    for (name, value) in &spec.env {
        let v = match value {
            EnvValue::Value(v) => expand(v, &env),
            EnvValue::Field(path) => field_value(path, &ctx.node, &ctx.pod_name, &spec.namespace)?,
        };
        env.push((name.clone(), v));
    }
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in env {
        merged.retain(|(n, _)| *n != k);
        merged.push((k, v));
    }

    let (mut argv, args) = if spec.command.is_empty() {
        (ctx.image.entrypoint.clone(), if spec.args.is_empty() { ctx.image.cmd.clone() } else { spec.args.clone() })
    } else {
        (spec.command.clone(), spec.args.clone())
    };
    argv.extend(args);
    let mut argv: Vec<String> = argv.iter().map(|w| expand(w, &merged)).collect();
    argv.extend(ctx.extra_args.iter().cloned());
    if argv.is_empty() {
        return Err("no command: neither the container nor the image names one".into());
    }

    let (img_uid, img_gid) = match ctx.image.user.split_once(':') {
        Some((u, g)) => (u.parse().ok(), g.parse().ok()),
        None => (ctx.image.user.parse().ok(), None),
    };
    let uid: u32 = sec.run_as_user.or(img_uid).unwrap_or(0);
    let gid: u32 = sec.run_as_group.or(img_gid).unwrap_or(0);

    let caps = capabilities(spec);
    let mut linux = json!({
        "namespaces": [
            if spec.host_pid { json!({"type": "pid", "path": ctx.host_pid_ns}) } else { json!({"type": "pid"}) },
            {"type": "network", "path": ctx.net_ns},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
        ],
        "rootfsPropagation": "rprivate",
    });
    if !sec.privileged {
        linux["maskedPaths"] = json!([
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
            "/sys/devices/virtual/powercap"
        ]);
        linux["readonlyPaths"] = json!(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);
        if sec.seccomp == Seccomp::RuntimeDefault {
            linux["seccomp"] = crate::seccomp::runtime_default(&caps)?;
        }
    }

    let sys_opts: &[&str] =
        if sec.privileged { &["nosuid", "noexec", "nodev", "rw"] } else { &["nosuid", "noexec", "nodev", "ro"] };
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        mount("/sys", "sysfs", "sysfs", sys_opts),
    ];
    for m in &spec.mounts {
        let volume = spec
            .volumes
            .iter()
            .find(|(n, _)| *n == m.volume)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("volumeMount {}: no volume of that name", m.volume))?;
        let source = match volume {
            Volume::HostPath { path, .. } => ctx
                .host_paths
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| format!("hostPath {path}: the simulated host has no directory for it"))?,
            Volume::Other(kind) => {
                return Err(format!("volume {}: {kind} volumes are not run by this runner", m.volume))
            }
        };
        let ro = if m.read_only { "ro" } else { "rw" };
        mounts.push(
            json!({"destination": m.path, "type": "bind", "source": source, "options": ["rbind", "rprivate", ro]}),
        );
    }
    if spec.automount_token {
        let dir =
            ctx.service_account_dir.as_ref().ok_or("the pod mounts a service-account token, but none was given")?;
        mounts.push(json!({"destination": SERVICE_ACCOUNT_PATH, "type": "bind", "source": dir, "options": ["rbind", "rprivate", "ro"]}));
    }

    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": uid, "gid": gid},
            "args": argv,
            "env": merged.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "cwd": if ctx.image.workdir.is_empty() { "/".to_string() } else { ctx.image.workdir.clone() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": !sec.allow_privilege_escalation && !sec.privileged,
        },
        "root": {"path": ctx.rootfs, "readonly": sec.read_only_root},
        "hostname": ctx.pod_name,
        "mounts": mounts,
        "linux": linux,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml_security: &str) -> PodSpec {
        let y = format!(
            "kind: DaemonSet\nmetadata: {{name: kured, namespace: kube-system}}\nspec:\n  template:\n    spec:\n      hostPID: true\n      containers:\n        - name: kured\n          command: [/usr/bin/kured]\n          args: [--x=$(KURED_NODE_ID), $$(KEPT)]\n          env: [{{name: KURED_NODE_ID, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}]\n          securityContext: {yaml_security}\n"
        );
        crate::spec::from_yaml(&y).unwrap()
    }

    fn ctx() -> Context {
        Context {
            node: "node-1".into(),
            pod_name: "kured-node-1".into(),
            rootfs: "/r".into(),
            host_pid_ns: "/proc/9/ns/pid".into(),
            net_ns: "/proc/8/fd/3".into(),
            host_paths: vec![],
            service_account_dir: Some("/sa".into()),
            service: ("10.96.0.1".into(), 443),
            extra_args: vec!["--host-pid=1".into()],
            image: ImageConfig::default(),
        }
    }

    #[test]
    fn capabilities_as_containerd_computes_them() {
        let caps = |sec: &str| capabilities(&spec(sec));
        assert_eq!(
            caps("{capabilities: {drop: [ALL], add: [SYS_ADMIN, SYS_CHROOT, SYS_PTRACE]}}"),
            ["CAP_SYS_ADMIN", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE"]
        );
        assert_eq!(caps("{capabilities: {drop: [ALL], add: [KILL]}}"), ["CAP_KILL"]);
        assert_eq!(caps("{}").len(), CONTAINERD_DEFAULT_CAPS.len());
        assert!(!caps("{capabilities: {drop: [KILL]}}").contains(&"CAP_KILL".to_string()));
        assert_eq!(caps("{privileged: true}"), runtime_caps());
    }

    #[test]
    fn the_container_as_a_kubelet_would_start_it() {
        let c = config(&spec("{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, seccompProfile: {type: RuntimeDefault}}"), &ctx()).unwrap();
        assert_eq!(c["process"]["args"], json!(["/usr/bin/kured", "--x=node-1", "$(KEPT)", "--host-pid=1"]));
        let env: Vec<&str> = c["process"]["env"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(
            env.contains(&"KURED_NODE_ID=node-1")
                && env.contains(&"KUBERNETES_SERVICE_HOST=10.96.0.1")
                && env.contains(&"KUBERNETES_SERVICE_PORT=443"),
            "{env:?}"
        );
        assert!(!env.iter().any(|e| e.starts_with("KURED_SERVICE_ACCOUNT_DIR")));
        assert_eq!(
            (c["process"]["noNewPrivileges"].as_bool(), c["root"]["readonly"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(c["linux"]["seccomp"].is_object());
        assert_eq!(c["linux"]["namespaces"][0], json!({"type": "pid", "path": "/proc/9/ns/pid"}));
        assert!(c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == SERVICE_ACCOUNT_PATH && m["options"][2] == "ro"));
        assert!(
            c["linux"].get("resources").is_none()
                && !c["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "cgroup")
        );
        let privileged = config(&spec("{privileged: true, seccompProfile: {type: RuntimeDefault}}"), &ctx()).unwrap();
        assert!(privileged["linux"].get("seccomp").is_none(), "containerd gives a privileged container no profile");
        assert_eq!(privileged["process"]["noNewPrivileges"], false);
    }
}
