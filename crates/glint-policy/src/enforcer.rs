//! Named rules and their evaluation.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use crate::check::{self, Credentials, RemoteCheck, Target};
use crate::defaults::{GLANCE_DEFAULTS, RuleDefault};
use crate::{PolicyError, Rule, overrides, parse_rule};

/// Longest chain of `rule:` references followed before giving up (and
/// denying).
const MAX_REFERENCE_DEPTH: usize = 32;

/// Rule consulted for names that are not defined.
const DEFAULT_RULE: &str = "default";

/// A named rule as the enforcer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleEntry {
    pub rule: Rule,
    /// Description of the registered default, if the rule has one.
    pub description: Option<&'static str>,
    /// Token scopes of the registered default; empty means any.
    pub scope_types: &'static [&'static str],
    /// Whether an operator file replaced the registered default.
    pub overridden: bool,
}

/// Holds named rules and decides requests against them.
#[derive(Debug, Clone, Default)]
pub struct Enforcer {
    rules: BTreeMap<String, RuleEntry>,
}

impl Enforcer {
    /// An enforcer without any rule: every decision is a denial.
    pub fn new() -> Self {
        Self::default()
    }

    /// An enforcer holding all of Glance's default rules.
    pub fn with_glance_defaults() -> Self {
        let mut enforcer = Self::new();
        for default in GLANCE_DEFAULTS {
            enforcer.register_default(default);
        }
        enforcer
    }

    /// Registers a rule defined in code. A check string that does not parse
    /// is registered as "never", failing closed.
    pub fn register_default(&mut self, default: &RuleDefault) {
        let entry = RuleEntry {
            rule: parse_rule(default.check_str).unwrap_or(Rule::Never),
            description: Some(default.description),
            scope_types: default.scope_types,
            overridden: false,
        };
        self.rules.insert(default.name.to_owned(), entry);
    }

    /// Replaces (or adds) one rule, keeping the description and scope of a
    /// registered default of that name.
    pub fn set_rule(&mut self, name: &str, rule: Rule) {
        match self.rules.get_mut(name) {
            Some(entry) => {
                entry.rule = rule;
                entry.overridden = true;
            }
            None => {
                let entry = RuleEntry {
                    rule,
                    description: None,
                    scope_types: &[],
                    overridden: true,
                };
                self.rules.insert(name.to_owned(), entry);
            }
        }
    }

    /// Applies an operator policy file: a YAML (or JSON) mapping of rule names
    /// to check strings. Each named rule replaces the one in effect; other
    /// rules stay. If any rule is malformed nothing is applied and the error
    /// names that rule. `path_hint` is used in errors, and a `.json` suffix
    /// selects the JSON reader.
    pub fn load_overrides(&mut self, text: &str, path_hint: &str) -> Result<(), PolicyError> {
        for (name, rule) in overrides::parse_policy_file(text, path_hint)? {
            self.set_rule(&name, rule);
        }
        Ok(())
    }

    /// Decides whether the named rule allows the request. An undefined name
    /// is decided by the `default` rule. A rule registered with scope types
    /// denies tokens of any other scope.
    pub fn enforce(
        &self,
        rule_name: &str,
        target: &Target,
        creds: &Credentials,
        remote: &dyn RemoteCheck,
    ) -> bool {
        let (name, entry) = match self.rules.get_key_value(rule_name) {
            Some(found) => found,
            None => match self.rules.get_key_value(DEFAULT_RULE) {
                Some(found) => found,
                None => return false,
            },
        };
        let scope = creds.token_scope();
        if !entry.scope_types.is_empty() && !entry.scope_types.contains(&scope) {
            return false;
        }
        let frame = Frame {
            name,
            parent: None,
            depth: 1,
        };
        self.evaluation(Some(name), target, creds, remote)
            .decide(&entry.rule, Some(&frame))
    }

    /// Decides an unnamed rule against the rules held here (no scope check).
    pub fn check(
        &self,
        rule: &Rule,
        target: &Target,
        creds: &Credentials,
        remote: &dyn RemoteCheck,
    ) -> bool {
        self.evaluation(None, target, creds, remote)
            .decide(rule, None)
    }

    /// All rules in effect, by name.
    pub fn rules(&self) -> impl Iterator<Item = (&str, &Rule)> {
        self.rules
            .iter()
            .map(|(name, entry)| (name.as_str(), &entry.rule))
    }

