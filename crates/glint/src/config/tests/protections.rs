//! `[DEFAULT] property_protection_file` and the file it names.

use std::path::Path;

use glint_core::{PropertyProtections, RuleFormat};
use glint_model::properties::PropertyOperation::{Create, Delete, Read, Update};
use glint_policy::{Credentials, Enforcer};

use super::{config, defaults, temp_file};
use crate::config::protections::parse_property_protections;
use crate::config::{ConfigError, GlanceConfig, load_property_protections};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../etc");

/// Glance's defaults plus the `glance_creator` rule its protection tests use.
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

fn parse(text: &str, format: RuleFormat) -> Result<PropertyProtections, ConfigError> {
    let policy = policy_with_creator();
    parse_property_protections(text, Path::new("protections.conf"), format, &policy)
}

fn roles(text: &str) -> PropertyProtections {
    parse(text, RuleFormat::Roles).unwrap()
}

fn caller(roles: &[&str]) -> Credentials {
    Credentials::default().with_roles(roles.iter().copied())
}

fn all_ops(section: &str, value: &str) -> String {
    format!("[{section}]\ncreate = {value}\nread = {value}\nupdate = {value}\ndelete = {value}\n")
}

#[test]
fn without_the_option_there_are_no_protections() {
    let policy = Enforcer::with_glance_defaults();
    assert!(
        load_property_protections(&defaults(), &[], &policy)
            .unwrap()
            .is_none()
    );
    let conf = config("[DEFAULT]\nproperty_protection_file =\n");
    assert!(
        load_property_protections(&conf, &[], &policy)
            .unwrap()
            .is_none()
    );
}

#[test]
fn sections_are_searched_in_file_order() {
    let text =
        all_ops("x_foo_matcher", "admin") + &all_ops("^x_", "@") + &all_ops("owner", "member");
    let p = roles(&text);
    let policy = Enforcer::with_glance_defaults();
    assert_eq!(p.section_for("x_foo_matcher"), Some("x_foo_matcher"));
    assert_eq!(p.section_for("x_owner"), Some("^x_"));
    assert_eq!(p.section_for("the_owner_id"), Some("owner"));
    assert_eq!(p.section_for("unmatched"), None);
    assert!(!p.allows("x_foo_matcher", Read, &caller(&["member"]), &policy));
    assert!(p.allows("x_a", Delete, &caller(&[]), &policy));
    assert!(p.allows("the_owner_id", Update, &caller(&["Member"]), &policy));
}

#[test]
fn option_names_ignore_case_and_default_section_fills_gaps() {
    let p = roles(
        "[DEFAULT]\nread = @\ndelete = !\n\
         [^x_]\nCreate = member\nUPDATE = member\n\
         [^y_]\ncreate = admin\nread = admin\nupdate = admin\ndelete = admin\n",
    );
    let policy = Enforcer::with_glance_defaults();
    let member = caller(&["member"]);
    assert!(p.allows("x_a", Create, &member, &policy));
    assert!(p.allows("x_a", Read, &caller(&[]), &policy));
    assert!(!p.allows("x_a", Delete, &caller(&["admin"]), &policy));
    assert!(!p.allows("y_a", Read, &member, &policy));
    assert_eq!(p.section_for("DEFAULT"), None);
}

#[test]
fn a_relative_file_is_found_beside_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf_path = dir.path().join("glance-api.conf");
    std::fs::write(
        &conf_path,
        "[DEFAULT]\nproperty_protection_file = protections.conf\n\
         property_protection_rule_format = policies\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("protections.conf"),
        all_ops("^x_", "default"),
    )
    .unwrap();
    let conf = GlanceConfig::load(std::slice::from_ref(&conf_path))
        .unwrap()
        .0;
    let policy = Enforcer::with_glance_defaults();
    let p = load_property_protections(&conf, &[conf_path], &policy)
        .unwrap()
        .unwrap();
    assert_eq!(p.format(), RuleFormat::Policies);
    assert!(p.allows("x_a", Create, &caller(&[]), &policy));
}

#[test]
fn a_missing_file_stops_start_up_naming_it() {
    let policy = Enforcer::with_glance_defaults();
    let dir = tempfile::tempdir().unwrap();
    let conf_path = dir.path().join("glance-api.conf");
    let conf = config("[DEFAULT]\nproperty_protection_file = no-such-protections.conf\n");
    let message = load_property_protections(&conf, &[conf_path], &policy)
        .unwrap_err()
        .to_string();
    let expected = format!(
        "property protection file no-such-protections.conf: not found (looked in {}, ",
        dir.path().display()
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.ends_with(", /etc/glance, /etc)"), "{message}");
    let conf = config("[DEFAULT]\nproperty_protection_file = /nonexistent/protections.conf\n");
    assert_eq!(
        load_property_protections(&conf, &[], &policy)
            .unwrap_err()
            .to_string(),
        "property protection file /nonexistent/protections.conf: not found"
    );
}

#[test]
fn an_absolute_file_is_read_as_named() {
    let path = temp_file(&all_ops(".*", "admin"));
    let conf = config(&format!(
        "[DEFAULT]\nproperty_protection_file = {}\n",
        path.display()
    ));
    let policy = Enforcer::with_glance_defaults();
    let result = load_property_protections(&conf, &[], &policy);
    let _ = std::fs::remove_file(&path);
    let p = result.unwrap().unwrap();
    assert_eq!(p.format(), RuleFormat::Roles);
    assert_eq!(p.section_for("anything"), Some(".*"));
}

