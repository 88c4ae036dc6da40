//! Text every backend can store. PostgreSQL's `text` cannot hold U+0000
//! (NUL), so text with one is refused at the edge, on both backends alike,
//! naming the field, instead of failing in the database.
use serde_json::Value;

pub const NUL_MESSAGE: &str = "text contains a NUL character (U+0000), which cannot be stored";

/// The JSON path (`messages[0].content`) of the first string, or object
/// key, of a JSON document that holds a NUL; `None` when there is none (or
/// the document does not parse: its parser says why). Cheap for the usual
/// document: only one with a `\u0000` escape is parsed here.
pub fn nul_in_json(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return None;
    }
    let value: Value = serde_json::from_slice(bytes).ok()?;
    nul_in_value(&value, "")
}

/// The path under `at` of the first string or key in `value` that holds a NUL.
pub fn nul_in_value(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| at.to_owned()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_in_value(v, &format!("{at}[{i}]"))),
        Value::Object(map) => nul_in_map(map, at),
        _ => None,
    }
}

/// `nul_in_value` for an object. Paths are only built once a NUL is known
/// to be there (every import item with metadata comes through here).
pub fn nul_in_map(map: &serde_json::Map<String, Value>, at: &str) -> Option<String> {
    if !map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
        return None;
    }
    map.iter().find_map(|(k, v)| {
        let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
        if k.contains('\0') {
            Some(path)
        } else {
            nul_in_value(v, &path)
        }
    })
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_of_the_first_string_with_a_nul_is_named() {
        let doc = br#"{"a": "fine", "messages": [{"content": "ok"}, {"content": "x\u0000y"}]}"#;
        assert_eq!(nul_in_json(doc).as_deref(), Some("messages[1].content"));
        assert_eq!(nul_in_json(br#"{"k\u0000": 1}"#).as_deref(), Some("k\u{0}"));
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_not_a_nul() {
        assert_eq!(nul_in_json(br#"{"a": "\\u0000"}"#), None);
        assert_eq!(nul_in_json(br#"{"a": "plain"}"#), None);
    }
}
