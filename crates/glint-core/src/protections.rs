//! Property protections (Glance's `property_protection_file`): which
//! callers may create, read, update and delete which additional
//! properties.
//!
//! The rules are sections of an INI file whose names are regular
//! expressions. A property is governed by the first section, in file order,
//! whose expression matches anywhere in its name (Python's `re.search`,
//! which is what Glance uses: anchor with `^` to match prefixes only). A
//! property no section matches may not be touched by anyone. Base
//! attributes (`name`, `visibility`, ...) are never subject to protections.
//!
//! This module holds the rules and decides with them; reading the file is
//! the binary's job, which hands the sections over as [`ProtectionSection`]s.

use std::cell::RefCell;
use std::collections::HashMap;

use glint_model::Image;
use glint_model::properties::{PropertyAccess, PropertyOperation};
use glint_policy::{Credentials, Enforcer, NoRemote, Rule, Target};
use regex::Regex;

/// How the permissions of a protections file are written
/// (`property_protection_rule_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleFormat {
    /// Comma-separated role names; `@` is anyone, `!` no one.
    #[default]
    Roles,
    /// The name of one policy rule, decided with the caller's credentials;
    /// `@` is anyone, `!` no one.
    Policies,
}

impl RuleFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleFormat::Roles => "roles",
            RuleFormat::Policies => "policies",
        }
    }

    /// The format named by a configuration value (exact, as oslo.config's
    /// choices are).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "roles" => Some(RuleFormat::Roles),
            "policies" => Some(RuleFormat::Policies),
            _ => None,
        }
    }
}

/// One section of a protections file as written: its name (the regular
/// expression) and its options in file order, names in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionSection {
    pub name: String,
    pub options: Vec<(String, String)>,
}

/// A mistake in a protections file, naming the section and, when it is
/// about one, the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{section}]{}: {message}", option.as_deref().map(|o| format!(" {o}")).unwrap_or_default())]
pub struct ProtectionsError {
    pub section: String,
    pub option: Option<String>,
    pub message: String,
}

