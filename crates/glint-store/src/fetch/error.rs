//! Why a download was refused or failed. The messages name what was
//! refused and why, never the credentials a URL may carry: they are the
//! import's failure message.

use std::net::{IpAddr, Ipv4Addr};

/// A download that could not start. Errors met once the data flows come
/// from the stream, as [`crate::StoreError`]s.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    /// A scheme, host or port that `[import_filtering_opts]` refuses.
    #[error("{what} is refused by [import_filtering_opts] {list}")]
    Refused { what: String, list: &'static str },
    /// An IPv4 host written other than as four decimal numbers, which
    /// Glance refuses too.
    #[error("host {address} must be written in standard dotted notation")]
    NonStandardAddress { address: Ipv4Addr },
    #[error("glint downloads http and https URLs only, not {scheme}")]
    UnsupportedScheme { scheme: String },
    /// The host is, or resolves to, an address outside the public Internet.
    #[error(
        "host {host} is {address}, a {kind} address; glint downloads from such an address \
         only when the host is listed in [import_filtering_opts] allowed_hosts"
    )]
    AddressRefused {
        host: String,
        address: IpAddr,
        kind: &'static str,
    },
    #[error("cannot resolve host {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("redirect to {to} refused: {reason}")]
    RedirectRefused {
        /// The redirect's target, without user information.
        to: String,
        reason: Box<FetchError>,
    },
    #[error("more than {max} redirects")]
    TooManyRedirects { max: usize },
    #[error("{url} answered {status}")]
    Status { url: String, status: String },
    #[error("{url} answered {status} without a usable Location")]
    BadRedirect { url: String, status: String },
    #[error("{url} announces {announced} bytes, more than image_size_cap ({cap} bytes)")]
    TooLarge {
        url: String,
        announced: u64,
        cap: u64,
    },
    /// No connection or no answer: refused, timed out, TLS failure.
    #[error("cannot download {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("cannot set up an HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    pub(super) fn refused(what: String, list: &'static str) -> Self {
        Self::Refused { what, list }
    }
}

/// A value of `[import_filtering_opts]` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?} in [import_filtering_opts] {option}: {reason}")]
pub struct InvalidFilter {
    pub option: &'static str,
    pub value: String,
    pub reason: String,
}

impl InvalidFilter {
    pub(super) fn new(option: &'static str, value: &str, reason: &str) -> Self {
        Self {
            option,
            value: value.to_owned(),
            reason: reason.to_owned(),
        }
    }
}
