//! "Is a reboot required?": a file's existence (`--reboot-sentinel`), or a
//! command's exit code (`--reboot-sentinel-command`, run in the host's mount
//! namespace). A check that cannot be made is an error, not "no reboot needed";
//! only a command that runs and answers oddly is read as "no", as upstream does.
//!
//! A sentinel command is bounded by [`command_timeout`]: past it, its process
//! group is killed and reaped, and the answer is "cannot tell" (an error),
//! never "reboot required". A sentinel path that is a directory counts as
//! "reboot required", as upstream (which only stats it), with one warning.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, SentinelSpec};
use crate::error::{Error, Result};
use crate::hostcmd::{self, Output};

#[derive(Debug, Clone)]
enum Check {
    File(PathBuf),
    Command(Vec<String>),
}

/// Where the "reboot required" answer comes from.
#[derive(Debug, Clone)]
pub struct Sentinel {
    check: Check,
    host_pid: i32,
    timeout: Option<Duration>,
    /// the directory warning was given (shared by clones: once per process)
    warned_dir: Arc<AtomicBool>,
}

/// The most a sentinel command may run: the smaller of the period and 60 s.
/// It answers a yes/no question every period; one that takes longer is hung,
/// and the next period asks again.
pub fn command_timeout(period: Duration) -> Duration {
    period.min(Duration::from_secs(60))
}

impl Sentinel {
    /// `timeout` bounds a sentinel command (None = wait forever, as upstream).
    pub fn new(spec: &SentinelSpec, host_pid: i32, timeout: Option<Duration>) -> Sentinel {
        let check = match spec {
            SentinelSpec::File(path) => Check::File(PathBuf::from(path)),
            SentinelSpec::Command(argv) => Check::Command(argv.clone()),
        };
        Sentinel { check, host_pid, timeout, warned_dir: Arc::default() }
    }

    pub fn from_config(config: &Config) -> Sentinel {
        Sentinel::new(&config.sentinel, config.host_pid, Some(command_timeout(config.period)))
    }

    pub fn reboot_required(&self) -> Result<bool> {
        match &self.check {
            Check::File(path) => {
                let found = file_kind(path)?;
                if found == Found::Directory && !self.warned_dir.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "reboot sentinel {} is a directory, not a file: counting it as \"reboot required\" as upstream does; check --reboot-sentinel",
                        path.display()
                    );
                }
                Ok(found != Found::Absent)
            }
            Check::Command(argv) => {
                let output = hostcmd::run_in_host_with_timeout(argv, self.host_pid, self.timeout)?;
                if output.timed_out {
                    return Err(Error::CommandFailed {
                        command: hostcmd::display_argv(argv),
                        status: format!(
                            "no answer within {:?}, killed with its process group",
                            self.timeout.unwrap_or_default()
                        ),
                        stdout: output.stdout,
                        stderr: output.stderr,
                    });
                }
                Ok(verdict_to_bool(argv, &output))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Absent,
    File,
    Directory,
}

/// `stat` semantics (a dangling symlink is "absent"), but only "does not exist"
/// means no: a permission error must not quietly mean "no reboot needed".
fn file_kind(path: &Path) -> Result<Found> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(Found::Directory),
        Ok(_) => Ok(Found::File),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Absent),
        // a path component is a plain file: the sentinel cannot exist either
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(Found::Absent),
        Err(source) => Err(Error::Io {
            what: "cannot check reboot sentinel".to_string(),
            path: path.display().to_string(),
            source,
        }),
    }
}

/// What a sentinel command's exit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Required,
    NotRequired,
    /// neither 0 nor 1 (or killed): upstream warns and treats it as "not required"
    Unexpected,
}

fn interpret(code: Option<i32>, timed_out: bool) -> Verdict {
    match (timed_out, code) {
        (false, Some(0)) => Verdict::Required,
        (false, Some(1)) => Verdict::NotRequired,
        _ => Verdict::Unexpected,
    }
}

fn verdict_to_bool(argv: &[String], output: &Output) -> bool {
    match interpret(output.code, output.timed_out) {
        Verdict::Required => true,
        Verdict::NotRequired => false,
        Verdict::Unexpected => {
            log::warn!(
                "reboot sentinel command {:?} gave {}, assuming no reboot is required; stdout: {:?}; stderr: {:?}",
                hostcmd::display_argv(argv),
                output.status_text(),
                output.stdout.trim_end(),
                output.stderr.trim_end()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{interpret, Verdict};

    #[track_caller]
    fn case(code: Option<i32>, timed_out: bool, want: Verdict) {
        assert_eq!(interpret(code, timed_out), want, "code {code:?} timed_out {timed_out}");
    }

    #[test]
    fn command_timeouts() {
        use super::command_timeout;
        use std::time::Duration;
        assert_eq!(command_timeout(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(command_timeout(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn interprets_exit_codes() {
        case(Some(0), false, Verdict::Required);
        case(Some(1), false, Verdict::NotRequired);
        case(Some(2), false, Verdict::Unexpected);
        case(Some(127), false, Verdict::Unexpected);
        case(Some(-1), false, Verdict::Unexpected);
        case(None, false, Verdict::Unexpected);
        case(None, true, Verdict::Unexpected);
        case(Some(0), true, Verdict::Unexpected);
    }
}