impl ProtectionsError {
    fn new(section: &str, option: Option<&str>, message: impl Into<String>) -> Self {
        ProtectionsError {
            section: section.to_owned(),
            option: option.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// Who may do one operation on the properties of one section.
#[derive(Debug, Clone, PartialEq)]
enum Permission {
    Anyone,
    Nobody,
    /// Any of these roles, lower-cased.
    Roles(Vec<String>),
    /// `rule:<name>`, decided against an empty target.
    Policy(Rule),
}

#[derive(Debug, Clone)]
struct ProtectionRule {
    section: String,
    pattern: Regex,
    /// Indexed like [`PropertyOperation::ALL`].
    permissions: [Permission; 4],
}

impl ProtectionRule {
    fn permission(&self, operation: PropertyOperation) -> &Permission {
        &self.permissions[slot(operation)]
    }
}

/// The index of an operation in per-operation arrays.
fn slot(operation: PropertyOperation) -> usize {
    match operation {
        PropertyOperation::Create => 0,
        PropertyOperation::Read => 1,
        PropertyOperation::Update => 2,
        PropertyOperation::Delete => 3,
    }
}

/// Sections whose names start with this are Glance's own: a file's sections
/// of that name are dropped and one that lets anyone do anything comes
/// first, so that protections never get in the way of Glance's bookkeeping.
const RESERVED_SECTION_PREFIX: &str = "os_glance";
const RESERVED_SECTION: &str = "os_glance.*";

/// The rules of a protections file, checked and ready to decide.
#[derive(Debug, Clone)]
pub struct PropertyProtections {
    format: RuleFormat,
    rules: Vec<ProtectionRule>,
    warnings: Vec<String>,
}

impl PropertyProtections {
    /// Checks and compiles the sections of a protections file. In the
    /// `policies` format every named rule must exist in `policy`.
    pub fn new(
        format: RuleFormat,
        sections: &[ProtectionSection],
        policy: &Enforcer,
    ) -> Result<Self, ProtectionsError> {
        let mut protections = PropertyProtections {
            format,
            rules: vec![ProtectionRule {
                section: RESERVED_SECTION.to_owned(),
                pattern: compile(RESERVED_SECTION)?,
                permissions: std::array::from_fn(|_| Permission::Anyone),
            }],
            warnings: Vec::new(),
        };
        for section in sections {
            if section.name.starts_with(RESERVED_SECTION_PREFIX) {
                protections.warnings.push(format!(
                    "property protection section [{}] is ignored: names starting with \
                     '{RESERVED_SECTION_PREFIX}' are reserved, and such properties are open to all",
                    section.name
                ));
                continue;
            }
            let rule = protections.rule(section, policy)?;
            protections.rules.push(rule);
        }
        Ok(protections)
    }

    pub fn format(&self) -> RuleFormat {
        self.format
    }

    /// What an operator should hear about the file: operations nobody may
    /// do because their value is empty, ignored sections.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The section governing `property`: the first whose expression matches.
    pub fn section_for(&self, property: &str) -> Option<&str> {
        self.rule_for(property).map(|rule| rule.section.as_str())
    }

    fn rule_for(&self, property: &str) -> Option<&ProtectionRule> {
        self.rules
            .iter()
            .find(|rule| rule.pattern.is_match(property))
    }

    /// Whether the caller with `creds` may do `operation` on `property`.
    pub fn allows(
        &self,
        property: &str,
        operation: PropertyOperation,
        creds: &Credentials,
        policy: &Enforcer,
    ) -> bool {
        let Some(rule) = self.rule_for(property) else {
            return false;
        };
        match rule.permission(operation) {
            Permission::Anyone => true,
            Permission::Nobody => false,
            Permission::Roles(roles) => roles.iter().any(|role| creds.roles.contains(role)),
            Permission::Policy(rule) => policy.check(rule, &Target::new(), creds, &NoRemote),
        }
    }

    fn rule(
        &mut self,
        section: &ProtectionSection,
        policy: &Enforcer,
    ) -> Result<ProtectionRule, ProtectionsError> {
        let pattern = compile(&section.name)?;
        let mut values: [Option<&str>; 4] = [None; 4];
        for (name, value) in &section.options {
            let Some(index) = PropertyOperation::from_name(name).map(slot) else {
                return Err(ProtectionsError::new(
                    &section.name,
                    Some(name),
                    "unknown operation (the operations are create, read, update and delete)",
                ));
            };
            if values[index].replace(value).is_some() {
                return Err(ProtectionsError::new(
                    &section.name,
                    Some(name),
                    "given more than once",
                ));
            }
        }
        let mut permissions: [Permission; 4] = std::array::from_fn(|_| Permission::Nobody);
        for operation in PropertyOperation::ALL {
            let Some(value) = values[slot(operation)] else {
                return Err(ProtectionsError::new(
                    &section.name,
                    Some(operation.as_str()),
                    "missing (every section must give create, read, update and delete)",
                ));
            };
            permissions[slot(operation)] =
                self.permission(&section.name, operation, value, policy)?;
        }
        Ok(ProtectionRule {
            section: section.name.clone(),
            pattern,
            permissions,
        })
    }

    fn permission(
        &mut self,
        section: &str,
        operation: PropertyOperation,
        value: &str,
        policy: &Enforcer,
    ) -> Result<Permission, ProtectionsError> {
        let value = value.trim();
        let op = operation.as_str();
        if value.is_empty() {
            self.warnings.push(format!(
                "property protection [{section}] {op} is empty: no one may {op} these properties"
            ));
            return Ok(Permission::Nobody);
        }
        match self.format {
            RuleFormat::Roles => roles_permission(section, op, value),
            RuleFormat::Policies => policy_permission(section, op, value, policy),
        }
    }
}

fn compile(section: &str) -> Result<Regex, ProtectionsError> {
    Regex::new(section).map_err(|error| {
        let text = error.to_string();
        // The syntax error ends with one line saying what is wrong.
        let reason = text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(&text)
            .to_owned();
        ProtectionsError::new(
            section,
            None,
            format!("the section name is not a valid regular expression: {reason}"),
        )
    })
}

fn roles_permission(section: &str, op: &str, value: &str) -> Result<Permission, ProtectionsError> {
    let roles: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|role| !role.is_empty())
        .map(str::to_lowercase)
        .collect();
    let anyone = roles.iter().any(|role| role == "@");
    let nobody = roles.iter().any(|role| role == "!");
    match (anyone, nobody) {
        (true, true) => Err(ProtectionsError::new(
            section,
            Some(op),
            "'@' (anyone) and '!' (no one) cannot be combined",
        )),
        (false, true) => Ok(Permission::Nobody),
        (true, false) => Ok(Permission::Anyone),
        (false, false) => Ok(Permission::Roles(roles)),
    }
}

fn policy_permission(
    section: &str,
    op: &str,
    value: &str,
    policy: &Enforcer,
) -> Result<Permission, ProtectionsError> {
    match value {
        "@" => return Ok(Permission::Anyone),
        "!" => return Ok(Permission::Nobody),
        _ => {}
    }
    if value.contains(',') {
        return Err(ProtectionsError::new(
            section,
            Some(op),
            format!(
                "'{value}' names more than one policy rule; name one rule and combine rules \
                 in the policy file"
            ),
        ));
    }
    if policy.entry(value).is_none() {
        return Err(ProtectionsError::new(
            section,
            Some(op),
            format!("there is no policy rule named '{value}'"),
        ));
    }
    Ok(Permission::Policy(Rule::RuleRef(value.to_owned())))
}

/// The protections as they apply to one caller during one request. Each
/// decision is remembered, so a list of many images decides every property
/// name once.
#[derive(Debug)]
pub struct CallerAccess<'a> {
    protections: &'a PropertyProtections,
    creds: &'a Credentials,
    policy: &'a Enforcer,
    decided: RefCell<HashMap<String, [Option<bool>; 4]>>,
}

impl<'a> CallerAccess<'a> {
    pub fn new(
        protections: &'a PropertyProtections,
        creds: &'a Credentials,
        policy: &'a Enforcer,
    ) -> Self {
        CallerAccess {
            protections,
            creds,
            policy,
            decided: RefCell::new(HashMap::new()),
        }
    }

    /// Drops the additional properties the caller may not read, for a view.
    pub fn hide_unreadable(&self, image: &mut Image) {
        image
            .properties
            .retain(|name, _| self.allows(name, PropertyOperation::Read));
    }
}

impl PropertyAccess for CallerAccess<'_> {
    fn allows(&self, property: &str, operation: PropertyOperation) -> bool {
        let index = slot(operation);
        if let Some(known) = self
            .decided
            .borrow()
            .get(property)
            .and_then(|slots| slots[index])
        {
            return known;
        }
        let allowed = self
            .protections
            .allows(property, operation, self.creds, self.policy);
        self.decided
            .borrow_mut()
            .entry(property.to_owned())
            .or_default()[index] = Some(allowed);
        allowed
    }
}

#[cfg(test)]
mod tests;