    /// All rules in effect with their metadata, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &RuleEntry)> {
        self.rules
            .iter()
            .map(|(name, entry)| (name.as_str(), entry))
    }

    /// One rule with its metadata.
    pub fn entry(&self, name: &str) -> Option<&RuleEntry> {
        self.rules.get(name)
    }

    /// Problems an operator should hear about: references to undefined rules
    /// (always false) and circular references (always denied).
    pub fn check_rules(&self) -> Vec<PolicyError> {
        let mut problems = Vec::new();
        for (name, entry) in &self.rules {
            let references: BTreeSet<&str> = entry.rule.references().into_iter().collect();
            for reference in references {
                if !self.rules.contains_key(reference) {
                    problems.push(PolicyError::UndefinedReference {
                        rule: name.clone(),
                        reference: reference.to_owned(),
                    });
                }
            }
            if self.reaches_itself(name) {
                problems.push(PolicyError::CircularReference { rule: name.clone() });
            }
        }
        problems
    }

    fn reaches_itself(&self, start: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<&str> = self
            .rules
            .get(start)
            .map(|e| e.rule.references())
            .unwrap_or_default();
        while let Some(name) = pending.pop() {
            if name == start {
                return true;
            }
            if seen.insert(name)
                && let Some(entry) = self.rules.get(name)
            {
                pending.extend(entry.rule.references());
            }
        }
        false
    }

    fn evaluation<'a>(
        &'a self,
        enforced: Option<&'a str>,
        target: &'a Target,
        creds: &'a Credentials,
        remote: &'a dyn RemoteCheck,
    ) -> Evaluation<'a> {
        Evaluation {
            rules: &self.rules,
            enforced,
            target,
            creds,
            remote,
            broken: Cell::new(false),
        }
    }
}

/// One named rule being evaluated; the chain of frames is the path of
/// `rule:` references, kept on the call stack so evaluation does not allocate.
struct Frame<'f> {
    name: &'f str,
    parent: Option<&'f Frame<'f>>,
    depth: usize,
}

impl Frame<'_> {
    fn contains(&self, name: &str) -> bool {
        let mut frame = Some(self);
        while let Some(current) = frame {
            if current.name == name {
                return true;
            }
            frame = current.parent;
        }
        false
    }
}

struct Evaluation<'a> {
    rules: &'a BTreeMap<String, RuleEntry>,
    /// The rule named in the request, passed on to remote checks.
    enforced: Option<&'a str>,
    target: &'a Target,
    creds: &'a Credentials,
    remote: &'a dyn RemoteCheck,
    /// Set on a circular or overlong reference chain; the whole decision is
    /// then a denial, whatever `not` would make of the broken branch.
    broken: Cell<bool>,
}

impl Evaluation<'_> {
    fn decide(&self, rule: &Rule, frame: Option<&Frame<'_>>) -> bool {
        let allowed = self.eval(rule, frame);
        allowed && !self.broken.get()
    }

    fn eval(&self, rule: &Rule, frame: Option<&Frame<'_>>) -> bool {
        match rule {
            Rule::Always => true,
            Rule::Never => false,
            Rule::Role(name) => check::role_matches(name, self.target, self.creds),
            Rule::Generic { left, right } => {
                check::generic_matches(left, right, self.target, self.creds)
            }
            Rule::Http(url) => {
                check::remote_matches(self.enforced, url, self.target, self.creds, self.remote)
            }
            Rule::And(items) => items.iter().all(|item| self.eval(item, frame)),
            Rule::Or(items) => items.iter().any(|item| self.eval(item, frame)),
            Rule::Not(inner) => !self.eval(inner, frame),
            Rule::RuleRef(name) => self.eval_reference(name, frame),
        }
    }

    fn eval_reference(&self, name: &str, frame: Option<&Frame<'_>>) -> bool {
        let Some(entry) = self.rules.get(name) else {
            return false;
        };
        let depth = frame.map_or(1, |f| f.depth + 1);
        if depth > MAX_REFERENCE_DEPTH || frame.is_some_and(|f| f.contains(name)) {
            self.broken.set(true);
            return false;
        }
        let next = Frame {
            name,
            parent: frame,
            depth,
        };
        self.eval(&entry.rule, Some(&next))
    }
}

#[cfg(test)]
#[path = "enforcer_tests.rs"]
mod tests;
