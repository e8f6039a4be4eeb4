//! The metadata definitions catalogue (metadefs): namespaces and what they
//! hold (property definitions, objects, tags) and the resource types they
//! are associated with, plus the rules Glance's schemas apply to them
//! ([`validate`]).

pub mod file;
pub mod validate;

use serde_json::{Map, Value};

use crate::time::Timestamp;

/// The longest namespace, object, property, tag or resource type name, and
/// the longest `display_name`, `prefix` and `properties_target`.
pub const MAX_NAME_CHARS: usize = 80;
/// The longest namespace description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// The longest namespace owner.
pub const MAX_OWNER_CHARS: usize = 255;
/// The most properties, objects, tags or associations one request may
/// carry (Glance has no bound; the largest catalogue file it ships holds
/// well under a hundred).
pub const MAX_ENTRIES_PER_REQUEST: usize = 1000;

/// Who may see a namespace besides its owner and admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceVisibility {
    Public,
    Private,
}

impl NamespaceVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceVisibility::Public => "public",
            NamespaceVisibility::Private => "private",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(NamespaceVisibility::Public),
            "private" => Some(NamespaceVisibility::Private),
            _ => None,
        }
    }
}

/// A namespace's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    /// The row's key; never shown (clients name a namespace by `namespace`).
    pub id: String,
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: NamespaceVisibility,
    pub protected: bool,
    pub owner: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a namespace holds, one row each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Property,
    Object,
    Tag,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Property => "property",
            EntryKind::Object => "object",
            EntryKind::Tag => "tag",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "property" => Some(EntryKind::Property),
            "object" => Some(EntryKind::Object),
            "tag" => Some(EntryKind::Tag),
            _ => None,
        }
    }

    /// The name as uniqueness compares it: tag names are case-insensitive.
    pub fn name_key(self, name: &str) -> String {
        match self {
            EntryKind::Tag => name.to_lowercase(),
            _ => name.to_owned(),
        }
    }
}

/// A property definition, an object or a tag of a namespace. `body` is
/// the definition without its name (a property's JSON-schema subset; an
/// object's `description`, `required` and `properties`; `{}` for a tag).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: EntryKind,
    pub name: String,
    pub body: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A resource type (`OS::Glance::Image`, `OS::Nova::Flavor`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The association of a namespace with a resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    pub resource_type: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A namespace with everything it holds, as a catalogue file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceDocument {
    pub namespace: Namespace,
    pub properties: Vec<Entry>,
    pub objects: Vec<Entry>,
    pub tags: Vec<Entry>,
    pub associations: Vec<Association>,
}

impl NamespaceDocument {
    /// The entries of every kind.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.properties
            .iter()
            .chain(&self.objects)
            .chain(&self.tags)
    }
}
