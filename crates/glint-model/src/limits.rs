//! Bounds on what one request may store or ask for.
//!
//! Each limit sits far above what real clients (python-glanceclient,
//! openstacksdk, Horizon, Terraform, Nova) send, and low enough that the
//! work and memory of one request stay small whatever a client sends.

use std::borrow::Cow;

/// Largest value of one additional property, in bytes of UTF-8: what
/// Glance's `image_properties.value` column holds (MySQL `TEXT`).
pub const MAX_PROPERTY_VALUE_BYTES: usize = 65_535;

/// Largest `min_ram` and `min_disk`: Glance keeps them in 32-bit signed
/// `Integer` columns.
pub const MAX_MIN_REQUIREMENT: i64 = i32::MAX as i64;

/// Query parameters of one image list request, all kinds together. The
/// clients above send fewer than fifteen.
pub const MAX_QUERY_PARAMETERS: usize = 100;

/// Additional-property filters (`?os_distro=…`) of one list request. Each
/// is a join on the property table.
pub const MAX_PROPERTY_FILTERS: usize = 20;

/// `tag=` filters of one list request. Each is a join on the tag table.
pub const MAX_TAG_FILTERS: usize = 20;

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
}
