//! Files clients read to find the server: a service-account directory (token,
//! ca.crt, namespace, as kubelet mounts it) and a kubeconfig for kubectl (JSON,
//! which kubectl's YAML reader accepts).

use std::fs;
use std::io;
use std::path::Path;

use serde_json::json;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (for `certificate-authority-data`).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn write_service_account(dir: &Path, namespace: &str, token: &str, ca_pem: &str) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("token"), token)?;
    fs::write(dir.join("ca.crt"), ca_pem)?;
    fs::write(dir.join("namespace"), namespace)
}

pub fn kubeconfig(url: &str, token: &str, ca_pem: &str) -> String {
    let cfg = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url, "certificate-authority-data": base64(ca_pem.as_bytes())}}],
        "users": [{"name": "fake", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}],
        "preferences": {},
    });
    serde_json::to_string_pretty(&cfg).expect("a json! value serialises")
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
