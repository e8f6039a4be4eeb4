//! The image status machine. Every status change in glint is checked here.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// Where an image is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageStatus {
    Queued,
    Saving,
    Uploading,
    Importing,
    Active,
    Deactivated,
    Killed,
    PendingDelete,
    Deleted,
}

impl ImageStatus {
    pub const ALL: [ImageStatus; 9] = [
        ImageStatus::Queued,
        ImageStatus::Saving,
        ImageStatus::Uploading,
        ImageStatus::Importing,
        ImageStatus::Active,
        ImageStatus::Deactivated,
        ImageStatus::Killed,
        ImageStatus::PendingDelete,
        ImageStatus::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Queued => "queued",
            ImageStatus::Saving => "saving",
            ImageStatus::Uploading => "uploading",
            ImageStatus::Importing => "importing",
            ImageStatus::Active => "active",
            ImageStatus::Deactivated => "deactivated",
            ImageStatus::Killed => "killed",
            ImageStatus::PendingDelete => "pending_delete",
            ImageStatus::Deleted => "deleted",
        }
    }

    /// The statuses this one may move to, as Glance's domain allows them.
    pub fn targets(self) -> &'static [ImageStatus] {
        use ImageStatus::*;
        match self {
            Queued => &[Saving, Uploading, Importing, Active, Deleted],
            Saving => &[Active, Killed, Deleted, Queued],
            Uploading => &[Importing, Queued, Deleted],
            Importing => &[Active, Deleted, Queued],
            Active => &[PendingDelete, Deleted, Deactivated],
            Killed => &[Deleted],
            PendingDelete => &[Deleted, Active],
            Deleted => &[],
            Deactivated => &[Active, Deleted],
        }
    }

    pub fn can_move_to(self, to: ImageStatus) -> bool {
        self.targets().contains(&to)
    }

    /// Checks a move, returning the error Glance raises for a forbidden one.
    pub fn check_move(self, to: ImageStatus) -> Result<(), ModelError> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(ModelError::InvalidTransition { from: self, to })
        }
    }

    /// Statuses whose images are gone for users (404 on show, never listed).
    pub fn is_gone(self) -> bool {
        matches!(self, ImageStatus::Deleted | ImageStatus::PendingDelete)
    }

    /// Statuses in which the data does not exist yet, so the disk and
    /// container formats may still change.
    pub fn formats_mutable(self) -> bool {
        matches!(self, ImageStatus::Queued | ImageStatus::Importing)
    }
}

impl fmt::Display for ImageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImageStatus {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ModelError::invalid(format!("Invalid image status: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for st in ImageStatus::ALL {
            assert_eq!(st.as_str().parse::<ImageStatus>().unwrap(), st);
        }
    }

    #[test]
    fn upload_path_is_allowed_and_reversible() {
        assert!(ImageStatus::Queued.can_move_to(ImageStatus::Saving));
        assert!(ImageStatus::Saving.can_move_to(ImageStatus::Active));
        assert!(ImageStatus::Saving.can_move_to(ImageStatus::Queued));
    }

    #[test]
    fn active_image_cannot_be_uploaded_again() {
        let err = ImageStatus::Active
            .check_move(ImageStatus::Saving)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Image status transition from active to saving is not allowed"
        );
    }

    #[test]
    fn deleted_is_terminal() {
        for st in ImageStatus::ALL {
            assert!(!ImageStatus::Deleted.can_move_to(st));
        }
    }

    #[test]
    fn deactivation_only_from_active() {
        assert!(ImageStatus::Active.can_move_to(ImageStatus::Deactivated));
        assert!(ImageStatus::Deactivated.can_move_to(ImageStatus::Active));
        assert!(!ImageStatus::Queued.can_move_to(ImageStatus::Deactivated));
    }
}
