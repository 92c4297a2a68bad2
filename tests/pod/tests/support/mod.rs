//! What the pod scenarios share: the release image unpacked once per test
//! binary (under cargo's target tmp dir, never /tmp), the rendered manifests
//! with the scenario's changes, and a cluster whose kured processes are
//! `kured-pod sim` runners.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use sim::{Cluster, ClusterSpec, ControlPlaneKind};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The release image (`KURED_POD_IMAGE`, or built now by
/// scripts/build-image.sh), unpacked; its directory.
pub fn image_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        pod::runc::check().unwrap_or_else(|e| panic!("{e}"));
        let image = match std::env::var("KURED_POD_IMAGE") {
            Ok(i) if !i.is_empty() => i,
            _ => {
                // its own target dir: the release build must not wait on the
                // lock of the test build that runs us
                let out = Command::new(repo().join("scripts/build-image.sh"))
                    .arg("localhost/kured-rs:pod-test")
                    .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("pod-image-build"))
                    .output()
                    .expect("run scripts/build-image.sh");
                assert!(
                    out.status.success(),
                    "scripts/build-image.sh failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string()
            }
        };
        // one unpacked copy per image ID, shared by the test binaries (cargo's
        // target tmp dir, not /tmp); made aside and renamed into place
        let id = pod::image::id(&image).unwrap_or_else(|e| panic!("{e}"));
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kured-pod-image-{id}"));
        if !dir.join("image.json").exists() {
            let part = dir.with_extension(format!("part-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&part);
            pod::image::unpack(&image, &part).unwrap_or_else(|e| panic!("unpack {image}: {e}"));
            if std::fs::rename(&part, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&part); // another binary was first
            }
            // copies of images rebuilt since are of no further use
            for old in std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")).into_iter().flatten().flatten() {
                let name = old.file_name().to_string_lossy().into_owned();
                if name.starts_with("kured-pod-image-") && !name.contains(".part-") && old.path() != dir {
                    let _ = std::fs::remove_dir_all(old.path());
                }
            }
        }
        dir
    })
}

/// `kubectl kustomize` of a directory under manifests/, as JSON objects.
pub fn rendered(dir: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join("manifests").join(dir))
        .output()
        .expect("kubectl on PATH");
    assert!(out.status.success(), "kubectl kustomize manifests/{dir}: {}", String::from_utf8_lossy(&out.stderr));
    pod::spec::documents(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

/// The DaemonSet's container in `docs`.
pub fn container(docs: &mut [Value]) -> &mut Value {
    let ds = docs.iter_mut().find(|d| d["kind"] == "DaemonSet").expect("a DaemonSet");
    &mut ds["spec"]["template"]["spec"]["containers"][0]
}

pub fn pod_spec(docs: &mut [Value]) -> &mut Value {
    let ds = docs.iter_mut().find(|d| d["kind"] == "DaemonSet").expect("a DaemonSet");
    &mut ds["spec"]["template"]["spec"]
}

/// The period every scenario gives kured: a cycle in seconds, not an hour.
pub const PERIOD: &str = "1s";

/// A manifest file (JSON is YAML) removed on drop.
pub struct Manifest(pub PathBuf);

impl Drop for Manifest {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The rendering of manifests/`dir` with the scenario's one timing change
/// (`--period`), the seccomp profile, and `change`.
pub fn manifest(dir: &str, seccomp: Option<&str>, change: impl FnOnce(&mut Vec<Value>)) -> Manifest {
    manifest_of(rendered(dir), seccomp, change)
}

/// The same for any rendering (e.g. `helm template`'s output, through
/// `pod::spec::documents`).
pub fn manifest_of(mut docs: Vec<Value>, seccomp: Option<&str>, change: impl FnOnce(&mut Vec<Value>)) -> Manifest {
    let c = container(&mut docs);
    c["args"].as_array_mut().expect("args").push(json!(format!("--period={PERIOD}")));
    if let Some(profile) = seccomp {
        if c["securityContext"].is_null() {
            c["securityContext"] = json!({});
        }
        c["securityContext"]["seccompProfile"] = json!({"type": profile});
    }
    change(&mut docs);
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kured-pod-{}-{n}.json", std::process::id()));
    let text: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
    std::fs::write(&path, text.join("\n---\n")).unwrap();
    Manifest(path)
}

/// A cluster of `nodes` whose kured pods run `manifest` in runc.
pub fn spec(nodes: usize, manifest: &Manifest, kind: ControlPlaneKind) -> ClusterSpec {
    let kured = image_dir().join("rootfs/usr/bin/kured");
    let mut s = ClusterSpec::scenario(kured, nodes, &[]);
    s.period = PERIOD.into();
    s.control_plane = kind;
    s.downtime = Duration::from_millis(1500);
    let mut runner = vec![
        env!("CARGO_BIN_EXE_kured-pod").to_string(),
        "sim".into(),
        "--manifest".into(),
        manifest.0.display().to_string(),
    ];
    runner.extend(["--image-dir".into(), image_dir().display().to_string()]);
    if kind == ControlPlaneKind::Fake {
        runner.extend(["--service".into(), "harness".into()]);
    }
    runner.push("--".into());
    s.kured_runner = runner;
    s
}

pub fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

/// What the node's host stand-in recorded (`systemctl reboot`, `signal 39`).
pub fn host_calls(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.dir().join(node).join("host/calls")).unwrap_or_default()
}

pub fn log(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).expect("node").log_path()).unwrap_or_default()
}

/// GET http://127.0.0.1:`port``path`: status code and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
}

pub fn cordoned(c: &Cluster, node: &str) -> bool {
    c.get_node(node).and_then(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool)).unwrap_or(false)
}

pub fn lock_value(c: &Cluster) -> Option<String> {
    let ds = c.api().get("daemonsets", "kube-system", "kured")?;
    ds.pointer("/metadata/annotations")
        .and_then(|a| a.get("weave.works/kured-node-lock"))
        .and_then(Value::as_str)
        .map(str::to_string)
}
