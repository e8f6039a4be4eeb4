//! The image record and the parsing of a create request.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ModelError;
use crate::ids::ImageId;
use crate::limits::{self, QuotaKind, Quotas};
use crate::properties::{self, FormatRules};
use crate::schema::as_integer;
use crate::status::ImageStatus;
use crate::time::{self, Timestamp};
use crate::visibility::Visibility;

/// Where one copy of an image's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Store-specific URL, e.g. `file:///var/lib/glint/images/<id>`.
    pub url: String,
    /// Free-form metadata; holds at least `{"store": "<store id>"}`.
    pub metadata: Map<String, Value>,
    /// `active`, `pending_delete` or `deleted`.
    pub status: String,
}

impl Location {
    pub fn new(url: impl Into<String>, store_id: &str) -> Self {
        let mut metadata = Map::new();
        metadata.insert("store".into(), Value::String(store_id.to_string()));
        Location {
            url: url.into(),
            metadata,
            status: "active".into(),
        }
    }

    pub fn store_id(&self) -> Option<&str> {
        self.metadata.get("store").and_then(Value::as_str)
    }
}

/// An image as glint keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: ImageId,
    pub name: Option<String>,
    pub status: ImageStatus,
    pub visibility: Visibility,
    pub protected: bool,
    pub os_hidden: bool,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub size: Option<u64>,
    pub virtual_size: Option<u64>,
    pub container_format: Option<String>,
    pub disk_format: Option<String>,
    pub min_ram: i64,
    pub min_disk: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    /// Tags in the order they were first added; never duplicated.
    pub tags: Vec<String>,
    /// Additional (extra) properties: string to string.
    pub properties: BTreeMap<String, String>,
    pub locations: Vec<Location>,
}

impl Image {
    /// A queued image with Glance's default visibility and every optional
    /// field empty, created and updated at `now`.
    pub fn queued(id: ImageId, now: Timestamp) -> Image {
        Image {
            id,
            name: None,
            status: ImageStatus::Queued,
            visibility: Visibility::default(),
            protected: false,
            os_hidden: false,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: None,
            size: None,
            virtual_size: None,
            container_format: None,
            disk_format: None,
            min_ram: 0,
            min_disk: 0,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            tags: Vec::new(),
            properties: BTreeMap::new(),
            locations: Vec::new(),
        }
    }

    /// Moves the image to `to` if the status machine allows it, applying the
    /// side effects Glance attaches to the move.
    pub fn transition(&mut self, to: ImageStatus) -> Result<(), ModelError> {
        self.status.check_move(to)?;
        let from_pre_data = matches!(self.status, ImageStatus::Queued | ImageStatus::Uploading);
        let to_data = matches!(
            to,
            ImageStatus::Saving | ImageStatus::Active | ImageStatus::Importing
        );
        if from_pre_data && to_data {
            self.require_formats()?;
        }
        if to == ImageStatus::Queued {
            self.size = None;
            self.virtual_size = None;
        }
        self.status = to;
        Ok(())
    }

    /// Data may only be saved once both formats are known.
    pub fn require_formats(&self) -> Result<(), ModelError> {
        let mut missing = Vec::new();
        if self.disk_format.is_none() {
            missing.push("disk_format");
        }
        if self.container_format.is_none() {
            missing.push("container_format");
        }
        match missing.len() {
            0 => Ok(()),
            1 => Err(ModelError::invalid(format!(
                "Property {} must be set prior to saving data.",
                missing[0]
            ))),
            _ => Err(ModelError::invalid(format!(
                "Properties {} must be set prior to saving data.",
                missing.join(", ")
            ))),
        }
    }

