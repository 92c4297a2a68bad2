//! Message templates (`--message-template-drain` and friends), a leaf that
//! `config` (checking them at start-up) and `notify` (rendering them) share:
//! filled with the node name exactly as upstream's `fmt.Sprintf(template,
//! nodeID)` does, so a template shared with upstream kured renders the same
//! text: `%s`/`%v` take the name, `%%` is a percent sign, and Go's error markers
//! (`%!s(MISSING)`, `%!(EXTRA string=...)`, `%!d(string=...)`, `%!(NOVERB)`)
//! appear where Go would print them.
//!
//! Unlike Go, a message is bounded: [`check`] refuses at start-up a template
//! that could render to more than [`MAX_MESSAGE`] bytes (a width such as
//! `%99999999s` would otherwise allocate without limit, or abort with a
//! capacity overflow while the lock is held), and [`render`] never produces
//! more than that, whatever it is given.

/// The most bytes a rendered message may have.
pub const MAX_MESSAGE: usize = 4096;
/// The longest node name Kubernetes allows (a DNS subdomain).
const MAX_NODE_NAME: usize = 253;
/// Go's `tooLarge`: a number past this ends the verb (Go then prints
/// `%!(NOVERB)` and stops formatting).
const GO_MAX_NUM: usize = 1_000_000;

/// Where rendered text goes: kept up to a bound, or only counted.
trait Sink {
    fn text(&mut self, s: &str);
    fn spaces(&mut self, n: usize);
    /// A width or precision past Go's bound was met.
    fn too_large(&mut self) {}
}

/// Keeps at most [`MAX_MESSAGE`] bytes (cut on a character boundary).
struct Bounded(String);

impl Sink for Bounded {
    fn text(&mut self, s: &str) {
        let room = MAX_MESSAGE - self.0.len();
        if s.len() <= room {
            self.0.push_str(s);
        } else {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.0.push_str(&s[..cut]);
        }
    }
    fn spaces(&mut self, n: usize) {
        let n = n.min(MAX_MESSAGE - self.0.len());
        self.0.extend(std::iter::repeat_n(' ', n));
    }
}

/// Counts bytes, saturating, and notes numbers past Go's bound.
struct Counter(usize, bool);

impl Sink for Counter {
    fn too_large(&mut self) {
        self.1 = true;
    }
    fn text(&mut self, s: &str) {
        self.0 = self.0.saturating_add(s.len());
    }
    fn spaces(&mut self, n: usize) {
        self.0 = self.0.saturating_add(n);
    }
}

/// Render `template` with `node` as the single argument, cut at [`MAX_MESSAGE`] bytes.
pub fn render(template: &str, node: &str) -> String {
    render_args(template, &[node])
}

/// Render `template` as `fmt.Sprintf(template, args...)` with string
/// arguments (the warning templates take the node, then what went wrong).
pub fn render_args(template: &str, args: &[&str]) -> String {
    let mut out = Bounded(String::new());
    format_into(template, args, &mut out);
    out.0
}

/// Can `template` be rendered within [`MAX_MESSAGE`] bytes for every valid
/// node name? Err says why not, for a usage error naming the flag.
pub fn check(template: &str) -> Result<(), String> {
    check_args(template, 1)
}

/// [`check`] for a template given `n` arguments, each as long as a node name.
pub fn check_args(template: &str, n: usize) -> Result<(), String> {
    let mut counter = Counter(0, false);
    let long = "x".repeat(MAX_NODE_NAME);
    format_into(template, &vec![long.as_str(); n], &mut counter);
    if counter.1 {
        return Err(format!(
            "has a width or precision above {GO_MAX_NUM}, which Go's fmt (and so upstream kured) cannot use"
        ));
    }
    if counter.0 > MAX_MESSAGE {
        return Err(format!(
            "renders to {} bytes with a {MAX_NODE_NAME}-character node name, more than the {MAX_MESSAGE} a message may have (check its widths, as in %1000s)",
            counter.0
        ));
    }
    Ok(())
}

fn format_into(template: &str, args: &[&str], out: &mut dyn Sink) {
    let mut next = 0;
    let mut rest = template;
    while let Some(at) = rest.find('%') {
        out.text(&rest[..at]);
        rest = &rest[at + 1..];
        match verb(&mut rest, args.get(next).copied(), out) {
            Ok(took) => next += usize::from(took),
            Err(end) => {
                if end == End::TooLarge {
                    out.too_large();
                }
                out.text("%!(NOVERB)");
                rest = "";
            }
        }
    }
    out.text(rest);
    if next < args.len() {
        out.text("%!(EXTRA ");
        for (i, arg) in args[next..].iter().enumerate() {
            out.text(if i == 0 { "string=" } else { ", string=" });
            out.text(arg);
        }
        out.text(")");
    }
}

/// Why a `%` had no verb.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// the template ended
    NoVerb,
    /// a width or precision past Go's bound (Go swallows the rest)
    TooLarge,
}

