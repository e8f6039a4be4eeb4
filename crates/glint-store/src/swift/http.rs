//! Authenticated requests to the Swift API and the mapping of its answers to
//! [`StoreError`]s.

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use super::auth::{Auth, Session};
use crate::StoreError;

/// Everything but RFC 3986's unreserved characters is escaped in a path
/// segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How much of an error body goes into a message.
const EXCERPT_BYTES: usize = 200;

/// A Swift account reached through one HTTP client and one shared token.
#[derive(Debug)]
pub(crate) struct Swift {
    pub client: reqwest::Client,
    pub auth: Auth,
}

impl Swift {
    pub fn new(auth: Auth) -> Result<Self, StoreError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot set up an HTTP client: {e}")))?;
        Ok(Self { client, auth })
    }

    pub async fn session(&self) -> Result<Arc<Session>, StoreError> {
        self.auth.session(&self.client).await
    }

    /// Sends a request built by `build` with the current token; on a 401 the
    /// token is renewed and the request sent once more. `build` must be
    /// callable twice (its body, if any, is small and in memory).
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client, &Session) -> RequestBuilder,
    ) -> Result<Response, StoreError> {
        for attempt in 0..2 {
            let session = self.session().await?;
            let response = build(&self.client, &session)
                .header("X-Auth-Token", session.token.expose())
                .send()
                .await
                .map_err(|e| transport_error(what, &e))?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            if attempt == 0 {
                self.auth.invalidate(&session);
            }
        }
        Err(refused(what, StatusCode::UNAUTHORIZED))
    }

    /// A request on an object (or a container, when `object` is `None`).
    pub async fn object_request(
        &self,
        method: Method,
        container: &str,
        object: Option<&str>,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Response, StoreError> {
        self.send(what, |client, session| {
            let url = with_query(object_url(session, container, object), query);
            client.request(method.clone(), url)
        })
        .await
    }

    /// Names of the objects in `container` that start with `prefix`; `None`
    /// when the container does not exist.
    pub async fn list(
        &self,
        container: &str,
        prefix: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        #[derive(Deserialize)]
        struct Entry {
            name: String,
        }
        let what = format!("listing container {container}");
        let mut names: Vec<String> = Vec::new();
        loop {
            let marker = names.last().cloned().unwrap_or_default();
            let query = [("format", "json"), ("prefix", prefix), ("marker", &marker)];
            let response = self
                .object_request(Method::GET, container, None, &query, &what)
                .await?;
            match response.status() {
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::NO_CONTENT => return Ok(Some(names)),
                status if status.is_success() => {}
                _ => return Err(unexpected_status(&what, response).await),
            }
            let page: Vec<Entry> = response
                .json()
                .await
                .map_err(|e| StoreError::Unavailable(format!("{what}: unreadable answer: {e}")))?;
            if page.is_empty() {
                return Ok(Some(names));
            }
            names.extend(page.into_iter().map(|e| e.name));
        }
    }

    /// Deletes one object; `false` when it was not there.
    pub async fn delete_object(
        &self,
        container: &str,
        object: &str,
        query: &[(&str, &str)],
    ) -> Result<bool, StoreError> {
        let what = format!("deleting {container}/{object}");
        let response = self
            .object_request(Method::DELETE, container, Some(object), query, &what)
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            status if status.is_success() => Ok(true),
            _ => Err(unexpected_status(&what, response).await),
        }
    }
}

/// `<storage URL>/<container>[/<object>]`, each name escaped.
pub(crate) fn object_url(session: &Session, container: &str, object: Option<&str>) -> String {
    let mut url = format!(
        "{}/{}",
        session.storage_url,
        utf8_percent_encode(container, SEGMENT)
    );
    if let Some(object) = object {
        url.push('/');
        url.extend(utf8_percent_encode(object, SEGMENT));
    }
    url
}

/// Appends `?name=value&…`, each part escaped.
pub(crate) fn with_query(mut url: String, query: &[(&str, &str)]) -> String {
    for (i, (name, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.extend(utf8_percent_encode(name, SEGMENT));
        url.push('=');
        url.extend(utf8_percent_encode(value, SEGMENT));
    }
    url
}

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
