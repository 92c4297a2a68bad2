//! Logging set-up: text lines by default, JSON lines with `--log-format=json`;
//! the level comes from `RUST_LOG` (default info).
