//! What the swift store makes of a request that failed: no answer, or an
//! answer no caller expected.

use reqwest::{Response, StatusCode};

use crate::StoreError;

/// How much of an error body goes into a message.
const EXCERPT_BYTES: usize = 200;

/// A request that never got an answer: the server is down or unreachable.
pub(crate) fn transport_error(what: &str, err: &reqwest::Error) -> StoreError {
    let mut message = format!("{what}: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    StoreError::Unavailable(message)
}

pub(crate) fn refused(what: &str, status: StatusCode) -> StoreError {
    StoreError::Refused(format!("{what}: Swift answered {status}"))
}

/// Maps an answer no caller expected: 401/403 are a refusal, 413 a full
/// store, 408/429/5xx a store that is unavailable for now, anything else a
/// refused request (with the start of Swift's explanation).
pub(crate) async fn unexpected_status(what: &str, response: Response) -> StoreError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let excerpt = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_BYTES)])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let message = if excerpt.is_empty() {
        format!("{what}: Swift answered {status}")
    } else {
        format!("{what}: Swift answered {status}: {excerpt}")
    };
    match status {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::INSUFFICIENT_STORAGE => StoreError::StorageFull,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
            StoreError::Unavailable(message)
        }
        s if s.is_server_error() => StoreError::Unavailable(message),
        StatusCode::NOT_FOUND => StoreError::NotFound(message),
        _ => StoreError::Refused(message),
    }
}
