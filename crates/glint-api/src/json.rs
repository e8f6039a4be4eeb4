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

/// A JSON response body in Glance's layout.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match to_vec(&self.0) {
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
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn separators_match_python() {
        let body = super::to_vec(&json!({"a": [1, 2], "b": {"c": "é"}})).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"a": [1, 2], "b": {"c": "é"}}"#
        );
    }
}
