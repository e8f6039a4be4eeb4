//! What a rule is evaluated against — the caller's credentials, the target
//! and the remote checker — and the evaluation of single checks.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template;

/// Attributes of the object being acted on, e.g. `project_id` (the image
/// owner), `visibility`, `member_id`. Dotted keys in `%(a.b.c)s` are found
/// either as a flat key or by walking nested objects.
pub type Target = BTreeMap<String, Value>;

/// The caller, as far as policy is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Role names, lower-cased.
    pub roles: Vec<String>,
    /// Project the token is scoped to.
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    /// Domain the token is scoped to. Set only for domain-scoped tokens, not
    /// to the domain of the project: it makes the token domain-scoped.
    pub domain_id: Option<String>,
    /// Outcome of `context_is_admin` for this caller; seen by `is_admin:True`.
    pub is_admin: bool,
    /// `all` for a system-scoped token.
    pub system_scope: Option<String>,
    /// Further attributes a generic check may name (`user_domain_id`,
    /// `is_admin_project`, ...).
    pub extra: BTreeMap<String, String>,
}

impl Credentials {
    /// Replaces the roles, lower-casing them.
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.roles = roles
            .into_iter()
            .map(|r| r.as_ref().to_lowercase())
            .collect();
        self
    }

    /// Sets the project the token is scoped to.
    pub fn with_project(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// Whether the caller holds `role`, ignoring case.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| eq_ignore_case(held, role))
    }

    /// Whether the attribute `name` equals `expected`, compared as text.
    /// A list attribute (`roles`) matches when any element does; an unset
    /// attribute never matches.
    fn attribute_matches(&self, name: &str, expected: &str) -> bool {
        let single = match name {
            "project_id" => self.project_id.as_deref(),
            "user_id" => self.user_id.as_deref(),
            "domain_id" => self.domain_id.as_deref(),
            "system_scope" | "system" => self.system_scope.as_deref(),
            "is_admin" => Some(if self.is_admin { "True" } else { "False" }),
            "roles" => return self.roles.iter().any(|r| r == expected),
            other => self.extra.get(other).map(String::as_str),
        };
        single == Some(expected)
    }

    /// The scope of the token, as oslo.policy names it for `scope_types`.
    pub fn token_scope(&self) -> &'static str {
        if self.system_scope.as_deref().is_some_and(|s| !s.is_empty()) {
            "system"
        } else if self.domain_id.as_deref().is_some_and(|d| !d.is_empty()) {
            "domain"
        } else {
            "project"
        }
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

/// Decides `http:` and `https:` checks.
///
/// The URL has had its `%(key)s` substituted; `rule` is the name of the rule
/// being enforced, when there is one. Implementations should post the rule,
/// target and credentials and allow only on a response body of `True`.
pub trait RemoteCheck {
    fn check(&self, rule: Option<&str>, url: &str, target: &Target, creds: &Credentials) -> bool;
}

/// An `http:` check to ask: the rule being enforced (when the decision is
/// about a named rule) and the URL with its `%(key)s` filled in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteQuery {
    pub rule: Option<String>,
    pub url: String,
}

/// The answers to `http:` checks known so far, for
/// [`Enforcer::decide`](crate::Enforcer::decide): `None` for a check not
/// asked yet.
pub trait KnownRemote {
    fn verdict(&self, rule: Option<&str>, url: &str) -> Option<bool>;
}

/// A [`RemoteCheck`] for deployments without remote policy: denies every
/// `http:` check.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRemote;

impl RemoteCheck for NoRemote {
    fn check(
        &self,
        _rule: Option<&str>,
        _url: &str,
        _target: &Target,
        _creds: &Credentials,
    ) -> bool {
        false
    }
}

/// `role:<name>`.
pub(crate) fn role_matches(name: &str, target: &Target, creds: &Credentials) -> bool {
    template::render(name, target).is_some_and(|wanted| creds.has_role(&wanted))
}

/// `<left>:<right>`: both sides compared as text, as oslo does with `str()`.
pub(crate) fn generic_matches(
    left: &str,
    right: &str,
    target: &Target,
    creds: &Credentials,
) -> bool {
    let Some(expected) = right_value(right, target) else {
        return false;
    };
    match left_literal(left) {
        Some(literal) => literal == expected,
        None => creds.attribute_matches(left, &expected),
    }
}

/// `http:<url>` / `https:<url>`.
pub(crate) fn remote_matches(
    rule: Option<&str>,
    url: &str,
    target: &Target,
    creds: &Credentials,
    remote: &dyn RemoteCheck,
) -> bool {
    remote_url(url, target).is_some_and(|url| remote.check(rule, &url, target, creds))
}

/// The URL of an `http:` check with the target's values filled in; `None`
/// when the target lacks one of them (the check is then false).
pub(crate) fn remote_url<'t>(url: &'t str, target: &'t Target) -> Option<Cow<'t, str>> {
    template::render(url, target)
}

/// The right side: a quoted literal, or a template filled from the target.
fn right_value<'t>(right: &'t str, target: &'t Target) -> Option<Cow<'t, str>> {
    match unquote(right) {
        Some(inner) => Some(Cow::Borrowed(inner)),
        None => template::render(right, target),
    }
}

