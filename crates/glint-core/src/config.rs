//! The options the use cases need, already validated by the binary.

use std::sync::Arc;
use std::time::Duration;

use glint_format::UploadRules;
use glint_model::properties::FormatRules;
use glint_store::HashAlgo;

use crate::protections::PropertyProtections;

/// Image rules and limits (Glance's `[DEFAULT]` and `[image_format]` options).
/// Its `Default` is what a server given no options runs with: the binary
/// documents and applies these values rather than keeping its own.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub formats: FormatRules,
    /// Largest image accepted, in bytes (`image_size_cap`).
    pub image_size_cap: u64,
    /// Page size when the client gives none (`limit_param_default`).
    pub limit_param_default: u64,
    /// Largest page a client may ask for (`api_limit_max`).
    pub api_limit_max: u64,
    /// The multihash algorithm (`hashing_algorithm`).
    pub hashing_algorithm: HashAlgo,
    /// `None` means unlimited (`image_property_quota`).
    pub image_property_quota: Option<u64>,
    /// `None` means unlimited (`image_tag_quota`).
    pub image_tag_quota: Option<u64>,
    /// `None` means unlimited (`image_member_quota`).
    pub image_member_quota: Option<u64>,
    /// Most bytes of image data a project may keep, `None` for no limit
    /// (`user_storage_quota`).
    pub user_storage_quota: Option<u64>,
    /// How long an upload's lease lasts unless renewed; its holder renews
    /// it while the upload runs, and any node may reclaim an upload whose
    /// lease has expired.
    pub upload_lease_time: Duration,
    /// Keep deleted images' data for the scrubber (`delayed_delete`).
    pub delayed_delete: bool,
    /// `show_multiple_locations`: PATCH may add, replace and remove
    /// locations (the API layer shows them).
    pub show_multiple_locations: bool,
    /// Most locations an image may have; `None` means unlimited
    /// (`image_location_quota`).
    pub image_location_quota: Option<u64>,
    /// What uploaded data must be: of its `disk_format`
    /// (`require_image_format_match`), and for a VMDK of an allowed create
    /// type (`vmdk_allowed_types`).
    pub upload_rules: UploadRules,
    /// A name for this node, used to recognise uploads that a previous run
    /// of this same node left unfinished.
    pub node_name: String,
    /// Who may create, read, update and delete which additional properties
    /// (`property_protection_file`); `None` leaves properties unprotected.
    pub property_protections: Option<Arc<PropertyProtections>>,
    /// How long a finished task is kept (`[task] task_time_to_live`).
    pub task_time_to_live: Duration,
}

/// Two configurations are equal when every option is, and they hold the
/// same compiled property protections (compiled rules are compared by
/// identity: a server shares one set among all its clones).
impl PartialEq for ImageConfig {
    fn eq(&self, other: &Self) -> bool {
        // Destructured without `..`, so that a new field cannot be
        // forgotten here.
        let ImageConfig {
            formats,
            image_size_cap,
            limit_param_default,
            api_limit_max,
            hashing_algorithm,
            image_property_quota,
            image_tag_quota,
            image_member_quota,
            user_storage_quota,
            upload_lease_time,
            delayed_delete,
            show_multiple_locations,
            image_location_quota,
            upload_rules,
            node_name,
            property_protections,
            task_time_to_live,
        } = self;
        let same_protections = match (property_protections, &other.property_protections) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        *formats == other.formats
            && *image_size_cap == other.image_size_cap
            && *limit_param_default == other.limit_param_default
            && *api_limit_max == other.api_limit_max
            && *hashing_algorithm == other.hashing_algorithm
            && *image_property_quota == other.image_property_quota
            && *image_tag_quota == other.image_tag_quota
            && *image_member_quota == other.image_member_quota
            && *user_storage_quota == other.user_storage_quota
            && *upload_lease_time == other.upload_lease_time
            && *delayed_delete == other.delayed_delete
            && *show_multiple_locations == other.show_multiple_locations
            && *image_location_quota == other.image_location_quota
            && *upload_rules == other.upload_rules
            && *node_name == other.node_name
            && *task_time_to_live == other.task_time_to_live
            && same_protections
    }
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            formats: FormatRules::default(),
            image_size_cap: 1_099_511_627_776,
            limit_param_default: 25,
            api_limit_max: 1000,
            hashing_algorithm: HashAlgo::default(),
            image_property_quota: Some(128),
            image_tag_quota: Some(128),
            image_member_quota: Some(128),
            user_storage_quota: None,
            upload_lease_time: Duration::from_secs(300),
            delayed_delete: false,
            show_multiple_locations: false,
            image_location_quota: Some(10),
            upload_rules: UploadRules::default(),
            node_name: "localhost".into(),
            property_protections: None,
            task_time_to_live: Duration::from_secs(48 * 3600),
        }
    }
}
