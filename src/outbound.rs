//! Outbound HTTP to services outside the cluster (Prometheus, notification
//! endpoints): one small ureq agent with timeouts, and URL percent-encoding.
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

/// Percent-encode everything but RFC 3986 unreserved characters, so the
/// result is safe in a path segment or a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode `%XX` escapes (and `+` as space when `plus_is_space`, as in form
/// queries). Invalid escapes are kept literally, as Go's lenient parsers do
/// for query strings; bytes that are not UTF-8 are replaced.
pub fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn dec(input: &str, plus: bool, want: &str) {
        assert_eq!(decode(input, plus), want, "decode({input:?})");
    }

    #[test]
    fn decoding() {
        dec("a%20b", false, "a b");
        dec("a+b", true, "a b");
        dec("a+b", false, "a+b");
        dec("%40chan", false, "@chan");
        dec("100%", false, "100%");
        dec("%4", false, "%4");
        dec("%zz", false, "%zz");
        dec("%C3%A9", false, "é");
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("ALERTS"), "ALERTS");
        assert_eq!(encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        assert_eq!(decode(&encode("x:y@z/%"), false), "x:y@z/%");
    }
}
