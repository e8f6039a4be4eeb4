//! Authenticated requests to the Swift API and the mapping of its answers to
//! [`StoreError`]s.

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use super::answers::{refused, transport_error, unexpected_status};
use super::auth::{Auth, Session};
use crate::StoreError;

/// Everything but RFC 3986's unreserved characters is escaped in a path
/// segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
            .read_timeout(auth.read_timeout())
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
