//! The pure domain of glint: image and member records, the image status
//! machine, visibility, property rules, list queries and the JSON-patch
//! semantics of Glance's v2 API.
//!
//! This crate performs no I/O. It must not import tokio, axum, sqlx or any
//! store code; every other crate builds on these types.

pub mod error;
pub mod ids;
pub mod image;
pub mod limits;
pub mod member;
pub mod metadef;
pub mod patch;
pub mod properties;
pub mod query;
pub mod schema;
pub mod status;
pub mod task;
pub mod time;
pub mod visibility;

pub use error::ModelError;
pub use ids::ImageId;
pub use image::{Image, Location, NewImage};
pub use member::{Member, MemberStatus};
pub use status::ImageStatus;
pub use task::{Task, TaskId, TaskStatus};
pub use visibility::Visibility;
