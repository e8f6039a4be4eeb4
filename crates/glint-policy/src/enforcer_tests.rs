use std::cell::RefCell;

use serde_json::json;

use super::*;
use crate::NoRemote;

fn enforcer(rules: &[(&str, &str)]) -> Enforcer {
    let mut enforcer = Enforcer::new();
    for (name, text) in rules {
        enforcer.set_rule(name, parse_rule(text).unwrap());
    }
    enforcer
}

fn member_of(project: &str) -> Credentials {
    Credentials::default()
        .with_roles(["member", "reader"])
        .with_project(project)
}

fn target(pairs: &[(&str, &str)]) -> Target {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

#[test]
fn unknown_rule_name_falls_back_to_default() {
    let allow = enforcer(&[("default", "@")]);
    assert!(allow.enforce("no_such_rule", &Target::new(), &member_of("p"), &NoRemote));
    let deny = enforcer(&[("default", "!")]);
    assert!(!deny.enforce("no_such_rule", &Target::new(), &member_of("p"), &NoRemote));
}

#[test]
fn empty_enforcer_denies_everything() {
    assert!(!Enforcer::new().enforce("default", &Target::new(), &member_of("p"), &NoRemote));
}

#[test]
fn undefined_rule_reference_is_false() {
    let e = enforcer(&[
        ("a", "rule:missing"),
        ("b", "not rule:missing"),
        ("default", "@"),
    ]);
    assert!(!e.enforce("a", &Target::new(), &member_of("p"), &NoRemote));
    assert!(e.enforce("b", &Target::new(), &member_of("p"), &NoRemote));
}

#[test]
fn rule_reference_evaluates_named_rule() {
    let e = enforcer(&[("admin", "role:admin"), ("a", "rule:admin or role:member")]);
    assert!(e.enforce("a", &Target::new(), &member_of("p"), &NoRemote));
    let reader = Credentials::default().with_roles(["reader"]);
    assert!(!e.enforce("a", &Target::new(), &reader, &NoRemote));
}

#[test]
fn circular_references_deny_instead_of_recursing() {
    let e = enforcer(&[
        ("a", "rule:b"),
        ("b", "rule:a"),
        ("self", "rule:self or rule:self"),
        ("negated", "not rule:negated"),
        ("escape", "role:member or rule:escape"),
    ]);
    let creds = member_of("p");
    for name in ["a", "b", "self", "negated"] {
        assert!(
            !e.enforce(name, &Target::new(), &creds, &NoRemote),
            "{name}"
        );
    }
    assert!(e.enforce("escape", &Target::new(), &creds, &NoRemote));
}

#[test]
fn overlong_reference_chain_is_denied() {
    let mut rules: Vec<(String, String)> = (0..40)
        .map(|i| (format!("r{i}"), format!("rule:r{}", i + 1)))
        .collect();
    rules.push(("r40".into(), "@".into()));
    let mut e = Enforcer::new();
    for (name, text) in &rules {
        e.set_rule(name, parse_rule(text).unwrap());
    }
    assert!(!e.enforce("r0", &Target::new(), &member_of("p"), &NoRemote));
    assert!(e.enforce("r20", &Target::new(), &member_of("p"), &NoRemote));
}

#[test]
fn check_rules_reports_undefined_and_circular_references() {
    let e = enforcer(&[
        ("a", "rule:b"),
        ("b", "rule:a"),
        ("c", "rule:nope"),
        ("d", "rule:a"),
    ]);
    let problems = e.check_rules();
    assert!(problems.contains(&PolicyError::CircularReference { rule: "a".into() }));
    assert!(problems.contains(&PolicyError::CircularReference { rule: "b".into() }));
    assert!(!problems.contains(&PolicyError::CircularReference { rule: "d".into() }));
    assert!(problems.contains(&PolicyError::UndefinedReference {
        rule: "c".into(),
        reference: "nope".into()
    }));
    assert!(Enforcer::with_glance_defaults().check_rules().is_empty());
}

#[test]
fn generic_check_compares_target_and_credentials() {
    let e = enforcer(&[
        ("owner", "project_id:%(project_id)s"),
        ("admin", "is_admin:True"),
    ]);
    let creds = member_of("p1");
    assert!(e.enforce("owner", &target(&[("project_id", "p1")]), &creds, &NoRemote));
    assert!(!e.enforce("owner", &target(&[("project_id", "p2")]), &creds, &NoRemote));
    assert!(!e.enforce("owner", &Target::new(), &creds, &NoRemote));
    assert!(!e.enforce("admin", &Target::new(), &creds, &NoRemote));
    let admin = Credentials {
        is_admin: true,
        ..creds
    };
    assert!(e.enforce("admin", &Target::new(), &admin, &NoRemote));
}

#[test]
fn role_check_ignores_case_and_substitutes_target() {
    let e = enforcer(&[("a", "role:MEMBER"), ("b", "role:%(needed)s")]);
    let creds = member_of("p");
    assert!(e.enforce("a", &Target::new(), &creds, &NoRemote));
    assert!(e.enforce("b", &target(&[("needed", "Reader")]), &creds, &NoRemote));
    assert!(!e.enforce("b", &target(&[("needed", "admin")]), &creds, &NoRemote));
    assert!(!e.enforce("b", &Target::new(), &creds, &NoRemote));
}

#[test]
fn dotted_target_keys_reach_nested_objects() {
    let e = enforcer(&[("a", "user_id:%(target.image.owner)s")]);
    let creds = Credentials {
        user_id: Some("u1".into()),
        ..Credentials::default()
    };
    let nested: Target = [("target".to_owned(), json!({"image": {"owner": "u1"}}))].into();
    assert!(e.enforce("a", &nested, &creds, &NoRemote));
    let flat: Target = [("target.image.owner".to_owned(), json!("u1"))].into();
    assert!(e.enforce("a", &flat, &creds, &NoRemote));
}

struct RecordingRemote {
    answer: bool,
    seen: RefCell<Vec<String>>,
}

impl RemoteCheck for RecordingRemote {
    fn check(&self, rule: Option<&str>, url: &str, _target: &Target, _creds: &Credentials) -> bool {
        self.seen
            .borrow_mut()
            .push(format!("{} {url}", rule.unwrap_or("-")));
        self.answer
    }
}

#[test]
fn http_check_asks_remote_with_substituted_url() {
    let e = enforcer(&[("a", "https://policy.example/%(id)s")]);
    let remote = RecordingRemote {
        answer: true,
        seen: RefCell::default(),
    };
    assert!(e.enforce("a", &target(&[("id", "i1")]), &member_of("p"), &remote));
    assert_eq!(*remote.seen.borrow(), ["a https://policy.example/i1"]);
    assert!(!e.enforce("a", &target(&[("id", "i1")]), &member_of("p"), &NoRemote));
    assert!(!e.enforce("a", &Target::new(), &member_of("p"), &remote));
    assert_eq!(
        remote.seen.borrow().len(),
        1,
        "missing key must not reach the remote"
    );
}

#[test]
fn check_evaluates_unnamed_rule_against_held_rules() {
    let e = enforcer(&[("admin", "role:admin")]);
    let rule = parse_rule("rule:admin or role:member").unwrap();
    assert!(e.check(&rule, &Target::new(), &member_of("p"), &NoRemote));
}

#[test]
fn glance_defaults_deny_system_and_domain_scoped_tokens() {
    let e = Enforcer::with_glance_defaults();
    let mut admin = Credentials::default().with_roles(["admin"]);
    assert!(e.enforce("publicize_image", &Target::new(), &admin, &NoRemote));
    admin.system_scope = Some("all".into());
    assert!(!e.enforce("publicize_image", &Target::new(), &admin, &NoRemote));
    admin.system_scope = None;
    admin.domain_id = Some("d1".into());
    assert!(!e.enforce("publicize_image", &Target::new(), &admin, &NoRemote));
    assert!(
        e.enforce("context_is_admin", &Target::new(), &admin, &NoRemote),
        "base rules have no scope"
    );
}

#[test]
fn load_overrides_replaces_rule_by_rule_and_keeps_metadata() {
    let mut e = Enforcer::with_glance_defaults();
    e.load_overrides(
        "publicize_image: \"role:member\"\ncustom: \"role:x\"\n",
        "p.yaml",
    )
    .unwrap();
    let entry = e.entry("publicize_image").unwrap();
    assert!(entry.overridden);
    assert_eq!(entry.scope_types, ["project"]);
    assert!(entry.description.is_some());
    assert!(e.enforce(
        "publicize_image",
        &Target::new(),
        &member_of("p"),
        &NoRemote
    ));
    assert!(!e.entry("get_image").unwrap().overridden);
    assert_eq!(e.entry("custom").unwrap().rule, Rule::Role("x".into()));
}

#[test]
fn load_overrides_from_json_with_list_form() {
    let mut e = Enforcer::with_glance_defaults();
    let text = r#"{"publicize_image": [["role:member", "role:reader"], ["role:admin"]]}"#;
    e.load_overrides(text, "/etc/glance/policy.json").unwrap();
    assert!(e.enforce(
        "publicize_image",
        &Target::new(),
        &member_of("p"),
        &NoRemote
    ));
}

#[test]
fn malformed_override_file_applies_nothing() {
    let mut e = Enforcer::with_glance_defaults();
    let err = e
        .load_overrides(
            "publicize_image: \"@\"\nget_image: \"role:\"\n",
            "/etc/glance/policy.yaml",
        )
        .unwrap_err();
    assert!(err.to_string().contains("get_image"), "{err}");
    assert!(!e.entry("publicize_image").unwrap().overridden);
}

#[test]
fn rules_lists_every_glance_default_once() {
    let e = Enforcer::with_glance_defaults();
    assert_eq!(e.rules().count(), GLANCE_DEFAULTS.len());
    let (name, rule) = e.rules().find(|(n, _)| *n == "service_api").unwrap();
    assert_eq!(
        (name, rule.to_string().as_str()),
        ("service_api", "role:service or role:admin")
    );
}

#[test]
fn http_check_is_told_the_enforced_rule_not_the_referenced_one() {
    let e = enforcer(&[("a", "http://policy.example/check"), ("b", "rule:a")]);
    let remote = RecordingRemote {
        answer: false,
        seen: RefCell::default(),
    };
    assert!(!e.enforce("b", &Target::new(), &member_of("p"), &remote));
    let anonymous = parse_rule("http://policy.example/check").unwrap();
    assert!(!e.check(&anonymous, &Target::new(), &member_of("p"), &remote));
    assert_eq!(
        *remote.seen.borrow(),
        [
            "b http://policy.example/check",
            "- http://policy.example/check"
        ]
    );
}

/// Remote answers known so far, by URL.
struct Known(Vec<(&'static str, bool)>);

impl KnownRemote for Known {
    fn verdict(&self, _rule: Option<&str>, url: &str) -> Option<bool> {
        self.0.iter().find(|(u, _)| *u == url).map(|(_, v)| *v)
    }
}

fn pending(rule: &str, urls: &[&str]) -> Decision {
    Decision::Pending(
        urls.iter()
            .map(|url| RemoteQuery {
                rule: Some(rule.to_owned()),
                url: (*url).to_owned(),
            })
            .collect(),
    )
}

#[test]
fn decide_asks_only_the_remote_checks_that_can_change_the_outcome() {
    let e = enforcer(&[("a", "role:admin or http://p/%(id)s")]);
    let t = target(&[("id", "i1")]);
    let admin = Credentials::default().with_roles(["admin"]);
    assert_eq!(e.decide("a", &t, &admin, &Known(vec![])), Decision::Allowed);
    assert_eq!(
        e.decide("a", &t, &member_of("p"), &Known(vec![])),
        pending("a", &["http://p/i1"])
    );
    let answered = |v| Known(vec![("http://p/i1", v)]);
    assert_eq!(
        e.decide("a", &t, &member_of("p"), &answered(true)),
        Decision::Allowed
    );
    assert_eq!(
        e.decide("a", &t, &member_of("p"), &answered(false)),
        Decision::Denied
    );
}

#[test]
fn decide_uses_three_valued_logic_through_not_and_references() {
    let e = enforcer(&[
        ("remote", "http://p/x"),
        ("a", "role:member and not rule:remote"),
        ("b", "role:reader and rule:remote"),
        ("c", "http://p/x and http://p/y"),
    ]);
    let member = member_of("p");
    assert_eq!(
        e.decide("a", &Target::new(), &member, &Known(vec![])),
        pending("a", &["http://p/x"])
    );
    // `role:reader` is false for this caller: the remote cannot matter.
    assert_eq!(
        e.decide("b", &Target::new(), &Credentials::default(), &Known(vec![])),
        Decision::Denied
    );
    assert_eq!(
        e.decide("c", &Target::new(), &member, &Known(vec![])),
        pending("c", &["http://p/x", "http://p/y"])
    );
    // One known false decides the conjunction without the other.
    assert_eq!(
        e.decide(
            "c",
            &Target::new(),
            &member,
            &Known(vec![("http://p/x", false)])
        ),
        Decision::Denied
    );
    assert_eq!(
        e.decide(
            "a",
            &Target::new(),
            &member,
            &Known(vec![("http://p/x", false)])
        ),
        Decision::Allowed
    );
}

#[test]
fn decide_denies_an_unfillable_remote_url_without_asking() {
    let e = enforcer(&[("a", "http://p/%(missing)s")]);
    assert_eq!(
        e.decide("a", &Target::new(), &member_of("p"), &Known(vec![])),
        Decision::Denied
    );
}

#[test]
fn target_keys_are_the_keys_the_rules_read() {
    let glance = Enforcer::with_glance_defaults().target_keys();
    for key in ["project_id", "member_id", "visibility", "owner"] {
        assert!(glance.wants(key), "{key}");
    }
    assert!(!glance.wants("os_distro"));
    assert!(!glance.wants("name"));

    let keys = enforcer(&[
        ("a", "role:admin_%(owner)s or 'x':%(os_distro)s"),
        ("b", "not project_id:%(target.image.project_id)s"),
        ("c", "'%(literal)s':%%(escaped)s and rule:a"),
        ("d", "user_id:'quoted_%(not_a_key)s'"),
    ])
    .target_keys();
    let TargetKeys::Only(keys) = keys else {
        panic!("no http: check, yet every key");
    };
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "os_distro",
            "owner",
            "target",
            "target.image",
            "target.image.project_id"
        ]
    );

    let remote = enforcer(&[
        ("a", "role:reader"),
        ("b", "role:x or http://policy/%(id)s"),
    ]);
    assert_eq!(remote.target_keys(), TargetKeys::All);
    assert!(remote.target_keys().wants("anything"));
}

#[test]
fn a_rule_reads_the_same_from_a_target_of_only_its_keys() {
    let rules = enforcer(&[(
        "get",
        "project_id:%(owner)s or ('cirros':%(os_distro)s and project_id:%(target.project)s)",
    )]);
    let full: Target = [
        ("owner", json!("p1")),
        ("os_distro", json!("cirros")),
        ("name", json!("n")),
        ("target", json!({"project": "p2"})),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let keys = rules.target_keys();
    let trimmed: Target = full
        .iter()
        .filter(|(k, _)| keys.wants(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(trimmed.len(), 3, "{trimmed:?}");
    for project in ["p1", "p2", "p3"] {
        let creds = member_of(project);
        assert_eq!(
            rules.enforce("get", &trimmed, &creds, &NoRemote),
            rules.enforce("get", &full, &creds, &NoRemote),
            "{project}"
        );
    }
    assert!(rules.enforce("get", &trimmed, &member_of("p2"), &NoRemote));
    assert!(!rules.enforce("get", &trimmed, &member_of("p3"), &NoRemote));
}
