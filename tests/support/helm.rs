//! scripts/helm's binary for the chart tests (built from the Go module proxy and
//! cached on first use, about 4-5 min; a failure says it needs Go).

use std::path::PathBuf;
use std::process::Command;

use sim::real::controlplane::repo_root;

/// The helm binary (scripts/helm build prints its path).
pub fn helm_bin() -> PathBuf {
    let script = repo_root().join("scripts/helm");
    let out = Command::new(&script).arg("build").output().unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{} build failed (it needs Go and the Go module proxy): {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
