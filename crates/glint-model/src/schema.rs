//! The rules of Glance's image schema (`/v2/schemas/image`), checked by hand
//! so that errors read like the jsonschema messages Glance answers with,
//! plus the bounds glint adds to them (see [`crate::limits`]).

use serde_json::Value;

use crate::error::ModelError;
use crate::ids::ImageId;
use crate::limits::{self, CLIP_MARKER, MAX_ECHO_CHARS, MAX_MIN_REQUIREMENT};
use crate::properties::{FormatRules, MAX_NAME_LEN};
use crate::visibility::Visibility;

/// The pattern Glance's schema gives the `id` attribute (and `kernel_id`,
/// `ramdisk_id`), quoted in errors.
pub const ID_PATTERN: &str =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

const STATUSES: &[&str] = &[
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
];

const KEY_DELETION_POLICIES: &[&str] = &["on_image_deletion", "do_not_delete"];

/// Renders a JSON value the way Python's `repr` shows it, since Glance's
/// schema errors quote values that way. Long values are cut after
/// [`MAX_ECHO_CHARS`] characters and end with [`CLIP_MARKER`], so that a
/// huge value never makes a huge error message.
pub fn py_repr(v: &Value) -> String {
    let mut repr = Repr {
        out: String::new(),
        left: MAX_ECHO_CHARS,
    };
    if repr.value(v).is_err() {
        repr.out.push_str(CLIP_MARKER);
    }
    repr.out
}

/// The rendering ran out of room.
struct Full;

struct Repr {
    out: String,
    left: usize,
}

impl Repr {
    fn push(&mut self, s: &str) -> Result<(), Full> {
        for c in s.chars() {
            if self.left == 0 {
                return Err(Full);
            }
            self.out.push(c);
            self.left -= 1;
        }
        Ok(())
    }

    fn string(&mut self, s: &str) -> Result<(), Full> {
        self.push("'")?;
        for c in s.chars() {
            match c {
                '\\' => self.push("\\\\")?,
                '\'' => self.push("\\'")?,
                c => self.push(c.encode_utf8(&mut [0; 4]))?,
            }
        }
        self.push("'")
    }

    fn value(&mut self, v: &Value) -> Result<(), Full> {
        match v {
            Value::Null => self.push("None"),
            Value::Bool(true) => self.push("True"),
            Value::Bool(false) => self.push("False"),
            Value::Number(n) => self.push(&n.to_string()),
            Value::String(s) => self.string(s),
            Value::Array(xs) => {
                self.push("[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        self.push(", ")?;
                    }
                    self.value(x)?;
                }
                self.push("]")
            }
            Value::Object(m) => {
                self.push("{")?;
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        self.push(", ")?;
                    }
                    self.string(k)?;
                    self.push(": ")?;
                    self.value(x)?;
                }
                self.push("}")
            }
        }
    }
}

fn schema_error(detail: String) -> ModelError {
    ModelError::invalid(format!(
        "Provided object does not match schema 'image': {detail}"
    ))
}

fn type_error(v: &Value, ty: &str) -> ModelError {
    schema_error(format!("{} is not of type {ty}", py_repr(v)))
}

fn enum_error(v: &Value, names: &[String]) -> ModelError {
    schema_error(format!(
        "{} is not one of [{}]",
        py_repr(v),
        names.join(", ")
    ))
}

fn nul_error(key: &str) -> ModelError {
    ModelError::invalid(format!(
        "Attribute '{}' may not contain NUL characters.",
        limits::clip(key)
    ))
}

/// A string attribute: the type, no NUL, at most `max` characters.
fn check_string(
    v: &Value,
    key: &str,
    nullable: bool,
    max: Option<usize>,
) -> Result<(), ModelError> {
    let s = match v {
        Value::Null if nullable => return Ok(()),
        Value::String(s) => s,
        _ if nullable => return Err(type_error(v, "'null', 'string'")),
        _ => return Err(type_error(v, "'string'")),
    };
    if max.is_some_and(|max| s.chars().nth(max).is_some()) {
        return Err(schema_error(format!("{} is too long", py_repr(v))));
    }
    if limits::has_nul(s) {
        return Err(nul_error(key));
    }
    Ok(())
}

