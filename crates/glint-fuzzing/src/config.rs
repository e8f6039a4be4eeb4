//! `glance-api.conf` (oslo.config INI) and the property protections file.

use std::path::Path;

use glint::config::{ConfigError, GlanceConfig, IniFile, parse_property_protections};
use glint_core::RuleFormat;
use glint_policy::Enforcer;

/// Any text either is refused as a configuration file with an error naming
/// the file, or is read and validated into a configuration, the way `glint
/// serve` reads its `--config-file`; nothing panics. A parsed file
/// after oslo.config's group-name normalization keeps every assignment.
pub fn glance_api_conf(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("glance-api.conf");
    let ini = match IniFile::parse(text, path) {
        Ok(ini) => ini,
        Err(e) => {
            assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
            assert!(e.to_string().starts_with("glance-api.conf:"), "{e}");
            return;
        }
    };
    let keys = ini.keys().count();
    let normalized = ini.clone().with_oslo_group_names();
    assert!(normalized.keys().count() <= keys);
    for (section, key) in ini.keys() {
        let wanted = if section == "DEFAULT" {
            section.to_owned()
        } else {
            section.to_lowercase()
        };
        let values = normalized.get_all(&wanted, key);
        for value in ini.get_all(section, key) {
            assert!(values.contains(value), "[{section}] {key}");
        }
    }
    let _ = GlanceConfig::from_ini(ini);
}

/// Any text either is refused as a property protections file with an error
/// naming the file, or compiles, in both rule formats; nothing panics.
pub fn property_protections(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Enforcer::with_glance_defaults();
    let path = Path::new("property-protections.conf");
    for format in [RuleFormat::Roles, RuleFormat::Policies] {
        if let Err(e) = parse_property_protections(text, path, format, &policy) {
            assert!(e.to_string().contains("property-protections.conf"), "{e}");
        }
    }
}
