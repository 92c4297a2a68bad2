//! A unique scratch directory under the system temp dir, removed on drop, for
//! test binaries that write files (service-account dirs, sentinels, markers).
//! Included with `#[path = "support/tempdir.rs"] mod tempdir;`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `tag` only makes a leftover directory recognisable; the pid and a
    /// counter keep parallel tests and test binaries apart.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kured-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    /// The directory itself, as text.
    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
    /// A file inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// A file inside it, as text (for shell scripts and flags).
    pub fn show(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
