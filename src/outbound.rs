//! Outbound HTTP to services outside the cluster (Prometheus, notification
//! endpoints): one small ureq agent with timeouts, and basic authentication.
//! The Kubernetes client has its own agent; this one trusts the public web
//! roots because chat services and Prometheus are not signed by the cluster CA.

use std::time::Duration;

/// How long one outbound request may take in total; a hung webhook must not
/// stall the reboot loop.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An agent that reports HTTP error codes as responses (so callers can name
/// the status and keep the body) and gives up after [`TIMEOUT`].
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .timeout_connect(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .user_agent(concat!("kured-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Standard base64 with padding, for `Authorization: Basic` headers.
pub fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Authorization` header value for HTTP basic authentication.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
    }
}