    /// Adds one tag unless the image has it already.
    pub fn add_tag(&mut self, tag: &str) {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
        }
    }

    /// The size [`limits::MAX_IMAGE_METADATA_BYTES`] bounds: the names
    /// and values of the additional properties and the tags, as JSON
    /// strings.
    pub fn metadata_size(&self) -> usize {
        let props: usize = self
            .properties
            .iter()
            .map(|(k, v)| json_string_len(k) + json_string_len(v))
            .sum();
        props + self.tags.iter().map(|t| json_string_len(t)).sum::<usize>()
    }

    /// Refuses an image whose metadata outgrew the bound.
    pub fn check_metadata_size(&self) -> Result<(), ModelError> {
        let size = self.metadata_size();
        if size > limits::MAX_IMAGE_METADATA_BYTES {
            return Err(ModelError::MetadataTooLarge {
                size,
                maximum: limits::MAX_IMAGE_METADATA_BYTES,
            });
        }
        Ok(())
    }

    /// Extra properties a user may see (internal bookkeeping hidden).
    pub fn visible_properties(&self) -> impl Iterator<Item = (&String, &String)> {
        self.properties
            .iter()
            .filter(|(k, _)| !properties::HIDDEN_PROPERTIES.contains(&k.as_str()))
    }

    pub fn active_locations(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.status == "active")
    }
}

/// The length of `s` written as a JSON string, quotes included.
fn json_string_len(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0x00..=0x1f => 5,
            _ => 0,
        })
        .sum();
    s.len() + escapes + 2
}

/// The tags of a JSON array, first occurrences only, in order; linear in
/// the number of tags.
pub fn unique_tags(value: &Value) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| seen.insert(*t))
        .map(str::to_string)
        .collect()
}

/// The quotas of a create body, counted as Glance counts them: every tag
/// sent (duplicates too), every additional property outside `os_glance`.
fn check_create_quotas(obj: &Map<String, Value>, quotas: Quotas) -> Result<(), ModelError> {
    let exceeded = |kind, attempted| {
        quotas
            .check(kind, attempted)
            .map_err(|maximum| ModelError::QuotaExceeded {
                kind,
                attempted,
                maximum,
            })
    };
    if let Some(tags) = obj.get("tags").and_then(Value::as_array) {
        exceeded(QuotaKind::Tags, tags.len() as u64)?;
    }
    let properties = obj
        .keys()
        .filter(|k| !CREATE_BASE_KEYS.contains(&k.as_str()))
        .filter(|k| !k.starts_with(properties::RESERVED_NAMESPACE))
        .count();
    exceeded(QuotaKind::Properties, properties as u64)
}

/// A validated create request (`POST /v2/images`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewImage {
    pub id: Option<ImageId>,
    pub name: Option<String>,
    pub visibility: Option<Visibility>,
    pub protected: bool,
    pub os_hidden: bool,
    pub owner: Option<Option<String>>,
    pub container_format: Option<String>,
    pub disk_format: Option<String>,
    pub min_ram: i64,
    pub min_disk: i64,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
}

/// Attributes of a create body that are not additional properties
/// (Glance's `RequestDeserializer._base_properties`).
const CREATE_BASE_KEYS: &[&str] = &[
    "checksum",
    "created_at",
    "container_format",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "size",
    "virtual_size",
    "status",
    "tags",
    "owner",
    "updated_at",
    "visibility",
    "protected",
    "os_hidden",
];

impl NewImage {
    /// Parses and validates a create body with Glance's rules and messages.
    /// The quotas are checked first, on the counts as sent, so that a body
    /// with thousands of tags or properties costs no per-item work.
    pub fn from_json(
        body: &Value,
        formats: &FormatRules,
        quotas: Quotas,
    ) -> Result<NewImage, ModelError> {
        let Some(obj) = body.as_object() else {
            return Err(ModelError::invalid(format!(
                "Provided object does not match schema 'image': {} is not of type 'object'",
                properties::py_repr(body)
            )));
        };
        for key in properties::DISALLOWED_ON_CREATE {
            if obj.contains_key(*key) {
                return Err(ModelError::forbidden(format!(
                    "Attribute '{key}' is read-only."
                )));
            }
        }
        check_create_quotas(obj, quotas)?;
        for (key, value) in obj {
            properties::validate_value(key, value, formats)?;
        }
        let mut new = NewImage::default();
        for (key, value) in obj {
            new.take(key, value)?;
        }
        Ok(new)
    }

