//! `%(key)s` substitution from the target, following Python's `%` operator
//! on a mapping, which is what oslo.policy applies to check strings.

use std::borrow::Cow;

use serde_json::Value;

use crate::Target;

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Key(&'a str),
}

/// Splits the first piece off `text`, returning it and the remainder.
fn next_piece(text: &str) -> Result<(Piece<'_>, &str), &'static str> {
    let Some(pos) = text.bytes().position(|b| b == b'%') else {
        return Ok((Piece::Text(text), ""));
    };
    if pos > 0 {
        return Ok((Piece::Text(&text[..pos]), &text[pos..]));
    }
    let rest = &text[1..];
    if let Some(after) = rest.strip_prefix('%') {
        return Ok((Piece::Text("%"), after));
    }
    let Some(body) = rest.strip_prefix('(') else {
        return Err("'%' must start '%(key)s' or be doubled as '%%'");
    };
    let Some(close) = body.bytes().position(|b| b == b')') else {
        return Err("'%(' without a closing ')'");
    };
    let key = &body[..close];
    if key.is_empty() {
        return Err("'%()s' has an empty key");
    }
    match body[close + 1..].strip_prefix('s') {
        Some(after) => Ok((Piece::Key(key), after)),
        None => Err("only the '%(key)s' conversion is supported"),
    }
}

/// The keys `template` would look up in a target: each `%(key)s`, and for
/// a dotted key each part before a dot as well (see [`lookup`]). A
/// malformed template looks nothing up.
pub(crate) fn keys(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let Ok((piece, after)) = next_piece(rest) else {
            return Vec::new();
        };
        if let Piece::Key(key) = piece {
            out.extend(key.match_indices('.').map(|(dot, _)| &key[..dot]));
            out.push(key);
        }
        rest = after;
    }
    out
}

/// Checks that every `%` in `text` is part of `%(key)s` or `%%`.
pub(crate) fn validate(text: &str) -> Result<(), &'static str> {
    let mut rest = text;
    while !rest.is_empty() {
        rest = next_piece(rest)?.1;
    }
    Ok(())
}

/// Substitutes target values into `template`.
///
/// `None` when a key is missing from the target (the check is then false) or
/// the template is malformed. A template that is exactly one `%(key)s` naming
/// a string value is returned without allocating.
pub(crate) fn render<'t>(template: &'t str, target: &'t Target) -> Option<Cow<'t, str>> {
    let (first, rest) = next_piece(template).ok()?;
    match (first, rest) {
        (Piece::Text(text), "") => return Some(Cow::Borrowed(text)),
        (Piece::Key(key), "") => return lookup(target, key).map(py_str),
        _ => {}
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut piece = first;
    let mut rest = rest;
    loop {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Key(key) => out.push_str(&py_str(lookup(target, key)?)),
        }
        if rest.is_empty() {
            return Some(Cow::Owned(out));
        }
        (piece, rest) = next_piece(rest).ok()?;
    }
}

/// Finds `key` in the target: the exact key first, then, for dotted keys such
/// as `target.x.y`, by walking nested objects.
pub(crate) fn lookup<'t>(target: &'t Target, key: &str) -> Option<&'t Value> {
    if let Some(value) = target.get(key) {
        return Some(value);
    }
    key.match_indices('.').find_map(|(dot, _)| {
        target
            .get(&key[..dot])
            .and_then(|inner| lookup_nested(inner, &key[dot + 1..]))
    })
}

fn lookup_nested<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let Value::Object(map) = value else {
        return None;
    };
    if let Some(found) = map.get(key) {
        return Some(found);
    }
    key.match_indices('.').find_map(|(dot, _)| {
        map.get(&key[..dot])
            .and_then(|inner| lookup_nested(inner, &key[dot + 1..]))
    })
}

/// The text Python's `str()` gives for a JSON value, which is what oslo
/// compares against.
pub(crate) fn py_str(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        other => {
            let mut out = String::new();
            py_repr(other, &mut out);
            Cow::Owned(out)
        }
    }
}

fn py_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (None, Some(u), _) => out.push_str(&u.to_string()),
            (None, None, Some(f)) => out.push_str(&py_float(f)),
            (None, None, None) => out.push_str(&n.to_string()),
        },
        Value::String(s) => py_quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_quote(key, out);
                out.push_str(": ");
                py_repr(item, out);
            }
            out.push('}');
        }
    }
}

fn py_quote(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
}

/// Python's `repr()` of a float: shortest round-trip digits, always with a
/// fractional part or an exponent.
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
    }
    let text = f.to_string();
    if text.contains('.') {
        text
    } else {
        text + ".0"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn target(pairs: &[(&str, Value)]) -> Target {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn validate_accepts_keys_and_doubled_percent() {
        assert!(validate("%(project_id)s").is_ok());
        assert!(validate("a%%b%(x.y)s-%(z)s").is_ok());
        assert!(validate("plain").is_ok());
    }

    #[test]
    fn validate_rejects_other_conversions() {
        assert!(validate("%(x)d").is_err());
        assert!(validate("%s").is_err());
        assert!(validate("%(x").is_err());
        assert!(validate("%()s").is_err());
        assert!(validate("100%").is_err());
    }

    #[test]
    fn render_single_string_key_borrows() {
        let t = target(&[("owner", json!("p1"))]);
        assert!(matches!(render("%(owner)s", &t), Some(Cow::Borrowed("p1"))));
    }

    #[test]
    fn render_mixed_template_concatenates() {
        let t = target(&[("a", json!("x")), ("n", json!(3))]);
        assert_eq!(render("pre-%(a)s-%(n)s%%", &t).as_deref(), Some("pre-x-3%"));
    }

    #[test]
    fn render_missing_key_is_none() {
        assert_eq!(render("%(nope)s", &Target::new()), None);
        assert_eq!(render("a%(nope)s", &Target::new()), None);
    }

    #[test]
    fn lookup_prefers_flat_key_then_walks_nested_objects() {
        let t = target(&[
            ("target.x.y", json!("flat")),
            ("target", json!({"x": {"y": "nested", "z": 1}})),
        ]);
        assert_eq!(lookup(&t, "target.x.y"), Some(&json!("flat")));
        assert_eq!(lookup(&t, "target.x.z"), Some(&json!(1)));
        assert_eq!(lookup(&t, "target.q"), None);
    }

    #[test]
    fn py_str_matches_python_spelling() {
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(false)), "False");
        assert_eq!(py_str(&Value::Null), "None");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(-7)), "-7");
        assert_eq!(py_str(&json!(["a", 1])), "['a', 1]");
        assert_eq!(py_str(&json!({"k": "v"})), "{'k': 'v'}");
    }

    #[test]
    fn py_float_uses_exponent_outside_python_range() {
        assert_eq!(py_float(1.5), "1.5");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(1.5e-5), "1.5e-05");
        assert_eq!(py_float(-0.0), "-0.0");
        assert_eq!(py_float(1e15), "1000000000000000.0");
    }
}
