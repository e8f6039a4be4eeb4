//! `[glint]` limits on client connections, read into the API layer's
//! `ConnectionLimits`.

use std::time::Duration;

use glint_api::ConnectionLimits;

use super::ConfigError;
use super::options::{
    CLIENT_BODY_TIMEOUT, CLIENT_HEADER_TIMEOUT, CLIENT_SEND_TIMEOUT, KEEPALIVE_TIMEOUT,
    MAX_CONNECTIONS,
};
use super::source::Source;
use super::values;

/// `client_header_timeout`, `keepalive_timeout`, `client_body_timeout`,
/// `client_send_timeout` and `max_connections`.
pub(super) fn read(src: &Source<'_>) -> Result<ConnectionLimits, ConfigError> {
    let seconds =
        |max: u64| move |v: &str| values::parse_u64_in(v, 1, max).map(Duration::from_secs);
    Ok(ConnectionLimits {
        header_read_timeout: src.parse(&CLIENT_HEADER_TIMEOUT, seconds(3600))?,
        keep_alive_timeout: src.parse(&KEEPALIVE_TIMEOUT, seconds(3600))?,
        body_idle_timeout: src.parse(&CLIENT_BODY_TIMEOUT, seconds(86_400))?,
        send_timeout: src.parse(&CLIENT_SEND_TIMEOUT, seconds(86_400))?,
        max_connections: src.parse(&MAX_CONNECTIONS, |v| {
            values::parse_u64_in(v, 1, 1_000_000).map(|n| n as usize)
        })?,
    })
}