fn check_enum(v: &Value, allowed: &[String]) -> Result<(), ModelError> {
    if v.is_null() || v.as_str().is_some_and(|s| allowed.iter().any(|a| a == s)) {
        return Ok(());
    }
    let mut names = vec!["None".to_string()];
    names.extend(allowed.iter().map(|a| format!("'{a}'")));
    Err(enum_error(v, &names))
}

fn check_str_enum(v: &Value, allowed: &[&str]) -> Result<(), ModelError> {
    let Some(s) = v.as_str() else {
        return Err(type_error(v, "'string'"));
    };
    if allowed.contains(&s) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    Err(enum_error(v, &names))
}

/// An image id, or a reference to one (`kernel_id`, `ramdisk_id`).
fn check_uuid(v: &Value, nullable: bool) -> Result<(), ModelError> {
    match v {
        Value::Null if nullable => Ok(()),
        Value::String(s) if ImageId::parse(s).is_some() => Ok(()),
        Value::String(_) => Err(schema_error(format!(
            "{} does not match '{ID_PATTERN}'",
            py_repr(v)
        ))),
        _ if nullable => Err(type_error(v, "'null', 'string'")),
        _ => Err(type_error(v, "'string'")),
    }
}

/// The value of a JSON integer, as jsonschema sees one: floats without a
/// fraction count (`1.0`, `1e30`).
pub fn as_integer(v: &Value) -> Option<i128> {
    if let Some(n) = v.as_i64() {
        return Some(n.into());
    }
    if let Some(n) = v.as_u64() {
        return Some(n.into());
    }
    let f = v.as_f64()?;
    // Beyond i128 a float is far out of any range checked here anyway.
    (f.fract() == 0.0 && f.abs() < 1e38).then_some(f as i128)
}

fn check_nullable_int(v: &Value) -> Result<(), ModelError> {
    if v.is_null() || as_integer(v).is_some() {
        Ok(())
    } else {
        Err(type_error(v, "'null', 'integer'"))
    }
}

/// `min_ram`, `min_disk`: an integer that fits Glance's column, not negative.
fn check_min_requirement(key: &str, v: &Value) -> Result<(), ModelError> {
    let Some(n) = as_integer(v) else {
        return Err(type_error(v, "'integer'"));
    };
    if n < 0 {
        return Err(ModelError::invalid(format!(
            "Invalid value '{v}' for parameter '{key}': Cannot be a negative value"
        )));
    }
    if n > i128::from(MAX_MIN_REQUIREMENT) {
        return Err(schema_error(format!(
            "{} is greater than the maximum of {MAX_MIN_REQUIREMENT}",
            py_repr(v)
        )));
    }
    Ok(())
}

fn check_bool(v: &Value) -> Result<(), ModelError> {
    if v.is_boolean() {
        Ok(())
    } else {
        Err(type_error(v, "'boolean'"))
    }
}

/// Validates one attribute's value against the image schema. Additional
/// properties must be strings without NUL, of at most
/// [`limits::MAX_PROPERTY_VALUE_BYTES`].
pub fn validate_value(key: &str, v: &Value, formats: &FormatRules) -> Result<(), ModelError> {
    match key {
        "id" => check_uuid(v, false),
        "name" | "owner" => check_string(v, key, true, Some(MAX_NAME_LEN)),
        "visibility" => {
            let names = ["community", "public", "private", "shared"].map(|n| format!("'{n}'"));
            match v.as_str() {
                Some(s) if s.parse::<Visibility>().is_ok() => Ok(()),
                _ => Err(enum_error(v, &names)),
            }
        }
        "protected" | "os_hidden" => check_bool(v),
        "min_ram" | "min_disk" => check_min_requirement(key, v),
        "container_format" => check_enum(v, &formats.container_formats),
        "disk_format" => check_enum(v, &formats.disk_formats),
        "tags" => validate_tags(v),
        "status" => check_str_enum(v, STATUSES),
        "checksum" => check_string(v, key, true, Some(32)),
        "os_hash_algo" => check_string(v, key, true, Some(64)),
        "os_hash_value" => check_string(v, key, true, Some(128)),
        "size" | "virtual_size" => check_nullable_int(v),
        "created_at" | "updated_at" | "direct_url" | "self" | "file" | "schema" | "stores" => {
            check_string(v, key, false, None)
        }
        "locations" => validate_locations(v),
        "kernel_id" | "ramdisk_id" => check_uuid(v, true),
        "cinder_encryption_key_deletion_policy" => check_str_enum(v, KEY_DELETION_POLICIES),
        _ => validate_property_value(key, v),
    }
}

