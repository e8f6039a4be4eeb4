use glint_model::properties::PropertyOperation::{self, Create, Delete, Read, Update};

use super::*;

/// A section giving the four operations the same value.
fn uniform(name: &str, value: &str) -> ProtectionSection {
    crud(name, [value; 4])
}

/// A section with create, read, update and delete values, in that order.
fn crud(name: &str, values: [&str; 4]) -> ProtectionSection {
    ProtectionSection {
        name: name.to_owned(),
        options: PropertyOperation::ALL
            .iter()
            .zip(values)
            .map(|(op, value)| (op.as_str().to_owned(), value.to_owned()))
            .collect(),
    }
}

fn roles(sections: &[ProtectionSection]) -> PropertyProtections {
    PropertyProtections::new(
        RuleFormat::Roles,
        sections,
        &Enforcer::with_glance_defaults(),
    )
    .unwrap()
}

fn roles_error(sections: &[ProtectionSection]) -> String {
    PropertyProtections::new(
        RuleFormat::Roles,
        sections,
        &Enforcer::with_glance_defaults(),
    )
    .unwrap_err()
    .to_string()
}

fn caller(roles: &[&str]) -> Credentials {
    Credentials::default().with_roles(roles.iter().copied())
}

/// Whether a caller with `roles` may do `op` on `property`.
fn may(p: &PropertyProtections, roles: &[&str], property: &str, op: PropertyOperation) -> bool {
    p.allows(
        property,
        op,
        &caller(roles),
        &Enforcer::with_glance_defaults(),
    )
}

#[test]
fn expressions_match_anywhere_in_the_name_unless_anchored() {
    let p = roles(&[uniform("^x_owner_", "member"), uniform("spl_", "admin")]);
    assert_eq!(p.section_for("x_owner_foo"), Some("^x_owner_"));
    assert_eq!(p.section_for("a_x_owner_foo"), None);
    assert_eq!(p.section_for("my_spl_prop"), Some("spl_"));
    assert_eq!(p.section_for("spl"), None);
}

#[test]
fn the_first_matching_section_in_file_order_decides() {
    let p = roles(&[
        uniform("x_foo_matcher", "admin"),
        uniform("x_foo_*", "@"),
        uniform(".*", "admin"),
    ]);
    assert!(!may(&p, &["member"], "x_foo_matcher", Read));
    assert!(may(&p, &["admin"], "x_foo_matcher", Read));
    assert!(may(&p, &["member"], "x_foo_bar", Update));
    assert!(!may(&p, &["member"], "other", Create));
    assert_eq!(p.section_for("other"), Some(".*"));
}

#[test]
fn a_property_no_section_matches_is_closed_to_everyone() {
    let p = roles(&[uniform("^x_", "@")]);
    for op in PropertyOperation::ALL {
        assert!(!may(&p, &["admin"], "unmatched", op));
        assert!(may(&p, &[], "x_open", op));
    }
}

#[test]
fn each_operation_has_its_own_roles() {
    let p = roles(&[crud(
        "spl_update_prop",
        [
            "admin,spl_role",
            "admin,spl_role",
            "admin,spl_role",
            "admin",
        ],
    )]);
    for op in [Create, Read, Update] {
        assert!(may(&p, &["reader", "spl_role"], "spl_update_prop", op));
    }
    assert!(!may(&p, &["reader", "spl_role"], "spl_update_prop", Delete));
    assert!(may(&p, &["admin"], "spl_update_prop", Delete));
    assert!(!may(&p, &["member"], "spl_update_prop", Read));
}

#[test]
fn roles_ignore_case_and_surrounding_spaces() {
    let p = roles(&[crud(
        "x_case",
        [
            "admin,Member",
            " member ,fake-role",
            "fake-role,  MEMBER",
            "x",
        ],
    )]);
    assert!(may(&p, &["member"], "x_case", Create));
    assert!(may(&p, &["Member"], "x_case", Read));
    assert!(may(&p, &["fake-role"], "x_case", Read));
    assert!(may(&p, &["member"], "x_case", Update));
    assert!(!may(&p, &["member"], "x_case", Delete));
}

#[test]
fn at_sign_is_anyone_and_bang_is_no_one() {
    let p = roles(&[
        uniform("^x_all", "@"),
        uniform("^x_none", "!"),
        uniform("^x_bang_wins", "admin,!"),
        uniform("^x_at_wins", "@,admin"),
    ]);
    for op in PropertyOperation::ALL {
        assert!(may(&p, &[], "x_all_permitted", op));
        assert!(!may(&p, &["admin"], "x_none_permitted", op));
        assert!(!may(&p, &["admin"], "x_bang_wins", op));
        assert!(may(&p, &["reader"], "x_at_wins", op));
    }
}

#[test]
fn an_empty_value_lets_no_one_and_is_reported() {
    let p = roles(&[crud("x_empty", ["admin", "admin", "", "admin"])]);
    assert!(!may(&p, &["admin"], "x_empty", Update));
    assert!(may(&p, &["admin"], "x_empty", Read));
    assert_eq!(
        p.warnings(),
        ["property protection [x_empty] update is empty: no one may update these properties"]
    );
}

#[test]
fn glance_sections_are_replaced_by_one_open_to_all() {
    let p = roles(&[uniform("os_glance_store", "!"), uniform(".*", "admin")]);
    assert_eq!(p.section_for("os_glance_import_task"), Some("os_glance.*"));
    for op in PropertyOperation::ALL {
        assert!(may(&p, &[], "os_glance_import_task", op));
    }
    assert!(!may(&p, &["member"], "x", Read));
    assert_eq!(p.warnings().len(), 1);
    assert!(
        p.warnings()[0].starts_with("property protection section [os_glance_store] is ignored")
    );
}

