//! Glance's image JSON-patch dialects: parsing and applying them.
//!
//! Two media types exist: `application/openstack-images-v2.1-json-patch`
//! (RFC 6902 style, `{"op": "add", "path": "/x", "value": …}`) and the
//! deprecated `application/openstack-images-v2.0-json-patch`
//! (`{"add": "/x", "value": …}`). Paths are one level deep except for
//! `/locations/N`.

use serde_json::Value;

use crate::error::ModelError;
use crate::image::{self, Image};
use crate::limits::{QuotaKind, Quotas, clip};
use crate::properties::{self, FormatRules, PropertyAccess, PropertyOperation, Unrestricted};
use crate::schema::as_integer;

pub const MEDIA_TYPE_V20: &str = "application/openstack-images-v2.0-json-patch";
pub const MEDIA_TYPE_V21: &str = "application/openstack-images-v2.1-json-patch";

const OPERATIONS: [&str; 3] = ["add", "remove", "replace"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchDialect {
    /// The deprecated v2.0 type (JSON-schema draft 4 style operations).
    V20,
    /// The v2.1 type (draft 10 / RFC 6902 style operations).
    V21,
}

impl PatchDialect {
    /// Chooses the dialect from a request's media type (parameters ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            MEDIA_TYPE_V20 => Some(PatchDialect::V20),
            MEDIA_TYPE_V21 => Some(PatchDialect::V21),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

/// One parsed, validated change.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub kind: PatchOpKind,
    pub path: Vec<String>,
    pub value: Option<Value>,
    pub dialect: PatchDialect,
}

impl PatchOp {
    pub fn root(&self) -> &str {
        self.path.first().map(String::as_str).unwrap_or("")
    }
}

fn bad(msg: impl Into<String>) -> ModelError {
    ModelError::invalid(msg)
}

/// Parses and validates a patch body. A tag list over the tag quota is
/// refused before its tags are looked at.
pub fn parse_patch(
    body: &Value,
    dialect: PatchDialect,
    formats: &FormatRules,
    quotas: Quotas,
) -> Result<Vec<PatchOp>, ModelError> {
    let Some(items) = body.as_array() else {
        return Err(bad(
            "Request body must be a JSON array of operation objects.",
        ));
    };
    items
        .iter()
        .map(|raw| parse_one(raw, dialect, formats, quotas))
        .collect()
}

fn parse_one(
    raw: &Value,
    dialect: PatchDialect,
    formats: &FormatRules,
    quotas: Quotas,
) -> Result<PatchOp, ModelError> {
    let Some(obj) = raw.as_object() else {
        return Err(bad("Operations must be JSON objects."));
    };
    let (kind, pointer) = match dialect {
        PatchDialect::V21 => {
            let op = obj.get("op").ok_or_else(|| {
                bad(format!(
                    "Unable to find `op` in JSON Schema change. It must be one of the following: {}.",
                    OPERATIONS.join(", ")
                ))
            })?;
            let kind = op_kind(op.as_str().unwrap_or_default()).ok_or_else(|| {
                let shown = op
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| op.to_string());
                bad(format!(
                    "Invalid operation: `{}`. It must be one of the following: {}.",
                    clip(&shown),
                    OPERATIONS.join(", ")
                ))
            })?;
            let path = obj
                .get("path")
                .ok_or_else(|| bad("Unable to find 'path' in JSON Schema change"))?;
            (kind, path)
        }
        PatchDialect::V20 => {
            let present: Vec<&str> = OPERATIONS
                .into_iter()
                .filter(|k| obj.contains_key(*k))
                .collect();
            match present.as_slice() {
                [one] => (op_kind(one).unwrap_or(PatchOpKind::Add), &obj[*one]),
                [] => {
                    return Err(bad(
                        "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                    ));
                }
                _ => {
                    return Err(bad(
                        "Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".",
                    ));
                }
            }
        }
    };
    let pointer = pointer.as_str().ok_or_else(|| {
        bad(format!(
            "Pointer `{}` does not start with \"/\".",
            clip(&pointer.to_string())
        ))
    })?;
    let path = decode_pointer(pointer)?;
    validate_depth(kind, &path)?;
    let value = if kind == PatchOpKind::Remove {
        None
    } else {
        let name = match kind {
            PatchOpKind::Add => "add",
            _ => "replace",
        };
        Some(obj.get("value").cloned().ok_or_else(|| {
            bad(format!(
                "Operation \"{name}\" requires a member named \"value\"."
            ))
        })?)
    };
    let op = PatchOp {
        kind,
        path,
        value,
        dialect,
    };
    check_tag_quota(&op, quotas)?;
    validate_change(&op, formats)?;
    Ok(op)
}

fn op_kind(s: &str) -> Option<PatchOpKind> {
    match s {
        "add" => Some(PatchOpKind::Add),
        "remove" => Some(PatchOpKind::Remove),
        "replace" => Some(PatchOpKind::Replace),
        _ => None,
    }
}

/// Glance counts the tags of a new list as sent, duplicates included.
fn check_tag_quota(op: &PatchOp, quotas: Quotas) -> Result<(), ModelError> {
    let tags = match (&op.value, op.root()) {
        (Some(Value::Array(tags)), "tags") => tags.len() as u64,
        _ => return Ok(()),
    };
    quotas
        .check(QuotaKind::Tags, tags)
        .map_err(|maximum| ModelError::QuotaExceeded {
            kind: QuotaKind::Tags,
            attempted: tags,
            maximum,
        })
}

/// Decodes a JSON pointer, accepting only the limited form Glance accepts.
pub fn decode_pointer(pointer: &str) -> Result<Vec<String>, ModelError> {
    let shown = clip(pointer);
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad(format!("Pointer `{shown}` does not start with \"/\".")));
    };
    if rest.split('/').skip(1).any(|seg| seg.trim().is_empty()) && rest.contains('/') {
        let trailing = pointer.len() > 1 && pointer.ends_with('/');
        if trailing {
            return Err(bad(format!("Pointer `{shown}` end with \"/\".")));
        }
        return Err(bad(format!("Pointer `{shown}` contains adjacent \"/\".")));
    }
    if rest.trim().is_empty() && pointer.len() > 1 {
        return Err(bad(format!(
            "Pointer `{shown}` does not contains valid token."
        )));
    }
    let bytes = pointer.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0') | Some(b'1')) {
            return Err(bad(format!(
                "Pointer `{shown}` contains \"~\" not part of a recognized escape sequence."
            )));
        }
    }
    Ok(rest
        .split('/')
        .map(|seg| seg.replace("~1", "/").replace("~0", "~").trim().to_string())
        .collect())
}

