//! The oslo.policy rule language and operator policy files.

use std::sync::LazyLock;

use glint_policy::{Credentials, Enforcer, NoRemote, Target, parse_rule};
use serde_json::json;

static CREDENTIALS: LazyLock<Credentials> = LazyLock::new(|| {
    Credentials {
        user_id: Some("u1".to_owned()),
        ..Credentials::default()
    }
    .with_roles(["member", "reader"])
    .with_project("p1")
});

static TARGET: LazyLock<Target> = LazyLock::new(|| {
    [
        ("project_id", json!("p1")),
        ("visibility", json!("shared")),
        ("member_id", json!(null)),
        (
            "target",
            json!({"image": {"owner": "p1", "tags": ["a", 1]}}),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
});

/// Any text either fails to parse as a policy rule or prints to canonical
/// text that parses back to the same rule; evaluation never panics or loops.
pub fn policy_rule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rule) = parse_rule(text) else {
        return;
    };
    let canonical = rule.to_string();
    let reparsed = parse_rule(&canonical).expect("canonical text must parse");
    assert_eq!(
        reparsed, rule,
        "canonical text {canonical:?} changed the rule"
    );
    assert_eq!(reparsed.to_string(), canonical);

    let mut enforcer = Enforcer::with_glance_defaults();
    let direct = enforcer.check(&rule, &TARGET, &CREDENTIALS, &NoRemote);
    enforcer.set_rule("fuzzed", rule);
    let named = enforcer.enforce("fuzzed", &TARGET, &CREDENTIALS, &NoRemote);
    // A self-reference makes the named decision a denial.
    assert!(direct || !named);
}

/// Any text, read as a YAML and as a JSON policy file (`policy.yaml`,
/// `policy.json`), either is refused with a short error and changes no
/// rule, or is applied; every Glance rule can then be decided without a
/// panic or a loop, however the file's rules refer to each other.
pub fn policy_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for path in ["policy.yaml", "policy.json"] {
        let mut enforcer = Enforcer::with_glance_defaults();
        match enforcer.load_overrides(text, path) {
            Ok(()) => {
                for name in ["get_image", "add_image", "modify_image", "publicize_image"] {
                    let _ = enforcer.enforce(name, &TARGET, &CREDENTIALS, &NoRemote);
                }
            }
            Err(e) => {
                // A refused file leaves the defaults in effect.
                let message = e.to_string();
                assert!(message.contains(path), "{message}");
                let defaults = Enforcer::with_glance_defaults();
                for name in ["get_image", "add_image", "publicize_image"] {
                    assert_eq!(
                        enforcer.enforce(name, &TARGET, &CREDENTIALS, &NoRemote),
                        defaults.enforce(name, &TARGET, &CREDENTIALS, &NoRemote),
                        "{name} after {message}"
                    );
                }
                // The message quotes the bad rule, which a file may make
                // long; it stays one file's worth, not more.
                assert!(message.len() <= text.len() + 1000, "{message}");
            }
        }
    }
}
