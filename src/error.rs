//! The crate's one error type. Variants name what failed and carry the noun
//! (the flag, the path, the URL); messages are lowercase with no trailing period.

use std::fmt;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the Kubernetes API answered, classified from the HTTP code and the
/// `Status` object's `reason`, so callers can decide without string matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 400 BadRequest
    BadRequest,
    /// 401: the token is missing, wrong or expired
    Unauthorized,
    /// 403: RBAC refused us (or, for evictions, a terminating namespace)
    Forbidden,
    /// 404
    NotFound,
    /// 409: someone else wrote the object in between (stale resourceVersion)
    Conflict,
    /// 410: a list continue token expired
    Gone,
    /// 422: the object or patch is invalid (also a failed JSON-patch `test`)
    Invalid,
    /// 429: rate limited, or an eviction refused by a PodDisruptionBudget
    TooManyRequests,
    /// 5xx
    Server,
    /// any other code
    Other,
}

impl ApiErrorKind {
    pub fn from_code(code: u16) -> ApiErrorKind {
        match code {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            410 => ApiErrorKind::Gone,
            422 => ApiErrorKind::Invalid,
            429 => ApiErrorKind::TooManyRequests,
            500..=599 => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// A bad flag, flag value or environment variable: exit code 2.
    Usage(String),
    /// Not running in a cluster, or the service-account files are unusable.
    InCluster(String),
    /// Reading or writing a local file.
    Io { what: String, path: String, source: std::io::Error },
    /// A command (sentinel or reboot) could not be started.
    Spawn { command: String, source: std::io::Error },
    /// A command ran and failed.
    CommandFailed { command: String, status: String, stdout: String, stderr: String },
    /// The reboot command did not finish (timed out or killed): the machine may
    /// be going down, so the reboot is not undone.
    RebootUncertain { command: String, status: String },
    /// Sending a signal failed.
    Signal { pid: i32, signal: i32, source: std::io::Error },
    /// TLS set-up (bad CA file, no usable certificate).
    Tls(String),
    /// The API server answered with an error `Status`.
    Api {
        method: &'static str,
        path: String,
        code: u16,
        kind: ApiErrorKind,
        reason: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request never got an HTTP answer (connection refused, reset, timeout).
    Transport { method: &'static str, url: String, message: String },
    /// A response or annotation could not be decoded.
    Decode { what: String, message: String },
    /// A watch stream broke (the caller falls back to polling).
    Watch { what: String, message: String },
    /// The lock annotation is in a state we refuse to touch.
    Lock(String),
    /// Draining the node did not finish.
    Drain(String),
    /// A notification could not be delivered.
    Notify { url: String, message: String },
    /// Prometheus could not be queried.
    Prometheus { url: String, message: String },
    /// Anything else that stops start-up (metrics port in use, ...).
    Startup(String),
    /// The mount namespace of `--host-pid` could not be opened or entered;
    /// `action` is what failed ("open", "enter", ...); `hint` says, in
    /// pod-spec terms, what is probably missing (may be empty).
    Namespace { pid: i32, action: &'static str, source: std::io::Error, hint: String },
}

impl Error {
    pub fn api_kind(&self) -> Option<ApiErrorKind> {
        match self {
            Error::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }
    pub fn is_conflict(&self) -> bool {
        self.api_kind() == Some(ApiErrorKind::Conflict)
    }
    pub fn is_not_found(&self) -> bool {
        self.api_kind() == Some(ApiErrorKind::NotFound)
    }
    pub fn is_too_many_requests(&self) -> bool {
        self.api_kind() == Some(ApiErrorKind::TooManyRequests)
    }
    /// Exit code for `main`: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::InCluster(m) => write!(f, "in-cluster configuration: {m}"),
            Error::Io { what, path, source } => write!(f, "{what} {path}: {source}"),
            Error::Spawn { command, source } => write!(f, "cannot start command {command:?}: {source}"),
            Error::CommandFailed { command, status, stdout, stderr } => write!(
                f,
                "command {command:?} failed ({status}); stdout: {:?}; stderr: {:?}",
                stdout.trim_end(),
                stderr.trim_end()
            ),
            Error::RebootUncertain { command, status } => {
                write!(f, "reboot command {command:?} did not finish ({status}): the machine may be going down")
            }
            Error::Signal { pid, signal, source } => write!(f, "cannot send signal {signal} to pid {pid}: {source}"),
            Error::Tls(m) => write!(f, "tls: {m}"),
            Error::Api { method, path, code, reason, message, .. } => {
                write!(f, "{method} {path}: {code} {reason}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Error::Transport { method, url, message } => write!(f, "{method} {url}: {message}"),
            Error::Decode { what, message } => write!(f, "cannot decode {what}: {message}"),
            Error::Watch { what, message } => write!(f, "watch {what}: {message}"),
            Error::Lock(m) => write!(f, "lock: {m}"),
            Error::Drain(m) => write!(f, "drain: {m}"),
            Error::Notify { url, message } => write!(f, "notification to {url}: {message}"),
            Error::Prometheus { url, message } => write!(f, "prometheus {url}: {message}"),
            Error::Startup(m) => write!(f, "{m}"),
            Error::Namespace { pid, action, source, hint } => {
                write!(f, "cannot {action} the mount namespace of pid {pid} (/proc/{pid}/ns/mnt): {source}")?;
                if !hint.is_empty() {
                    write!(f, ": {hint}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Spawn { source, .. } | Error::Signal { source, .. } => Some(source),
            Error::Namespace { source, .. } => Some(source),
            _ => None,
        }
    }
}
