//! The Prometheus text exposition format (version 0.0.4), the pieces that
//! `metrics` (upstream's gauge, kured-rs's counters) and `status` (the pacing
//! metrics) both write: a label value escaped, a series' `# HELP`/`# TYPE`
//! header. A leaf: it knows no metric, so `status` need not know `metrics`.

use std::fmt::Write as _;

/// Label values escape backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `# HELP name help` and `# TYPE name kind` (`gauge`, `counter`, `histogram`),
/// written once before a metric's samples.
pub fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("we\"ird\\node\n"), "we\\\"ird\\\\node\\n");
        assert_eq!(escape_label("node-1"), "node-1");
    }

    #[test]
    fn headers() {
        let mut out = String::new();
        header(&mut out, "kured_x", "What x is.", "gauge");
        assert_eq!(out, "# HELP kured_x What x is.\n# TYPE kured_x gauge\n");
    }
}
