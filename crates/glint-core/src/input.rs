//! Typed inputs of the use cases that the model's types alone do not
//! express. The API layer builds them from a request, with the model's
//! parsers, before it calls a use case; the use cases then never see JSON.

use glint_model::limits::Quotas;
use glint_model::properties::{self, FormatRules};
use glint_model::{MemberStatus, ModelError, NewImage};
use serde_json::Value;

/// A create request (`POST /v2/images`): the image asked for, and the
/// names of its additional properties in the order the body gave them,
/// since property protections refuse the first one (in that order, as
/// Glance reports it) that the caller may not create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImageRequest {
    pub image: NewImage,
    pub property_order: Vec<String>,
}

impl NewImageRequest {
    /// Parses a create body with the model's rules and messages.
    pub fn from_json(
        body: &Value,
        formats: &FormatRules,
        quotas: Quotas,
    ) -> Result<NewImageRequest, ModelError> {
        let image = NewImage::from_json(body, formats, quotas)?;
        let property_order = body
            .as_object()
            .into_iter()
            .flat_map(|obj| obj.keys())
            .filter(|name| image.properties.contains_key(*name))
            .cloned()
            .collect();
        Ok(NewImageRequest {
            image,
            property_order,
        })
    }
}

/// A tag to add to an image, checked with the rules of the image schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTag(String);

impl NewTag {
    pub fn parse(tag: &str) -> Result<NewTag, ModelError> {
        properties::validate_tag(tag)?;
        Ok(NewTag(tag.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The status a member request asks for, or why the request names none.
/// Glance checks the value only once it has found the membership and
/// decided that the caller may change it, so a bad value is reported at
/// that point, not when the body is read.
pub type RequestedStatus = Result<MemberStatus, ModelError>;