fn validate_property_value(key: &str, v: &Value) -> Result<(), ModelError> {
    check_string(v, key, false, None)?;
    let len = v.as_str().map_or(0, str::len);
    if len > limits::MAX_PROPERTY_VALUE_BYTES {
        return Err(ModelError::invalid(format!(
            "Value of property '{}' is too long: {len} bytes, the limit is {} bytes.",
            limits::clip(key),
            limits::MAX_PROPERTY_VALUE_BYTES
        )));
    }
    Ok(())
}

fn validate_tags(v: &Value) -> Result<(), ModelError> {
    let Some(items) = v.as_array() else {
        return Err(type_error(v, "'array'"));
    };
    items.iter().try_for_each(validate_tag_value)
}

fn validate_tag_value(item: &Value) -> Result<(), ModelError> {
    let Some(s) = item.as_str() else {
        return Err(type_error(item, "'string'"));
    };
    if s.chars().nth(MAX_NAME_LEN).is_some() {
        return Err(schema_error(format!("{} is too long", py_repr(item))));
    }
    if limits::has_nul(s) {
        return Err(ModelError::invalid("Tags may not contain NUL characters."));
    }
    Ok(())
}

/// Validates a tag given on its own (the tags API): same rules as in a body.
pub fn validate_tag(tag: &str) -> Result<(), ModelError> {
    validate_tag_value(&Value::String(tag.to_string()))
}

