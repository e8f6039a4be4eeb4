//! `[glint]` limits on client connections.

use std::time::Duration;

use super::ConfigError;
use super::options::{
    CLIENT_BODY_TIMEOUT, CLIENT_HEADER_TIMEOUT, CLIENT_SEND_TIMEOUT, KEEPALIVE_TIMEOUT,
    MAX_CONNECTIONS,
};
use super::source::Source;
use super::values;

/// How long clients may take and how many may be connected at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// `client_header_timeout`: time to send a request's head, from the
    /// opening of the connection or the first byte of a following request.
    pub header_read_timeout: Duration,
    /// `keepalive_timeout`: time a kept-alive connection may wait for its
    /// next request.
    pub keep_alive_timeout: Duration,
    /// `client_body_timeout`: time a request body (an upload included) may
    /// go without a byte.
    pub body_idle_timeout: Duration,
    /// `client_send_timeout`: time a response may wait for a client that
    /// takes none of its bytes.
    pub send_timeout: Duration,
    /// `max_connections`: most connections open at once.
    pub max_connections: usize,
}

impl ConnectionConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let seconds =
            |max: u64| move |v: &str| values::parse_u64_in(v, 1, max).map(Duration::from_secs);
        Ok(Self {
            header_read_timeout: src.parse(&CLIENT_HEADER_TIMEOUT, seconds(3600))?,
            keep_alive_timeout: src.parse(&KEEPALIVE_TIMEOUT, seconds(3600))?,
            body_idle_timeout: src.parse(&CLIENT_BODY_TIMEOUT, seconds(86_400))?,
            send_timeout: src.parse(&CLIENT_SEND_TIMEOUT, seconds(86_400))?,
            max_connections: src.parse(&MAX_CONNECTIONS, |v| {
                values::parse_u64_in(v, 1, 1_000_000).map(|n| n as usize)
            })?,
        })
    }
}
