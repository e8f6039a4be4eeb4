//! Named rules and their evaluation.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use crate::check::{self, Credentials, KnownRemote, RemoteCheck, RemoteQuery, Target};
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

/// The outcome of [`Enforcer::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
    /// The outcome depends on `http:` checks whose answers are not known
    /// yet; ask them, then decide again.
    Pending(Vec<RemoteQuery>),
}

/// The target keys the rules of an enforcer may read, for callers that
/// build targets: a key no rule reads need not be in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKeys {
    /// An `http:` check, sent the whole target, is among the rules.
    All,
    /// Only these keys.
    Only(BTreeSet<String>),
}

impl TargetKeys {
    /// Whether a target should hold `key`.
    pub fn wants(&self, key: &str) -> bool {
        match self {
            TargetKeys::All => true,
            TargetKeys::Only(keys) => keys.contains(key),
        }
    }
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
        self.decide_with(rule_name, target, creds, Remotes::Ask(remote))
            .unwrap_or(false)
    }

    /// Decides like [`Enforcer::enforce`] without calling out: `http:`
    /// checks are answered from `known`, and when the outcome depends on one
    /// that is not known yet, the checks to ask are returned instead. Checks
    /// that cannot change the outcome (`role:admin or http:…` for an admin)
    /// are never requested. The caller asks them however suits it
    /// (asynchronously, once per request) and decides again.
    pub fn decide(
        &self,
        rule_name: &str,
        target: &Target,
        creds: &Credentials,
        known: &dyn KnownRemote,
    ) -> Decision {
        let pending = RefCell::new(Vec::new());
        match self.decide_with(rule_name, target, creds, Remotes::Known(known, &pending)) {
            Some(true) => Decision::Allowed,
            Some(false) => Decision::Denied,
            None => {
                let mut queries = pending.into_inner();
                queries.dedup();
                Decision::Pending(queries)
            }
        }
    }

    fn decide_with(
        &self,
        rule_name: &str,
        target: &Target,
        creds: &Credentials,
        remote: Remotes<'_>,
    ) -> Option<bool> {
        let (name, entry) = match self.rules.get_key_value(rule_name) {
            Some(found) => found,
            None => match self.rules.get_key_value(DEFAULT_RULE) {
                Some(found) => found,
                None => return Some(false),
            },
        };
        let scope = creds.token_scope();
        if !entry.scope_types.is_empty() && !entry.scope_types.contains(&scope) {
            return Some(false);
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
        self.evaluation(None, target, creds, Remotes::Ask(remote))
            .decide(rule, None)
            .unwrap_or(false)
    }

    /// All rules in effect, by name.
    pub fn rules(&self) -> impl Iterator<Item = (&str, &Rule)> {
        self.rules
            .iter()
            .map(|(name, entry)| (name.as_str(), &entry.rule))
    }

    /// The target keys the rules in effect may read.
    pub fn target_keys(&self) -> TargetKeys {
        let mut keys = Vec::new();
        for (_, rule) in self.rules() {
            if !rule.target_keys(&mut keys) {
                return TargetKeys::All;
            }
        }
        TargetKeys::Only(keys.into_iter().map(str::to_string).collect())
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
        remote: Remotes<'a>,
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

/// How `http:` checks are answered during one evaluation.
#[derive(Clone, Copy)]
enum Remotes<'a> {
    /// Asked on the spot; every check has an answer.
    Ask(&'a dyn RemoteCheck),
    /// Answered from what is known; the others are noted as pending and
    /// evaluate as unknown.
    Known(&'a dyn KnownRemote, &'a RefCell<Vec<RemoteQuery>>),
}

/// Evaluates with three values: `Some(true)`, `Some(false)`, and `None`
/// for "depends on a remote check not answered yet" (Kleene logic, so an
/// unknown that cannot change the outcome is ignored). With
/// [`Remotes::Ask`] the result is never `None`, and `and`/`or` stop at the
/// first decisive item, as oslo.policy does.
struct Evaluation<'a> {
    rules: &'a BTreeMap<String, RuleEntry>,
    /// The rule named in the request, passed on to remote checks.
    enforced: Option<&'a str>,
    target: &'a Target,
    creds: &'a Credentials,
    remote: Remotes<'a>,
    /// Set on a circular or overlong reference chain; the whole decision is
    /// then a denial, whatever `not` would make of the broken branch.
    broken: Cell<bool>,
}

impl Evaluation<'_> {
    fn decide(&self, rule: &Rule, frame: Option<&Frame<'_>>) -> Option<bool> {
        let allowed = self.eval(rule, frame);
        if self.broken.get() {
            return Some(false);
        }
        allowed
    }

    fn eval(&self, rule: &Rule, frame: Option<&Frame<'_>>) -> Option<bool> {
        match rule {
            Rule::Always => Some(true),
            Rule::Never => Some(false),
            Rule::Role(name) => Some(check::role_matches(name, self.target, self.creds)),
            Rule::Generic { left, right } => {
                Some(check::generic_matches(left, right, self.target, self.creds))
            }
            Rule::Http(url) => self.eval_remote(url),
            Rule::And(items) => self.all(items, frame),
            Rule::Or(items) => self.any(items, frame),
            Rule::Not(inner) => self.eval(inner, frame).map(|allowed| !allowed),
            Rule::RuleRef(name) => self.eval_reference(name, frame),
        }
    }

    fn all(&self, items: &[Rule], frame: Option<&Frame<'_>>) -> Option<bool> {
        let mut unknown = false;
        for item in items {
            match self.eval(item, frame) {
                Some(false) => return Some(false),
                Some(true) => {}
                None => unknown = true,
            }
        }
        (!unknown).then_some(true)
    }

    fn any(&self, items: &[Rule], frame: Option<&Frame<'_>>) -> Option<bool> {
        let mut unknown = false;
        for item in items {
            match self.eval(item, frame) {
                Some(true) => return Some(true),
                Some(false) => {}
                None => unknown = true,
            }
        }
        (!unknown).then_some(false)
    }

    fn eval_remote(&self, url: &str) -> Option<bool> {
        match self.remote {
            Remotes::Ask(remote) => Some(check::remote_matches(
                self.enforced,
                url,
                self.target,
                self.creds,
                remote,
            )),
            Remotes::Known(known, pending) => {
                // A URL whose template cannot be filled never reaches a
                // remote service: the check is false, as when asked.
                let Some(url) = check::remote_url(url, self.target) else {
                    return Some(false);
                };
                let verdict = known.verdict(self.enforced, &url);
                if verdict.is_none() {
                    pending.borrow_mut().push(RemoteQuery {
                        rule: self.enforced.map(str::to_owned),
                        url: url.into_owned(),
                    });
                }
                verdict
            }
        }
    }

    fn eval_reference(&self, name: &str, frame: Option<&Frame<'_>>) -> Option<bool> {
        let Some(entry) = self.rules.get(name) else {
            return Some(false);
        };
        let depth = frame.map_or(1, |f| f.depth + 1);
        if depth > MAX_REFERENCE_DEPTH || frame.is_some_and(|f| f.contains(name)) {
            self.broken.set(true);
            return Some(false);
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