/// `locations`: a list of `{"url": …, "metadata": {…}}` objects. Glance
/// checks the shape before it refuses the attribute.
fn validate_locations(v: &Value) -> Result<(), ModelError> {
    let Some(items) = v.as_array() else {
        return Err(type_error(v, "'array'"));
    };
    for item in items {
        let Some(location) = item.as_object() else {
            return Err(type_error(item, "'object'"));
        };
        for required in ["url", "metadata"] {
            if !location.contains_key(required) {
                return Err(schema_error(format!("'{required}' is a required property")));
            }
        }
        check_string(&location["url"], "url", false, Some(255))?;
        if !location["metadata"].is_object() {
            return Err(type_error(&location["metadata"], "'object'"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(key: &str, v: Value) -> Result<(), String> {
        validate_value(key, &v, &FormatRules::default()).map_err(|e| e.to_string())
    }

    const PREFIX: &str = "Provided object does not match schema 'image': ";

    #[test]
    fn unknown_disk_format_names_the_allowed_ones() {
        let err = check("disk_format", json!("qcow3")).unwrap_err();
        assert!(err.starts_with(&format!(
            "{PREFIX}'qcow3' is not one of [None, 'ami', 'ari'"
        )));
    }

    #[test]
    fn extra_properties_must_be_strings() {
        assert_eq!(
            check("hw_disk_bus", json!(1)).unwrap_err(),
            format!("{PREFIX}1 is not of type 'string'")
        );
    }

    #[test]
    fn min_requirements_fit_a_32_bit_column() {
        assert!(check("min_ram", json!(-1)).is_err());
        assert!(check("min_ram", json!(512)).is_ok());
        assert!(check("min_ram", json!(1.0)).is_ok());
        assert!(check("min_ram", json!("512")).is_err());
        assert!(check("min_disk", json!(2_147_483_647)).is_ok());
        assert_eq!(
            check("min_disk", json!(2_147_483_648_u64)).unwrap_err(),
            format!("{PREFIX}2147483648 is greater than the maximum of 2147483647")
        );
        assert!(check("min_ram", json!(u64::MAX)).is_err());
        assert!(check("min_ram", json!(1e30)).is_err());
        assert_eq!(
            check("min_ram", json!(1.5)).unwrap_err(),
            format!("{PREFIX}1.5 is not of type 'integer'")
        );
    }

    #[test]
    fn kernel_and_ramdisk_ids_follow_the_uuid_pattern_or_are_null() {
        let id = "0d6a3a43-2a0e-4e0f-a4a4-8d6a0b6b6c11";
        for key in ["kernel_id", "ramdisk_id"] {
            assert!(check(key, json!(id)).is_ok());
            assert!(check(key, json!(null)).is_ok());
            assert_eq!(
                check(key, json!("vmlinuz")).unwrap_err(),
                format!("{PREFIX}'vmlinuz' does not match '{ID_PATTERN}'")
            );
            assert_eq!(
                check(key, json!(3)).unwrap_err(),
                format!("{PREFIX}3 is not of type 'null', 'string'")
            );
        }
    }

    #[test]
    fn typed_well_known_properties_refuse_other_types() {
        for key in ["instance_uuid", "architecture", "os_distro", "description"] {
            assert_eq!(
                check(key, json!(null)).unwrap_err(),
                format!("{PREFIX}None is not of type 'string'")
            );
        }
        assert_eq!(
            check("cinder_encryption_key_deletion_policy", json!("later")).unwrap_err(),
            format!("{PREFIX}'later' is not one of ['on_image_deletion', 'do_not_delete']")
        );
        assert!(
            check(
                "cinder_encryption_key_deletion_policy",
                json!("do_not_delete")
            )
            .is_ok()
        );
    }

    #[test]
    fn read_only_attributes_are_typed_as_in_the_schema() {
        assert!(check("size", json!(5)).is_ok());
        assert!(check("size", json!(null)).is_ok());
        assert!(check("virtual_size", json!("5")).is_err());
        assert!(check("status", json!("active")).is_ok());
        assert!(check("status", json!("gone")).is_err());
        assert!(check("checksum", json!("a".repeat(33))).is_err());
    }

    #[test]
    fn locations_must_be_well_formed() {
        assert!(check("locations", json!([{"url": "file:///x", "metadata": {}}])).is_ok());
        assert_eq!(
            check("locations", json!([{"url": "file:///x"}])).unwrap_err(),
            format!("{PREFIX}'metadata' is a required property")
        );
        assert!(check("locations", json!("file:///x")).is_err());
    }

    #[test]
    fn nul_characters_and_oversized_values_are_refused() {
        assert_eq!(
            check("name", json!("a\0b")).unwrap_err(),
            "Attribute 'name' may not contain NUL characters."
        );
        assert!(check("owner", json!("\0")).is_err());
        assert!(check("hw_x", json!("a\0")).is_err());
        assert!(check("tags", json!(["a\0"])).is_err());
        let max = "x".repeat(limits::MAX_PROPERTY_VALUE_BYTES);
        assert!(check("hw_x", json!(max)).is_ok());
        let over = format!("{max}x");
        assert_eq!(
            check("hw_x", json!(over)).unwrap_err(),
            "Value of property 'hw_x' is too long: 65536 bytes, the limit is 65535 bytes."
        );
    }

    #[test]
    fn python_repr_quotes_like_python() {
        assert_eq!(py_repr(&json!(null)), "None");
        assert_eq!(py_repr(&json!([true, "a"])), "[True, 'a']");
        assert_eq!(py_repr(&json!({"k": "it's"})), "{'k': 'it\\'s'}");
    }

    #[test]
    fn python_repr_of_a_huge_value_is_cut() {
        let huge = json!(vec!["x".repeat(1000); 1000]);
        let repr = py_repr(&huge);
        assert_eq!(repr.chars().count(), MAX_ECHO_CHARS + CLIP_MARKER.len());
        assert!(repr.starts_with("['xxx"));
        assert!(repr.ends_with(CLIP_MARKER));
    }
}
