//! Kubernetes label selectors, checked at start-up with the grammar of
//! apimachinery's `labels.Parse`, so a selector the API server would refuse
//! with a 400 on every period (read as "reboot blocked", or a drain that fails
//! each time after the cordon) is a usage error instead. Also the names the
//! grammar is built on: qualified names, label values, DNS subdomains.
//!
//! ```text
//! selector    = [ requirement { "," requirement } ]
//! requirement = [ "!" ] key
//!             | key ( "=" | "==" | "!=" ) value
//!             | key ( "in" | "notin" ) "(" value { "," value } ")"
//!             | key ( ">" | "<" ) integer
//! ```

/// A DNS-1123 subdomain (a node name, a label key's prefix): at most 253
/// characters, dot-separated labels of `[a-z0-9]` with inner `-`.
pub fn dns_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 253 {
        return Err(format!("is {} characters long, more than 253", s.len()));
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && alnum(&b[0]) && alnum(&b[b.len() - 1]) && b.iter().all(|c| alnum(c) || *c == b'-')
    };
    if !s.split('.').all(label_ok) {
        return Err("must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit".into());
    }
    Ok(())
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters; empty
/// when `empty_ok` (label values may be empty, names may not).
fn name_part(s: &str, what: &str, empty_ok: bool) -> Result<(), String> {
    if s.is_empty() {
        return if empty_ok { Ok(()) } else { Err(format!("{what} must not be empty")) };
    }
    if s.len() > 63 {
        return Err(format!("{what} {:?} is longer than 63 characters", short(s)));
    }
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    if !(b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric() && b.iter().all(inner)) {
        return Err(format!(
            "{what} {s:?} must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit"
        ));
    }
    Ok(())
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain.
pub fn label_key(key: &str) -> Result<(), String> {
    match key.split_once('/') {
        Some((prefix, name)) => {
            dns_subdomain(prefix).map_err(|e| format!("key prefix {:?} {e}", short(prefix)))?;
            name_part(name, "key name", false)
        }
        None => name_part(key, "key", false),
    }
}

/// A label value: empty, or a name part of at most 63 characters.
pub fn label_value(value: &str) -> Result<(), String> {
    name_part(value, "value", true)
}

fn short(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    Not,
    Eq,
    NotEq,
    In,
    NotIn,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

fn tokens(s: &str) -> Vec<Token<'_>> {
    let special = |c: char| "!=(),<>".contains(c) || c.is_whitespace();
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while let Some(c) = rest.chars().next() {
        let (token, len) = match c {
            '!' if rest.starts_with("!=") => (Token::NotEq, 2),
            '!' => (Token::Not, 1),
            '=' if rest.starts_with("==") => (Token::Eq, 2),
            '=' => (Token::Eq, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            ',' => (Token::Comma, 1),
            '>' => (Token::Gt, 1),
            '<' => (Token::Lt, 1),
            _ => {
                let len = rest.find(special).unwrap_or(rest.len());
                let word = &rest[..len];
                let t = match word {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(word),
                };
                (t, len)
            }
        };
        out.push(token);
        rest = rest[len..].trim_start();
    }
    out
}

/// Check `selector` as the API server would parse it. Err says what is wrong.
pub fn label_selector(selector: &str) -> Result<(), String> {
    let toks = tokens(selector);
    let mut i = 0;
    if toks.is_empty() {
        return Ok(());
    }
    loop {
        i = requirement(&toks, i)?;
        match toks.get(i) {
            None => return Ok(()),
            Some(Token::Comma) if i + 1 < toks.len() => i += 1,
            Some(Token::Comma) => return Err("ends with ',': a requirement must follow".into()),
            Some(t) => return Err(format!("unexpected {} after a requirement: expected ','", describe(t))),
        }
    }
}

/// A token in value position: `in` and `notin` are plain words there.
fn word<'a>(t: Option<&Token<'a>>) -> Option<&'a str> {
    match t? {
        Token::Ident(w) => Some(w),
        Token::In => Some("in"),
        Token::NotIn => Some("notin"),
        _ => None,
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(w) => format!("{:?}", short(w)),
        Token::Not => "'!'".into(),
        Token::Eq => "'='".into(),
        Token::NotEq => "'!='".into(),
        Token::In => "'in'".into(),
        Token::NotIn => "'notin'".into(),
        Token::Gt => "'>'".into(),
        Token::Lt => "'<'".into(),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
    }
}

