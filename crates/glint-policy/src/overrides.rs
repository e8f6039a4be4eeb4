//! Operator policy files: a YAML or JSON mapping of rule names to rules.

use serde_json::Value;

use crate::{PolicyError, Rule, parse_list_rule, parse_rule};

/// Reads every rule of a policy file. Values are check strings, or the
/// deprecated list-of-lists form. An empty file holds no rules.
pub(crate) fn parse_policy_file(
    text: &str,
    path: &str,
) -> Result<Vec<(String, Rule)>, PolicyError> {
    let malformed = |reason: String| PolicyError::MalformedFile {
        path: path.to_owned(),
        reason,
    };
    let document: Value = if path.to_ascii_lowercase().ends_with(".json") {
        serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?
    } else if text.trim().is_empty() {
        Value::Null
    } else {
        serde_norway::from_str(text).map_err(|e| malformed(e.to_string()))?
    };
    let map = match document {
        Value::Object(map) => map,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(malformed(
                "expected a mapping of rule names to rules".to_owned(),
            ));
        }
    };
    map.into_iter()
        .map(|(name, value)| match parse_value(&value) {
            Ok(rule) => Ok((name, rule)),
            Err(reason) => Err(PolicyError::InvalidRule {
                path: path.to_owned(),
                name,
                reason,
            }),
        })
        .collect()
}

fn parse_value(value: &Value) -> Result<Rule, String> {
    match value {
        Value::String(text) => parse_rule(text).map_err(|e| e.to_string()),
        Value::Array(items) => parse_list_rule(&list_form(items)?).map_err(|e| e.to_string()),
        Value::Null => Err("has no rule; write \"\" to always allow".to_owned()),
        _ => Err("expected a check string".to_owned()),
    }
}

/// `[["a", "b"], "c"]`: a bare string stands for a one-check list.
fn list_form(items: &[Value]) -> Result<Vec<Vec<&str>>, String> {
    items
        .iter()
        .map(|item| match item {
            Value::String(check) => Ok(vec![check.as_str()]),
            Value::Array(checks) => checks
                .iter()
                .map(|c| {
                    c.as_str()
                        .ok_or_else(|| "list-form checks must be strings".to_owned())
                })
                .collect(),
            _ => Err("list-form rules hold lists of check strings".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rules: &[(String, Rule)]) -> Vec<&str> {
        rules.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn yaml_file_keeps_file_order() {
        let text = "# comment\n\"get_image\": \"role:admin\"\nadd_image: ''\n";
        let rules = parse_policy_file(text, "/etc/glance/policy.yaml").unwrap();
        assert_eq!(names(&rules), ["get_image", "add_image"]);
        assert_eq!(rules[0].1, Rule::Role("admin".into()));
        assert_eq!(rules[1].1, Rule::Always);
    }

    #[test]
    fn json_file_is_read_as_json_with_list_form() {
        let text = r#"{"a": [["role:x", "role:y"], ["role:z"]], "b": [], "c": "!"}"#;
        let rules = parse_policy_file(text, "policy.JSON").unwrap();
        assert_eq!(names(&rules), ["a", "b", "c"]);
        assert_eq!(rules[1].1, Rule::Always);
        assert_eq!(rules[2].1, Rule::Never);
    }

    #[test]
    fn json_text_also_reads_as_yaml() {
        let rules =
            parse_policy_file(r#"{"a": "role:x", "b": ["role:y"]}"#, "policy.yaml").unwrap();
        assert_eq!(rules[1].1, Rule::Role("y".into()));
    }

    #[test]
    fn empty_or_comment_only_file_has_no_rules() {
        assert!(parse_policy_file("", "p.yaml").unwrap().is_empty());
        assert!(
            parse_policy_file("# nothing\n", "p.yaml")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_rule_error_names_rule_and_file() {
        let err =
            parse_policy_file("ok: role:a\nbroken: \"role:a and (\"\n", "p.yaml").unwrap_err();
        assert!(matches!(&err, PolicyError::InvalidRule { name, .. } if name == "broken"));
        let message = err.to_string();
        assert!(
            message.contains("p.yaml") && message.contains("\"broken\""),
            "{message}"
        );
    }

    #[test]
    fn non_string_values_are_rejected_with_rule_name() {
        for text in ["x: 3\n", "x:\n", "x: {a: b}\n", "x: [[1]]\n", "x: [3]\n"] {
            let err = parse_policy_file(text, "p.yaml").unwrap_err();
            assert!(
                matches!(&err, PolicyError::InvalidRule { name, .. } if name == "x"),
                "{text}"
            );
        }
    }

    #[test]
    fn non_mapping_or_unparsable_file_is_malformed() {
        for (text, path) in [
            ("- a\n- b\n", "p.yaml"),
            ("a: [\n", "p.yaml"),
            ("{\"a\": ", "p.json"),
        ] {
            let err = parse_policy_file(text, path).unwrap_err();
            assert!(matches!(err, PolicyError::MalformedFile { .. }), "{text}");
        }
    }
}
