//! Identifiers.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// An image id: always a UUID, shown in its lower-case hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId(Uuid);

impl ImageId {
    pub fn new_random() -> Self {
        ImageId(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// Parses the hyphenated form Glance's schema accepts
    /// (`^[0-9a-fA-F]{8}-…-[0-9a-fA-F]{12}$`); the simple, braced and URN
    /// forms that `Uuid` would take are refused.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let hyphens_ok = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
        if !hyphens_ok {
            return None;
        }
        Uuid::parse_str(s).ok().map(ImageId)
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for ImageId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageId::parse(s).ok_or(())
    }
}

impl From<Uuid> for ImageId {
    fn from(u: Uuid) -> Self {
        ImageId(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_are_image_ids() {
        assert!(ImageId::parse("43fdc94a-f59f-4c48-aec1-a3931591da4e").is_some());
        assert!(ImageId::parse("43FDC94A-F59F-4C48-AEC1-A3931591DA4E").is_some());
        assert!(ImageId::parse("43fdc94af59f4c48aec1a3931591da4e").is_none());
        assert!(ImageId::parse("not-a-uuid").is_none());
        assert!(ImageId::parse("").is_none());
    }

    #[test]
    fn image_ids_display_lower_case() {
        let id = ImageId::parse("43FDC94A-F59F-4C48-AEC1-A3931591DA4E").unwrap();
        assert_eq!(id.to_string(), "43fdc94a-f59f-4c48-aec1-a3931591da4e");
    }
}
