//! URL percent-encoding and decoding, shared by the Kubernetes client (path
//! segments, selectors) and the outbound services (tokens in webhook URLs,
//! the Prometheus query, notification URLs).

/// Percent-encode everything but RFC 3986 unreserved characters. Used for both
/// path segments and query values: `=` and `,` inside a selector must arrive as
/// data, not as query syntax.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
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
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn enc(input: &str, want: &str) {
        assert_eq!(percent_encode(input), want, "percent_encode({input:?})");
    }

    #[test]
    fn percent_encoding() {
        enc("", "");
        enc("kured-abc_1.2~x", "kured-abc_1.2~x");
        enc("spec.nodeName=n1", "spec.nodeName%3Dn1");
        enc("app in (a,b)", "app%20in%20%28a%2Cb%29");
        enc("a/b?c&d#e", "a%2Fb%3Fc%26d%23e");
        enc("x!=y", "x%21%3Dy");
        enc("é", "%C3%A9");
        enc("%", "%25");
    }

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
    fn encoding() {
        assert_eq!(percent_encode("ALERTS"), "ALERTS");
        assert_eq!(percent_encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        assert_eq!(decode(&percent_encode("x:y@z/%"), false), "x:y@z/%");
    }
}
