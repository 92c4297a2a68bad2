//! The host's os-release, parsed (pure) and read (through
//! `/proc/<host-pid>/root`, the host's own file system).
//!
//! Format: os-release(5) (freedesktop.org): `KEY=value` lines, `#` comments,
//! values optionally in double or single quotes, with `\` escaping `"`, `\`,
//! `$` and `` ` `` inside double quotes (shell-compatible). `/etc/os-release`
//! wins; `/usr/lib/os-release` is the fallback "if /etc/os-release does not
//! exist".

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The fields the family decision needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID`, lower case (os-release(5): "a lower-case string")
    pub id: String,
    /// `ID_LIKE`, space-separated, closest first
    pub id_like: Vec<String>,
    /// `VARIANT_ID` (Fedora CoreOS: `coreos`, Fedora IoT: `iot`)
    pub variant_id: String,
    /// `PRETTY_NAME`, for the log line
    pub pretty_name: String,
}

/// The most of an os-release file we read: real ones are under 1 KiB.
const READ_LIMIT: u64 = 64 * 1024;

impl OsRelease {
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = unquote(value.trim());
            match key.trim() {
                "ID" => os.id = value.to_ascii_lowercase(),
                "ID_LIKE" => os.id_like = value.split_whitespace().map(|w| w.to_ascii_lowercase()).collect(),
                "VARIANT_ID" => os.variant_id = value.to_ascii_lowercase(),
                "PRETTY_NAME" => os.pretty_name = value,
                _ => {}
            }
        }
        os
    }
}

/// One value, its quotes removed. A value left open is taken as written
/// (a broken file must not stop the decision: its ID still counts).
fn unquote(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some('\'') => value[1..].strip_suffix('\'').unwrap_or(&value[1..]).to_string(),
        Some('"') => {
            let inner = value[1..].strip_suffix('"').unwrap_or(&value[1..]);
            let mut out = String::with_capacity(inner.len());
            let mut it = inner.chars().peekable();
            while let Some(c) = it.next() {
                match (c, it.peek()) {
                    ('\\', Some(&next)) if "\"\\$`".contains(next) => {
                        out.push(next);
                        it.next();
                    }
                    _ => out.push(c),
                }
            }
            out
        }
        _ => value.to_string(),
    }
}

/// Read the os-release of the host whose root is `root` (`/proc/<pid>/root`),
/// symlinks kept inside it (see `hostfs`). `Ok(None)` when neither file exists.
pub fn read_host(root: &Path) -> Result<Option<(PathBuf, String)>> {
    for candidate in ["/etc/os-release", "/usr/lib/os-release"] {
        let path = super::hostfs::resolve_in_root(root, Path::new(candidate))?;
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => continue,
            Err(e) => return Err(io_error(&path, e)),
        };
        let mut text = String::new();
        file.take(READ_LIMIT).read_to_string(&mut text).map_err(|e| io_error(&path, e))?;
        return Ok(Some((path, text)));
    }
    Ok(None)
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { what: "cannot read the host's os-release".to_string(), path: path.display().to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn value(raw: &str, want: &str) {
        assert_eq!(unquote(raw), want, "{raw}");
    }

    #[test]
    fn unquotes_values() {
        value("fedora", "fedora");
        value("\"rhel centos fedora\"", "rhel centos fedora");
        value("'41.20241109.3.0'", "41.20241109.3.0");
        value(r#""a \"b\" \$c \\ d\n""#, r#"a "b" $c \ d\n"#);
        value("\"open", "open");
        value("\"\"", "");
    }

    #[test]
    fn parses_the_fields_it_needs() {
        let os = OsRelease::parse(
            "# comment\nNAME=\"Fedora Linux\"\nID=fedora\n\nVARIANT_ID=coreos\nID_LIKE=\"Rhel  centos\"\nPRETTY_NAME=\"Fedora CoreOS 41\"\nbroken line\nOSTREE_VERSION='41'\n",
        );
        assert_eq!(os.id, "fedora");
        assert_eq!(os.id_like, ["rhel", "centos"]);
        assert_eq!(os.variant_id, "coreos");
        assert_eq!(os.pretty_name, "Fedora CoreOS 41");
        assert_eq!(OsRelease::parse(""), OsRelease::default());
    }
}
