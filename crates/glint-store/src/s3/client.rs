//! Signed S3 requests over reqwest, and what their failures mean to glint.

use std::time::Duration;

use bytes::Bytes;
use futures::stream;
use reqwest::{Body, Method, Response, StatusCode};

use super::endpoint::Endpoint;
use super::sign::{self, Credentials, UNSIGNED_PAYLOAD};
use super::xml;
use crate::{S3Config, Secret, StoreError};

/// Connecting must succeed within this; an unreachable server is `Unavailable`
/// soon rather than after the kernel's own TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A response (or the next piece of a body) that takes longer than this
/// without a byte means the server is stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Error documents are short; a longer one is cut.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request body.
pub(crate) enum Payload {
    Empty,
    /// A small document, whose hash is signed.
    Xml(String),
    /// Image data, in pieces sent one after the other, with an unsigned
    /// payload hash.
    Data(Vec<Bytes>),
}

/// Why a request failed: the server could not be reached, or it answered
/// with an error status and (usually) an S3 error code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: Option<StatusCode>,
    pub(crate) code: String,
    detail: String,
}

impl Failure {
    pub(crate) fn is(&self, code: &str) -> bool {
        self.code == code
    }

    pub(crate) fn is_not_found(&self) -> bool {
        self.status == Some(StatusCode::NOT_FOUND)
    }

    pub(crate) fn with_code(status: StatusCode, code: String) -> Self {
        Self {
            status: Some(status),
            code,
            detail: String::new(),
        }
    }

    pub(crate) fn unreachable(err: &reqwest::Error) -> Self {
        // reqwest's own text names the URL (never a credential: requests are
        // signed in a header); the sources say why (refused, timed out, ...).
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            status: None,
            code: String::new(),
            detail,
        }
    }

    /// The store error for a failure of `what` (`"PUT of <key>"`) on `host`.
    pub(crate) fn into_store_error(self, host: &str, what: &str) -> StoreError {
        let Some(status) = self.status else {
            return StoreError::Unavailable(format!(
                "cannot reach S3 at {host} for {what}: {}",
                self.detail
            ));
        };
        let code = if self.code.is_empty() {
            status.to_string()
        } else {
            format!("{status} {}", self.code)
        };
        match self.code.as_str() {
            "QuotaExceeded" => return StoreError::StorageFull,
            "SignatureDoesNotMatch" | "InvalidAccessKeyId" => {
                return StoreError::Refused(format!(
                    "S3 at {host} refused the credentials for {what} ({code}); \
                     check s3_store_access_key and s3_store_secret_key"
                ));
            }
            "InvalidRange" => return StoreError::InvalidRange,
            _ => {}
        }
        match status {
            StatusCode::INSUFFICIENT_STORAGE => StoreError::StorageFull,
            StatusCode::RANGE_NOT_SATISFIABLE => StoreError::InvalidRange,
            s if s.is_server_error() => {
                StoreError::Unavailable(format!("S3 at {host} answered {code} to {what}"))
            }
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => StoreError::Refused(format!(
                "S3 at {host} denied {what} ({code}); check s3_store_access_key, \
                 s3_store_secret_key and what that user may do in the bucket"
            )),
            _ => StoreError::Refused(format!("S3 at {host} answered {code} to {what}")),
        }
    }
}

/// An HTTP client bound to one endpoint and one set of keys.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    pub(crate) endpoint: Endpoint,
    access_key: String,
    secret_key: Secret,
}

