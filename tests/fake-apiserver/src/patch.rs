//! The three PATCH flavours the real server accepts: JSON merge patch (RFC 7386),
//! strategic merge patch (maps merge, null deletes, lists are replaced: enough for
//! labels, annotations, `spec.unschedulable` and `spec.taints`, which kubectl
//! always sends whole) and JSON patch (RFC 6902).

use serde_json::{Map, Value};

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchError {
    /// the patch document itself is malformed (400)
    Decode(String),
    /// the patch does not apply to the object, or a `test` failed (422)
    Apply(String),
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Strategic merge patch, simplified: a merge patch whose `$`-directives
/// (`$setElementOrder/...`, `$retainKeys`, `$patch`) are dropped.
pub fn strategic(target: &mut Value, patch: &Value) {
    merge(target, &strip_directives(patch));
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip_directives(v))).collect(),
        ),
        other => other.clone(),
    }
}

fn pointer(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| PatchError::Apply(format!("invalid JSON pointer {path:?}")))?;
    Ok(rest.split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

fn missing(path: &str) -> PatchError {
    PatchError::Apply(format!("doc is missing path: \"{path}\": missing value"))
}

fn lookup<'a>(doc: &'a Value, segs: &[String]) -> Option<&'a Value> {
    segs.iter().try_fold(doc, |v, s| match v {
        Value::Object(m) => m.get(s),
        Value::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn parent<'a>(doc: &'a mut Value, segs: &[String], path: &str) -> Result<&'a mut Value, PatchError> {
    let mut v = doc;
    for s in &segs[..segs.len().saturating_sub(1)] {
        v = match v {
            Value::Object(m) => m.get_mut(s),
            Value::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| missing(path))?;
    }
    Ok(v)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    let segs = pointer(path)?;
    let Some(last) = segs.last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, &segs, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = if last == "-" { a.len() } else { last.parse::<usize>().map_err(|_| missing(path))? };
            if i > a.len() {
                return Err(PatchError::Apply(format!("unable to access invalid index: {i}")));
            }
            a.insert(i, value);
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let segs = pointer(path)?;
    let last = segs.last().ok_or_else(|| PatchError::Apply("cannot remove the whole document".into()))?;
    match parent(doc, &segs, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| missing(path)),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing(path)),
        },
        _ => Err(missing(path)),
    }
}

/// RFC 6902 on `doc`; on error `doc` may be partly patched (callers patch a copy).
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch.as_array().ok_or_else(|| PatchError::Decode("json patch must be an array of operations".into()))?;
    for op in ops {
        let name = op["op"].as_str().ok_or_else(|| PatchError::Decode("operation has no \"op\"".into()))?;
        let path =
            op["path"].as_str().ok_or_else(|| PatchError::Decode(format!("operation {name} has no \"path\"")))?;
        let value =
            || op.get("value").cloned().ok_or_else(|| PatchError::Decode(format!("operation {name} has no \"value\"")));
        let from =
            || op["from"].as_str().ok_or_else(|| PatchError::Decode(format!("operation {name} has no \"from\"")));
        match name {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                lookup(doc, &pointer(path)?).ok_or_else(|| missing(path))?;
                if path.is_empty() {
                    *doc = value()?;
                } else {
                    remove(doc, path)?;
                    add(doc, path, value()?)?;
                }
            }
            "move" => {
                let v = remove(doc, from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let f = from()?;
                let v = lookup(doc, &pointer(f)?).cloned().ok_or_else(|| missing(f))?;
                add(doc, path, v)?;
            }
            "test" => {
                let want = value()?;
                if lookup(doc, &pointer(path)?) != Some(&want) {
                    return Err(PatchError::Apply(format!("testing value {path} failed: test failed")));
                }
            }
            other => return Err(PatchError::Decode(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn jp(doc: Value, patch: Value, want: Result<Value, ()>) {
        let mut d = doc;
        let got = json_patch(&mut d, &patch).map(|_| d).map_err(|_| ());
        assert_eq!(got, want);
    }

    #[test]
    fn json_patch_ops() {
        jp(json!({"a":1}), json!([{"op":"add","path":"/b","value":2}]), Ok(json!({"a":1,"b":2})));
        jp(json!({"a":[1]}), json!([{"op":"add","path":"/a/-","value":2}]), Ok(json!({"a":[1,2]})));
        jp(json!({"a":[1,3]}), json!([{"op":"add","path":"/a/1","value":2}]), Ok(json!({"a":[1,2,3]})));
        jp(
            json!({"a/b":1,"c~d":2}),
            json!([{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/c~0d","value":3}]),
            Ok(json!({"c~d":3})),
        );
        jp(json!({"a":1}), json!([{"op":"replace","path":"/x","value":3}]), Err(()));
        jp(json!({"a":1}), json!([{"op":"move","from":"/a","path":"/b"}]), Ok(json!({"b":1})));
        jp(json!({"a":{"x":1}}), json!([{"op":"copy","from":"/a","path":"/b"}]), Ok(json!({"a":{"x":1},"b":{"x":1}})));
        jp(json!({"a":1}), json!([{"op":"test","path":"/a","value":1}]), Ok(json!({"a":1})));
        jp(json!({"a":1}), json!([{"op":"test","path":"/a","value":2}]), Err(()));
        jp(json!({"a":1}), json!([{"op":"remove","path":"/b"}]), Err(()));
    }

    #[test]
    fn merge_patches() {
        let mut d = json!({"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"taints":[{"key":"x"}]}});
        strategic(
            &mut d,
            &json!({"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"$setElementOrder/taints":[],"taints":[{"key":"y"}],"unschedulable":true}}),
        );
        assert_eq!(
            d,
            json!({"metadata":{"labels":{"b":"2","c":"3"}},"spec":{"taints":[{"key":"y"}],"unschedulable":true}})
        );
    }
}
