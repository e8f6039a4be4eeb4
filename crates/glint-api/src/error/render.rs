//! webob's error bodies: the three shapes chosen by `Accept`, its body
//! templates, and the middleware that writes them.

use axum::extract::Request;
use axum::response::Response;
use http::StatusCode;
use http::header::{self, HeaderValue};

use super::{ErrorDetail, ErrorExplanation};

/// The body format webob picks for an error, from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Json,
    Html,
    Plain,
}

/// Chooses like webob: among `text/html` and `application/json`, the one
/// the client accepts with the higher quality (HTML first on a tie); plain
/// text when neither is acceptable or there is no `Accept` header.
pub fn choose_format(accept: Option<&str>) -> ErrorFormat {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return ErrorFormat::Plain;
    };
    let html = quality(accept, "text", "html");
    let json = quality(accept, "application", "json");
    if html > 0.0 && html >= json {
        ErrorFormat::Html
    } else if json > 0.0 {
        ErrorFormat::Json
    } else {
        ErrorFormat::Plain
    }
}

/// The quality the client gives `ty/sub` in `accept` (its most specific
/// matching range); 0 when none matches.
pub(crate) fn quality(accept: &str, ty: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let (t, s) = media.split_once('/').unwrap_or((media.as_str(), ""));
        let specificity = match (t, s) {
            (t, s) if t == ty && s == sub => 2,
            (t, "*") if t == ty => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        if best.is_none_or(|(sp, _)| specificity > sp) {
            best = Some((specificity, q));
        }
    }
    best.map(|(_, q)| q).unwrap_or(0.0)
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Which of webob's body templates an error uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyTemplate {
    /// `explanation<br /><br />\ndetail\n\n`
    Default,
    /// The default template with a non-empty detail.
    WithDetail { detail: String },
    /// 405: names the method; the explanation is the (empty) detail.
    MethodNotAllowed { method: String },
    /// 415: names the request's media type; the explanation is the detail.
    UnsupportedMediaType { content_type: String },
}

/// What webob's `_make_body` produces, with `escape` applied to the
/// substituted values.
fn make_body(template: &BodyTemplate, explanation: &str, escape: fn(&str) -> String) -> String {
    match template {
        BodyTemplate::Default => format!("{}<br /><br />\n\n\n", escape(explanation)),
        BodyTemplate::WithDetail { detail } => format!(
            "{}<br /><br />\n{}\n\n",
            escape(explanation),
            escape(detail)
        ),
        BodyTemplate::MethodNotAllowed { method } => format!(
            "The method {} is not allowed for this resource. <br /><br />\n{}",
            escape(method),
            escape(explanation)
        ),
        BodyTemplate::UnsupportedMediaType { content_type } => format!(
            "The request media type {} is not supported by this server.\n<br /><br />\n{}",
            escape(content_type),
            escape(explanation)
        ),
    }
}

fn no_escape(s: &str) -> String {
    s.to_string()
}

