//! The request bodies of the metadata definitions API: namespaces (with
//! their embedded properties, objects, tags and associations), properties,
//! objects, resource type associations and tags, as the handlers parse
//! them before anything is stored.

use glint_model::metadef::file;
use glint_model::metadef::validate;

/// Any JSON body is either accepted or refused with a short message, by
/// every metadef body parser, and a file in Glance's metadefs format reads
/// as the namespace body it stands for without a panic.
pub fn metadef_body(input: &[u8]) {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(input) else {
        return;
    };
    let refused = |e: glint_model::ModelError| crate::short(&e.to_string());
    if let Err(e) = validate::namespace_body(&body) {
        refused(e);
    }
    if let Err(e) = validate::namespace_body(&file::as_body(&body)) {
        refused(e);
    }
    if let Err(e) = validate::property_body(&body) {
        refused(e);
    }
    if let Err(e) = validate::object_body(&body) {
        refused(e);
    }
    if let Err(e) = validate::association_body(&body) {
        refused(e);
    }
    if let Err(e) = validate::tag_body(&body) {
        refused(e);
    }
    if let Err(e) = validate::tags_body(&body) {
        refused(e);
    }
}
