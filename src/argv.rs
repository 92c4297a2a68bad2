//! Command lines as argv, a leaf that `config` (checking the flags) and
//! `hostcmd`, `reboot`, `sentinel` (running and naming commands) share: word
//! splitting for `--reboot-command` and `--reboot-sentinel-command` ([`lex`]),
//! the way upstream kured does it with Go's `github.com/google/shlex`, so a
//! command line that worked there splits into the same argv here; and back
//! ([`display_argv`]), for log lines and error messages.
//!
//! Rules (those of google/shlex): blanks (space, tab, CR, LF) separate words;
//! single quotes are literal; inside double quotes a backslash makes the next
//! character literal; outside quotes a backslash makes the next character
//! literal; `#` at the start of a word starts a comment that runs to the end of
//! the line; nothing is expanded. One difference from POSIX sh is kept on
//! purpose, for compatibility: inside double quotes the backslash is dropped
//! before *any* character (`"a\b"` gives `ab`; sh keeps `a\b`), and a
//! backslash-newline yields a newline rather than joining lines.

#[derive(Clone, Copy)]
enum State {
    /// between words
    Blank,
    /// in an unquoted part of a word
    Word,
    /// after a backslash outside quotes
    Escape,
    /// inside "..."
    Double,
    /// after a backslash inside "..."
    DoubleEscape,
    /// inside '...'
    Single,
    /// after a `#` that started a word, until the end of the line
    Comment,
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Split a command line into argv. `Err` says what is wrong, quoting the line:
/// an unbalanced quote, a trailing backslash, or no words at all.
pub fn lex(line: &str) -> Result<Vec<String>, String> {
    use State::*;
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = Blank;
    for c in line.chars() {
        state = match (state, c) {
            (Blank, c) if is_blank(c) => Blank,
            (Blank, '#') => Comment,
            (Comment, '\n') => Blank,
            (Comment, _) => Comment,
            (Word, c) if is_blank(c) => {
                words.push(std::mem::take(&mut word));
                Blank
            }
            (Blank | Word, '"') => Double,
            (Blank | Word, '\'') => Single,
            (Blank | Word, '\\') => Escape,
            (Blank | Word | Escape, c) => {
                word.push(c);
                Word
            }
            (Double, '"') => Word,
            (Double, '\\') => DoubleEscape,
            (Double | DoubleEscape, c) => {
                word.push(c);
                Double
            }
            (Single, '\'') => Word,
            (Single, c) => {
                word.push(c);
                Single
            }
        };
    }
    match state {
        Blank | Comment => {}
        Word => words.push(word),
        Escape => return Err(format!("trailing backslash in {line:?}")),
        Double | DoubleEscape => return Err(format!("unbalanced double quote in {line:?}")),
        Single => return Err(format!("unbalanced single quote in {line:?}")),
    }
    if words.is_empty() {
        return Err(format!("no command in {line:?}"));
    }
    Ok(words)
}

/// The argv as one string, for log lines and error messages.
pub fn display_argv(argv: &[String]) -> String {
    argv.iter().map(|w| quote_word(w)).collect::<Vec<_>>().join(" ")
}

/// A word as a shell would need it written: bare when safe, else in single
/// quotes (`'` written as `'"'"'`), so that `lex(display_argv(argv)) == argv`.
fn quote_word(w: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !w.is_empty() && w.chars().all(safe) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\"'\"'"))
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn display_round_trips_through_lex() {
        for line in ["/bin/systemctl reboot", "/bin/sh -c 'echo rebooted >> /tmp/m'", "a '' \"it's\" x=1,2"] {
            let argv = lex(line).unwrap();
            assert_eq!(lex(&display_argv(&argv)).unwrap(), argv, "{line}");
        }
        assert_eq!(display_argv(&lex("/bin/sh -c 'echo hi'").unwrap()), "/bin/sh -c 'echo hi'");
    }
}

#[cfg(test)]
mod tests {
    use super::lex;

    #[track_caller]
    fn ok(line: &str, want: &[&str]) {
        assert_eq!(lex(line), Ok(want.iter().map(|s| s.to_string()).collect()), "line {line:?}");
    }

    #[track_caller]
    fn err(line: &str, want: &str) {
        match lex(line) {
            Ok(words) => panic!("line {line:?}: want error containing {want:?}, got {words:?}"),
            Err(e) => assert!(e.contains(want), "line {line:?}: error {e:?} lacks {want:?}"),
        }
    }

    #[test]
    fn splits_like_google_shlex() {
        ok("/bin/systemctl reboot", &["/bin/systemctl", "reboot"]);
        ok("  a \t b\r\nc  ", &["a", "b", "c"]);
        ok("one", &["one"]);
        ok("a=b c/d:e@f", &["a=b", "c/d:e@f"]);
        ok("sh -c 'exit 2'", &["sh", "-c", "exit 2"]);
        ok("'it''s'", &["its"]);
        ok(r#"'a "b" \c'"#, &[r#"a "b" \c"#]);
        ok(r#""a 'b' c""#, &["a 'b' c"]);
        ok(r#""say \"hi\"""#, &[r#"say "hi""#]);
        ok(r#""\\ \$HOME \`x\`""#, &[r"\ $HOME `x`"]);
        ok(r#""a\bc""#, &["abc"]); // google/shlex drops the backslash; sh would keep it
        ok("\"a\\\nb\"", &["a\nb"]);
        ok(r"a\ b c", &["a b", "c"]);
        ok(r#"\'x\' \"y\""#, &["'x'", "\"y\""]);
        ok(r"a\\b", &[r"a\b"]);
        ok("pre'mid'\"dle\"post", &["premiddlepost"]);
        ok("'' \"\" x", &["", "", "x"]);
        ok("$HOME ~ *.txt", &["$HOME", "~", "*.txt"]);
        ok("a#b", &["a#b"]);
        ok("a #b c", &["a"]);
        ok("a # comment\nb", &["a", "b"]);
        ok(r"\#x", &["#x"]);
        ok("'#x'", &["#x"]);
        ok("héllo wörld", &["héllo", "wörld"]);
    }

    #[test]
    fn rejects_bad_lines() {
        err("sh -c 'exit 2", "unbalanced single quote in \"sh -c 'exit 2\"");
        err("echo \"hi", "unbalanced double quote");
        err("echo \"hi\\", "unbalanced double quote");
        err("echo \"hi\\\"", "unbalanced double quote");
        err("echo hi\\", "trailing backslash");
        err("", "no command in \"\"");
        err("   \t\n", "no command");
        err("# only a comment", "no command");
    }
}
