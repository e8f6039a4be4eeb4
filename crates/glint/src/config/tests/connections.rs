//! `[glint]` connection limits.

use std::time::Duration;

use super::{config, defaults, error};

#[test]
fn connection_limits_default_beyond_what_clients_need() {
    let c = defaults().glint.connections;
    assert_eq!(c.header_read_timeout, Duration::from_secs(30));
    assert_eq!(c.keep_alive_timeout, Duration::from_secs(60));
    assert_eq!(c.body_idle_timeout, Duration::from_secs(120));
    assert_eq!(c.send_timeout, Duration::from_secs(60));
    assert_eq!(c.max_connections, 4096);
}

#[test]
fn connection_limits_are_read() {
    let c = config(
        "[glint]\nclient_header_timeout = 5\nkeepalive_timeout = 7\n\
         client_body_timeout = 600\nclient_send_timeout = 90\nmax_connections = 100\n",
    )
    .glint
    .connections;
    assert_eq!(c.header_read_timeout, Duration::from_secs(5));
    assert_eq!(c.keep_alive_timeout, Duration::from_secs(7));
    assert_eq!(c.body_idle_timeout, Duration::from_secs(600));
    assert_eq!(c.send_timeout, Duration::from_secs(90));
    assert_eq!(c.max_connections, 100);
}

#[test]
fn connection_limits_out_of_range_are_start_up_errors() {
    for (text, message) in [
        (
            "client_header_timeout = 0",
            "[glint] client_header_timeout: must be at least 1",
        ),
        (
            "keepalive_timeout = 3601",
            "[glint] keepalive_timeout: must be at most 3600",
        ),
        ("client_body_timeout = soon", "[glint] client_body_timeout:"),
        (
            "client_send_timeout = 0",
            "[glint] client_send_timeout: must be at least 1",
        ),
        (
            "client_send_timeout = 86401",
            "[glint] client_send_timeout: must be at most 86400",
        ),
        (
            "max_connections = 0",
            "[glint] max_connections: must be at least 1",
        ),
        (
            "max_connections = 1000001",
            "[glint] max_connections: must be at most 1000000",
        ),
    ] {
        let got = error(&format!("[glint]\n{text}\n"));
        assert!(got.contains(message), "{text}: {got}");
    }
}
