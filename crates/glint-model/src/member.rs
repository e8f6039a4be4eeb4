//! Image members: projects an image is shared with.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;
use crate::ids::ImageId;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    Pending,
    Accepted,
    Rejected,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "pending",
            MemberStatus::Accepted => "accepted",
            MemberStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemberStatus {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(MemberStatus::Pending),
            "accepted" => Ok(MemberStatus::Accepted),
            "rejected" => Ok(MemberStatus::Rejected),
            _ => Err(ModelError::invalid(
                "Status must be \"pending\", \"accepted\" or \"rejected\".",
            )),
        }
    }
}

/// A project an image is shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub image_id: ImageId,
    pub member_id: String,
    pub status: MemberStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
