//! Parsing and applying patches without property protections.

use super::*;
use crate::image::NewImage;
use crate::limits::Quotas;
use crate::status::ImageStatus;
use serde_json::json;

fn image() -> Image {
    NewImage::from_json(
        &json!({"name": "a", "disk_format": "raw", "container_format": "bare", "k": "v"}),
        &FormatRules::default(),
        Quotas::default(),
    )
    .unwrap()
    .into_image(Some("p".into()))
}

fn ops(v: Value, d: PatchDialect) -> Result<Vec<PatchOp>, ModelError> {
    parse_patch(&v, d, &FormatRules::default(), Quotas::default())
}

fn patch(img: &mut Image, v: Value) -> Result<(), ModelError> {
    apply_patch(img, &ops(v, PatchDialect::V21)?)
}

#[test]
fn replace_name_and_add_property() {
    let mut img = image();
    patch(
        &mut img,
        json!([{"op": "replace", "path": "/name", "value": "b"},
               {"op": "add", "path": "/os_distro", "value": "cirros"}]),
    )
    .unwrap();
    assert_eq!(img.name.as_deref(), Some("b"));
    assert_eq!(img.properties["os_distro"], "cirros");
}

#[test]
fn replace_missing_property_conflicts() {
    let err = patch(
        &mut image(),
        json!([{"op": "replace", "path": "/nope", "value": "x"}]),
    );
    assert_eq!(
        err.unwrap_err(),
        ModelError::conflict("Property nope does not exist.")
    );
}

#[test]
fn remove_base_attribute_is_forbidden() {
    let err = patch(&mut image(), json!([{"op": "remove", "path": "/name"}])).unwrap_err();
    assert_eq!(
        err,
        ModelError::forbidden("Property name may not be removed.")
    );
}

#[test]
fn remove_property_then_again_conflicts() {
    let mut img = image();
    patch(&mut img, json!([{"op": "remove", "path": "/k"}])).unwrap();
    assert!(matches!(
        patch(&mut img, json!([{"op": "remove", "path": "/k"}])),
        Err(ModelError::Conflict(_))
    ));
}

#[test]
fn read_only_status_is_forbidden() {
    let err = ops(
        json!([{"op": "replace", "path": "/status", "value": "active"}]),
        PatchDialect::V21,
    );
    assert_eq!(
        err.unwrap_err(),
        ModelError::forbidden("Attribute 'status' is read-only.")
    );
}

#[test]
fn draft4_add_of_existing_property_conflicts() {
    let mut img = image();
    let o = ops(json!([{"add": "/k", "value": "x"}]), PatchDialect::V20).unwrap();
    assert!(matches!(
        apply_patch(&mut img, &o),
        Err(ModelError::Conflict(_))
    ));
    let o = ops(json!([{"add": "/k2", "value": "x"}]), PatchDialect::V20).unwrap();
    apply_patch(&mut img, &o).unwrap();
    assert_eq!(img.properties["k2"], "x");
}

#[test]
fn malformed_patches_are_invalid() {
    for body in [
        json!({"op": "add"}),
        json!(["x"]),
        json!([{"op": "move", "path": "/a", "value": 1}]),
        json!([{"op": "add", "path": "a", "value": "1"}]),
        json!([{"op": "add", "path": "/a/b", "value": "1"}]),
        json!([{"op": "add", "path": "/a~2", "value": "1"}]),
        json!([{"op": "add", "path": "/a"}]),
        json!([{"op": "add", "path": "/min_ram", "value": "1"}]),
    ] {
        assert!(
            matches!(
                ops(body.clone(), PatchDialect::V21),
                Err(ModelError::Invalid(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn formats_are_frozen_once_data_exists() {
    let mut img = image();
    img.status = ImageStatus::Active;
    let err = patch(
        &mut img,
        json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]),
    );
    assert!(matches!(err, Err(ModelError::Forbidden(_))));
}

#[test]
fn tags_replace_sets_the_list() {
    let mut img = image();
    patch(
        &mut img,
        json!([{"op": "replace", "path": "/tags", "value": ["x", "y", "x"]}]),
    )
    .unwrap();
    assert_eq!(img.tags, vec!["x", "y"]);
}

#[test]
fn pointer_escapes_decode() {
    assert_eq!(decode_pointer("/a~1b~0c").unwrap(), vec!["a/b~c"]);
    assert!(decode_pointer("/a/").is_err());
    assert!(decode_pointer("/a//b").is_err());
}

#[test]
fn dialect_from_content_type_ignores_parameters() {
    assert_eq!(
        PatchDialect::from_content_type(
            "application/openstack-images-v2.1-json-patch; charset=UTF-8"
        ),
        Some(PatchDialect::V21)
    );
    assert_eq!(PatchDialect::from_content_type("application/json"), None);
}

#[test]
fn a_tag_list_over_the_quota_is_refused_before_its_tags_are_checked() {
    let quotas = Quotas {
        tags: Some(2),
        properties: None,
        locations: None,
    };
    let body = json!([{"op": "replace", "path": "/tags", "value": ["a", "a", 3]}]);
    let err = parse_patch(&body, PatchDialect::V21, &FormatRules::default(), quotas);
    assert_eq!(
        err.unwrap_err(),
        ModelError::QuotaExceeded {
            kind: crate::limits::QuotaKind::Tags,
            attempted: 3,
            maximum: 2
        }
    );
}

#[test]
fn an_empty_property_name_is_refused_when_added() {
    let err = patch(
        &mut image(),
        json!([{"op": "add", "path": "/", "value": "v"}]),
    );
    assert_eq!(
        err.unwrap_err(),
        ModelError::invalid("Property names may not be empty.")
    );
}

#[test]
fn null_kernel_and_ramdisk_ids_remove_the_property() {
    let mut img = image();
    let id = "6f4ad1d2-21b2-4a4e-9bd5-6d5b2a9c1f00";
    patch(
        &mut img,
        json!([{"op": "add", "path": "/kernel_id", "value": id},
               {"op": "add", "path": "/ramdisk_id", "value": null}]),
    )
    .unwrap();
    assert_eq!(img.properties["kernel_id"], id);
    assert!(!img.properties.contains_key("ramdisk_id"));
    patch(
        &mut img,
        json!([{"op": "replace", "path": "/kernel_id", "value": null}]),
    )
    .unwrap();
    assert!(!img.properties.contains_key("kernel_id"));
}

#[test]
fn huge_values_are_cut_in_errors() {
    let long = "p".repeat(10_000);
    for body in [
        json!([{"op": long, "path": "/a", "value": "1"}]),
        json!([{"op": "add", "path": format!("/{long}/x"), "value": "1"}]),
        json!([{"op": "add", "path": format!("/{long}~2"), "value": "1"}]),
    ] {
        let message = ops(body, PatchDialect::V21).unwrap_err().to_string();
        assert!(message.len() < 400, "{message}");
    }
}
