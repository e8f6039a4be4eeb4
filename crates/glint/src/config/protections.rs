//! The property protections file named by `[DEFAULT]
//! property_protection_file`: found the way oslo.config finds files, read
//! with Python `configparser`'s meaning (which is what Glance reads it
//! with), and handed to `glint-core` to check and compile.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use glint_core::{PropertyProtections, ProtectionSection, RuleFormat};
use glint_model::properties::PropertyOperation;
use glint_policy::Enforcer;

use super::{ConfigError, GlanceConfig, IniFile};

/// The section whose options `configparser` gives every other section
/// that lacks them; it is not a rule itself.
const DEFAULT_SECTION: &str = "DEFAULT";

/// Loads the protections the configuration names, if any. `config_files`
/// are the files the configuration was read from: a relative path is looked
/// for beside them first.
pub fn load_property_protections(
    conf: &GlanceConfig,
    config_files: &[PathBuf],
    policy: &Enforcer,
) -> Result<Option<PropertyProtections>, ConfigError> {
    let Some(name) = &conf.default.property_protection_file else {
        return Ok(None);
    };
    let path = find_file(name, config_files).ok_or_else(|| ConfigError::PropertyProtections {
        path: name.clone(),
        message: if name.is_absolute() {
            "not found".to_owned()
        } else {
            let dirs: Vec<String> = search_dirs(config_files)
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            format!("not found (looked in {})", dirs.join(", "))
        },
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::PropertyProtections {
        path: path.clone(),
        message: format!("cannot be read: {e}"),
    })?;
    let format = conf.default.property_protection_rule_format;
    parse_property_protections(&text, &path, format, policy).map(Some)
}

/// Checks and compiles the text of a protections file; `path` labels errors.
pub fn parse_property_protections(
    text: &str,
    path: &Path,
    format: RuleFormat,
    policy: &Enforcer,
) -> Result<PropertyProtections, ConfigError> {
    let error = |message: String| ConfigError::PropertyProtections {
        path: path.to_owned(),
        message,
    };
    reject_repeated_sections(text).map_err(error)?;
    let ini = IniFile::parse(text, path)?;
    let sections = sections(&ini).map_err(error)?;
    PropertyProtections::new(format, &sections, policy).map_err(|e| error(e.to_string()))
}

/// Directories searched for a relative path, in order: those of the
/// configuration files (the last given first), then oslo.config's
/// standard places for the `glance` project.
fn search_dirs(config_files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config_files
        .iter()
        .rev()
        .map(|f| match f.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        })
        .collect();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        dirs.push(home.join(".glance"));
        dirs.push(home);
    }
    dirs.push(PathBuf::from("/etc/glance"));
    dirs.push(PathBuf::from("/etc"));
    dirs
}

fn find_file(name: &Path, config_files: &[PathBuf]) -> Option<PathBuf> {
    if name.is_absolute() {
        return name.exists().then(|| name.to_owned());
    }
    search_dirs(config_files)
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `configparser` refuses a section that appears twice; the INI reader
/// would merge them, so they are looked for in the text.
fn reject_repeated_sections(text: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some(name) = line
            .trim_end()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
        else {
            continue;
        };
        if !seen.insert(name) {
            return Err(format!("[{name}]: section repeated on line {}", index + 1));
        }
    }
    Ok(())
}

/// The rule sections in file order, option names lower-cased and the
/// `[DEFAULT]` options filled in where a section lacks them.
fn sections(ini: &IniFile) -> Result<Vec<ProtectionSection>, String> {
    let defaults = options(ini, DEFAULT_SECTION);
    for (index, (name, _)) in defaults.iter().enumerate() {
        if PropertyOperation::from_name(name).is_none() {
            return Err(format!(
                "[{DEFAULT_SECTION}] {name}: unknown operation (the operations are create, \
                 read, update and delete)"
            ));
        }
        if defaults[..index].iter().any(|(earlier, _)| earlier == name) {
            return Err(format!("[{DEFAULT_SECTION}] {name}: given more than once"));
        }
    }
    Ok(ini
        .sections()
        .filter(|section| *section != DEFAULT_SECTION)
        .map(|section| {
            let mut options = options(ini, section);
            for (name, value) in &defaults {
                if !options.iter().any(|(own, _)| own == name) {
                    options.push((name.clone(), value.clone()));
                }
            }
            ProtectionSection {
                name: section.to_owned(),
                options,
            }
        })
        .collect())
}

/// Every assignment of a section, repeated ones included so that they can
/// be refused.
fn options(ini: &IniFile, section: &str) -> Vec<(String, String)> {
    ini.keys()
        .filter(|(s, _)| *s == section)
        .flat_map(|(_, key)| {
            ini.get_all(section, key)
                .iter()
                .map(move |value| (key.to_lowercase(), value.clone()))
        })
        .collect()
}
