//! Message templates (`--message-template-drain` and friends) filled with the
//! node name exactly as upstream's `fmt.Sprintf(template, nodeID)` does, so a
//! template shared with upstream kured renders the same text: `%s`/`%v` take
//! the name, `%%` is a percent sign, and Go's error markers (`%!s(MISSING)`,
//! `%!(EXTRA string=...)`, `%!d(string=...)`, `%!(NOVERB)`) appear where Go
//! would print them.

/// Render `template` with `node` as the single argument.
pub fn render(template: &str, node: &str) -> String {
    let mut out = String::with_capacity(template.len() + node.len());
    let mut used = false;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // flags, width and precision, as Go parses them
        let mut minus = false;
        while let Some(&f) = chars.peek() {
            if !"+-# 0".contains(f) {
                break;
            }
            minus |= f == '-';
            chars.next();
        }
        let width = digits(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(digits(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if used {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        }
        used = true;
        let text = match verb {
            's' | 'v' => node.to_string(),
            'q' => format!("{node:?}"),
            'x' => node.bytes().map(|b| format!("{b:02x}")).collect(),
            'X' => node.bytes().map(|b| format!("{b:02X}")).collect(),
            _ => {
                out.push_str(&format!("%!{verb}(string={node})"));
                continue;
            }
        };
        let text: String = match precision {
            Some(p) if matches!(verb, 's' | 'v') => text.chars().take(p).collect(),
            _ => text,
        };
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
        if minus {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    if !used {
        out.push_str(&format!("%!(EXTRA string={node})"));
    }
    out
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::render;

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
        case("%d", "%!d(string=n1)");
        case("no verb", "no verb%!(EXTRA string=n1)");
        case("50%% off", "50% off%!(EXTRA string=n1)");
        case("trailing %", "trailing %!(NOVERB)%!(EXTRA string=n1)");
        case("ünïcode %s ✓", "ünïcode n1 ✓");
        case("", "%!(EXTRA string=n1)");
    }
}
