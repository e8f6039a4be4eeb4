//! `[image_import_opts]`, `[image_conversion]` and
//! `[inject_metadata_properties]`: the import plugins and their options.

use glint_core::{ImportPlugin, InjectConfig, OutputFormat, PluginSettings};

use super::ConfigError;
use super::options::{IGNORE_USER_ROLES, IMAGE_IMPORT_PLUGINS, INJECT, OUTPUT_FORMAT};
use super::source::Source;
use super::values;

/// Reads and validates the three sections; an unknown plugin name, a
/// plugin named twice or an output format qemu-img is not asked for in
/// Glance are refused.
pub(super) fn read(src: &Source<'_>) -> Result<PluginSettings, ConfigError> {
    let plugins = src.parse(&IMAGE_IMPORT_PLUGINS, |value| {
        let mut plugins = Vec::new();
        for name in values::parse_list(value)? {
            let plugin = ImportPlugin::from_name(&name).ok_or_else(|| {
                let known: Vec<&str> = ImportPlugin::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown import plugin '{name}' (known: {})",
                    known.join(", ")
                )
            })?;
            if plugins.contains(&plugin) {
                return Err(format!("import plugin '{name}' is listed twice"));
            }
            plugins.push(plugin);
        }
        Ok(plugins)
    })?;
    let output_format = src.parse(&OUTPUT_FORMAT, |value| {
        OutputFormat::from_name(value).ok_or_else(|| "must be one of qcow2, raw, vmdk".to_owned())
    })?;
    let inject = InjectConfig {
        ignore_user_roles: src.list(&IGNORE_USER_ROLES)?,
        inject: src.parse(&INJECT, parse_dict)?,
    };
    let mut settings = PluginSettings {
        plugins,
        inject,
        ..PluginSettings::default()
    };
    settings.conversion.output_format = output_format;
    Ok(settings)
}

/// `key:value, key:value` (oslo's `DictOpt`), keys of at most 255
/// characters, in the order written; a key given twice keeps its last value.
fn parse_dict(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in values::parse_list(value)? {
        let (key, val) = item
            .split_once(':')
            .ok_or_else(|| format!("'{item}' is not of the form key:value"))?;
        let (key, val) = (key.trim(), val.trim());
        if key.is_empty() || key.chars().count() > 255 {
            return Err(format!(
                "'{key}' is not a property name of 1 to 255 characters"
            ));
        }
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), val.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inject_is_a_dict_in_written_order() {
        assert_eq!(
            parse_dict("b:2, a : 1,b:3").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "3".into())]
        );
        assert!(parse_dict("novalue").is_err());
        assert_eq!(parse_dict("").unwrap(), vec![]);
    }
}