#[test]
fn each_kind_of_malformed_file_is_an_error_naming_section_and_option() {
    let cases: &[(&str, RuleFormat, &str)] = &[
        (
            "[^[0-9)]\ncreate = a\nread = a\nupdate = a\ndelete = a\n",
            RuleFormat::Roles,
            "[^[0-9)]: the section name is not a valid regular expression: unclosed character class",
        ),
        (
            "[^x_]\ncreate = a\nrade = a\nupdate = a\ndelete = a\n",
            RuleFormat::Roles,
            "[^x_] rade: unknown operation (the operations are create, read, update and delete)",
        ),
        (
            "[^x_]\ncreate = a\nupdate = a\ndelete = a\n",
            RuleFormat::Roles,
            "[^x_] read: missing (every section must give create, read, update and delete)",
        ),
        (
            "[^x_]\ncreate = a\nread = a\nupdate = a\ndelete = a\nCREATE = b\n",
            RuleFormat::Roles,
            "[^x_] create: given more than once",
        ),
        (
            "[^x_]\ncreate = a\nread = a\nread = b\nupdate = a\ndelete = a\n",
            RuleFormat::Roles,
            "[^x_] read: given more than once",
        ),
        (
            "[^x_]\ncreate = a\nread = a\nupdate = a\ndelete = a\n\n[.*]\n[^x_]\ncreate = b\n",
            RuleFormat::Roles,
            "[^x_]: section repeated on line 8",
        ),
        (
            "[.*]\ncreate = @,!\nread = a\nupdate = a\ndelete = a\n",
            RuleFormat::Roles,
            "[.*] create: '@' (anyone) and '!' (no one) cannot be combined",
        ),
        (
            "[DEFAULT]\nwrite = a\n[.*]\ncreate = a\nread = a\nupdate = a\ndelete = a\n",
            RuleFormat::Roles,
            "[DEFAULT] write: unknown operation (the operations are create, read, update and delete)",
        ),
        (
            "[^x_]\ncreate = default, context_is_admin\nread = default\nupdate = default\ndelete = default\n",
            RuleFormat::Policies,
            "[^x_] create: 'default, context_is_admin' names more than one policy rule; name one \
             rule and combine rules in the policy file",
        ),
        (
            "[^x_]\ncreate = default\nread = default\nupdate = default\ndelete = no_such_rule\n",
            RuleFormat::Policies,
            "[^x_] delete: there is no policy rule named 'no_such_rule'",
        ),
    ];
    for (text, format, expected) in cases {
        let error = parse(text, *format).unwrap_err();
        assert!(
            matches!(error, ConfigError::PropertyProtections { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("property protection file protections.conf: {expected}"),
            "{text:?}"
        );
    }
}

#[test]
fn an_ini_syntax_error_names_file_and_line() {
    let error = parse("[.*]\ncreate = admin\nread admin\n", RuleFormat::Roles).unwrap_err();
    assert_eq!(
        error.to_string(),
        "protections.conf:3: no ':' or '=' found in assignment: \"read admin\""
    );
}

#[test]
fn policies_format_accepts_rules_of_the_policy_file() {
    let text = all_ops("spl_creator_policy", "glance_creator") + &all_ops(".*", "context_is_admin");
    let p = parse(&text, RuleFormat::Policies).unwrap();
    let policy = policy_with_creator();
    assert!(p.allows(
        "spl_creator_policy",
        Create,
        &caller(&["spl_role"]),
        &policy
    ));
    assert!(!p.allows("spl_creator_policy", Create, &caller(&["member"]), &policy));
    assert!(!p.allows("other", Read, &caller(&["member"]), &policy));
    assert!(p.allows("other", Read, &caller(&["admin"]), &policy));
    assert!(
        parse(&text, RuleFormat::Roles).is_ok(),
        "any word is a role name"
    );
}

#[test]
fn empty_values_and_reserved_sections_are_warnings() {
    let text = "[^x_]\ncreate =\nread = a\nupdate = a\ndelete = a\n".to_owned()
        + &all_ops("os_glance_foo", "!");
    let p = roles(&text);
    assert_eq!(p.warnings().len(), 2, "{:?}", p.warnings());
    assert_eq!(
        p.warnings()[0],
        "property protection [^x_] create is empty: no one may create these properties"
    );
    assert_eq!(p.section_for("os_glance_foo"), Some("os_glance.*"));
}

#[test]
fn sample_files_load_in_their_formats_without_warnings() {
    for (file, format) in [
        ("property-protections-roles.conf", RuleFormat::Roles),
        ("property-protections-policies.conf", RuleFormat::Policies),
    ] {
        let path = Path::new(SAMPLES).join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let p = parse_property_protections(&text, &path, format, &Enforcer::with_glance_defaults())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(p.warnings().is_empty(), "{file}: {:?}", p.warnings());
        assert_eq!(p.section_for("anything_else"), Some(".*"), "{file}");
    }
    let roles_sample =
        std::fs::read_to_string(Path::new(SAMPLES).join("property-protections-roles.conf"))
            .unwrap();
    assert!(
        parse(&roles_sample, RuleFormat::Policies).is_err(),
        "role names are not policy rules"
    );
}
