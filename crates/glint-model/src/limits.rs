//! Bounds on what one request may store or ask for.
//!
//! Each limit sits far above what real clients (python-glanceclient,
//! openstacksdk, Horizon, Terraform, Nova) send, and low enough that the
//! work and memory of one request stay small whatever a client sends.

use std::borrow::Cow;

/// Largest value of one additional property, in bytes of UTF-8: what
/// Glance's `image_properties.value` column holds (MySQL `TEXT`).
pub const MAX_PROPERTY_VALUE_BYTES: usize = 65_535;

/// Largest metadata of one image: the names and values of its additional
/// properties and its tags, counted as the JSON strings they are stored and
/// answered as (escapes included). Four property values of the largest size
/// fit. A list page of 1000 images (`api_limit_max`) then holds at most
/// 256 MiB of such metadata in its rows, and its response body at most as
/// much again plus about 1.5 KiB of base attributes per image.
pub const MAX_IMAGE_METADATA_BYTES: usize = 256 * 1024;

/// Largest `min_ram` and `min_disk`: Glance keeps them in 32-bit signed
/// `Integer` columns.
pub const MAX_MIN_REQUIREMENT: i64 = i32::MAX as i64;

/// Query parameters of one image list request, all kinds together. The
/// clients above send fewer than fifteen.
pub const MAX_QUERY_PARAMETERS: usize = 100;

/// `tag=` and additional-property (`?os_distro=…`) filters of one list
/// request together. Each is one more semi-join, and PostgreSQL's planning
/// time grows steeply with them (not with the number of images): on the
/// development machine 10 cost about 30 ms of planning, 20 about 300 ms
/// and 40 about a second. Clients filter on a handful.
pub const MAX_TAG_AND_PROPERTY_FILTERS: usize = 10;

/// Values of all the `in:` lists of one list request together. A page of
/// ids (`id=in:…`) needs at most `api_limit_max` of them; each is one bound
/// parameter of the statement.
pub const MAX_FILTER_VALUES: usize = 1000;

/// Sort keys of one list request as sent, duplicates included. There are
/// only eight distinct keys.
pub const MAX_SORT_KEYS: usize = 10;

/// Characters of a client's value quoted back in an error message.
pub const MAX_ECHO_CHARS: usize = 200;

/// The marker that ends a value cut by [`clip`].
pub const CLIP_MARKER: &str = "...(truncated)";

/// `s` as an error message may quote it: whole when short, else its first
/// [`MAX_ECHO_CHARS`] characters and [`CLIP_MARKER`].
pub fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}{CLIP_MARKER}", &s[..end])),
    }
}

/// Whether `s` holds U+0000, which PostgreSQL cannot store in text and
/// which no legitimate name, tag or value contains.
pub fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// The image quotas that bound what a request may attach to an image
/// (`image_tag_quota`, `image_property_quota`); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    pub tags: Option<u64>,
    pub properties: Option<u64>,
    /// `image_location_quota`.
    pub locations: Option<u64>,
}

/// Which quota a request exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    Tags,
    Properties,
    Locations,
}

impl Quotas {
    /// `Err((kind, maximum))` when `attempted` items exceed the quota.
    pub fn check(&self, kind: QuotaKind, attempted: u64) -> Result<(), u64> {
        let maximum = match kind {
            QuotaKind::Tags => self.tags,
            QuotaKind::Properties => self.properties,
            QuotaKind::Locations => self.locations,
        };
        match maximum {
            Some(max) if attempted > max => Err(max),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(clip("abc"), "abc");
        let exact = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(clip(&exact), exact);
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary_with_a_marker() {
        let long = "é".repeat(MAX_ECHO_CHARS + 1);
        let cut = clip(&long);
        assert_eq!(cut.chars().count(), MAX_ECHO_CHARS + CLIP_MARKER.len());
        assert!(cut.ends_with(CLIP_MARKER));
    }

    #[test]
    fn quotas_compare_the_attempted_count() {
        let q = Quotas {
            locations: None,
            tags: Some(2),
            properties: None,
        };
        assert_eq!(q.check(QuotaKind::Tags, 2), Ok(()));
        assert_eq!(q.check(QuotaKind::Tags, 3), Err(2));
        assert_eq!(q.check(QuotaKind::Properties, 1_000_000), Ok(()));
    }
}