fn validate_depth(kind: PatchOpKind, path: &[String]) -> Result<(), ModelError> {
    let allowed = match (path.first().map(String::as_str), kind) {
        (Some("locations"), PatchOpKind::Add | PatchOpKind::Remove) => 2,
        _ => 1,
    };
    if path.len() != allowed {
        return Err(bad(format!(
            "Invalid JSON pointer for this resource: '/{}'",
            clip(&path.join("/"))
        )));
    }
    Ok(())
}

fn validate_change(op: &PatchOp, formats: &FormatRules) -> Result<(), ModelError> {
    let root = op.root();
    properties::check_writable(root)?;
    if root == "locations" {
        return Ok(());
    }
    match &op.value {
        Some(v) if op.path.len() == 1 => properties::validate_value(root, v, formats),
        _ => Ok(()),
    }
}

/// Applies parsed operations to an image, in order. Authorization (who may
/// change the owner or the visibility) is the caller's job; this enforces
/// only what the image itself allows.
pub fn apply_patch(image: &mut Image, ops: &[PatchOp]) -> Result<(), ModelError> {
    apply_patch_with(image, ops, &Unrestricted)
}

/// [`apply_patch`] for a caller limited by `access` (property protections):
/// an additional property the caller may not read behaves as if it did not
/// exist (replacing or removing it conflicts, adding it creates it), and a
/// create, update or delete the caller may not do is refused as reserved.
pub fn apply_patch_with(
    image: &mut Image,
    ops: &[PatchOp],
    access: &dyn PropertyAccess,
) -> Result<(), ModelError> {
    for op in ops {
        apply_one(image, op, access)?;
    }
    Ok(())
}

