//! The bearer token, cached. The kubelet rotates projected service-account tokens
//! on disk well before they expire, so we re-read the file when our copy is a
//! minute old, when its mtime moved, and after any 401. The token never appears
//! in a log line or a `Debug` output.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// As client-go's `cachingTokenSource`: a minute.
pub const MAX_AGE: Duration = Duration::from_secs(60);

struct Cached {
    token: String,
    read_at: Instant,
    mtime: Option<SystemTime>,
}

pub struct TokenSource {
    path: String,
    cached: Mutex<Option<Cached>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource").field("path", &self.path).finish_non_exhaustive()
    }
}

impl TokenSource {
    pub fn new(path: &str) -> TokenSource {
        TokenSource { path: path.to_string(), cached: Mutex::new(None) }
    }

    /// The cached token, re-read first if it may be out of date.
    pub fn get(&self) -> Result<String> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        let mtime = self.mtime();
        match cached.as_ref() {
            Some(c) if !is_stale(c.read_at, c.mtime, Instant::now(), mtime) => Ok(c.token.clone()),
            _ => self.read_into(&mut cached),
        }
    }

    /// Re-read now (after a 401: the token may have been rotated under us).
    pub fn refresh(&self) -> Result<String> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        self.read_into(&mut cached)
    }

    fn read_into(&self, cached: &mut Option<Cached>) -> Result<String> {
        let mtime = self.mtime();
        let text = std::fs::read_to_string(&self.path).map_err(|source| Error::Io {
            what: "cannot read service-account token".into(),
            path: self.path.clone(),
            source,
        })?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(Error::InCluster(format!("service-account token {} is empty", self.path)));
        }
        log::debug!("read service-account token from {}", self.path);
        *cached = Some(Cached { token: token.clone(), read_at: Instant::now(), mtime });
        Ok(token)
    }

    fn mtime(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }
}

/// Whether a token read at `read_at` (file mtime then: `was`) must be re-read
/// at `now`, the file's mtime being `is`.
fn is_stale(read_at: Instant, was: Option<SystemTime>, now: Instant, is: Option<SystemTime>) -> bool {
    now.saturating_duration_since(read_at) >= MAX_AGE || was != is
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn stale(age_secs: u64, was: Option<u64>, is: Option<u64>, want: bool) {
        let read_at = Instant::now();
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(is_stale(read_at, was.map(t), read_at + Duration::from_secs(age_secs), is.map(t)), want);
    }

    #[test]
    fn staleness() {
        stale(0, Some(1), Some(1), false);
        stale(59, Some(1), Some(1), false);
        stale(60, Some(1), Some(1), true);
        stale(1, Some(1), Some(2), true);
        stale(1, Some(1), None, true);
        stale(1, None, None, false);
    }

    #[test]
    fn reads_trims_and_hides_the_token() {
        let path = std::env::temp_dir().join(format!("kured-token-test-{}", std::process::id()));
        let p = path.to_str().unwrap();
        std::fs::write(&path, "secret-one\n").unwrap();
        let source = TokenSource::new(p);
        assert_eq!(source.get().unwrap(), "secret-one");
        std::fs::write(&path, "secret-two").unwrap();
        assert_eq!(source.refresh().unwrap(), "secret-two");
        assert!(!format!("{source:?}").contains("secret"));
        std::fs::write(&path, " \n").unwrap();
        assert!(source.refresh().unwrap_err().to_string().contains("is empty"));
        std::fs::remove_file(&path).unwrap();
        assert!(source.refresh().unwrap_err().to_string().contains("cannot read service-account token"));
    }
}
