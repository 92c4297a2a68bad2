//! Go `encoding/json` struct decoding rules, which upstream kured's lock
//! annotation is read with (and so what operators and scripts write by hand).
//!
//! serde_json's map sorts keys and merges duplicates, but Go decodes an object
//! key by key in document order: a key names a field exactly or after case
//! folding (`"nodeid"` fills `NodeID`), a later key for the same field
//! overwrites an earlier one, `null` leaves a string, number or time field as it
//! was, and unknown keys are ignored. So the object is kept as written here.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value whose objects keep every key in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// As Go's `interface{}` holds it: a later duplicate key replaces an earlier one.
    pub fn into_value(self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Num(n) => Value::Number(n),
            Json::Str(s) => Value::String(s),
            Json::Arr(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Obj(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    map.insert(k, v.into_value());
                }
                Value::Object(map)
            }
        }
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.clone().into_value())
    }
}

/// The values of every key naming struct field `name`, in document order.
pub fn matches<'a>(obj: &'a [(String, Json)], name: &str) -> impl Iterator<Item = &'a Json> {
    // An exact match folds equal too; our field names never collide when folded.
    let want = fold(name);
    obj.iter().filter(move |(k, _)| fold(k) == want).map(|(_, v)| v)
}

/// Whether any key names struct field `name`.
pub fn has(obj: &[(String, Json)], name: &str) -> bool {
    matches(obj, name).next().is_some()
}

/// Go's `foldName`: ASCII letters upper-cased, other runes through their
/// simple case fold, so e.g. the Kelvin sign matches `k` as it does in Go.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                return c.to_ascii_uppercase();
            }
            let lower = single(c.to_lowercase()).unwrap_or(c);
            single(lower.to_uppercase()).unwrap_or(lower)
        })
        .collect()
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Num(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Num(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        // JSON has no NaN or infinity, so this always holds a number.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Num))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        Ok(Json::Obj(fields))
    }
}
