//! Which image attributes exist, which a user may set, and how their values
//! are validated (the rules of Glance's image schema, checked by hand so the
//! messages read like jsonschema's).

use serde_json::Value;

use crate::error::ModelError;
use crate::visibility::Visibility;

/// Attributes that are in the image schema but never settable.
pub const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
];

/// Attributes that may not even appear in a create body.
pub const DISALLOWED_ON_CREATE: &[&str] = &["direct_url", "self", "file", "schema", "stores"];

/// Names reserved for Glance's own bookkeeping.
pub const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];

/// Prefix of the properties glint (like Glance) keeps for itself.
pub const RESERVED_NAMESPACE: &str = "os_glance";

/// Settable attributes that are columns of the image, not extra properties.
pub const BASE_SETTABLE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_ram",
    "min_disk",
    "container_format",
    "disk_format",
    "owner",
    "tags",
];

/// Extra properties glint sets internally and never shows.
pub const HIDDEN_PROPERTIES: &[&str] = &[
    "os_glance_stage_host",
    "os_glance_hash_op_host",
    "os_glance_upload_lease",
];

pub const MAX_NAME_LEN: usize = 255;

/// The pattern Glance's schema gives the `id` attribute, quoted in errors.
pub const ID_PATTERN: &str =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

/// The configured format lists that the schema's enums are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatRules {
    pub disk_formats: Vec<String>,
    pub container_formats: Vec<String>,
}

impl Default for FormatRules {
    fn default() -> Self {
        let list = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        FormatRules {
            disk_formats: list(&[
                "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
            ]),
            container_formats: list(&[
                "ami",
                "ari",
                "aki",
                "bare",
                "ovf",
                "ova",
                "docker",
                "compressed",
            ]),
        }
    }
}

/// Checks that a user may set `key` at all (read-only and reserved names).
pub fn check_writable(key: &str) -> Result<(), ModelError> {
    if READ_ONLY.contains(&key) {
        return Err(ModelError::forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    if RESERVED.contains(&key) || key.starts_with(RESERVED_NAMESPACE) {
        return Err(reserved(key));
    }
    Ok(())
}

/// Glance's refusal of a name the caller may not touch: a reserved name, or
/// an additional property that property protections deny to the caller.
pub fn reserved(key: &str) -> ModelError {
    ModelError::forbidden(format!("Attribute '{key}' is reserved."))
}

/// What a caller may do with an additional property, in the terms of
/// Glance's property protections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyOperation {
    Create,
    Read,
    Update,
    Delete,
}

impl PropertyOperation {
    /// In the order a protections file lists them.
    pub const ALL: [PropertyOperation; 4] = [
        PropertyOperation::Create,
        PropertyOperation::Read,
        PropertyOperation::Update,
        PropertyOperation::Delete,
    ];

    /// The option name of the operation in a protections file.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyOperation::Create => "create",
            PropertyOperation::Read => "read",
            PropertyOperation::Update => "update",
            PropertyOperation::Delete => "delete",
        }
    }

    /// The operation an option name stands for (exact, lower case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

/// Decides, for one caller, which operations on which additional
/// properties are allowed. Base attributes (name, visibility, ...) are
/// never subject to it.
pub trait PropertyAccess {
    fn allows(&self, property: &str, operation: PropertyOperation) -> bool;
}

/// Every operation on every property is allowed: no protections configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unrestricted;

impl PropertyAccess for Unrestricted {
    fn allows(&self, _property: &str, _operation: PropertyOperation) -> bool {
        true
    }
}

/// Renders a JSON value the way Python's `repr` shows it, since Glance's
/// schema errors quote values that way.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(xs) => {
            let inner: Vec<String> = xs.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
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

fn check_enum(v: &Value, allowed: &[String]) -> Result<(), ModelError> {
    if v.is_null() {
        return Ok(());
    }
    if v.as_str().is_some_and(|s| allowed.iter().any(|a| a == s)) {
        return Ok(());
    }
    let mut names = vec!["None".to_string()];
    names.extend(allowed.iter().map(|a| format!("'{a}'")));
    Err(schema_error(format!(
        "{} is not one of [{}]",
        py_repr(v),
        names.join(", ")
    )))
}

fn check_opt_string(v: &Value, max: usize) -> Result<(), ModelError> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if s.chars().count() <= max => Ok(()),
        Value::String(_) => Err(schema_error(format!("{} is too long", py_repr(v)))),
        _ => Err(type_error(v, "'null', 'string'")),
    }
}

