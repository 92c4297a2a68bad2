//! Logging set-up: text lines by default, JSON lines with `--log-format=json`;
//! the level comes from `RUST_LOG` (default info). Lines go to stderr, as
//! upstream's logrus does, one event per line so log collectors need no
//! multi-line rules.

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

/// Install the global logger. A second call is a no-op (tests may race to it).
pub fn init(format: LogFormat) {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Stderr)
        .format(move |buf, record| {
            let ts = timestamp(time::OffsetDateTime::now_utc());
            let line = format_line(&format, &ts, record.level(), record.target(), &record.args().to_string());
            writeln!(buf, "{line}")
        })
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Level;

    #[test]
    fn text_lines() {
        let ts = timestamp(time::macros::datetime!(2026-01-01 04:00:00 +01:00));
        assert_eq!(ts, "2026-01-01T03:00:00Z");
        assert_eq!(format_line(&LogFormat::Text, &ts, Level::Info, "kured", "hello"), "2026-01-01T03:00:00Z INFO  hello");
        assert_eq!(format_line(&LogFormat::Text, &ts, Level::Warn, "k", "a\nb"), "2026-01-01T03:00:00Z WARN  a\\nb");
    }

    #[test]
    fn json_lines_are_valid_json() {
        let line = format_line(&LogFormat::Json, "2026-01-01T03:00:00Z", Level::Error, "kured::agent", "bad \"x\"\n\t\u{1}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "2026-01-01T03:00:00Z");
        assert_eq!(v["level"], "error");
        assert_eq!(v["target"], "kured::agent");
        assert_eq!(v["msg"], "bad \"x\"\n\t\u{1}");
        assert!(!line.contains('\n'));
    }
}
