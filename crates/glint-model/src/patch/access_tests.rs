//! Patches applied for a caller whose access to additional properties is
//! limited (Glance's property protections).

use serde_json::{Value, json};

use super::*;
use crate::image::NewImage;
use crate::limits::Quotas;

/// Allowed operations per property, as letters of "crud"; a property not
/// listed allows nothing.
struct Table(&'static [(&'static str, &'static str)]);

impl PropertyAccess for Table {
    fn allows(&self, property: &str, operation: PropertyOperation) -> bool {
        let letter = match operation {
            PropertyOperation::Create => 'c',
            PropertyOperation::Read => 'r',
            PropertyOperation::Update => 'u',
            PropertyOperation::Delete => 'd',
        };
        self.0
            .iter()
            .any(|(name, ops)| *name == property && ops.contains(letter))
    }
}

const ACCESS: Table = Table(&[
    ("open", "crud"),
    ("read_only", "r"),
    ("no_delete", "cru"),
    ("create_only", "c"),
    ("create_read", "cr"),
    ("hidden", ""),
    ("hidden_creatable", "c"),
]);

fn image() -> Image {
    let body = json!({
        "name": "a", "read_only": "1", "no_delete": "2", "hidden": "3",
        "hidden_creatable": "4", "open": "5"
    });
    NewImage::from_json(&body, &FormatRules::default(), Quotas::default())
        .unwrap()
        .into_image(Some("p".into()))
}

fn patch(image: &mut Image, dialect: PatchDialect, body: Value) -> Result<(), ModelError> {
    let ops = parse_patch(&body, dialect, &FormatRules::default(), Quotas::default())?;
    apply_patch_with(image, &ops, &ACCESS)
}

fn patch_v21(image: &mut Image, body: Value) -> Result<(), ModelError> {
    patch(image, PatchDialect::V21, body)
}

#[test]
fn allowed_operations_change_the_properties() {
    let mut img = image();
    patch_v21(
        &mut img,
        json!([
            {"op": "replace", "path": "/open", "value": "new"},
            {"op": "replace", "path": "/no_delete", "value": "changed"},
            {"op": "add", "path": "/create_only", "value": "made"},
            {"op": "remove", "path": "/open"},
            {"op": "replace", "path": "/name", "value": "base attributes are not protected"},
        ]),
    )
    .unwrap();
    assert_eq!(img.properties.get("open"), None);
    assert_eq!(img.properties["no_delete"], "changed");
    assert_eq!(img.properties["create_only"], "made");
    assert_eq!(
        img.name.as_deref(),
        Some("base attributes are not protected")
    );
}

#[test]
fn denied_update_delete_and_create_are_reserved() {
    let cases = [
        (
            json!({"op": "replace", "path": "/read_only", "value": "x"}),
            "read_only",
        ),
        (
            json!({"op": "add", "path": "/read_only", "value": "x"}),
            "read_only",
        ),
        (json!({"op": "remove", "path": "/no_delete"}), "no_delete"),
        (
            json!({"op": "add", "path": "/unlisted", "value": "x"}),
            "unlisted",
        ),
    ];
    for (op, name) in cases {
        let mut img = image();
        let before = img.clone();
        let err = patch_v21(&mut img, json!([op])).unwrap_err();
        assert_eq!(
            err,
            ModelError::forbidden(format!("Attribute '{name}' is reserved."))
        );
        assert_eq!(img, before, "a refused operation changes nothing");
    }
}

#[test]
fn unreadable_properties_do_not_exist_for_replace_and_remove() {
    for op in [
        json!({"op": "replace", "path": "/hidden", "value": "x"}),
        json!({"op": "remove", "path": "/hidden"}),
    ] {
        let err = patch_v21(&mut image(), json!([op])).unwrap_err();
        assert_eq!(err, ModelError::conflict("Property hidden does not exist."));
    }
}

#[test]
fn adding_an_unreadable_property_is_a_create() {
    let mut img = image();
    let err = patch_v21(
        &mut img,
        json!([{"op": "add", "path": "/hidden", "value": "x"}]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ModelError::forbidden("Attribute 'hidden' is reserved.")
    );
    patch_v21(
        &mut img,
        json!([{"op": "add", "path": "/hidden_creatable", "value": "x"}]),
    )
    .unwrap();
    assert_eq!(img.properties["hidden_creatable"], "x");
}

#[test]
fn draft4_add_conflicts_only_with_a_readable_property() {
    let mut img = image();
    let err = patch(
        &mut img,
        PatchDialect::V20,
        json!([{"add": "/open", "value": "x"}]),
    )
    .unwrap_err();
    assert_eq!(err, ModelError::conflict("Property open already present."));
    patch(
        &mut img,
        PatchDialect::V20,
        json!([{"add": "/hidden_creatable", "value": "x"}]),
    )
    .unwrap();
    assert_eq!(img.properties["hidden_creatable"], "x");
}

#[test]
fn a_property_added_earlier_in_the_patch_is_then_updated() {
    let mut img = image();
    let err = patch_v21(
        &mut img,
        json!([
            {"op": "add", "path": "/create_read", "value": "1"},
            {"op": "replace", "path": "/create_read", "value": "2"},
        ]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ModelError::forbidden("Attribute 'create_read' is reserved.")
    );
    let err = patch_v21(
        &mut image(),
        json!([
            {"op": "add", "path": "/create_only", "value": "1"},
            {"op": "remove", "path": "/create_only"},
        ]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ModelError::conflict("Property create_only does not exist.")
    );
}

#[test]
fn unrestricted_access_is_plain_apply_patch() {
    let mut img = image();
    let ops = parse_patch(
        &json!([{"op": "remove", "path": "/hidden"}]),
        PatchDialect::V21,
        &FormatRules::default(),
        Quotas::default(),
    )
    .unwrap();
    apply_patch(&mut img, &ops).unwrap();
    assert!(!img.properties.contains_key("hidden"));
}
