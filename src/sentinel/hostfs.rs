//! Paths in the host's file system, seen through `/proc/<host-pid>/root`.
//!
//! The kernel follows that magic link into the host's root, but a symlink met
//! *below* it that is absolute (`/var/run -> /run` on Debian, Ubuntu and
//! Fedora) resolves against our own root, the container's: the file looked at
//! would not be the host's. So symlinks are followed by hand, each one kept
//! inside the host's root (what `openat2(RESOLVE_IN_ROOT)` does, which needs
//! Linux 5.6 and edge nodes run older kernels), as `..` is.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// As the kernel's MAXSYMLINKS.
const MAX_LINKS: usize = 40;

/// `path` (absolute, in the host) as a path below `root` with no symlink
/// left in it. A component that does not exist (or is not a directory) ends
/// the walk: the caller's `stat` then says "absent".
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut todo: Vec<PathBuf> = path.components().rev().filter_map(part).collect();
    let mut inside = PathBuf::new(); // below root, symlink-free so far
    let mut links = 0;
    while let Some(next) = todo.pop() {
        if next == Path::new("..") {
            inside.pop(); // never above the host's root
            continue;
        }
        let here = root.join(&inside).join(&next);
        let meta = match std::fs::symlink_metadata(&here) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Ok(rest_joined(here, todo));
            }
            Err(source) => return Err(io_error(&here, source)),
        };
        if !meta.file_type().is_symlink() {
            inside.push(next);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            let source = std::io::Error::from_raw_os_error(libc::ELOOP);
            return Err(io_error(&here, source));
        }
        let target = std::fs::read_link(&here).map_err(|e| io_error(&here, e))?;
        if target.is_absolute() {
            inside = PathBuf::new();
        }
        todo.extend(target.components().rev().filter_map(part));
    }
    Ok(root.join(inside))
}

/// The parts that matter: names and `..` (the root and `.` add nothing).
fn part(c: Component) -> Option<PathBuf> {
    match c {
        Component::Normal(name) => Some(PathBuf::from(name)),
        Component::ParentDir => Some(PathBuf::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    }
}

fn rest_joined(mut here: PathBuf, todo: Vec<PathBuf>) -> PathBuf {
    for part in todo.into_iter().rev() {
        here.push(part);
    }
    here
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { what: "cannot look up a path on the host".to_string(), path: path.display().to_string(), source }
}
