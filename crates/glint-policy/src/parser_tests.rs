use super::*;

fn role(name: &str) -> Rule {
    Rule::Role(name.to_owned())
}

fn generic(left: &str, right: &str) -> Rule {
    Rule::Generic {
        left: left.to_owned(),
        right: right.to_owned(),
    }
}

fn parse(text: &str) -> Rule {
    match parse_rule(text) {
        Ok(rule) => rule,
        Err(e) => panic!("{text:?} should parse: {e}"),
    }
}

fn assert_rejected(text: &str) {
    assert!(parse_rule(text).is_err(), "{text:?} should be rejected");
}

#[test]
fn empty_and_at_always_allow_and_bang_never_allows() {
    assert_eq!(parse(""), Rule::Always);
    assert_eq!(parse("@"), Rule::Always);
    assert_eq!(parse("!"), Rule::Never);
}

#[test]
fn single_checks_parse_by_kind() {
    assert_eq!(parse("role:admin"), role("admin"));
    assert_eq!(
        parse("rule:context_is_admin"),
        Rule::RuleRef("context_is_admin".into())
    );
    assert_eq!(
        parse("project_id:%(project_id)s"),
        generic("project_id", "%(project_id)s")
    );
    assert_eq!(parse("role:%(role)s"), role("%(role)s"));
    assert_eq!(
        parse("http://example.com/%(id)s"),
        Rule::Http("http://example.com/%(id)s".into())
    );
    assert_eq!(parse("https://h/x"), Rule::Http("https://h/x".into()));
}

#[test]
fn value_keeps_everything_after_the_first_colon() {
    assert_eq!(parse("role:compute:admin"), role("compute:admin"));
}

#[test]
fn generic_accepts_literals_on_either_side() {
    assert_eq!(
        parse("'public':%(visibility)s"),
        generic("'public'", "%(visibility)s")
    );
    assert_eq!(
        parse("\"shared\":%(visibility)s"),
        generic("\"shared\"", "%(visibility)s")
    );
    assert_eq!(parse("is_admin:True"), generic("is_admin", "True"));
    assert_eq!(
        parse("True:%(user.enabled)s"),
        generic("True", "%(user.enabled)s")
    );
    assert_eq!(parse("3:%(n)s"), generic("3", "%(n)s"));
    assert_eq!(parse("project_id:'p1'"), generic("project_id", "'p1'"));
}

#[test]
fn or_binds_looser_than_and() {
    let expected = Rule::Or(vec![role("a"), Rule::And(vec![role("b"), role("c")])]);
    assert_eq!(parse("role:a or role:b and role:c"), expected);
    let expected = Rule::Or(vec![Rule::And(vec![role("a"), role("b")]), role("c")]);
    assert_eq!(parse("role:a and role:b or role:c"), expected);
}

#[test]
fn chains_of_one_operator_are_flat() {
    let rule = parse("role:a or role:b or role:c");
    assert_eq!(rule, Rule::Or(vec![role("a"), role("b"), role("c")]));
    let rule = parse("@ and ! and @");
    assert_eq!(
        rule,
        Rule::And(vec![Rule::Always, Rule::Never, Rule::Always])
    );
}

#[test]
fn not_binds_to_the_next_operand_only() {
    let expected = Rule::Or(vec![
        Rule::And(vec![Rule::Not(Box::new(Rule::Always)), Rule::Never]),
        Rule::Always,
    ]);
    assert_eq!(parse("not @ and ! or @"), expected);
    let expected = Rule::Not(Box::new(Rule::Or(vec![
        Rule::And(vec![Rule::Always, Rule::Never]),
        Rule::Always,
    ])));
    assert_eq!(parse("not ( @ and ! or @ )"), expected);
    assert_eq!(
        parse("not not @"),
        Rule::Not(Box::new(Rule::Not(Box::new(Rule::Always))))
    );
}

