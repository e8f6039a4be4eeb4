//! Which image attributes exist and which a user may set. The values
//! themselves are checked against the image schema in [`crate::schema`].

use crate::error::ModelError;
use crate::limits;

pub use crate::schema::{ID_PATTERN, py_repr, validate_tag, validate_value};

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
    // Not read-only in Glance's patch checks, which then store it as an
    // additional property that would pose as the list of stores.
    "stores",
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
    ModelError::forbidden(format!("Attribute '{}' is reserved.", limits::clip(key)))
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

/// Checks the name of an extra (additional) property.
pub fn validate_property_name(key: &str) -> Result<(), ModelError> {
    if key.chars().nth(MAX_NAME_LEN).is_some() {
        return Err(ModelError::invalid(
            "Custom property should not be greater than 255 characters.",
        ));
    }
    // Glance stores both; neither can be filtered on or shown sensibly, and
    // PostgreSQL cannot store the second.
    if key.is_empty() {
        return Err(ModelError::invalid("Property names may not be empty."));
    }
    if limits::has_nul(key) {
        return Err(ModelError::invalid(
            "Property names may not contain NUL characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_and_reserved_names_are_refused() {
        assert_eq!(
            check_writable("status").unwrap_err().to_string(),
            "Attribute 'status' is read-only."
        );
        assert_eq!(
            check_writable("stores").unwrap_err().to_string(),
            "Attribute 'stores' is read-only."
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
    fn property_names_are_non_empty_short_and_without_nul() {
        assert!(validate_property_name("hw_disk_bus").is_ok());
        assert!(validate_property_name(&"n".repeat(255)).is_ok());
        assert!(validate_property_name(&"n".repeat(256)).is_err());
        assert_eq!(
            validate_property_name("").unwrap_err().to_string(),
            "Property names may not be empty."
        );
        assert!(validate_property_name("a\0b").is_err());
    }
}
