//! The status code and Glance's words for the errors of the metadefs
//! catalogue.

use glint_core::{MetadefClash, MetadefMissing, MetadefProtection};
use glint_model::limits::clip;

use super::NOT_FOUND_EXPLANATION;

pub(super) fn missing(m: &MetadefMissing) -> String {
    use MetadefMissing::*;
    match m {
        Namespace { namespace } => format!(
            "Metadata definition namespace={} was not found.",
            clip(namespace)
        ),
        NamespaceOf { namespace } => format!("Namespace {} not found", clip(namespace)),
        Hidden => NOT_FOUND_EXPLANATION.into(),
        Object { namespace, name } => format!(
            "The metadata definition object with name={} was not found in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Property { namespace, name } => format!(
            "The metadata definition property with name={} was not found in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Tag { namespace, name } => format!(
            "The metadata definition tag with name={} was not found in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Association {
            namespace,
            resource_type,
        } => format!(
            "The metadata definition resource-type association of resource-type={} to namespace={}, was not found.",
            clip(resource_type),
            clip(namespace)
        ),
        AssociationToDelete { resource_type } => format!(
            "Failed to find resource type {} to delete",
            clip(resource_type)
        ),
        PrefixMismatch { name, prefix } => format!(
            "Property {} does not start with the expected resource type association prefix of '{}'.",
            clip(name),
            clip(prefix)
        ),
    }
}

pub(super) fn clash(c: &MetadefClash) -> String {
    use MetadefClash::*;
    match c {
        Namespace {
            namespace,
            rename: false,
        } => format!(
            "The metadata definition namespace={} already exists.",
            clip(namespace)
        ),
        Namespace {
            namespace,
            rename: true,
        } => format!(
            "Invalid update. It would result in a duplicate metadata definition namespace with the same name of {}",
            clip(namespace)
        ),
        Object {
            namespace,
            name,
            rename: false,
        } => format!(
            "A metadata definition object with name={} already exists in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Object {
            namespace,
            name,
            rename: true,
        } => format!(
            "Invalid update. It would result in a duplicate metadata definition object with the same name={} in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Property {
            namespace,
            name,
            rename: false,
        } => format!(
            "A metadata definition property with name={} already exists in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Property {
            namespace,
            name,
            rename: true,
        } => format!(
            "Invalid update. It would result in a duplicate metadata definition property with the same name={} in namespace={}.",
            clip(name),
            clip(namespace)
        ),
        Tag { namespace, name } => format!(
            "A metadata tag with name={} already exists in namespace={}. (Please note that metadata tag names are case insensitive).",
            clip(name),
            clip(namespace)
        ),
        Association {
            namespace,
            resource_type,
        } => format!(
            "The metadata definition resource-type association of resource-type={} to namespace={} already exists.",
            clip(resource_type),
            clip(namespace)
        ),
    }
}

pub(super) fn protected(p: &MetadefProtection) -> String {
    use MetadefProtection::*;
    match p {
        Namespace { namespace } => format!(
            "Metadata definition namespace {} is protected and cannot be deleted.",
            clip(namespace)
        ),
        Object { name } => format!(
            "Metadata definition object {} is protected and cannot be deleted.",
            clip(name)
        ),
        Property { name } => format!(
            "Metadata definition property {} is protected and cannot be deleted.",
            clip(name)
        ),
        Tag { name } => format!(
            "Metadata definition tag {} is protected and cannot be deleted.",
            clip(name)
        ),
        Association { resource_type } => format!(
            "Metadata definition resource-type-association {} is protected and cannot be deleted.",
            clip(resource_type)
        ),
    }
}

pub(super) fn not_visible(namespace: &str) -> String {
    format!(
        "Forbidding request, metadata definition namespace={} is not visible.",
        clip(namespace)
    )
}
