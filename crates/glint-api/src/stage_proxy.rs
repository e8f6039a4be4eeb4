//! Passing a `glance-direct` import on to the node that staged its data,
//! as Glance does when `os_glance_stage_host` names another worker: the
//! request is replayed there with the caller's own headers (their token,
//! or the identity headers of a trusted proxy), and that node's answer is
//! the answer.

use std::time::Duration;

use http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::error::ApiError;

/// How long the stage host has to answer, as Glance allows it.
const PROXY_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers that belong to one connection, or that the client recomputes.
const NOT_FORWARDED: [header::HeaderName; 6] = [
    header::HOST,
    header::CONTENT_LENGTH,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TE,
];

/// The client requests to stage hosts go through.
#[derive(Debug, Clone)]
pub struct StageProxy {
    http: reqwest::Client,
}

impl StageProxy {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(PROXY_TIMEOUT)
            .connect_timeout(PROXY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        StageProxy { http }
    }

    /// Replays `POST {path}` with `body` and `headers` on `host`: `Ok` when
    /// it answered 2xx, else the error the caller answers with (the stage
    /// host's status; 504 when it cannot be reached, 502 for other
    /// failures).
    pub async fn forward(
        &self,
        host: &str,
        path: &str,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<(), ApiError> {
        let url = format!("{}{path}", host.trim_end_matches('/'));
        let mut forwarded = headers.clone();
        for name in &NOT_FORWARDED {
            forwarded.remove(name);
        }
        let sent = self
            .http
            .post(&url)
            .headers(forwarded)
            .json(body)
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(stage.host = %host, error = %e, "cannot pass the import on to its stage host");
                return Err(ApiError::StageHostUnavailable {
                    gateway_timeout: e.is_connect() || e.is_timeout(),
                });
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        Err(ApiError::Proxied {
            status,
            reason: status.canonical_reason().unwrap_or("Error").to_owned(),
        })
    }
}

impl Default for StageProxy {
    fn default() -> Self {
        StageProxy::new()
    }
}