impl Client {
    pub(crate) fn new(config: &S3Config, endpoint: Endpoint) -> Result<Self, StoreError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true);
        if let Some(path) = &config.cacert {
            let bad = |why: String| {
                StoreError::Config(format!("s3_store_cacert: {}: {why}", path.display()))
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no certificate in the file".to_owned()));
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| StoreError::Config(format!("s3 store: HTTP client: {e}")))?;
        Ok(Self {
            http,
            endpoint,
            access_key: config.access_key.clone(),
            secret_key: config.secret_key.clone(),
        })
    }

    pub(crate) fn host(&self) -> &str {
        self.endpoint.display_host()
    }

    /// Sends one signed request for an object (`Some(key)`) or the bucket;
    /// an error status becomes a [`Failure`] with the S3 error code.
    pub(crate) async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, String)],
        headers: &[(&'static str, String)],
        payload: Payload,
    ) -> Result<Response, Failure> {
        let path = self.endpoint.path(key);
        let host = self.endpoint.host_header();
        let (payload_hash, body) = match payload {
            Payload::Empty => (sign::sha256_hex(b""), None),
            Payload::Xml(doc) => {
                let length = doc.len() as u64;
                (
                    sign::sha256_hex(doc.as_bytes()),
                    Some((Body::from(doc), length)),
                )
            }
            Payload::Data(pieces) => (UNSIGNED_PAYLOAD.to_owned(), Some(data_body(pieces))),
        };
        let amz_date = amz_date();
        let authorization = sign::authorization(
            &sign::Request {
                method: method.as_str(),
                path: &path,
                query,
                host: &host,
                headers,
                payload_sha256: &payload_hash,
            },
            &Credentials {
                access_key: &self.access_key,
                secret_key: &self.secret_key,
                region: &self.endpoint.region,
            },
            &amz_date,
        );
        let mut url = self.endpoint.url(&path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&sign::canonical_query(query));
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .header("x-amz-date", amz_date)
            .header("x-amz-content-sha256", payload_hash)
            .header("authorization", authorization);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request = match body {
            Some((body, length)) => request.header("content-length", length).body(body),
            // S3 wants a length on every PUT and POST, an empty one included.
            None if method == Method::PUT || method == Method::POST => {
                request.header("content-length", "0")
            }
            None => request,
        };
        let response = request.send().await.map_err(|e| Failure::unreachable(&e))?;
        if response.status().is_success() || response.status() == StatusCode::PARTIAL_CONTENT {
            return Ok(response);
        }
        let status = response.status();
        let body = if method == Method::HEAD {
            String::new()
        } else {
            read_capped(response).await
        };
        Err(Failure {
            status: Some(status),
            code: xml::text(&body, "Code").unwrap_or_default(),
            detail: String::new(),
        })
    }

    /// Like [`send`](Self::send), reading the whole (small, XML) answer.
    pub(crate) async fn send_for_text(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, String)],
        payload: Payload,
    ) -> Result<String, Failure> {
        let response = self.send(method, key, query, &[], payload).await?;
        response.text().await.map_err(|e| Failure::unreachable(&e))
    }
}

/// A body of known length made of pieces, sent without copying them together.
fn data_body(mut pieces: Vec<Bytes>) -> (Body, u64) {
    let length = pieces.iter().map(|p| p.len() as u64).sum();
    let body = if pieces.len() == 1 {
        Body::from(pieces.remove(0))
    } else {
        Body::wrap_stream(stream::iter(
            pieces.into_iter().map(Ok::<_, std::io::Error>),
        ))
    };
    (body, length)
}

async fn read_capped(mut response: Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

fn amz_date() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("a UTC timestamp always formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, code: &str) -> Failure {
        Failure {
            status: Some(StatusCode::from_u16(status).unwrap()),
            code: code.to_owned(),
            detail: String::new(),
        }
    }

    #[test]
    fn failures_map_to_store_errors() {
        let map = |f: Failure| f.into_store_error("h:1", "PUT of k");
        assert!(matches!(
            map(failure(403, "SignatureDoesNotMatch")),
            StoreError::Refused(m) if m.contains("s3_store_secret_key")
        ));
        assert!(matches!(
            map(failure(403, "InvalidAccessKeyId")),
            StoreError::Refused(_)
        ));
        assert!(matches!(map(failure(403, "")), StoreError::Refused(_)));
        assert!(matches!(
            map(failure(503, "SlowDown")),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(map(failure(500, "")), StoreError::Unavailable(_)));
        assert!(matches!(
            map(failure(403, "QuotaExceeded")),
            StoreError::StorageFull
        ));
        assert!(matches!(map(failure(416, "")), StoreError::InvalidRange));
        let unreachable = Failure {
            status: None,
            code: String::new(),
            detail: "connection refused".to_owned(),
        };
        assert!(matches!(map(unreachable), StoreError::Unavailable(_)));
    }

    #[test]
    fn dates_have_the_sigv4_form() {
        let d = amz_date();
        assert_eq!(d.len(), 16);
        assert_eq!(&d[8..9], "T");
        assert!(d.ends_with('Z'));
    }
}
