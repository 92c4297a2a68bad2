//! `promtool check metrics` on a /metrics body: the exposition format as
//! Prometheus itself parses it. promtool comes from scripts/setup.sh; without
//! it the test fails saying so. Included with `#[path = "support/promtool.rs"]`.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

#[track_caller]
pub fn check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (scripts/setup.sh)");
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejected:\n{body}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