/// One verb after a `%`: Ok(whether it took the argument `arg`, None when
/// all were used), or why there was none.
fn verb(rest: &mut &str, arg: Option<&str>, out: &mut dyn Sink) -> Result<bool, End> {
    // flags, width and precision, as Go parses them
    let flags = rest.len() - rest.trim_start_matches(['+', '-', '#', ' ', '0']).len();
    let minus = rest[..flags].contains('-');
    *rest = &rest[flags..];
    let width = number(rest)?;
    // Go reads a precision only when something follows the dot.
    let precision = match rest.strip_prefix('.') {
        Some(after) if !after.is_empty() => {
            *rest = after;
            Some(number(rest)?.unwrap_or(0))
        }
        _ => None,
    };
    let verb = rest.chars().next().ok_or(End::NoVerb)?;
    *rest = &rest[verb.len_utf8()..];
    if verb == '%' {
        out.text("%");
        return Ok(false);
    }
    let mut marker = |text: &str| {
        out.text("%!");
        out.text(verb.encode_utf8(&mut [0; 4]));
        out.text(text);
    };
    let Some(node) = arg else {
        marker("(MISSING)");
        return Ok(false);
    };
    let text = match verb {
        's' | 'v' => node.to_string(),
        'q' => format!("{node:?}"),
        'x' => node.bytes().map(|b| format!("{b:02x}")).collect(),
        'X' => node.bytes().map(|b| format!("{b:02X}")).collect(),
        _ => {
            marker("(string=");
            out.text(node);
            out.text(")");
            return Ok(true);
        }
    };
    let text: String = match precision {
        Some(p) if matches!(verb, 's' | 'v') => text.chars().take(p).collect(),
        _ => text,
    };
    let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
    if minus {
        out.text(&text);
        out.spaces(pad);
    } else {
        out.spaces(pad);
        out.text(&text);
    }
    Ok(true)
}

/// Go's `parsenum`: Ok(None) when no digits, Err when the number grew past
/// Go's bound (then, as Go, the rest of the template is consumed).
fn number(rest: &mut &str) -> Result<Option<usize>, End> {
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let mut n: usize = 0;
    for d in rest[..digits].bytes() {
        if n > GO_MAX_NUM {
            *rest = "";
            return Err(End::TooLarge);
        }
        n = n * 10 + usize::from(d - b'0');
    }
    *rest = &rest[digits..];
    Ok((digits > 0).then_some(n))
}

#[cfg(test)]
mod tests {
    use super::{check, check_args, render, render_args, MAX_MESSAGE};

    #[test]
    fn two_arguments_like_go_sprintf() {
        let two = |t: &str| render_args(t, &["n1", "it timed out"]);
        assert_eq!(two("Reboot of node %s failed: %s"), "Reboot of node n1 failed: it timed out");
        assert_eq!(two("%s"), "n1%!(EXTRA string=it timed out)");
        assert_eq!(two("none"), "none%!(EXTRA string=n1, string=it timed out)");
        assert_eq!(two("%s %s %s"), "n1 it timed out %!s(MISSING)");
        assert_eq!(two("%d: %s"), "%!d(string=n1): it timed out");
        assert_eq!(check_args("%s: %s", 2), Ok(()));
        assert!(check_args("%s %4000s", 2).is_err());
    }

    #[track_caller]
    fn case(template: &str, want: &str) {
        assert_eq!(render(template, "n1"), want, "render({template:?})");
    }

    #[test]
    fn like_go_sprintf() {
        case("Draining node %s", "Draining node n1");
        case("Node %s rebooted & uncordoned successfully!", "Node n1 rebooted & uncordoned successfully!");
        case("%s and %s", "n1 and %!s(MISSING)");
        case("100%% sure about %s", "100% sure about n1");
        case("%v", "n1");
        case("%q", "\"n1\"");
        case("%x", "6e31");
        case("[%5s]", "[   n1]");
        case("[%-5s]", "[n1   ]");
        case("[%.1s]", "[n]");
        case("[%.s]", "[]");
        case("%d", "%!d(string=n1)");
        case("no verb", "no verb%!(EXTRA string=n1)");
        case("50%% off", "50% off%!(EXTRA string=n1)");
        case("trailing %", "trailing %!(NOVERB)%!(EXTRA string=n1)");
        case("trailing %5", "trailing %!(NOVERB)%!(EXTRA string=n1)");
        case("dot %.", "dot %!.(string=n1)");
        case("ünïcode %s ✓", "ünïcode n1 ✓");
        case("%ü", "%!ü(string=n1)");
        case("", "%!(EXTRA string=n1)");
        // Go's tooLarge: the rest of the template is swallowed
        case("a %99999999999999999999999s b", "a %!(NOVERB)%!(EXTRA string=n1)");
        case("%.99999999999999999999s", "%!(NOVERB)%!(EXTRA string=n1)");
    }

    #[test]
    fn huge_widths_are_bounded() {
        // The case 1: these aborted the daemon (capacity overflow) or
        // peaked at 290 MiB. Rendering stays within MAX_MESSAGE, and check
        // refuses them at start-up.
        for template in ["%99999999999999999999999s", "%100000000s", "%1000000s", "x%-9999999s y", "%5000s"] {
            let text = render(template, "node-a");
            assert!(text.len() <= MAX_MESSAGE, "{template}: {} bytes", text.len());
            assert!(check(template).is_err(), "{template} must be refused");
        }
        assert_eq!(render(&"é".repeat(3000), "n").len(), MAX_MESSAGE, "cut on a character boundary");
        assert!(check(&"a".repeat(MAX_MESSAGE)).is_err());
    }

    #[test]
    fn ordinary_templates_pass_the_check() {
        for template in [
            "Draining node %s",
            "Rebooting node %s",
            "Node %s rebooted & uncordoned successfully!",
            "%3000s",
            "%s %s %d",
        ] {
            assert_eq!(check(template), Ok(()), "{template}");
        }
        let err = check("%100000s").unwrap_err();
        assert!(err.contains("100000 bytes"), "{err}");
    }
}