/// Whether the caller sees the additional property `key` on the image.
fn readable(image: &Image, key: &str, access: &dyn PropertyAccess) -> bool {
    image.properties.contains_key(key) && access.allows(key, PropertyOperation::Read)
}

fn require(
    access: &dyn PropertyAccess,
    key: &str,
    operation: PropertyOperation,
) -> Result<(), ModelError> {
    if access.allows(key, operation) {
        Ok(())
    } else {
        Err(properties::reserved(key))
    }
}

fn missing(key: &str) -> ModelError {
    ModelError::conflict(format!("Property {} does not exist.", clip(key)))
}

fn apply_one(
    image: &mut Image,
    op: &PatchOp,
    access: &dyn PropertyAccess,
) -> Result<(), ModelError> {
    let root = op.root();
    if root == "locations" {
        let verb = match op.kind {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "update",
        };
        return Err(ModelError::forbidden(format!(
            "It's not allowed to {verb} locations if locations are invisible."
        )));
    }
    let is_base = properties::BASE_SETTABLE.contains(&root);
    let value = op.value.as_ref().unwrap_or(&Value::Null);
    match op.kind {
        PatchOpKind::Replace if is_base => set_base(image, root, value),
        PatchOpKind::Replace => {
            if !readable(image, root, access) {
                return Err(missing(root));
            }
            require(access, root, PropertyOperation::Update)?;
            set_property(image, root, value);
            Ok(())
        }
        PatchOpKind::Add => {
            let exists = is_base || readable(image, root, access);
            if exists && op.dialect == PatchDialect::V20 {
                return Err(ModelError::conflict(format!(
                    "Property {} already present.",
                    clip(root)
                )));
            }
            if is_base {
                return set_base(image, root, value);
            }
            add_property(image, root, value, exists, access)
        }
        PatchOpKind::Remove if is_base => Err(ModelError::forbidden(format!(
            "Property {root} may not be removed."
        ))),
        PatchOpKind::Remove => {
            if !readable(image, root, access) {
                return Err(missing(root));
            }
            require(access, root, PropertyOperation::Delete)?;
            image.properties.remove(root);
            Ok(())
        }
    }
}

/// Adds (or, for a caller who can read it, overwrites) an additional
/// property.
fn add_property(
    image: &mut Image,
    key: &str,
    value: &Value,
    exists: bool,
    access: &dyn PropertyAccess,
) -> Result<(), ModelError> {
    properties::validate_property_name(key)?;
    let operation = if exists {
        PropertyOperation::Update
    } else {
        PropertyOperation::Create
    };
    require(access, key, operation)?;
    set_property(image, key, value);
    Ok(())
}

/// Sets an additional property. Null, which the schema allows only for
/// `kernel_id` and `ramdisk_id`, leaves the image without the property.
fn set_property(image: &mut Image, key: &str, value: &Value) {
    match value.as_str() {
        Some(v) => {
            image.properties.insert(key.to_string(), v.to_string());
        }
        None => {
            image.properties.remove(key);
        }
    }
}

fn set_base(image: &mut Image, key: &str, value: &Value) -> Result<(), ModelError> {
    let opt_string = value.as_str().map(str::to_string);
    let integer = || {
        as_integer(value)
            .and_then(|n| i64::try_from(n).ok())
            .unwrap_or(0)
    };
    match key {
        "name" => image.name = opt_string,
        "owner" => image.owner = opt_string,
        "visibility" => image.visibility = value.as_str().unwrap_or_default().parse()?,
        "protected" => image.protected = value.as_bool().unwrap_or(false),
        "os_hidden" => image.os_hidden = value.as_bool().unwrap_or(false),
        "min_ram" => image.min_ram = integer(),
        "min_disk" => image.min_disk = integer(),
        "container_format" | "disk_format" => {
            if !image.status.formats_mutable() {
                return Err(ModelError::forbidden(format!(
                    "Attribute {key} can be only replaced for a queued image."
                )));
            }
            if key == "disk_format" {
                image.disk_format = opt_string;
            } else {
                image.container_format = opt_string;
            }
        }
        "tags" => image.tags = image::unique_tags(value),
        _ => return Err(missing(key)),
    }
    Ok(())
}

#[cfg(test)]
mod access_tests;

#[cfg(test)]
mod tests;