fn check_int(v: &Value) -> Result<(), ModelError> {
    if v.is_i64() || v.is_u64() {
        Ok(())
    } else {
        Err(type_error(v, "'integer'"))
    }
}

/// Validates one attribute's value against the image schema. Extra
/// properties must be strings.
pub fn validate_value(key: &str, v: &Value, formats: &FormatRules) -> Result<(), ModelError> {
    match key {
        "id" => match v.as_str() {
            Some(s) if crate::ids::ImageId::parse(s).is_some() => Ok(()),
            Some(_) => Err(schema_error(format!(
                "{} does not match '{ID_PATTERN}'",
                py_repr(v)
            ))),
            None => Err(type_error(v, "'string'")),
        },
        "name" | "owner" => check_opt_string(v, MAX_NAME_LEN),
        "visibility" => {
            let ok = v.as_str().is_some_and(|s| s.parse::<Visibility>().is_ok());
            if ok {
                Ok(())
            } else {
                Err(schema_error(format!(
                    "{} is not one of ['community', 'public', 'private', 'shared']",
                    py_repr(v)
                )))
            }
        }
        "protected" | "os_hidden" => {
            if v.is_boolean() {
                Ok(())
            } else {
                Err(type_error(v, "'boolean'"))
            }
        }
        "min_ram" | "min_disk" => {
            check_int(v)?;
            if v.as_i64().is_some_and(|n| n < 0) {
                return Err(ModelError::invalid(format!(
                    "Invalid value '{v}' for parameter '{key}': Cannot be a negative value"
                )));
            }
            Ok(())
        }
        "container_format" => check_enum(v, &formats.container_formats),
        "disk_format" => check_enum(v, &formats.disk_formats),
        "tags" => validate_tags(v),
        _ => {
            if v.is_string() {
                Ok(())
            } else {
                Err(type_error(v, "'string'"))
            }
        }
    }
}

fn validate_tags(v: &Value) -> Result<(), ModelError> {
    let Some(items) = v.as_array() else {
        return Err(type_error(v, "'array'"));
    };
    for item in items {
        validate_tag_value(item)?;
    }
    Ok(())
}

fn validate_tag_value(item: &Value) -> Result<(), ModelError> {
    match item.as_str() {
        Some(s) if s.chars().count() <= MAX_NAME_LEN => Ok(()),
        Some(_) => Err(schema_error(format!("{} is too long", py_repr(item)))),
        None => Err(type_error(item, "'string'")),
    }
}

/// Validates a tag given on its own (the tags API): same rules as in a body.
pub fn validate_tag(tag: &str) -> Result<(), ModelError> {
    validate_tag_value(&Value::String(tag.to_string()))
}

/// Checks the name of an extra (additional) property.
pub fn validate_property_name(key: &str) -> Result<(), ModelError> {
    if key.chars().count() > MAX_NAME_LEN {
        return Err(ModelError::invalid(
            "Custom property should not be greater than 255 characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_disk_format_names_the_allowed_ones() {
        let err = validate_value("disk_format", &json!("qcow3"), &FormatRules::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(
            "Provided object does not match schema 'image': 'qcow3' is not one of [None, 'ami', 'ari'"
        ));
    }

    #[test]
    fn extra_properties_must_be_strings() {
        let err = validate_value("hw_disk_bus", &json!(1), &FormatRules::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Provided object does not match schema 'image': 1 is not of type 'string'"
        );
    }

    #[test]
    fn negative_min_ram_is_invalid() {
        assert!(validate_value("min_ram", &json!(-1), &FormatRules::default()).is_err());
        assert!(validate_value("min_ram", &json!(512), &FormatRules::default()).is_ok());
        assert!(validate_value("min_ram", &json!("512"), &FormatRules::default()).is_err());
    }

    #[test]
    fn read_only_and_reserved_names_are_refused() {
        assert_eq!(
            check_writable("status").unwrap_err().to_string(),
            "Attribute 'status' is read-only."
        );
        assert_eq!(
            check_writable("os_glance_import_task")
                .unwrap_err()
                .to_string(),
            "Attribute 'os_glance_import_task' is reserved."
        );
        assert!(check_writable("hw_disk_bus").is_ok());
    }

    #[test]
    fn python_repr_quotes_like_python() {
        assert_eq!(py_repr(&json!(null)), "None");
        assert_eq!(py_repr(&json!([true, "a"])), "[True, 'a']");
    }
}
