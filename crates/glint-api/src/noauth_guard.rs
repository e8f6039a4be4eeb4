//! Keeps web pages away from the no-auth server.
//!
//! Without authentication anyone who can send a request is an admin, and a
//! page open in the developer's browser can send requests to the loopback
//! address: cross-site form posts and `text/plain` fetches need no
//! permission, and DNS rebinding makes the browser treat the server as the
//! attacker's own site. So in no-auth mode a request must name a loopback
//! `Host` (unless the operator opened the server to other addresses, whose
//! names it cannot know), must not come from a foreign `Origin`, and JSON
//! bodies must be labelled as JSON, which a page can only do after a CORS
//! preflight this server never grants.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::extract::Request;
use http::{HeaderMap, header};

use crate::error::ApiError;
use crate::state::{AppState, AuthMode};

const FOREIGN_HOST: &str =
    "Only requests for a loopback host name or address are served without authentication.";
const FOREIGN_ORIGIN: &str =
    "Requests from web pages outside this machine are not served without authentication.";
const NOT_JSON: &str = "Without authentication, request bodies must be sent as application/json.";

/// In no-auth mode, refuses requests for a foreign host or from a foreign
/// origin (403).
pub fn refuse_browser_attacks(state: &AppState, req: &Request) -> Result<(), ApiError> {
    if !matches!(state.config.auth, AuthMode::NoAuth) {
        return Ok(());
    }
    let check_host = !state.config.allow_noauth_on_public_address;
    if check_host && !names_a_loopback_host(req) {
        return Err(ApiError::Forbidden(FOREIGN_HOST.into()));
    }
    if !origin_is_loopback(req.headers()) {
        return Err(ApiError::Forbidden(FOREIGN_ORIGIN.into()));
    }
    Ok(())
}

/// In no-auth mode, a JSON body must be sent as `application/json` or
/// another `+json` type (415 otherwise). With Keystone the body is parsed
/// whatever its type, as Glance does: a browser holds no token to abuse.
pub fn require_json_media_type(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !matches!(state.config.auth, AuthMode::NoAuth) {
        return Ok(());
    }
    let labelled_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_media_type);
    if labelled_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            message: NOT_JSON.into(),
            accept_patch: None,
        })
    }
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    !kind.is_empty() && (essence == "application/json" || subtype.ends_with("+json"))
}

/// Every `Host` header, and the authority of an absolute-form request
/// target, name this machine. A request without either (HTTP/1.0) is not
/// from a browser and passes.
fn names_a_loopback_host(req: &Request) -> bool {
    let hosts = req.headers().get_all(header::HOST);
    let headers_ok = hosts
        .iter()
        .all(|h| h.to_str().is_ok_and(is_loopback_authority));
    let target_ok = req
        .uri()
        .authority()
        .is_none_or(|a| is_loopback_authority(a.as_str()));
    headers_ok && target_ok && hosts.iter().count() <= 1
}

/// No `Origin`, or only loopback ones (`http(s)://<loopback host>[:port]`).
fn origin_is_loopback(headers: &HeaderMap) -> bool {
    headers.get_all(header::ORIGIN).iter().all(|origin| {
        origin.to_str().is_ok_and(|o| {
            let o = o.trim();
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(is_loopback_authority)
        })
    })
}

/// `host[:port]` where host is `localhost`, a name under `.localhost`, an
/// address in 127.0.0.0/8 or `[::1]`.
fn is_loopback_authority(authority: &str) -> bool {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((ip, tail)) = rest.split_once(']') else {
            return false;
        };
        return optional_port(tail)
            && ip
                .parse::<Ipv6Addr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
    }
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (authority, None),
    };
    port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 5)
        && is_loopback_name(name)
}

fn optional_port(tail: &str) -> bool {
    tail.is_empty()
        || tail
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 5)
}

fn is_loopback_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    let label_chars = |s: &str| {
        s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    };
    name == "localhost" || name.strip_suffix(".localhost").is_some_and(label_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_authorities() {
        for ok in [
            "localhost",
            "LOCALHOST:9292",
            "localhost.",
            "a.b.localhost:1",
            "127.0.0.1",
            "127.255.0.9:80",
            "[::1]",
            "[::1]:9292",
            "[::ffff:127.0.0.1]:9292",
            "localhost:",
        ] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "evil-localhost",
            ".localhost",
            "a..localhost",
            "10.0.0.1",
            "0.0.0.0",
            "[::2]",
            "[::1",
            "[::1]x",
            "localhost:99999999",
            "localhost:80:80",
            "user@localhost",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "APPLICATION/JSON;charset=utf-8",
            "application/merge-patch+json",
            " application/vnd.x+json ; q=1",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/jsonp",
            "application/json-patch",
            "+json",
            "/+json",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }
}
