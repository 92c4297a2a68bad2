//! Commands on the host: shell-style lexing of a command string, and running an
//! argv inside the mount namespace of `--host-pid` (entered with `setns` in the
//! child before exec; a scratch image has no `nsenter`).

use crate::error::Result;

/// Split a command line the way a POSIX shell would (quotes, backslashes), with
/// no expansion. `Err` describes what is wrong (e.g. an unbalanced quote).
pub fn lex(_line: &str) -> std::result::Result<Vec<String>, String> {
    todo!()
}

/// What a finished command said.
#[derive(Debug)]
pub struct Output {
    /// exit code, or None when killed by a signal
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `argv` in the mount namespace of `host_pid` and wait for it.
pub fn run_in_host(_argv: &[String], _host_pid: i32) -> Result<Output> {
    todo!()
}
