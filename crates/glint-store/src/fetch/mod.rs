//! Downloads for the `web-download` and `glance-download` import methods,
//! safe from server-side request forgery: every URL, the first and each
//! redirect's, passes [`ImportFilter`]; its host is resolved once, every
//! address checked, and the connection goes to those addresses only (no
//! second lookup that a rebinding DNS server could answer otherwise). No
//! proxy is used, since glint could not check where a proxy connects.

mod address;
mod error;
mod filter;
#[cfg(test)]
mod filter_tests;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use url::{Host, Url};

pub use address::special_purpose;
pub use error::{FetchError, InvalidFilter};
pub use filter::{ImportFilter, ImportFilterLists};

use crate::http::redact_url;
use crate::store::{ByteStream, StoreError};

/// Redirects followed before giving up, as the http store does.
pub const MAX_REDIRECTS: usize = 5;
/// How long resolving a host and connecting to it may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may send nothing, before its answer or within it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Downloads image data from URLs that [`ImportFilter`] lets through.
#[derive(Debug, Clone)]
pub struct WebFetcher {
    filter: ImportFilter,
    connect_timeout: Duration,
    read_timeout: Duration,
}

/// A download under way: the body as it arrives, and its announced size.
pub struct Download {
    /// The body, ended by an error if more than the size cap arrives, if
    /// the server stalls for the read timeout, or if it sends fewer bytes
    /// than it announced.
    pub stream: ByteStream,
    /// The server's `Content-Length`, already known to be within the cap.
    pub content_length: Option<u64>,
    /// The URL the data comes from, after redirects, without credentials.
    pub url: String,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("content_length", &self.content_length)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WebFetcher {
    /// A fetcher with the default timeouts ([`CONNECT_TIMEOUT`],
    /// [`READ_TIMEOUT`]).
    pub fn new(filter: ImportFilter) -> Self {
        Self {
            filter,
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
        }
    }

    pub fn with_timeouts(self, connect: Duration, read: Duration) -> Self {
        Self {
            connect_timeout: connect,
            read_timeout: read,
            ..self
        }
    }

    /// The filter, for the import API to refuse a URL before it accepts
    /// the request ([`ImportFilter::check_url`]).
    pub fn filter(&self) -> &ImportFilter {
        &self.filter
    }

    /// Starts downloading `url`; refused when a rule refuses it or a
    /// redirect, or when the server announces more than `size_cap` bytes.
    pub async fn fetch(&self, url: &str, size_cap: u64) -> Result<Download, FetchError> {
        self.fetch_with_headers(url, &HeaderMap::new(), size_cap)
            .await
    }

    /// As [`Self::fetch`], sending `headers` (a token for `glance-download`)
    /// to the URL's origin only: a redirect elsewhere goes without them.
    pub async fn fetch_with_headers(
        &self,
        url: &str,
        headers: &HeaderMap,
        size_cap: u64,
    ) -> Result<Download, FetchError> {
        let mut url = self.filter.check_url(url)?;
        let origin = url.origin();
        let mut redirects = 0;
        loop {
            let addrs = match self.filter.resolve(&url, self.connect_timeout).await {
                Err(e @ (FetchError::AddressRefused { .. } | FetchError::Refused { .. }))
                    if redirects > 0 =>
                {
                    return Err(redirect_refused(&url, e));
                }
                other => other?,
            };
            let same_origin = url.origin() == origin;
            let response = self
                .get(&url, &addrs, same_origin.then_some(headers))
                .await?;
            let status = response.status();
            if status.is_success() {
                return self.download(&url, response, size_cap);
            }
            if !is_redirect(status) {
                return Err(FetchError::Status {
                    url: redacted(&url),
                    status: status.to_string(),
                });
            }
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects { max: MAX_REDIRECTS });
            }
            url = self.follow(&url, status, &response)?;
        }
    }

    /// One request, through a client that can reach `addrs` only.
    async fn get(
        &self,
        url: &Url,
        addrs: &[std::net::SocketAddr],
        headers: Option<&HeaderMap>,
    ) -> Result<reqwest::Response, FetchError> {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .dns_resolver(Arc::new(NoLookup));
        if let Some(Host::Domain(name)) = url.host() {
            builder = builder.resolve_to_addrs(name, addrs);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Client(e.without_url().to_string()))?;
        let mut request = client.get(url.clone());
        if let Some(headers) = headers {
            request = request.headers(headers.clone());
        }
        tracing::debug!(url = %redacted(url), ?addrs, "downloading");
        request.send().await.map_err(|e| {
            let reason = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                e.without_url().to_string()
            };
            FetchError::Unreachable {
                url: redacted(url),
                reason,
            }
        })
    }

    /// The checked target of a redirect.
    fn follow(
        &self,
        from: &Url,
        status: StatusCode,
        response: &reqwest::Response,
    ) -> Result<Url, FetchError> {
        let target = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| from.join(location).ok())
            .ok_or_else(|| FetchError::BadRedirect {
                url: redacted(from),
                status: status.to_string(),
            })?;
        // An absolute Location is checked as written, so that its host's
        // spelling is judged; a relative one as joined.
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok());
        let written = match location {
            Some(text) if Url::parse(text).is_ok() => text,
            _ => target.as_str(),
        };
        self.filter
            .check_url(written)
            .map_err(|e| redirect_refused(&target, e))
    }

    fn download(
        &self,
        url: &Url,
        response: reqwest::Response,
        size_cap: u64,
    ) -> Result<Download, FetchError> {
        let content_length = response.content_length();
        if let Some(announced) = content_length.filter(|n| *n > size_cap) {
            return Err(FetchError::TooLarge {
                url: redacted(url),
                announced,
                cap: size_cap,
            });
        }
        Ok(Download {
            stream: capped(response, size_cap, content_length, self.read_timeout),
            content_length,
            url: redacted(url),
        })
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn redirect_refused(to: &Url, reason: FetchError) -> FetchError {
    FetchError::RedirectRefused {
        to: redacted(to),
        reason: Box::new(reason),
    }
}

fn redacted(url: &Url) -> String {
    redact_url(url.as_str()).unwrap_or_else(|| "an invalid URL".to_owned())
}

/// The body, cut off with an error past `cap` bytes, on a stall, or short
/// of its announced length.
fn capped(
    response: reqwest::Response,
    cap: u64,
    announced: Option<u64>,
    read_timeout: Duration,
) -> ByteStream {
    let state = (Some(response.bytes_stream().boxed()), 0u64);
    futures::stream::unfold(state, move |(body, received)| async move {
        let mut body = body?;
        let item = match body.next().await {
            Some(Ok(chunk)) => {
                let received = received + chunk.len() as u64;
                if received > cap {
                    Err(StoreError::SizeLimitExceeded { limit: cap })
                } else {
                    return Some((Ok(chunk), (Some(body), received)));
                }
            }
            Some(Err(e)) if e.is_timeout() => Err(StoreError::Unavailable(format!(
                "image download stalled: no data for {} s",
                read_timeout.as_secs_f32()
            ))),
            Some(Err(e)) => Err(StoreError::Unavailable(format!(
                "image download broke off: {}",
                e.without_url()
            ))),
            None => match announced {
                Some(n) if n != received => Err(StoreError::Unavailable(format!(
                    "image download ended after {received} of {n} bytes"
                ))),
                _ => return None,
            },
        };
        Some((item, (None, received)))
    })
    .boxed()
}

/// The client's resolver: refuses every name, so that the only addresses
/// a request can reach are the checked ones pinned for its host.
struct NoLookup;

impl reqwest::dns::Resolve for NoLookup {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!("{} was not resolved and checked first", name.as_str());
        Box::pin(std::future::ready(Err(message.into())))
    }
}
