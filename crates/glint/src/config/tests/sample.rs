use std::path::PathBuf;

use super::{defaults, load_text};
use crate::config::{GlanceConfig, options};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../etc/glance-api.conf");

#[test]
fn sample_config_loads_without_warnings_and_gives_defaults() {
    let (mut config, warnings) = GlanceConfig::load(&[PathBuf::from(SAMPLE)]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.config_dirs,
        [PathBuf::from(SAMPLE).parent().unwrap()]
    );
    config.config_dirs.clear();
    assert_eq!(config, defaults());
}

/// The sample's `#name = value` lines, uncommented, per section.
fn sample_option_lines() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    let mut section = String::new();
    let mut lines = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if line.starts_with('#') && line[1..].starts_with(|c: char| c.is_ascii_lowercase()) {
            lines.push((section.clone(), line[1..].to_owned()));
        }
    }
    lines
}

#[test]
fn sample_config_documents_every_supported_option_with_its_default() {
    let lines = sample_option_lines();
    for opt in options::SUPPORTED {
        let expected = format!("{} = {}", opt.name, opt.default_text());
        let found = lines.iter().any(|(section, line)| {
            section == opt.section && line.trim_end() == expected.trim_end()
        });
        assert!(
            found,
            "etc/glance-api.conf lacks `#{expected}` in [{}]",
            opt.section
        );
    }
    assert_eq!(lines.len(), options::SUPPORTED.len(), "{lines:?}");
}

#[test]
fn uncommented_sample_values_equal_built_in_defaults() {
    let mut text = String::new();
    let mut current = String::new();
    for (section, line) in sample_option_lines() {
        if section != current {
            text.push_str(&format!("[{section}]\n"));
            current = section;
        }
        text.push_str(&line);
        text.push('\n');
    }
    let (mut config, warnings) = load_text(&text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    // Spelling out the default name makes the file required; nothing else
    // differs.
    assert!(config.oslo_policy.policy_file_set);
    config.oslo_policy.policy_file_set = false;
    assert_eq!(config, defaults());
}
