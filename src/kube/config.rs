//! In-cluster configuration, as client-go's `rest.InClusterConfig` does it: the
//! API server address from the service environment variables the kubelet sets,
//! the token and CA from the service-account volume.

use std::time::Duration;

use super::KubeConfig;
use crate::error::{Error, Result};

pub const DEFAULT_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of `--api-timeout` (main sets the flag's value).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

pub fn in_cluster(env: &dyn Fn(&str) -> Option<String>) -> Result<KubeConfig> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let host = var("KUBERNETES_SERVICE_HOST").ok_or_else(|| {
        Error::InCluster("KUBERNETES_SERVICE_HOST is not set (kured runs as a pod in the cluster)".into())
    })?;
    let port = var("KUBERNETES_SERVICE_PORT").ok_or_else(|| {
        Error::InCluster("KUBERNETES_SERVICE_PORT is not set (kured runs as a pod in the cluster)".into())
    })?;
    let base_url = base_url(&host, &port)?;
    let dir = var("KURED_SERVICE_ACCOUNT_DIR").unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT_DIR.to_string());
    let dir = dir.trim_end_matches('/');
    let token_path = format!("{dir}/token");
    let ca_path = format!("{dir}/ca.crt");
    for (what, path) in [("token", &token_path), ("CA certificate", &ca_path)] {
        std::fs::read(path).map_err(|e| Error::InCluster(format!("cannot read service-account {what} {path}: {e}")))?;
    }
    Ok(KubeConfig { base_url, token_path, ca_path, connect_timeout: CONNECT_TIMEOUT, read_timeout: READ_TIMEOUT })
}

/// `https://host:port`, with an IPv6 host in brackets (a dual-stack or
/// IPv6-only cluster gives `KUBERNETES_SERVICE_HOST=fd00::1`).
pub fn base_url(host: &str, port: &str) -> Result<String> {
    let host = host.trim();
    let port = port.trim();
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(Error::InCluster(format!("KUBERNETES_SERVICE_PORT {port:?} is not a port number")));
    }
    if host.contains(['/', '?', '#', '@', ' ']) {
        return Err(Error::InCluster(format!("KUBERNETES_SERVICE_HOST {host:?} is not a host name or address")));
    }
    if host.contains(':') && !host.starts_with('[') {
        Ok(format!("https://[{host}]:{port}"))
    } else {
        Ok(format!("https://{host}:{port}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn url(host: &str, port: &str, want: &str) {
        assert_eq!(base_url(host, port).unwrap(), want);
    }

    #[test]
    fn base_urls() {
        url("10.96.0.1", "443", "https://10.96.0.1:443");
        url("fd00:10:96::1", "443", "https://[fd00:10:96::1]:443");
        url("::1", "6443", "https://[::1]:6443");
        url("[::1]", "6443", "https://[::1]:6443");
        url("kubernetes.default.svc", "443", "https://kubernetes.default.svc:443");
    }

    #[track_caller]
    fn env_error(vars: &[(&str, &str)], want: &str) {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match in_cluster(&env) {
            Err(Error::InCluster(m)) => assert!(m.contains(want), "{m:?} does not contain {want:?}"),
            other => panic!("want InCluster error containing {want:?}, got {other:?}"),
        }
    }

    #[test]
    fn in_cluster_errors() {
        env_error(&[], "KUBERNETES_SERVICE_HOST is not set (kured runs as a pod in the cluster)");
        env_error(&[("KUBERNETES_SERVICE_HOST", "")], "KUBERNETES_SERVICE_HOST is not set");
        env_error(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")], "KUBERNETES_SERVICE_PORT is not set");
        env_error(
            &[("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("KUBERNETES_SERVICE_PORT", "https")],
            "\"https\" is not a port number",
        );
        env_error(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("KUBERNETES_SERVICE_PORT", "0")], "is not a port number");
        env_error(&[("KUBERNETES_SERVICE_HOST", "a/b"), ("KUBERNETES_SERVICE_PORT", "443")], "is not a host name");
        let missing = [
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
            ("KURED_SERVICE_ACCOUNT_DIR", "/nonexistent/kured-sa"),
        ];
        env_error(&missing, "cannot read service-account token /nonexistent/kured-sa/token");
    }

    #[test]
    fn in_cluster_reads_the_service_account_dir() {
        let dir = std::env::temp_dir().join(format!("kured-kube-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), "t").unwrap();
        let d = dir.to_str().unwrap().to_string();
        let env = |k: &str| match k {
            "KUBERNETES_SERVICE_HOST" => Some("::1".to_string()),
            "KUBERNETES_SERVICE_PORT" => Some("6443".to_string()),
            "KURED_SERVICE_ACCOUNT_DIR" => Some(d.clone()),
            _ => None,
        };
        let err = in_cluster(&env).unwrap_err().to_string();
        assert!(err.contains(&format!("CA certificate {d}/ca.crt")), "{err}");
        std::fs::write(dir.join("ca.crt"), "pem").unwrap();
        let c = in_cluster(&env).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(c.base_url, "https://[::1]:6443");
        assert_eq!((c.token_path, c.ca_path), (format!("{d}/token"), format!("{d}/ca.crt")));
        assert_eq!((c.connect_timeout, c.read_timeout), (CONNECT_TIMEOUT, READ_TIMEOUT));
    }
}
