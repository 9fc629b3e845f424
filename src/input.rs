//! What plume reads from the user besides flags: argument text or `@FILE`, data files, JSON.
//! Reads are capped (`--config @/dev/zero` is refused, not read until memory runs out), and
//! JSON objects may not repeat a key (a repeated key is a mistake, not "the last one wins").

use crate::error::{bad, Result};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Largest file plume reads as input.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// The contents of a file given as input, at most `MAX_INPUT_BYTES`.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path)
        .map_err(|e| bad(format!("cannot read {what} {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read {what} {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(bad(format!(
            "{what} {} is larger than {} MiB",
            path.display(),
            MAX_INPUT_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// A text input file.
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    String::from_utf8(read_file(path, what)?)
        .map_err(|_| bad(format!("{what} {} is not UTF-8 text", path.display())))
}

/// An argument given inline or as `@FILE`.
pub fn read_arg(text: &str, what: &str) -> Result<String> {
    match text.strip_prefix('@') {
        Some(path) => read_text(Path::new(path), what),
        None => Ok(text.to_string()),
    }
}

/// JSON text as a value; an object that repeats a key is an error naming the key.
pub fn json(text: &str, what: &str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Strict::deserialize_value(&mut de)
        .and_then(|v| de.end().map(|_| v))
        .map_err(|e| bad(format!("{what} is not valid JSON: {e}")))?;
    Ok(v)
}

/// Builds a `Value` like serde_json does, refusing repeated object keys.
struct Strict;

impl Strict {
    fn deserialize_value<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(Strict)
    }
}

struct Element(Value);

impl<'de> de::Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Strict::deserialize_value(d).map(Element)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(Element(e)) = seq.next_element()? {
            v.push(e);
        }
        Ok(Value::Array(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let Element(v) = map.next_value()?;
            if m.contains_key(&k) {
                return Err(de::Error::custom(format!("key {k:?} appears twice")));
            }
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        assert_eq!(
            json(r#"{"a":[1,{"b":2}],"c":"x"}"#, "t").unwrap(),
            serde_json::json!({"a":[1,{"b":2}],"c":"x"})
        );
        let e = json(r#"{"1":[0],"1":[2]}"#, "target")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("target is not valid JSON: key \"1\" appears twice"),
            "{e}"
        );
        let e = json(r#"[{"k":1,"k":1}]"#, "x").unwrap_err().to_string();
        assert!(e.contains("key \"k\" appears twice"), "{e}");
        assert!(json("[1,2] trailing", "x").is_err());
    }

    #[test]
    fn files_larger_than_the_cap_are_refused_without_reading_them_whole() {
        let e = read_arg("@/dev/zero", "configuration").unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration /dev/zero is larger than 64 MiB"
        );
        assert_eq!(e.exit_code(), 2);
    }
}
