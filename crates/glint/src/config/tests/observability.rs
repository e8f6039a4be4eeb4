use std::path::PathBuf;

use glint_core::{HealthCheck, HealthConfig};

use super::{config, error, warnings};
use crate::config::LogFormat;

#[test]
fn healthcheck_defaults_watch_glance_s_file_the_database_and_the_stores() {
    let conf = config("");
    assert!(!conf.healthcheck.detailed);
    assert_eq!(conf.healthcheck.health_config(), HealthConfig::default());
    assert_eq!(conf.glint.log_format, LogFormat::Text);
    assert_eq!(conf.glint.metrics_bind, None);
}

#[test]
fn healthcheck_backends_are_read_in_order_with_their_files() {
    let conf = config(
        "[DEFAULT]\nbind_port = 9393\n[healthcheck]\ndetailed = true\n\
         backends = stores, disable_by_files_ports, database, stores\n\
         disable_by_file_paths = 9292:/run/a, 9393:/run/b\n",
    );
    assert!(conf.healthcheck.detailed);
    assert_eq!(
        conf.healthcheck.checks,
        [
            HealthCheck::Stores,
            HealthCheck::DisableByFilesPorts {
                path: Some(PathBuf::from("/run/b"))
            },
            HealthCheck::Database,
        ]
    );
    let conf = config("[healthcheck]\nbackends = enable_by_files\nenable_by_file_paths = /a,/b\n");
    assert_eq!(
        conf.healthcheck.checks,
        [HealthCheck::EnableByFiles {
            paths: vec![PathBuf::from("/a"), PathBuf::from("/b")]
        }]
    );
    let conf = config("[healthcheck]\nbackends =\n");
    assert!(conf.healthcheck.checks.is_empty());
}

#[test]
fn bad_observability_values_are_start_up_errors() {
    for (text, expected) in [
        (
            "[glint]\nlog_format = xml\n",
            "[glint] log_format: must be text or json",
        ),
        (
            "[glint]\nmetrics_bind = localhost\n",
            "[glint] metrics_bind: must be an IP address",
        ),
        (
            "[glint]\nmetrics_bind = 127.0.0.1\n",
            "[glint] metrics_bind: must be an IP address",
        ),
        ("[healthcheck]\nbackends = disk\n", "unknown backend disk"),
        (
            "[healthcheck]\nbackends = disable_by_file, enable_by_files\n",
            "cannot be used together",
        ),
        (
            "[healthcheck]\ndetailed = maybe\n",
            "[healthcheck] detailed",
        ),
        (
            "[healthcheck]\nbackends = disable_by_files_ports\ndisable_by_file_paths = /run/a\n",
            "is not port:path",
        ),
    ] {
        let message = error(text);
        assert!(message.contains(expected), "{text}: {message}");
    }
    let conf = config("[glint]\nlog_format = json\nmetrics_bind = [::1]:9191\n");
    assert_eq!(conf.glint.log_format, LogFormat::Json);
    assert_eq!(conf.glint.metrics_bind, Some("[::1]:9191".parse().unwrap()));
}

#[test]
fn oslo_options_glint_does_not_act_on_are_warned_about() {
    let found = warnings(
        "[healthcheck]\npath = /hc\nallowed_source_ranges = 10.0.0.0/8\n\
         ignore_proxied_requests = true\n",
    );
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].contains("[healthcheck] path is ignored"),
        "{found:?}"
    );
    assert!(
        found[1].contains("not implemented by glint yet"),
        "{found:?}"
    );
}
