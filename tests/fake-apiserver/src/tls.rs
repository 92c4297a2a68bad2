//! The checked-in TLS fixtures (see certs/regen.sh) and the rustls server
//! configuration built from them. Only HTTP/1.1 is offered over ALPN, so Go
//! clients (kubectl) do not try HTTP/2.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// A CA and a server certificate (for 127.0.0.1, ::1, localhost) it signed.
pub struct Fixture {
    pub ca_pem: &'static str,
    pub cert_pem: &'static str,
    pub key_pem: &'static str,
}

/// The test CA that clients are given.
pub static TEST_CA: Fixture = Fixture {
    ca_pem: include_str!("../certs/ca.crt"),
    cert_pem: include_str!("../certs/server.crt"),
    key_pem: include_str!("../certs/server.key"),
};

/// An unrelated CA: a server using it must be refused by clients trusting TEST_CA.
pub static OTHER_CA: Fixture = Fixture {
    ca_pem: include_str!("../certs/other-ca.crt"),
    cert_pem: include_str!("../certs/other-server.crt"),
    key_pem: include_str!("../certs/other-server.key"),
};

pub fn server_config(f: &Fixture) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(f.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(f.key_pem.as_bytes()).map_err(|e| format!("server key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("server certificate and key: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
