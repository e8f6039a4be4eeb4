//! Who may see an image.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Visibility {
    Public,
    Community,
    #[default]
    Shared,
    Private,
}

impl Visibility {
    pub const ALL: [Visibility; 4] = [
        Visibility::Community,
        Visibility::Public,
        Visibility::Private,
        Visibility::Shared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Community => "community",
            Visibility::Shared => "shared",
            Visibility::Private => "private",
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Visibility {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Visibility::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                ModelError::invalid(
                    "Visibility must be one of \"community\", \"public\", \"private\", or \"shared\"",
                )
            })
    }
}
