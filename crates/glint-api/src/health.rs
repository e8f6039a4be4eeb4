//! `/healthcheck`, answered as oslo.middleware's healthcheck application
//! answers it in Glance: `GET` gives 200 with the checks' reasons (`OK`), or
//! 503 with them when a check fails; `HEAD` gives 204 or 503 with no body.
//! The body is plain text, HTML or JSON as `Accept` prefers (plain text on
//! a tie or when none is acceptable); `[healthcheck] detailed` adds each
//! check's name and details, the time and the platform. It needs no
//! authentication.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use glint_core::HealthReport;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::error::{html_escape, quality};
use crate::state::AppState;

/// `GET` and `HEAD /healthcheck`.
pub async fn healthcheck(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let report = state.health.check().await;
    let healthy = report.healthy();
    let status = match (healthy, method == Method::HEAD) {
        (false, _) => StatusCode::SERVICE_UNAVAILABLE,
        (true, true) => StatusCode::NO_CONTENT,
        (true, false) => StatusCode::OK,
    };
    let (body, content_type) = if method == Method::HEAD {
        (String::new(), "text/plain; charset=UTF-8")
    } else {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let detailed = state.config.health_detailed;
        match choose(accept) {
            Shape::Plain => (plain(&report), "text/plain; charset=UTF-8"),
            Shape::Html => (html(&report, detailed), "text/html; charset=UTF-8"),
            Shape::Json => (json_body(&report, detailed), "application/json"),
        }
    };
    let mut resp = (status, Body::from(body)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Plain,
    Html,
    Json,
}

/// The offer the client accepts with the highest quality; on a tie the
/// first of plain text, HTML, JSON (oslo's order); plain text when none
/// is acceptable or there is no `Accept` header.
fn choose(accept: Option<&str>) -> Shape {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Shape::Plain;
    };
    let offers = [
        (Shape::Plain, quality(accept, "text", "plain")),
        (Shape::Html, quality(accept, "text", "html")),
        (Shape::Json, quality(accept, "application", "json")),
    ];
    let mut best = (Shape::Plain, 0.0);
    for (shape, q) in offers {
        if q > best.1 {
            best = (shape, q);
        }
    }
    best.0
}

fn plain(report: &HealthReport) -> String {
    let reasons: Vec<&str> = report.results.iter().map(|r| r.reason.as_str()).collect();
    reasons.join("\n")
}

fn json_body(report: &HealthReport, detailed: bool) -> String {
    // Keys in sorted order, as oslo's `json.dumps(sort_keys=True)`.
    let body = if detailed {
        let reasons: Vec<Value> = report
            .results
            .iter()
            .map(|r| json!({"class": r.class, "details": r.details, "reason": r.reason}))
            .collect();
        json!({
            "detailed": true,
            "glint_version": env!("CARGO_PKG_VERSION"),
            "now": now(),
            "platform": platform(),
            "reasons": reasons,
        })
    } else {
        let reasons: Vec<&str> = report.results.iter().map(|r| r.reason.as_str()).collect();
        json!({"detailed": false, "reasons": reasons})
    };
    pretty(&body)
}

/// Four-space indentation, as Python's `json.dumps(indent=4)`.
fn pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

fn html(report: &HealthReport, detailed: bool) -> String {
    let mut out = String::from("<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n");
    if detailed {
        out.push_str("<H1>Server status</H1>\n");
        out.push_str(&format!(
            "<B>Current time:</B><PRE>{}</PRE>\n",
            html_escape(&now())
        ));
        out.push_str(&format!(
            "<B>glint version:</B><PRE>{}</PRE>\n",
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str(&format!(
            "<B>Platform:</B><PRE>{}</PRE>\n<HR></HR>\n",
            html_escape(platform())
        ));
    }
    out.push_str(&format!(
        "<H2>Result of {} checks:</H2>\n<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n",
        report.results.len()
    ));
    let headings: &[&str] = if detailed {
        &["Kind", "Reason", "Details"]
    } else {
        &["Reason"]
    };
    for heading in headings {
        out.push_str(&format!("<TH>\n{heading}\n</TH>\n"));
    }
    out.push_str("</TR>\n");
    for result in &report.results {
        out.push_str("<TR>\n");
        if detailed {
            out.push_str(&format!("    <TD>{}</TD>\n", html_escape(result.class)));
        }
        out.push_str(&format!("    <TD>{}</TD>\n", html_escape(&result.reason)));
        if detailed {
            out.push_str(&format!("    <TD>{}</TD>\n", html_escape(&result.details)));
        }
        out.push_str("</TR>\n");
    }
    out.push_str("</TBODY>\n</TABLE>\n<HR></HR>\n</BODY>\n</HTML>");
    out
}

/// The time as oslo writes it: `2024-05-01 12:00:00.123456` (UTC).
fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// `Linux-<kernel release>-<architecture>`, read once.
fn platform() -> &'static str {
    static PLATFORM: OnceLock<String> = OnceLock::new();
    PLATFORM.get_or_init(|| {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let os = match std::env::consts::OS {
            "linux" => "Linux",
            other => other,
        };
        format!("{os}-{}-{}", release.trim(), std::env::consts::ARCH)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_body_as_oslo_does() {
        assert_eq!(choose(None), Shape::Plain);
        assert_eq!(choose(Some("*/*")), Shape::Plain);
        assert_eq!(choose(Some("application/json")), Shape::Json);
        assert_eq!(choose(Some("text/html")), Shape::Html);
        assert_eq!(choose(Some("image/png")), Shape::Plain);
        assert_eq!(
            choose(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Shape::Html
        );
        assert_eq!(
            choose(Some("application/json, text/plain;q=0.5")),
            Shape::Json
        );
        assert_eq!(choose(Some("text/*")), Shape::Plain);
    }
}
