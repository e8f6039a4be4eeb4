//! Parsing of list queries: Glance's rules and glint's bounds.

use super::*;

fn q(pairs: &[(&str, &str)]) -> Result<ImageListQuery, ModelError> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ImageListQuery::from_pairs(&owned)
}

#[test]
fn default_sort_is_created_at_desc_then_id() {
    let query = q(&[]).unwrap();
    assert_eq!(
        query.sort,
        vec![
            (SortKey::CreatedAt, SortDir::Desc),
            (SortKey::Id, SortDir::Desc)
        ]
    );
    assert_eq!(
        query.member_status,
        MemberStatusFilter::Only(MemberStatus::Accepted)
    );
}

#[test]
fn new_sort_syntax_defaults_to_desc() {
    let query = q(&[("sort", "name:asc,size")]).unwrap();
    assert_eq!(query.sort[0], (SortKey::Name, SortDir::Asc));
    assert_eq!(query.sort[1], (SortKey::Size, SortDir::Desc));
}

#[test]
fn one_classic_sort_dir_applies_to_every_key() {
    let query = q(&[
        ("sort_key", "name"),
        ("sort_key", "size"),
        ("sort_dir", "asc"),
    ])
    .unwrap();
    assert!(query.sort.iter().all(|(_, d)| *d == SortDir::Asc));
    assert_eq!(query.sort.len(), 4);
}

#[test]
fn bad_list_parameters_are_rejected_with_glance_messages() {
    let msg = |p: &[(&str, &str)]| q(p).unwrap_err().to_string();
    assert_eq!(msg(&[("limit", "-1")]), "limit param must be positive");
    assert_eq!(msg(&[("limit", "x")]), "limit param must be an integer");
    assert_eq!(
        msg(&[("sort_key", "nope")]),
        "Invalid sort key: nope. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."
    );
    assert_eq!(
        msg(&[("sort", "name"), ("sort_dir", "asc")]),
        "Old and new sorting syntax cannot be combined"
    );
    assert_eq!(
        msg(&[
            ("sort_key", "name"),
            ("sort_dir", "asc"),
            ("sort_dir", "desc"),
            ("sort_key", "id"),
            ("sort_dir", "asc")
        ]),
        "Number of sort dirs does not match the number of sort keys"
    );
    assert!(msg(&[("os_hidden", "maybe")]).contains("Valid values are 'true' or 'false'"));
    assert!(msg(&[("protected", "True")]).contains("Valid values"));
    assert_eq!(
        msg(&[("visibility", "everyone")]),
        "Invalid visibility value: everyone"
    );
    assert_eq!(msg(&[("member_status", "x")]), "Invalid status: x");
    assert!(msg(&[("created_at", "gt:yesterday")]).starts_with("Bad \"created_at\" query filter"));
    assert_eq!(
        msg(&[("name", "gt:a")]),
        "Unable to filter by unknown operator 'gt'."
    );
    assert_eq!(
        msg(&[("size_min", "big")]),
        "Unable to filter on a range with a non-numeric value."
    );
    assert!(msg(&[("changes-since", "2020-01-01")]).contains("no longer available"));
}

#[test]
fn in_operator_splits_quoted_values() {
    let query = q(&[("name", "in:\"glass, darkly\",share me")]).unwrap();
    assert_eq!(
        query.filters,
        vec![Filter::Text {
            column: TextColumn::Name,
            values: vec!["glass, darkly".into(), "share me".into()]
        }]
    );
    assert!(q(&[("name", "in:\"open")]).is_err());
    assert!(q(&[("name", "in:a\"b\"")]).is_err());
}

#[test]
fn bare_iso_time_is_an_equality() {
    let query = q(&[("created_at", "2026-11-27T02:15:42Z")]).unwrap();
    assert!(matches!(
        query.filters[0],
        Filter::Time { op: CmpOp::Eq, .. }
    ));
    let query = q(&[("updated_at", "lte:2026-11-27T02:15:42Z")]).unwrap();
    assert!(matches!(
        query.filters[0],
        Filter::Time { op: CmpOp::Lte, .. }
    ));
}

#[test]
fn unknown_keys_become_property_filters() {
    let query = q(&[("os_distro", "cirros"), ("tag", "a"), ("tag", "b")]).unwrap();
    assert_eq!(query.filters.len(), 3);
    assert!(matches!(&query.filters[0], Filter::Property { name, .. } if name == "os_distro"));
}

#[test]
fn size_range_filters() {
    let query = q(&[("size_min", "10"), ("size_max", "20")]).unwrap();
    assert_eq!(
        query.filters[0],
        Filter::Number {
            column: NumColumn::Size,
            op: CmpOp::Gte,
            value: 10
        }
    );
}

fn repeated(pair: (&'static str, &'static str), n: usize) -> Vec<(&'static str, &'static str)> {
    vec![pair; n]
}

#[test]
fn the_number_of_parameters_is_bounded() {
    assert!(q(&repeated(("name", "x"), 100)).is_ok());
    assert_eq!(
        q(&repeated(("name", "x"), 101)).unwrap_err().to_string(),
        "Too many query parameters in one request: 101; at most 100 are allowed."
    );
}

#[test]
fn tag_property_and_in_filters_are_bounded() {
    assert!(q(&repeated(("tag", "a"), 10)).is_ok());
    assert!(q(&repeated(("tag", "a"), 11)).is_err());
    assert!(q(&repeated(("os_distro", "a"), 10)).is_ok());
    let mut mixed = repeated(("tag", "a"), 5);
    mixed.extend(repeated(("os_distro", "a"), 6));
    assert_eq!(
        q(&mixed).unwrap_err().to_string(),
        "Too many tag and property filters in one request: 11; at most 10 are allowed."
    );
    let ids = ["x"; 1000].join(",");
    let list = format!("in:{ids}");
    assert!(q(&[("id", list.as_str())]).is_ok());
    let err = q(&[("id", list.as_str()), ("name", "y")]).unwrap_err();
    assert!(err.to_string().contains(": 1001;"), "{err}");
}

#[test]
fn nul_is_refused_in_keys_and_values() {
    for pair in [
        ("name", "a\0"),
        ("a\0", "b"),
        ("marker", "\0"),
        ("tag", "\0"),
    ] {
        assert_eq!(
            q(&[pair]).unwrap_err().to_string(),
            "Query parameters may not contain NUL characters."
        );
    }
}

#[test]
fn repeated_sort_keys_sort_once_and_are_bounded() {
    let query = q(&[
        ("sort_key", "name"),
        ("sort_key", "size"),
        ("sort_key", "name"),
        ("sort_dir", "asc"),
    ])
    .unwrap();
    assert_eq!(
        query.sort,
        vec![
            (SortKey::Name, SortDir::Asc),
            (SortKey::Size, SortDir::Asc),
            (SortKey::CreatedAt, SortDir::Asc),
            (SortKey::Id, SortDir::Asc)
        ]
    );
    assert!(q(&repeated(("sort_key", "name"), 10)).is_ok());
    assert!(q(&repeated(("sort_key", "name"), 11)).is_err());
    let spec = ["id"; 11].join(",");
    assert!(q(&[("sort", spec.as_str())]).is_err());
}

#[test]
fn quoted_values_in_errors_are_cut() {
    let long = "k".repeat(5000);
    for pair in [("sort_key", long.as_str()), ("visibility", long.as_str())] {
        let message = q(&[pair]).unwrap_err().to_string();
        assert!(message.len() < 400, "{message}");
        assert!(message.contains(crate::limits::CLIP_MARKER));
    }
}
