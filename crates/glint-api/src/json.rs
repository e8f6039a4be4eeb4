//! JSON responses written the way Glance's serializer writes them:
//! `", "` between items and `": "` after keys, UTF-8 unescaped.

use std::io;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde::Serialize;
use serde_json::ser::Formatter;

/// Python's `json.dumps` separators.
#[derive(Debug, Default, Clone, Copy)]
struct PythonStyle;

impl Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Serializes `value` with Glance's separators.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    // An image's document is 600 to 1,000 bytes.
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonStyle);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// A JSON document in Glance's layout written by hand, for the views that
/// make up most responses (an image, a page of images): a fixed key goes
/// in whole, and a string is checked for bytes to escape in one pass
/// before it is copied. Strings are escaped as `serde_json` escapes them.
#[derive(Debug)]
pub struct JsonOut(Vec<u8>);

impl JsonOut {
    fn new() -> Self {
        JsonOut(Vec::with_capacity(1024))
    }

    /// Text that is JSON already (punctuation, a fixed key, digits).
    pub fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// `, ` before every entry of an object or array but its first.
    pub fn separate(&mut self, first: &mut bool) {
        if !std::mem::take(first) {
            self.0.extend_from_slice(b", ");
        }
    }

    /// An object's key, read from data: escaped, then `: `.
    pub fn key(&mut self, first: &mut bool, key: &str) {
        self.separate(first);
        self.str(key);
        self.0.extend_from_slice(b": ");
    }

    /// A key fixed in the code, given as [`key!`] writes it (`, "<key>": `),
    /// in one copy; without its `, ` when it is the first.
    pub fn fixed_key(&mut self, first: &mut bool, key: &'static str) {
        debug_assert!(key.starts_with(", \"") && key.ends_with("\": "), "{key}");
        let text = if std::mem::take(first) {
            &key[2..]
        } else {
            key
        };
        self.0.extend_from_slice(text.as_bytes());
    }

    /// A string value, quoted and escaped.
    pub fn str(&mut self, text: &str) {
        let bytes = text.as_bytes();
        self.0.push(b'"');
        // One pass with no early exit, which the compiler can widen; most
        // strings need nothing escaped.
        if bytes.iter().fold(false, |any, &b| any | needs_escape(b)) {
            self.escaped(bytes);
        } else {
            self.0.extend_from_slice(bytes);
        }
        self.0.push(b'"');
    }

    fn escaped(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !needs_escape(b) {
                continue;
            }
            self.0.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            match b {
                b'"' => self.0.extend_from_slice(b"\\\""),
                b'\\' => self.0.extend_from_slice(b"\\\\"),
                b'\n' => self.0.extend_from_slice(b"\\n"),
                b'\r' => self.0.extend_from_slice(b"\\r"),
                b'\t' => self.0.extend_from_slice(b"\\t"),
                0x08 => self.0.extend_from_slice(b"\\b"),
                0x0c => self.0.extend_from_slice(b"\\f"),
                _ => self.0.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]),
            }
        }
        self.0.extend_from_slice(&bytes[start..]);
    }

    /// A string value, or `null`.
    pub fn opt_str(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.str(text),
            None => self.raw("null"),
        }
    }

    /// A number.
    pub fn int(&mut self, n: impl itoa::Integer) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A number, or `null`.
    pub fn opt_int(&mut self, n: Option<impl itoa::Integer>) {
        match n {
            Some(n) => self.int(n),
            None => self.raw("null"),
        }
    }

    pub fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }

    /// A value written through `serde_json` with Glance's separators, for
    /// the rare parts of a view that are free-form JSON.
    pub fn serialized<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(&mut self.0, PythonStyle);
        value.serialize(&mut ser)
    }
}

/// `, "<key>": ` for a key fixed in the code, which needs no escaping:
/// what [`JsonOut::fixed_key`] takes.
macro_rules! key {
    ($key:literal) => {
        concat!(", \"", $key, "\": ")
    };
}
pub(crate) use key;

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// A view written by hand into a [`JsonOut`].
pub trait WriteJson {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()>;
}

/// The bytes of a view written by hand.
pub fn written<T: WriteJson + ?Sized>(view: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = JsonOut::new();
    view.write_json(&mut out)?;
    Ok(out.0)
}

/// A JSON response body of a view written by hand (see [`JsonOut`]).
#[derive(Debug, Clone)]
pub struct Written<T>(pub T);

impl<T: WriteJson> IntoResponse for Written<T> {
    fn into_response(self) -> Response {
        json_response(written(&self.0))
    }
}

/// A JSON response body in Glance's layout.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        json_response(to_vec(&self.0))
    }
}

fn json_response(body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(body) => {
            let mut resp = body.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a response");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0_u8..0x80).map(|b| char::from(b).to_string()).collect();
        texts.extend(
            [
                "",
                "plain text",
                "a\"b\\c\u{0}d\u{1f}e\u{7f}",
                "ünïcode ✓ \u{2028}\u{2029} \u{10ffff}",
                "\u{80}\u{9f}\u{a0}",
                "</script>",
            ]
            .map(String::from),
        );
        texts.push((0_u8..0x80).map(char::from).collect());
        texts.push("x".repeat(1000) + "\n");
        for text in &texts {
            let mut out = super::JsonOut::new();
            out.str(text);
            assert_eq!(out.0, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn numbers_and_keys_are_written_as_serde_json_writes_them() {
        let mut out = super::JsonOut::new();
        let first = &mut true;
        out.raw("{");
        out.fixed_key(first, super::key!("a"));
        out.int(i64::MIN);
        out.key(first, "k\"ey");
        out.opt_int(Some(u64::MAX));
        out.fixed_key(first, super::key!("n"));
        out.opt_int(None::<u64>);
        out.fixed_key(first, super::key!("s"));
        out.opt_str(None);
        out.fixed_key(first, super::key!("t"));
        out.bool(true);
        out.fixed_key(first, super::key!("v"));
        out.serialized(&json!([{"x": 1}, "y"])).unwrap();
        out.raw("}");
        let reference = super::to_vec(&json!({
            "a": i64::MIN,
            "k\"ey": u64::MAX,
            "n": null,
            "s": null,
            "t": true,
            "v": [{"x": 1}, "y"],
        }))
        .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    #[test]
    fn separators_match_python() {
        let body = super::to_vec(&json!({"a": [1, 2], "b": {"c": "é"}})).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"a": [1, 2], "b": {"c": "é"}}"#
        );
    }
}
