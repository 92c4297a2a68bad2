//! Label and field selectors, parsed as the real server does: `a=b`, `a==b`,
//! `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma meaning AND.

use serde_json::Value;

use crate::resources::Resource;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 316 && k.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn parse_set(key: &str, rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: found '{rest}', expected: '(' for key {key}"))?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    match vals.iter().find(|v| !valid_value(v)) {
        Some(v) => Err(format!("unable to parse requirement: invalid label value: \"{v}\"")),
        None => Ok(vals),
    }
}

fn parse_req(part: &str) -> Result<Req, String> {
    let p = part.trim();
    let bad_key = |k: &str| format!("unable to parse requirement: invalid label key \"{k}\"");
    if let Some(k) = p.strip_prefix('!') {
        let k = k.trim();
        return if valid_key(k) { Ok(Req::NotExists(k.into())) } else { Err(bad_key(k)) };
    }
    let words: Vec<&str> = p.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim_start();
        for (op, notin) in [("notin", true), ("in", false)] {
            if let Some(set) = rest.strip_prefix(op).filter(|s| s.trim_start().starts_with('(')) {
                let key = words[0];
                if !valid_key(key) {
                    return Err(bad_key(key));
                }
                let vals = parse_set(key, set)?;
                return Ok(if notin { Req::NotIn(key.into(), vals) } else { Req::In(key.into(), vals) });
            }
        }
    }
    for (op, ne) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = p.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) {
                return Err(bad_key(k));
            }
            if !valid_value(v) {
                return Err(format!("unable to parse requirement: invalid label value: \"{v}\""));
            }
            return Ok(if ne { Req::Ne(k.into(), v.into()) } else { Req::Eq(k.into(), v.into()) });
        }
    }
    if valid_key(p) {
        Ok(Req::Exists(p.into()))
    } else {
        Err(bad_key(p))
    }
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        if s.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        split_top(s).into_iter().map(parse_req).collect::<Result<_, _>>().map(LabelSelector)
    }

    /// From a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    pub fn from_object(sel: &Value) -> LabelSelector {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Req::Eq(k.clone(), v.as_str().unwrap_or("").into()));
            }
        }
        for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
            let key = e["key"].as_str().unwrap_or("").to_string();
            let vals: Vec<String> =
                e["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
            reqs.push(match e["operator"].as_str().unwrap_or("") {
                "In" => Req::In(key, vals),
                "NotIn" => Req::NotIn(key, vals),
                "Exists" => Req::Exists(key),
                _ => Req::NotExists(key),
            });
        }
        LabelSelector(reqs)
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector: `field=value`, `field==value`, `field!=value`, ANDed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

fn supported_fields(res: &Resource) -> &'static [&'static str] {
    match res.kind {
        "Pod" => &[
            "spec.nodeName",
            "status.phase",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.podIP",
        ],
        "Node" => &["spec.unschedulable"],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
            "source",
        ],
        _ => &[],
    }
}

impl FieldSelector {
    pub fn parse(s: &str, res: &Resource) -> Result<FieldSelector, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, ne, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, false, v)
            } else {
                return Err(format!("invalid selector: '{s}'; can't understand '{part}'"));
            };
            let field = field.trim();
            let known =
                field == "metadata.name" || field == "metadata.namespace" || supported_fields(res).contains(&field);
            if !known {
                return Err(format!("field label not supported: {field}"));
            }
            out.push((field.to_string(), ne, value.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, ne, want)| {
            let v = field.split('.').fold(obj, |v, seg| &v[seg]);
            let have = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Null => {
                    if field == "spec.unschedulable" {
                        "false".into()
                    } else {
                        String::new()
                    }
                }
                other => other.to_string(),
            };
            (have == *want) != *ne
        })
    }

    /// The value of `field=value` if the selector pins it (for a watch on one object).
    pub fn pinned(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, ne, _)| f == field && !ne).map(|(_, _, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check(sel: &str, labels: Value, want: bool) {
        let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
        assert_eq!(s.matches(&json!({ "metadata": { "labels": labels } })), want, "{sel}");
    }

    #[test]
    fn label_selectors() {
        check("", json!({}), true);
        check("a=b", json!({"a":"b"}), true);
        check("a==b", json!({"a":"c"}), false);
        check("a!=b", json!({}), true);
        check("a in (x, y),b", json!({"a":"y","b":"1"}), true);
        check("a notin (x,y)", json!({"a":"x"}), false);
        check("!a", json!({"b":"1"}), true);
        check("a,!b", json!({"a":"1","b":"2"}), false);
        assert!(LabelSelector::parse("a in x").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("=x").is_err());
    }
}