/// The content of `'text'` or `"text"`.
pub(crate) fn unquote(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    text[1..].strip_suffix(quote)
}

/// The left side as a Python literal (quoted string, `True`, `False`,
/// `None` or a number) spelled as `str()` would; `None` when it names a
/// credential attribute instead.
pub(crate) fn left_literal(left: &str) -> Option<Cow<'_, str>> {
    if let Some(inner) = unquote(left) {
        return Some(Cow::Borrowed(inner));
    }
    match left {
        "True" | "False" | "None" => Some(Cow::Borrowed(left)),
        _ => number_literal(left).map(Cow::Owned),
    }
}

fn number_literal(text: &str) -> Option<String> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let first = *digits.as_bytes().first()?;
    if !first.is_ascii_digit() && first != b'.' {
        return None;
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = digits.trim_start_matches('0');
        return Some(match (trimmed.is_empty(), negative) {
            (true, _) => "0".to_owned(),
            (false, true) => format!("-{trimmed}"),
            (false, false) => trimmed.to_owned(),
        });
    }
    let float_chars = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    if !digits.bytes().all(float_chars) {
        return None;
    }
    let value: f64 = digits.parse().ok()?;
    Some(template::py_float(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn creds() -> Credentials {
        Credentials {
            user_id: Some("u1".into()),
            extra: [("user_domain_id".to_owned(), "d9".to_owned())].into(),
            ..Credentials::default()
        }
        .with_roles(["Member", "reader"])
        .with_project("p1")
    }

    fn target() -> Target {
        [
            ("project_id".to_owned(), json!("p1")),
            ("visibility".to_owned(), json!("public")),
            ("enabled".to_owned(), json!(true)),
            ("count".to_owned(), json!(2.0)),
        ]
        .into()
    }

    #[test]
    fn with_roles_lower_cases_and_has_role_ignores_case() {
        let c = creds();
        assert_eq!(c.roles, ["member", "reader"]);
        assert!(c.has_role("MEMBER"));
        assert!(!c.has_role("admin"));
    }

    #[test]
    fn role_template_is_substituted_from_target() {
        let t: Target = [("wanted".to_owned(), json!("Reader"))].into();
        assert!(role_matches("%(wanted)s", &t, &creds()));
        assert!(!role_matches("%(missing)s", &t, &creds()));
    }

    #[test]
    fn generic_compares_credential_attribute_with_target() {
        assert!(generic_matches(
            "project_id",
            "%(project_id)s",
            &target(),
            &creds()
        ));
        assert!(!generic_matches(
            "user_id",
            "%(project_id)s",
            &target(),
            &creds()
        ));
        assert!(generic_matches("user_domain_id", "d9", &target(), &creds()));
        assert!(!generic_matches(
            "project_id",
            "%(absent)s",
            &target(),
            &creds()
        ));
    }

    #[test]
    fn generic_literal_left_compares_with_python_spelling() {
        assert!(generic_matches(
            "'public'",
            "%(visibility)s",
            &target(),
            &creds()
        ));
        assert!(generic_matches(
            "\"public\"",
            "%(visibility)s",
            &target(),
            &creds()
        ));
        assert!(generic_matches("True", "%(enabled)s", &target(), &creds()));
        assert!(generic_matches("2.00", "%(count)s", &target(), &creds()));
        assert!(!generic_matches("2", "%(count)s", &target(), &creds()));
    }

    #[test]
    fn generic_quoted_right_is_a_literal() {
        assert!(generic_matches("project_id", "'p1'", &target(), &creds()));
        assert!(generic_matches("'a'", "'a'", &target(), &creds()));
    }

    #[test]
    fn is_admin_compares_as_python_bool_text() {
        let admin = Credentials {
            is_admin: true,
            ..Credentials::default()
        };
        assert!(generic_matches("is_admin", "True", &target(), &admin));
        assert!(!generic_matches("is_admin", "true", &target(), &admin));
        assert!(generic_matches("is_admin", "False", &target(), &creds()));
    }

    #[test]
    fn roles_attribute_matches_any_element() {
        assert!(generic_matches("roles", "reader", &target(), &creds()));
        assert!(!generic_matches("roles", "admin", &target(), &creds()));
    }

    #[test]
    fn unset_attribute_never_matches() {
        assert!(!generic_matches("domain_id", "None", &target(), &creds()));
    }

    #[test]
    fn number_literals_normalise_like_python() {
        assert_eq!(number_literal("007").as_deref(), Some("7"));
        assert_eq!(number_literal("-0").as_deref(), Some("0"));
        assert_eq!(number_literal("+12").as_deref(), Some("12"));
        assert_eq!(number_literal("1e3").as_deref(), Some("1000.0"));
        assert_eq!(number_literal("-.5").as_deref(), Some("-0.5"));
        assert_eq!(number_literal("1x"), None);
        assert_eq!(number_literal("project_id"), None);
    }

    #[test]
    fn token_scope_prefers_system_then_domain() {
        let mut c = creds();
        assert_eq!(c.token_scope(), "project");
        c.domain_id = Some("d".into());
        assert_eq!(c.token_scope(), "domain");
        c.system_scope = Some("all".into());
        assert_eq!(c.token_scope(), "system");
    }
}
