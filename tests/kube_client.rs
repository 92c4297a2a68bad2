//! The REST client against real sockets: the fake API server (real HTTPS with a
//! test CA, real HTTP semantics, fault injection) and plain failure cases.

use std::net::TcpListener;
use std::path::PathBuf;

use kured::error::Error;
use kured::kube::{Client, KubeConfig};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kured-kube-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The in-cluster configuration for `host:port` and service-account dir `sa`,
/// through the same code path as in a pod.
fn in_cluster(host: &str, port: u16, sa: &str) -> KubeConfig {
    let vars = [
        ("KUBERNETES_SERVICE_HOST", host.to_string()),
        ("KUBERNETES_SERVICE_PORT", port.to_string()),
        ("KURED_SERVICE_ACCOUNT_DIR", sa.to_string()),
    ];
    KubeConfig::in_cluster(&|k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap()
}

// Syntactically valid PEM: enough for the client to start; no handshake ever happens.
const DUMMY_CA: &str = "-----BEGIN CERTIFICATE-----\nAAECAw==\n-----END CERTIFICATE-----\n";

#[test]
fn a_server_that_is_down_is_a_transport_error() {
    let sa = TempDir::new("down");
    std::fs::write(sa.0.join("token"), "t").unwrap();
    std::fs::write(sa.0.join("ca.crt"), DUMMY_CA).unwrap();
    // Bind then drop: the port is closed, and nobody else is likely to take it this fast.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = Client::new(in_cluster("127.0.0.1", port, sa.path())).unwrap();
    match client.get_node("n1") {
        Err(Error::Transport { method, url, message }) => {
            assert_eq!(method, "GET");
            assert_eq!(url, format!("https://127.0.0.1:{port}/api/v1/nodes/n1"));
            assert!(!message.is_empty());
            eprintln!("{message}");
        }
        other => panic!("want a transport error, got {other:?}"),
    }
}

#[test]
fn a_ca_file_without_certificates_is_refused_at_start() {
    let sa = TempDir::new("noca");
    std::fs::write(sa.0.join("token"), "t").unwrap();
    std::fs::write(sa.0.join("ca.crt"), "not a certificate\n").unwrap();
    let err = Client::new(in_cluster("127.0.0.1", 443, sa.path())).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.to_string().contains(&format!("{}/ca.crt", sa.path())), "{err}");
}