    fn take(&mut self, key: &str, value: &Value) -> Result<(), ModelError> {
        let opt_string = |v: &Value| v.as_str().map(str::to_string);
        let integer = |v: &Value| as_integer(v).and_then(|n| i64::try_from(n).ok());
        match key {
            "id" => self.id = value.as_str().and_then(ImageId::parse),
            "name" => self.name = opt_string(value),
            "visibility" => self.visibility = value.as_str().and_then(|s| s.parse().ok()),
            "protected" => self.protected = value.as_bool().unwrap_or(false),
            "os_hidden" => self.os_hidden = value.as_bool().unwrap_or(false),
            "owner" => self.owner = Some(opt_string(value)),
            "container_format" => self.container_format = opt_string(value),
            "disk_format" => self.disk_format = opt_string(value),
            "min_ram" => self.min_ram = integer(value).unwrap_or(0),
            "min_disk" => self.min_disk = integer(value).unwrap_or(0),
            "tags" => self.tags = unique_tags(value),
            // Glance's image factory refuses it once the schema accepted it.
            "locations" => return Err(properties::reserved(key)),
            _ => {
                properties::check_writable(key)?;
                properties::validate_property_name(key)?;
                // Only `kernel_id` and `ramdisk_id` may be null: no kernel
                // is the same as no property.
                if let Some(v) = value.as_str() {
                    self.properties.insert(key.to_string(), v.to_string());
                }
            }
        }
        Ok(())
    }

