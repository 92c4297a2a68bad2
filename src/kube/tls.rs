//! The one trust anchor: the CA bundle from the service account. No system or
//! Mozilla roots, and no switch to turn verification off, so a node-level
//! interceptor or a wrong endpoint fails the handshake instead of seeing our token.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// Every certificate in the PEM bundle at `path` (a CA rotation briefly puts
/// old and new in the same file).
pub fn load_ca(path: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        what: "cannot read CA certificate".into(),
        path: path.into(),
        source,
    })?;
    parse_ca(&pem, path)
}

pub fn parse_ca(pem: &[u8], path: &str) -> Result<Vec<Certificate<'static>>> {
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        let der = item.map_err(|e| Error::Tls(format!("bad PEM in CA file {path}: {e}")))?;
        certs.push(Certificate::from_der(der.as_ref()).to_owned());
    }
    if certs.is_empty() {
        return Err(Error::Tls(format!("CA file {path} holds no PEM certificate")));
    }
    Ok(certs)
}

pub fn tls_config(certs: Vec<Certificate<'static>>) -> TlsConfig {
    TlsConfig::builder().root_certs(RootCerts::from(certs)).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid PEM block; rustls validates the DER only at handshake time.
    const BLOCK: &str = "-----BEGIN CERTIFICATE-----\nAAECAw==\n-----END CERTIFICATE-----\n";

    #[track_caller]
    fn count(pem: &str, want: usize) {
        assert_eq!(parse_ca(pem.as_bytes(), "ca.crt").unwrap().len(), want);
    }

    #[track_caller]
    fn fails(pem: &str, want: &str) {
        let err = parse_ca(pem.as_bytes(), "/sa/ca.crt").unwrap_err();
        assert!(matches!(err, Error::Tls(_)) && err.to_string().contains(want), "{err}");
    }

    #[test]
    fn bundles() {
        count(BLOCK, 1);
        count(&format!("# comment\n{BLOCK}\n{BLOCK}"), 2);
        count(&format!("-----BEGIN PRIVATE KEY-----\nAAECAw==\n-----END PRIVATE KEY-----\n{BLOCK}"), 1);
        fails("", "CA file /sa/ca.crt holds no PEM certificate");
        fails("not a pem at all", "holds no PEM certificate");
        fails("-----BEGIN CERTIFICATE-----\nAAECAw==\n", "bad PEM in CA file /sa/ca.crt");
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let err = load_ca("/nonexistent/ca.crt").unwrap_err().to_string();
        assert!(err.starts_with("cannot read CA certificate /nonexistent/ca.crt"), "{err}");
    }
}
