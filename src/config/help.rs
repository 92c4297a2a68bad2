//! `--help`, in pflag's layout (flags sorted, type after the name, default at
//! the end), generated from the same table the parser uses so they cannot
//! disagree.

use super::duration::{format_duration, parse_duration};
use super::flags::{env_name, Kind, FLAGS};

fn default_text(kind: Kind, default: &str) -> String {
    match kind {
        Kind::Str => format!("{default:?}"),
        Kind::Duration => parse_duration(default).map(format_duration).unwrap_or_else(|_| default.into()),
        Kind::Strings | Kind::StringArray => format!("[{default}]"),
        Kind::Regexp if default.is_empty() => "none".into(),
        Kind::Bool | Kind::Int | Kind::Regexp => default.into(),
    }
}

pub fn help_text() -> String {
    let head = |name: &str, ty: &str| match ty {
        "" => format!("--{name}"),
        ty => format!("--{name} {ty}"),
    };
    let width = FLAGS.iter().map(|s| head(s.name, s.kind.type_name()).len()).max().unwrap_or(0) + 3;
    let mut out = format!(
        "kured-rs {}: the Kubernetes Reboot Daemon, compatible with kured's flags\n\n\
         Usage: kured [flags]\n\nFlags:\n",
        crate::VERSION
    );
    for spec in FLAGS {
        let h = head(spec.name, spec.kind.type_name());
        out += &format!("      {h:width$}{} (default {})\n", spec.help, default_text(spec.kind, spec.default));
    }
    out += &format!("  -h, {:width$}print this help and exit\n", "--help");
    out += &format!("      {:width$}print the version and exit\n", "--version");
    out += &format!(
        "\nBooleans take --name or --name=true|false. Durations are Go durations (90s, 1h30m, 1.5h).\n\
         Slice flags (strings) split on commas and repeat; --blocking-pod-selector repeats, one selector each.\n\
         Every flag can also be set from the environment as KURED_<NAME> (e.g. {} for --node-id);\n\
         the environment wins over the command line.\n\
         RUST_LOG sets the log level (default info).\n",
        env_name("node-id")
    );
    out
}