    /// Builds the queued image this request describes.
    pub fn into_image(self, default_owner: Option<String>) -> Image {
        let id = self.id.unwrap_or_else(ImageId::new_random);
        Image {
            name: self.name,
            visibility: self.visibility.unwrap_or_default(),
            protected: self.protected,
            os_hidden: self.os_hidden,
            owner: self.owner.unwrap_or(default_owner),
            container_format: self.container_format,
            disk_format: self.disk_format,
            min_ram: self.min_ram,
            min_disk: self.min_disk,
            tags: self.tags,
            properties: self.properties,
            ..Image::queued(id, time::now())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<NewImage, ModelError> {
        NewImage::from_json(&v, &FormatRules::default(), Quotas::default())
    }

    #[test]
    fn create_body_splits_base_attributes_and_properties() {
        let new = parse(json!({
            "name": "cirros", "disk_format": "qcow2", "container_format": "bare",
            "visibility": "public", "tags": ["a", "b", "a"], "hw_disk_bus": "scsi"
        }))
        .unwrap();
        assert_eq!(new.name.as_deref(), Some("cirros"));
        assert_eq!(new.visibility, Some(Visibility::Public));
        assert_eq!(new.tags, vec!["a", "b"]);
        assert_eq!(
            new.properties.get("hw_disk_bus").map(String::as_str),
            Some("scsi")
        );
    }

    #[test]
    fn create_with_status_is_forbidden() {
        let err = parse(json!({"status": "active"})).unwrap_err();
        assert_eq!(
            err,
            ModelError::forbidden("Attribute 'status' is read-only.")
        );
    }

    #[test]
    fn create_with_self_is_forbidden() {
        assert!(matches!(
            parse(json!({"self": "x"})),
            Err(ModelError::Forbidden(_))
        ));
    }

    #[test]
    fn create_with_reserved_property_is_forbidden() {
        let err = parse(json!({"os_glance_foo": "x"})).unwrap_err();
        assert_eq!(
            err,
            ModelError::forbidden("Attribute 'os_glance_foo' is reserved.")
        );
        assert!(matches!(
            parse(json!({"deleted": "x"})),
            Err(ModelError::Forbidden(_))
        ));
    }

    #[test]
    fn create_with_bad_id_or_visibility_is_invalid() {
        assert!(matches!(
            parse(json!({"id": "bad-id"})),
            Err(ModelError::Invalid(_))
        ));
        assert!(matches!(
            parse(json!({"visibility": "everyone"})),
            Err(ModelError::Invalid(_))
        ));
    }

    #[test]
    fn new_image_defaults_to_shared_and_queued() {
        let img = parse(json!({})).unwrap().into_image(Some("p1".into()));
        assert_eq!(img.visibility, Visibility::Shared);
        assert_eq!(img.status, ImageStatus::Queued);
        assert_eq!(img.owner.as_deref(), Some("p1"));
    }

    #[test]
    fn saving_requires_both_formats() {
        let mut img = parse(json!({"disk_format": "raw"}))
            .unwrap()
            .into_image(None);
        let err = img.transition(ImageStatus::Saving).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Property container_format must be set prior to saving data."
        );
    }

    #[test]
    fn returning_to_queued_clears_sizes() {
        let mut img = parse(json!({"disk_format": "raw", "container_format": "bare"}))
            .unwrap()
            .into_image(None);
        img.transition(ImageStatus::Saving).unwrap();
        img.size = Some(10);
        img.transition(ImageStatus::Queued).unwrap();
        assert_eq!(img.size, None);
    }

    #[test]
    fn quotas_count_tags_and_properties_as_sent_before_validating_them() {
        let quotas = Quotas {
            tags: Some(2),
            properties: Some(1),
            locations: None,
        };
        let parse = |v: Value| NewImage::from_json(&v, &FormatRules::default(), quotas);
        assert_eq!(
            parse(json!({"tags": ["a", "a", 5]})).unwrap_err(),
            ModelError::QuotaExceeded {
                kind: QuotaKind::Tags,
                attempted: 3,
                maximum: 2
            }
        );
        assert_eq!(
            parse(json!({"name": "n", "a": 1, "b": "2", "os_glance_x": "y"})).unwrap_err(),
            ModelError::QuotaExceeded {
                kind: QuotaKind::Properties,
                attempted: 2,
                maximum: 1
            }
        );
        assert!(parse(json!({"tags": ["a", "a"], "a": "1"})).is_ok());
    }

    #[test]
    fn many_tags_are_deduplicated_in_order() {
        let tags: Vec<String> = (0..50_000).map(|i| format!("t{}", i % 25_000)).collect();
        let new = parse(json!({ "tags": tags })).unwrap();
        assert_eq!(new.tags.len(), 25_000);
        assert_eq!(new.tags[24_999], "t24999");
    }

    #[test]
    fn locations_in_a_create_body_are_reserved_once_well_formed() {
        let err = parse(json!({"locations": [{"url": "file:///x", "metadata": {}}]}));
        assert_eq!(
            err.unwrap_err(),
            ModelError::forbidden("Attribute 'locations' is reserved.")
        );
        assert!(matches!(
            parse(json!({"locations": "file:///x"})),
            Err(ModelError::Invalid(_))
        ));
    }

    #[test]
    fn a_null_kernel_id_is_no_property() {
        let new = parse(json!({"kernel_id": null})).unwrap();
        assert!(new.properties.is_empty());
    }

    #[test]
    fn metadata_size_counts_names_values_and_tags_as_json() {
        let mut img = Image::queued(ImageId::new_random(), time::now());
        img.properties.insert("k".into(), "a\"b".into());
        img.tags.push("\u{1}".into());
        // "k" + "a\"b" + "\u0001"
        assert_eq!(img.metadata_size(), 3 + 6 + 8);
        assert!(img.check_metadata_size().is_ok());
        img.properties
            .insert("big".into(), "x".repeat(limits::MAX_IMAGE_METADATA_BYTES));
        assert!(matches!(
            img.check_metadata_size(),
            Err(ModelError::MetadataTooLarge { .. })
        ));
    }
}
