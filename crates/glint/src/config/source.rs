//! Looks up option values (file value or built-in default), applies `$name`
//! substitution and turns conversion failures into `ConfigError`s that name
//! the section, option and value.

use super::ConfigError;
use super::ini::IniFile;
use super::options::{self, Opt};
use super::values::{self, substitute};

pub(super) struct Source<'a> {
    ini: &'a IniFile,
}

impl<'a> Source<'a> {
    pub(super) fn new(ini: &'a IniFile) -> Self {
        Self { ini }
    }

    /// The option's value, or its default when not set, after
    /// substitution (as oslo.config substitutes defaults too).
    pub(super) fn value(&self, opt: &Opt) -> Result<String, ConfigError> {
        let raw = match self.ini.get(opt.section, opt.name) {
            Some(raw) => raw.to_owned(),
            None => opt.default_text(),
        };
        substitute(&raw, |name| self.reference(opt.section, name))
            .map_err(|reason| ConfigError::invalid(opt, &raw, reason))
    }

    /// Converts the option's value with `convert`, which explains rejections.
    pub(super) fn parse<T>(
        &self,
        opt: &Opt,
        convert: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.value(opt)?;
        convert(&value).map_err(|reason| ConfigError::invalid(opt, &value, reason))
    }

    /// Whether a configuration file sets the option (even to its default).
    pub(super) fn is_set(&self, opt: &Opt) -> bool {
        self.ini.get(opt.section, opt.name).is_some()
    }

    /// Every value of a multi-valued option (repeated in the files), after
    /// substitution; its default when not set.
    pub(super) fn all(&self, opt: &Opt) -> Result<Vec<String>, ConfigError> {
        let raw = self.ini.get_all(opt.section, opt.name);
        if raw.is_empty() {
            let default = opt.default_text();
            return Ok(if default.is_empty() {
                Vec::new()
            } else {
                vec![default]
            });
        }
        raw.iter()
            .map(|value| {
                substitute(value, |name| self.reference(opt.section, name))
                    .map_err(|reason| ConfigError::invalid(opt, value, reason))
            })
            .collect()
    }

    pub(super) fn string(&self, opt: &Opt) -> Result<String, ConfigError> {
        self.value(opt)
    }

    /// A string option where an empty value means "not set", as in Glance.
    pub(super) fn optional(&self, opt: &Opt) -> Result<Option<String>, ConfigError> {
        Ok(Some(self.value(opt)?).filter(|value| !value.is_empty()))
    }

    pub(super) fn bool(&self, opt: &Opt) -> Result<bool, ConfigError> {
        self.parse(opt, values::parse_bool)
    }

    pub(super) fn u64_in(&self, opt: &Opt, min: u64, max: u64) -> Result<u64, ConfigError> {
        self.parse(opt, |value| values::parse_u64_in(value, min, max))
    }

    pub(super) fn quota(&self, opt: &Opt) -> Result<Option<u64>, ConfigError> {
        self.parse(opt, values::parse_quota)
    }

    pub(super) fn list(&self, opt: &Opt) -> Result<Vec<String>, ConfigError> {
        self.parse(opt, values::parse_list)
    }

    /// Resolves `$name` (this section, then `[DEFAULT]`) or `$group.name`,
    /// one level deep: the referenced value is used as written.
    fn reference(&self, section: &str, name: &str) -> Option<String> {
        if let Some((group, option)) = name.split_once('.')
            && let Some(value) = self.raw_or_default(group, option)
        {
            return Some(value);
        }
        self.raw_or_default(section, name)
            .or_else(|| self.raw_or_default("DEFAULT", name))
    }

    fn raw_or_default(&self, section: &str, name: &str) -> Option<String> {
        match self.ini.get(section, name) {
            Some(raw) => Some(raw.to_owned()),
            None => options::find(section, name).map(Opt::default_text),
        }
    }
}