/// One requirement starting at `i`; returns the index after it.
fn requirement(toks: &[Token], mut i: usize) -> Result<usize, String> {
    let negated = toks.get(i) == Some(&Token::Not);
    if negated {
        i += 1;
    }
    let key = match toks.get(i) {
        Some(Token::Ident(k)) => *k,
        Some(t) => return Err(format!("expected a label key, found {}", describe(t))),
        None => return Err("expected a label key at the end".into()),
    };
    label_key(key)?;
    i += 1;
    let op = toks.get(i);
    if negated || matches!(op, None | Some(Token::Comma)) {
        // `key` (exists) or `!key` (does not exist)
        if negated && !matches!(op, None | Some(Token::Comma)) {
            return Err(format!("'!{key}' takes no operator, found {}", describe(op.unwrap_or(&Token::Comma))));
        }
        return Ok(i);
    }
    let op = op.cloned().unwrap_or(Token::Comma);
    i += 1;
    match op {
        Token::Eq | Token::NotEq => match toks.get(i) {
            _ if word(toks.get(i)).is_some() => label_value(word(toks.get(i)).unwrap_or_default()).map(|_| i + 1),
            // `key=` selects an empty value
            None | Some(Token::Comma) => Ok(i),
            Some(t) => Err(format!("expected a value after {key:?} and {}, found {}", describe(&op), describe(t))),
        },
        Token::Gt | Token::Lt => match toks.get(i) {
            Some(Token::Ident(v)) if v.parse::<i64>().is_ok() => Ok(i + 1),
            Some(t) => Err(format!("{} needs an integer value, found {}", describe(&op), describe(t))),
            None => Err(format!("{} needs an integer value", describe(&op))),
        },
        Token::In | Token::NotIn => values(toks, i, key, &op),
        t => Err(format!("expected an operator after {key:?} (=, ==, !=, in, notin, <, >), found {}", describe(&t))),
    }
}

/// `( v1, v2 )` after `in`/`notin`, non-empty; returns the index after `)`.
fn values(toks: &[Token], mut i: usize, key: &str, op: &Token) -> Result<usize, String> {
    if toks.get(i) != Some(&Token::Open) {
        return Err(format!("expected '(' after {key:?} {}", describe(op)));
    }
    i += 1;
    let mut count = 0;
    loop {
        // a value may be empty: `a in (,x)` and `a in (x,)` are valid
        match toks.get(i) {
            _ if word(toks.get(i)).is_some() => {
                label_value(word(toks.get(i)).unwrap_or_default())?;
                i += 1;
            }
            Some(Token::Comma | Token::Close) => {}
            Some(t) => return Err(format!("expected a value in the {} list, found {}", describe(op), describe(t))),
            None => return Err(format!("the {} list after {key:?} has no closing ')'", describe(op))),
        }
        count += 1;
        match toks.get(i) {
            Some(Token::Comma) => i += 1,
            Some(Token::Close) => break,
            Some(t) => return Err(format!("expected ',' or ')' in the {} list, found {}", describe(op), describe(t))),
            None => return Err(format!("the {} list after {key:?} has no closing ')'", describe(op))),
        }
    }
    if count == 1 && toks.get(i - 1) == Some(&Token::Open) {
        return Err(format!("the {} list after {key:?} must not be empty", describe(op)));
    }
    Ok(i + 1)
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
