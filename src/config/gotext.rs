//! The other Go value syntaxes upstream's flags accept: booleans as
//! `strconv.ParseBool`, integers as pflag (`strconv.ParseInt(s, 0, 64)`: `0x`,
//! `0o`, `0b`, leading-0 octal, `_` separators) or as upstream's env binding
//! (`strconv.Atoi`: plain decimal), and string slices as pflag (one CSV record).

/// `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("expected a boolean: true or false (also 1/0, t/f)".into()),
    }
}

/// An integer as pflag's int flag takes it (`base_prefixed`) or as upstream's
/// `KURED_*` binding takes it (`strconv.Atoi`, decimal only).
pub fn parse_int(text: &str, base_prefixed: bool) -> Result<i64, String> {
    let invalid = || {
        if base_prefixed {
            "expected an integer".to_string()
        } else {
            "expected a decimal integer".to_string()
        }
    };
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if !base_prefixed {
        (10, body)
    } else if body.len() >= 2 && body.as_bytes()[0] == b'0' {
        match body.as_bytes()[1] | 0x20 {
            b'x' => (16, &body[2..]),
            b'o' => (8, &body[2..]),
            b'b' => (2, &body[2..]),
            _ => (8, &body[1..]),
        }
    } else {
        (10, body)
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    if base_prefixed && !underscores_ok(body) {
        return Err(invalid());
    }
    let mut n: u128 = 0;
    for c in digits.chars() {
        if c == '_' && base_prefixed {
            continue;
        }
        let d = c.to_digit(radix).ok_or_else(invalid)?;
        n = n * u128::from(radix) + u128::from(d);
        if n > 1 << 63 {
            return Err("value out of range".into());
        }
    }
    match negative {
        true => Ok((n as i128).wrapping_neg() as i64),
        false if n > i64::MAX as u128 => Err("value out of range".into()),
        false => Ok(n as i64),
    }
}

/// Go's rule: `_` only between digits (a base prefix counts as a digit).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut i, mut saw, mut hex) = (0, b'^', false);
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[1] | 0x20 == b'x';
        i = 2;
        saw = b'0';
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// One CSV record as pflag's string-slice flags read it (`encoding/csv`):
/// fields split on commas, a field may be double-quoted (then commas are kept
/// and `""` is a quote). An empty string is an empty list.
pub fn split_csv(s: &str) -> Result<Vec<String>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    let mut rest = s;
    loop {
        let (field, after) = if let Some(quoted) = rest.strip_prefix('"') {
            read_quoted(quoted)?
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let field = &rest[..end];
            if field.contains('"') {
                return Err(format!("bare \" in non-quoted field {field:?}"));
            }
            (field.to_string(), &rest[end..])
        };
        fields.push(field);
        match after.strip_prefix(',') {
            Some(next) => rest = next,
            None => return Ok(fields),
        }
    }
}

/// After an opening quote: the field and what follows the closing quote.
fn read_quoted(s: &str) -> Result<(String, &str), String> {
    let mut field = String::new();
    let mut rest = s;
    loop {
        let Some(q) = rest.find('"') else {
            return Err(format!("missing closing \" in quoted field {s:?}"));
        };
        field.push_str(&rest[..q]);
        let after = &rest[q + 1..];
        if let Some(more) = after.strip_prefix('"') {
            field.push('"');
            rest = more;
        } else if after.is_empty() || after.starts_with(',') {
            return Ok((field, after));
        } else {
            return Err(format!("extraneous \" in quoted field {s:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["", "yes", "no", "tRUE", "2", " true", "on"] {
            assert!(parse_bool(bad).is_err(), "{bad}");
        }
    }

    #[track_caller]
    fn int(text: &str, prefixed: bool, want: Result<i64, ()>) {
        assert_eq!(parse_int(text, prefixed).map_err(|_| ()), want, "{text:?} prefixed={prefixed}");
    }

    #[test]
    fn ints() {
        int("0", true, Ok(0));
        int("8080", true, Ok(8080));
        int("-1", true, Ok(-1));
        int("+5", true, Ok(5));
        int("0x1F", true, Ok(31));
        int("0X1f", true, Ok(31));
        int("0o17", true, Ok(15));
        int("017", true, Ok(15));
        int("0b101", true, Ok(5));
        int("1_000", true, Ok(1000));
        int("0x_1f", true, Ok(31));
        int("9223372036854775807", true, Ok(i64::MAX));
        int("-9223372036854775808", true, Ok(i64::MIN));
        int("9223372036854775808", true, Err(()));
        int("99999999999999999999999", true, Err(()));
        int("", true, Err(()));
        int("-", true, Err(()));
        int("0x", true, Err(()));
        int("08", true, Err(()));
        int("1__0", true, Err(()));
        int("_1", true, Err(()));
        int("1_", true, Err(()));
        int("abc", true, Err(()));
        int("1.0", true, Err(()));
        int(" 1", true, Err(()));
        // KURED_* values go through strconv.Atoi: decimal only.
        int("017", false, Ok(17));
        int("+7", false, Ok(7));
        int("-3", false, Ok(-3));
        int("0x1F", false, Err(()));
        int("1_000", false, Err(()));
        int("", false, Err(()));
    }

    #[track_caller]
    fn csv(text: &str, want: &[&str]) {
        assert_eq!(split_csv(text).unwrap(), want, "{text:?}");
    }

    #[test]
    fn csv_records() {
        csv("", &[]);
        csv("a", &["a"]);
        csv("a,b", &["a", "b"]);
        csv("a,,b,", &["a", "", "b", ""]);
        csv(",", &["", ""]);
        csv("\"a,b\",c", &["a,b", "c"]);
        csv("\"say \"\"hi\"\"\",x", &["say \"hi\"", "x"]);
        csv("\"\"", &[""]);
        csv(" a , b", &[" a ", " b"]);
        for bad in ["a\"b", "\"ab", "\"a\"b", "x,\"y"] {
            assert!(split_csv(bad).is_err(), "{bad}");
        }
    }
}
