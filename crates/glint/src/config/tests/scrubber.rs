use std::path::PathBuf;
use std::time::Duration;

use super::{config, error, temp_file, warnings};
use crate::config::{GlanceConfig, ScrubberOptions};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../etc/glance-scrubber.conf"
);

#[test]
fn scrubber_options_default_as_in_glance() {
    let defaults = config("").scrubber;
    assert_eq!(
        defaults,
        ScrubberOptions {
            scrub_time: Duration::ZERO,
            scrub_pool_size: 1,
            wakeup_time: Duration::from_secs(300),
            daemon: false,
            restore: None,
        }
    );
    assert!(!config("").glint.scrubber_in_serve);
}

#[test]
fn the_scrubber_sample_loads_without_warnings() {
    let (config, warnings) = GlanceConfig::load(&[PathBuf::from(SAMPLE)]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let scrubber = &config.scrubber;
    assert_eq!(scrubber.scrub_time, Duration::from_secs(43200));
    assert_eq!(scrubber.scrub_pool_size, 4);
    assert_eq!(scrubber.wakeup_time, Duration::from_secs(300));
    assert!(scrubber.daemon);
    assert_eq!(scrubber.restore, None);
    assert!(config.default.delayed_delete);
}

#[test]
fn later_files_override_earlier_ones_option_by_option() {
    let api = temp_file(
        "[DEFAULT]\nscrub_time = 10\nscrub_pool_size = 3\n[database]\nconnection = \
         postgresql://glance:pw@db.example.com/glance\n",
    );
    let scrubber = temp_file("[DEFAULT]\nscrub_time = 20\ndaemon = yes\nrestore = abc\n");
    let (config, warnings) = GlanceConfig::load(&[api, scrubber]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.scrubber.scrub_time, Duration::from_secs(20));
    assert_eq!(config.scrubber.scrub_pool_size, 3);
    assert!(config.scrubber.daemon);
    assert_eq!(config.scrubber.restore.as_deref(), Some("abc"));
    assert_eq!(
        config.database_url().unwrap(),
        "postgres://glance:pw@db.example.com/glance"
    );
}

#[test]
fn of_a_glance_registry_conf_only_the_database_section_is_read_with_a_warning() {
    let api = temp_file("[DEFAULT]\nbind_port = 9292\n");
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("glance-registry.conf");
    std::fs::write(
        &registry,
        "[DEFAULT]\nbind_port = 9191\nworkers = 4\n[DATABASE]\nconnection = \
         mysql+pymysql://glance:pw@db/glance\n[paste_deploy]\nflavor = keystone\n",
    )
    .unwrap();
    let (config, warnings) = GlanceConfig::load(&[api, registry.clone()]).unwrap();
    assert_eq!(config.default.bind_port, 9292);
    assert_eq!(
        config.database_url().unwrap(),
        "mysql://glance:pw@db/glance"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&registry.display().to_string()),
        "{warnings:?}"
    );
    assert!(
        warnings[0].contains("registry service is gone"),
        "{warnings:?}"
    );
}

#[test]
fn scrubber_in_serve_follows_delayed_delete_unless_set() {
    assert!(
        config("[DEFAULT]\ndelayed_delete = true\n")
            .glint
            .scrubber_in_serve
    );
    let off = "[DEFAULT]\ndelayed_delete = true\n[glint]\nscrubber_in_serve = false\n";
    assert!(!config(off).glint.scrubber_in_serve);
    let on = "[glint]\nscrubber_in_serve = true\n";
    assert!(config(on).glint.scrubber_in_serve);
    assert!(warnings(on).is_empty());
}

#[test]
fn bad_scrubber_values_are_errors_naming_the_option() {
    for (text, expected) in [
        (
            "[DEFAULT]\nscrub_pool_size = 0\n",
            "invalid value '0' for option [DEFAULT] scrub_pool_size: must be at least 1",
        ),
        (
            "[DEFAULT]\nscrub_time = -1\n",
            "invalid value '-1' for option [DEFAULT] scrub_time: must be at least 0",
        ),
        (
            "[DEFAULT]\nwakeup_time = soon\n",
            "invalid value 'soon' for option [DEFAULT] wakeup_time: not an integer",
        ),
        (
            "[DEFAULT]\ndaemon = maybe\n",
            "invalid value 'maybe' for option [DEFAULT] daemon: not a boolean",
        ),
        (
            "[glint]\nscrubber_in_serve = sometimes\n",
            "invalid value 'sometimes' for option [glint] scrubber_in_serve: not a boolean",
        ),
    ] {
        let message = error(text);
        assert!(message.starts_with(expected), "{message}");
    }
}

#[test]
fn a_wakeup_time_of_zero_sweeps_again_after_a_second() {
    let zero = config("[DEFAULT]\nwakeup_time = 0\n").scrubber;
    assert_eq!(zero.wakeup_time, Duration::ZERO);
    assert_eq!(zero.sweep_interval(), Duration::from_secs(1));
    let hour = config("[DEFAULT]\nwakeup_time = 3600\n").scrubber;
    assert_eq!(hour.sweep_interval(), Duration::from_secs(3600));
}