#[test]
fn parentheses_group_and_nest() {
    let expected = Rule::And(vec![role("a"), Rule::Or(vec![role("b"), role("c")])]);
    assert_eq!(parse("role:a and (role:b or role:c)"), expected);
    assert_eq!(parse("((role:a))"), role("a"));
    let expected = Rule::Or(vec![
        role("a"),
        Rule::And(vec![role("b"), Rule::Or(vec![role("c"), role("d")])]),
    ]);
    assert_eq!(
        parse("(role:a or (role:b and (role:c or role:d)))"),
        expected
    );
}

#[test]
fn parentheses_inside_templates_are_not_grouping() {
    let expected = Rule::And(vec![
        role("member"),
        generic("project_id", "%(project_id)s"),
    ]);
    assert_eq!(
        parse("(role:member and project_id:%(project_id)s)"),
        expected
    );
}

#[test]
fn operators_are_case_insensitive_and_whitespace_is_free() {
    let expected = Rule::Or(vec![
        role("a"),
        Rule::And(vec![role("b"), Rule::Not(Box::new(role("c")))]),
    ]);
    assert_eq!(parse("  role:a\tOR\nrole:b AND Not role:c "), expected);
}

#[test]
fn garbage_is_rejected() {
    for text in [
        "role:",
        "rule:",
        "http:",
        ":x",
        "project_id:",
        "admin",
        "   ",
        "(role:a",
        "role:a)",
        "()",
        "role:a role:b",
        "and role:a",
        "role:a or",
        "not",
        "role:a and or role:b",
        "'public'",
        "'public:%(visibility)s",
        "x:'open",
        "project_id:%(project_id)d",
        "project_id:%(project_id",
        "role:%s",
    ] {
        assert_rejected(text);
    }
}

#[test]
fn syntax_error_quotes_the_rule_and_reason() {
    let err = parse_rule("(role:a").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("(role:a") && message.contains("unbalanced"),
        "{message}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    assert_rejected(&format!(
        "{}role:a{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    ));
    assert_rejected(&format!("{}@", "not ".repeat(10_000)));
    assert!(parse_rule(&format!("{}role:a{}", "(".repeat(20), ")".repeat(20))).is_ok());
}

#[test]
fn display_is_canonical_and_round_trips() {
    let cases = [
        ("", "@"),
        ("!", "!"),
        (
            "role:a or role:b and role:c",
            "role:a or (role:b and role:c)",
        ),
        (
            "(role:a or role:b) or role:c",
            "(role:a or role:b) or role:c",
        ),
        ("not (role:a and role:b)", "not (role:a and role:b)"),
        ("not   not @", "not not @"),
        ("'public':%(visibility)s", "'public':%(visibility)s"),
        ("https://h/%(id)s", "https://h/%(id)s"),
    ];
    for (text, canonical) in cases {
        let rule = parse(text);
        assert_eq!(rule.to_string(), canonical);
        assert_eq!(
            parse(canonical),
            rule,
            "{canonical:?} must reparse to the same rule"
        );
    }
}

#[test]
fn list_form_joins_inner_with_and_outer_with_or() {
    let rule = parse_list_rule(&[vec!["role:a", "role:b"], vec!["role:c"]]).unwrap();
    let expected = Rule::Or(vec![Rule::And(vec![role("a"), role("b")]), role("c")]);
    assert_eq!(rule, expected);
}

#[test]
fn list_form_edge_cases() {
    let none: [Vec<&str>; 0] = [];
    assert_eq!(parse_list_rule(&none).unwrap(), Rule::Always);
    assert_eq!(parse_list_rule(&[Vec::<&str>::new()]).unwrap(), Rule::Never);
    assert_eq!(
        parse_list_rule(&[vec!["role:a"], vec![]]).unwrap(),
        role("a")
    );
    assert!(parse_list_rule(&[vec!["role:a or role:b"]]).is_err());
    assert!(parse_list_rule(&[vec!["role:"]]).is_err());
    assert!(parse_list_rule(&[vec![""]]).is_err());
}

#[test]
fn references_lists_rule_names() {
    let rule = parse("rule:a or (not rule:b and role:c)");
    assert_eq!(rule.references(), ["a", "b"]);
}
