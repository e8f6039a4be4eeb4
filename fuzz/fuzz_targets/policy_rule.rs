//! Any text either fails to parse as a policy rule or prints to canonical
//! text that parses back to the same rule; evaluation never panics or loops.

#![no_main]

use glint_policy::{Credentials, Enforcer, NoRemote, Target, parse_rule};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|text: &str| {
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

    let creds = Credentials {
        user_id: Some("u1".to_owned()),
        ..Credentials::default()
    }
    .with_roles(["member", "reader"])
    .with_project("p1");
    let target: Target = [
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
    .collect();
    let mut enforcer = Enforcer::with_glance_defaults();
    let direct = enforcer.check(&rule, &target, &creds, &NoRemote);
    enforcer.set_rule("fuzzed", rule);
    let named = enforcer.enforce("fuzzed", &target, &creds, &NoRemote);
    // A self-reference makes the named decision a denial.
    assert!(direct || !named);
});