#[test]
fn malformed_sections_are_errors_naming_section_and_option() {
    let missing_read = ProtectionSection {
        name: "^[0-9]".into(),
        options: vec![
            ("create".into(), "r".into()),
            ("update".into(), "r".into()),
            ("delete".into(), "r".into()),
        ],
    };
    assert_eq!(
        roles_error(&[missing_read]),
        "[^[0-9]] read: missing (every section must give create, read, update and delete)"
    );
    let mut misspelt = uniform("^[0-9]", "r");
    misspelt.options[1].0 = "rade".into();
    assert_eq!(
        roles_error(&[misspelt]),
        "[^[0-9]] rade: unknown operation (the operations are create, read, update and delete)"
    );
    let mut twice = uniform("x", "r");
    twice.options.push(("create".into(), "admin".into()));
    assert_eq!(roles_error(&[twice]), "[x] create: given more than once");
    assert_eq!(
        roles_error(&[uniform("^[0-9)", "r")]),
        "[^[0-9)]: the section name is not a valid regular expression: unclosed character class"
    );
    assert_eq!(
        roles_error(&[uniform("ok", "r"), crud(".*", ["@,!", "r", "r", "r"])]),
        "[.*] create: '@' (anyone) and '!' (no one) cannot be combined"
    );
}

#[test]
fn python_only_syntax_is_refused_at_load() {
    let message = roles_error(&[uniform("^(?!os_).*", "admin")]);
    assert!(
        message.starts_with("[^(?!os_).*]: the section name is not a valid regular expression"),
        "{message}"
    );
}

fn policies(sections: &[ProtectionSection], policy: &Enforcer) -> PropertyProtections {
    PropertyProtections::new(RuleFormat::Policies, sections, policy).unwrap()
}

fn policy_with_creator() -> Enforcer {
    let mut policy = Enforcer::with_glance_defaults();
    policy
        .load_overrides(
            "glance_creator: role:admin or role:spl_role\n",
            "policy.yaml",
        )
        .unwrap();
    policy
}

#[test]
fn policies_are_decided_with_the_callers_credentials() {
    let policy = policy_with_creator();
    let p = policies(
        &[
            crud(
                "spl_creator_policy",
                ["glance_creator", "glance_creator", "context_is_admin", "!"],
            ),
            uniform("^x_all", "@"),
            uniform(".*", "context_is_admin"),
        ],
        &policy,
    );
    let allows = |roles: &[&str], property: &str, op| {
        let creds = caller(roles);
        p.allows(property, op, &creds, &policy)
    };
    assert!(allows(&["spl_role"], "spl_creator_policy", Create));
    assert!(allows(&["spl_role"], "spl_creator_policy", Read));
    assert!(!allows(&["spl_role"], "spl_creator_policy", Update));
    assert!(allows(&["admin"], "spl_creator_policy", Update));
    assert!(!allows(&["admin"], "spl_creator_policy", Delete));
    assert!(!allows(&["fake-role"], "spl_creator_policy", Create));
    assert!(allows(&[], "x_all_permitted", Delete));
    assert!(allows(&["admin"], "foo", Read));
    assert!(!allows(&["member"], "foo", Read));
}

#[test]
fn policies_format_refuses_lists_and_unknown_rules() {
    let policy = Enforcer::with_glance_defaults();
    let error = |section| {
        PropertyProtections::new(RuleFormat::Policies, &[section], &policy)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error(crud(
            "^x_",
            ["default, context_is_admin", "default", "default", "default"]
        )),
        "[^x_] create: 'default, context_is_admin' names more than one policy rule; name one \
         rule and combine rules in the policy file"
    );
    assert_eq!(
        error(crud(
            "^x_",
            ["default", "default", "glance_creator", "default"]
        )),
        "[^x_] update: there is no policy rule named 'glance_creator'"
    );
    assert!(
        PropertyProtections::new(
            RuleFormat::Policies,
            &[uniform("^x_", "glance_creator")],
            &policy_with_creator()
        )
        .is_ok()
    );
}

#[test]
fn caller_access_hides_unreadable_properties_and_remembers_decisions() {
    let p = roles(&[
        crud("^x_secret", ["admin", "admin", "admin", "admin"]),
        uniform(".*", "@"),
    ]);
    let policy = Enforcer::with_glance_defaults();
    let creds = caller(&["member"]);
    let access = CallerAccess::new(&p, &creds, &policy);
    let mut image = glint_model::NewImage::default().into_image(Some("p".into()));
    image.properties.insert("x_secret_key".into(), "s".into());
    image.properties.insert("os_distro".into(), "cirros".into());
    access.hide_unreadable(&mut image);
    assert_eq!(image.properties.keys().collect::<Vec<_>>(), ["os_distro"]);
    assert!(!access.allows("x_secret_key", Update));
    assert_eq!(access.decided.borrow().len(), 2);
    assert_eq!(
        access.decided.borrow()["x_secret_key"],
        [None, Some(false), Some(false), None]
    );
}

#[test]
fn rule_format_names_are_exact() {
    assert_eq!(RuleFormat::from_name("roles"), Some(RuleFormat::Roles));
    assert_eq!(
        RuleFormat::from_name("policies"),
        Some(RuleFormat::Policies)
    );
    assert_eq!(RuleFormat::from_name("Roles"), None);
    assert_eq!(RuleFormat::default().as_str(), "roles");
}
