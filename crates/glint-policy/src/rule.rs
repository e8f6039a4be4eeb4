use std::fmt;

use crate::{check, template};

/// A parsed policy rule.
///
/// The text of each check is kept as written so that [`fmt::Display`] gives
/// back canonical text that parses to the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `@`, `""` or `[]`: always allowed.
    Always,
    /// `!`: never allowed.
    Never,
    /// `role:<name>`; the name may contain `%(key)s` taken from the target.
    Role(String),
    /// `rule:<name>`: the outcome of another named rule.
    RuleRef(String),
    /// `<left>:<right>`: a credential attribute or literal on the left,
    /// a `%(key)s` template or literal on the right.
    Generic { left: String, right: String },
    /// `http:<url>` or `https:<url>` (the whole URL, scheme included),
    /// decided by a [`RemoteCheck`](crate::RemoteCheck).
    Http(String),
    /// All of the rules (an empty list is always true).
    And(Vec<Rule>),
    /// Any of the rules (an empty list is always false).
    Or(Vec<Rule>),
    /// The inverse of the rule.
    Not(Box<Rule>),
}

impl Rule {
    /// Names of the rules this rule refers to with `rule:<name>`.
    pub fn references(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Rule::RuleRef(name) => out.push(name),
            Rule::And(items) | Rule::Or(items) => {
                items.iter().for_each(|r| r.collect_references(out));
            }
            Rule::Not(inner) => inner.collect_references(out),
            _ => {}
        }
    }

    /// Adds to `keys` the target keys this rule may read; `false` when it
    /// may read any (an `http:` check is sent the whole target).
    pub(crate) fn target_keys<'a>(&'a self, keys: &mut Vec<&'a str>) -> bool {
        match self {
            Rule::Role(name) => keys.extend(template::keys(name)),
            Rule::Generic { right, .. } if check::unquote(right).is_none() => {
                keys.extend(template::keys(right));
            }
            Rule::Http(_) => return false,
            Rule::And(items) | Rule::Or(items) => {
                return items.iter().all(|rule| rule.target_keys(keys));
            }
            Rule::Not(inner) => return inner.target_keys(keys),
            Rule::Always | Rule::Never | Rule::RuleRef(_) | Rule::Generic { .. } => {}
        }
        true
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, nested: bool) -> fmt::Result {
        match self {
            Rule::Always => f.write_str("@"),
            Rule::Never => f.write_str("!"),
            Rule::Role(name) => write!(f, "role:{name}"),
            Rule::RuleRef(name) => write!(f, "rule:{name}"),
            Rule::Generic { left, right } => write!(f, "{left}:{right}"),
            Rule::Http(url) => f.write_str(url),
            Rule::And(items) => write_joined(f, items, "and", nested),
            Rule::Or(items) => write_joined(f, items, "or", nested),
            Rule::Not(inner) => {
                f.write_str("not ")?;
                inner.write(f, true)
            }
        }
    }
}

/// Compound operands are parenthesised whenever they are nested, so the
/// printed text never depends on operator precedence.
fn write_joined(f: &mut fmt::Formatter<'_>, items: &[Rule], op: &str, nested: bool) -> fmt::Result {
    match items {
        [] if op == "and" => f.write_str("@"),
        [] => f.write_str("!"),
        [only] => only.write(f, nested),
        [first, rest @ ..] => {
            if nested {
                f.write_str("(")?;
            }
            first.write(f, true)?;
            for item in rest {
                write!(f, " {op} ")?;
                item.write(f, true)?;
            }
            if nested {
                f.write_str(")")?;
            }
            Ok(())
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}
