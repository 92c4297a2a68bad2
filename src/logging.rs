//! Logging set-up: text lines by default, JSON lines with `--log-format=json`;
//! the level comes from `RUST_LOG` (default info). Lines go to stderr, as
//! upstream's logrus does, one event per line so log collectors need no
//! multi-line rules.
//!
//! Two guards sit in front of `env_logger`, whatever `RUST_LOG` says:
//! - other crates (ureq, ureq-proto, rustls, http, ...) log at most at INFO:
//!   at DEBUG and TRACE they print request lines, URIs and raw bytes, which
//!   would put a notification URL's secret path or the API bearer token in
//!   the log (`RUST_LOG=trace` must be safe to ask a user for);
//! - a line holds at most [`MAX_LINE`] bytes of message: a hostile annotation
//!   or a huge flag value cannot produce megabyte lines.

use std::io::Write;

use crate::config::LogFormat;

/// RFC 3339 in UTC to the second, as upstream's logrus prints it.
fn timestamp(now: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_else(|_| "0000-00-00T00:00:00Z".into())
}

/// One log line without the newline. Pure, for tests.
pub fn format_line(format: &LogFormat, ts: &str, level: log::Level, target: &str, msg: &str) -> String {
    match format {
        // Messages are single lines; a stray newline would split an event.
        LogFormat::Text => format!("{ts} {level:<5} {}", msg.replace('\n', "\\n")),
        LogFormat::Json => serde_json::json!({
            "ts": ts,
            "level": level.as_str().to_ascii_lowercase(),
            "target": target,
            "msg": msg,
        })
        .to_string(),
    }
}

/// WARN the first time `key` comes up in this process, DEBUG after: for a
/// condition that stays as it is until an operator acts, such as a permission
/// the RBAC lacks (a 403 is answered the same way every time; upstream's chart
/// lacks five of the permissions kured-rs uses), which would otherwise repeat
/// every `--period`.
pub fn warn_once(key: &str) -> log::Level {
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.insert(key.to_string()) {
        log::Level::Warn
    } else {
        log::Level::Debug
    }
}

/// The most bytes of message one line carries; the rest is cut and counted.
pub const MAX_LINE: usize = 4096;

/// The most verbose level a record from `target` may have: ours as asked,
/// other crates' at most INFO (see the module comment).
pub fn level_cap(target: &str) -> log::LevelFilter {
    let ours = target == "kured" || target.starts_with("kured::");
    if ours {
        log::LevelFilter::Trace
    } else {
        log::LevelFilter::Info
    }
}

/// `msg` cut so that, escaped for a text or JSON line (a control character
/// takes up to 6 bytes), it fills at most [`MAX_LINE`] bytes; says how much went.
pub fn cap_message(msg: &str) -> std::borrow::Cow<'_, str> {
    let mut used = 0;
    for (at, c) in msg.char_indices() {
        used += match c {
            c if c.is_control() => 6,
            '"' | '\\' => 2,
            c => c.len_utf8(),
        };
        if used > MAX_LINE {
            return format!("{}... [{} more bytes]", &msg[..at], msg.len() - at).into();
        }
    }
    msg.into()
}

/// env_logger behind the target cap.
struct Capped(env_logger::Logger);

impl log::Log for Capped {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= level_cap(meta.target()) && self.0.enabled(meta)
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0.log(record);
        }
    }
    fn flush(&self) {
        self.0.flush();
    }
}

/// Install the global logger. A second call is a no-op (tests may race to it).
pub fn init(format: LogFormat) {
    let env = env_logger::Env::default().default_filter_or("info");
    let logger = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Stderr)
        .format(move |buf, record| {
            let ts = timestamp(time::OffsetDateTime::now_utc());
            let msg = record.args().to_string();
            let line = format_line(&format, &ts, record.level(), record.target(), &cap_message(&msg));
            writeln!(buf, "{line}")
        })
        .build();
    let max = logger.filter();
    if log::set_logger(Box::leak(Box::new(Capped(logger)))).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Level;

    #[test]
    fn warn_once_warns_once_per_key() {
        assert_eq!(warn_once("test: a"), Level::Warn);
        assert_eq!(warn_once("test: a"), Level::Debug);
        assert_eq!(warn_once("test: b"), Level::Warn);
    }

    #[test]
    fn text_lines() {
        let ts = timestamp(time::macros::datetime!(2026-01-01 04:00:00 +01:00));
        assert_eq!(ts, "2026-01-01T03:00:00Z");
        assert_eq!(
            format_line(&LogFormat::Text, &ts, Level::Info, "kured", "hello"),
            "2026-01-01T03:00:00Z INFO  hello"
        );
        assert_eq!(format_line(&LogFormat::Text, &ts, Level::Warn, "k", "a\nb"), "2026-01-01T03:00:00Z WARN  a\\nb");
    }

    #[test]
    fn other_crates_never_log_below_info() {
        use log::LevelFilter::{Info, Trace};
        for (target, cap) in [
            ("kured", Trace),
            ("kured::kube::http", Trace),
            ("ureq", Info),
            ("ureq::unversioned::transport::tcp", Info),
            ("ureq_proto::client", Info),
            ("rustls::client::hs", Info),
            ("http", Info),
            ("kuredx", Info),
            ("", Info),
        ] {
            assert_eq!(level_cap(target), cap, "{target:?}");
        }
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(cap_message("short"), "short");
        let long = "é".repeat(MAX_LINE);
        let cut = cap_message(&long);
        assert!(cut.len() < MAX_LINE + 40, "{}", cut.len());
        assert!(cut.ends_with(&format!("... [{} more bytes]", MAX_LINE)), "{}", &cut[cut.len() - 30..]);
        for hostile in ["\n".repeat(100_000), "\u{1}".repeat(100_000), "\"".repeat(100_000), "x".repeat(1 << 20)] {
            for format in [LogFormat::Text, LogFormat::Json] {
                let line =
                    format_line(&format, "2026-01-01T03:00:00Z", Level::Info, "kured::lock", &cap_message(&hostile));
                assert!(line.len() < 8 * 1024, "{} bytes", line.len());
            }
        }
    }

    #[test]
    fn json_lines_are_valid_json() {
        let line =
            format_line(&LogFormat::Json, "2026-01-01T03:00:00Z", Level::Error, "kured::agent", "bad \"x\"\n\t\u{1}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "2026-01-01T03:00:00Z");
        assert_eq!(v["level"], "error");
        assert_eq!(v["target"], "kured::agent");
        assert_eq!(v["msg"], "bad \"x\"\n\t\u{1}");
        assert!(!line.contains('\n'));
    }
}