/// webob's `strip_tags`: newlines become spaces, `<br />` becomes a newline,
/// other tags disappear.
fn strip_tags(s: &str) -> String {
    let s = s.replace('\n', " ").replace("<br />", "\n");
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Renders an error body the way webob does.
pub fn render_body(
    status: StatusCode,
    template: &BodyTemplate,
    explanation: &str,
    format: ErrorFormat,
) -> (String, &'static str) {
    let title = webob_title(status);
    let status_line = format!("{} {}", status.as_u16(), title);
    match format {
        ErrorFormat::Json => {
            let body = serde_json::json!({
                "message": make_body(template, explanation, no_escape),
                "code": status_line,
                "title": title,
            });
            let text = crate::json::to_vec(&body)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            (text, "application/json")
        }
        ErrorFormat::Html => (
            format!(
                "<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n  {}\n </body>\n</html>",
                make_body(template, explanation, html_escape)
            ),
            "text/html; charset=UTF-8",
        ),
        ErrorFormat::Plain => (
            format!(
                "{status_line}\n\n{}",
                strip_tags(&make_body(template, explanation, no_escape))
            ),
            "text/plain; charset=UTF-8",
        ),
    }
}

/// Glance's routes list the methods they take in this order, and never
/// `HEAD`, which the framework adds to every `GET` route.
pub fn glance_allow_header(headers: &mut http::HeaderMap) {
    const ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let Some(allow) = headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let offered: Vec<&str> = allow.split(',').map(str::trim).collect();
    let listed: Vec<&str> = ORDER.into_iter().filter(|m| offered.contains(m)).collect();
    if let Ok(v) = HeaderValue::from_str(&listed.join(", ")) {
        headers.insert(header::ALLOW, v);
    }
}

/// webob's title of a status: RFC 9110's reason phrase, except where
/// webob keeps the older name.
pub fn webob_title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        StatusCode::URI_TOO_LONG => "Request-URI Too Long",
        StatusCode::RANGE_NOT_SATISFIABLE => "Request Range Not Satisfiable",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

fn default_explanation(status: StatusCode) -> Option<String> {
    match status {
        StatusCode::NOT_FOUND => Some("The resource could not be found.".into()),
        StatusCode::METHOD_NOT_ALLOWED => Some(String::new()),
        _ => None,
    }
}

/// What an error response's body depends on in its request, taken before
/// the request is handled: its `Accept`, method and `Content-Type`.
/// [`ErrorShape::render`] then gives an error response its webob-shaped
/// body. Header values are kept as they came (a reference-counted copy),
/// so a request that ends well costs no allocation here.
#[derive(Debug)]
pub struct ErrorShape {
    accept: Option<HeaderValue>,
    method: http::Method,
    content_type: Option<HeaderValue>,
}

impl ErrorShape {
    pub fn of(req: &Request) -> ErrorShape {
        ErrorShape {
            accept: req.headers().get(header::ACCEPT).cloned(),
            method: req.method().clone(),
            content_type: req.headers().get(header::CONTENT_TYPE).cloned(),
        }
    }

    /// `resp` with the body Glance gives its status, if it is an error.
    pub fn render(self, resp: Response) -> Response {
        let status = resp.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return resp;
        }
        let explanation = match resp.extensions().get::<ErrorExplanation>() {
            Some(e) => e.0.clone(),
            None => match default_explanation(status) {
                Some(e) => e,
                None => return resp,
            },
        };
        let (mut parts, _) = resp.into_parts();
        let template = match status {
            StatusCode::METHOD_NOT_ALLOWED => BodyTemplate::MethodNotAllowed {
                method: self.method.to_string(),
            },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => BodyTemplate::UnsupportedMediaType {
                content_type: self
                    .content_type
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("None")
                    .to_string(),
            },
            _ => match parts.extensions.get::<ErrorDetail>() {
                Some(detail) => BodyTemplate::WithDetail {
                    detail: detail.0.clone(),
                },
                None => BodyTemplate::Default,
            },
        };
        let accept = self.accept.as_ref().and_then(|v| v.to_str().ok());
        let format = choose_format(accept);
        let (body, body_type) = render_body(status, &template, &explanation, format);
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(body_type));
        // The status line says what the body's title says.
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(webob_title(status).as_bytes()) {
            parts.extensions.insert(reason);
        }
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, axum::body::Body::from(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_chooses_the_error_shape() {
        assert_eq!(choose_format(None), ErrorFormat::Plain);
        assert_eq!(choose_format(Some("application/json")), ErrorFormat::Json);
        assert_eq!(choose_format(Some("*/*")), ErrorFormat::Html);
        assert_eq!(
            choose_format(Some("text/html;q=0.5, application/json")),
            ErrorFormat::Json
        );
        assert_eq!(choose_format(Some("text/plain")), ErrorFormat::Plain);
        assert_eq!(choose_format(Some("application/*")), ErrorFormat::Json);
    }

    #[test]
    fn json_error_body_matches_webob() {
        let (body, ct) = render_body(
            StatusCode::NOT_FOUND,
            &BodyTemplate::Default,
            "No image found with ID x",
            ErrorFormat::Json,
        );
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "404 Not Found");
        assert_eq!(v["title"], "Not Found");
        assert_eq!(v["message"], "No image found with ID x<br /><br />\n\n\n");
    }
}
