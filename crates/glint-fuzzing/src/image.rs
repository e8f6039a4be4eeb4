//! Image bodies and list queries: the create body, JSON patch and the
//! query string of `GET /v2/images`.

use glint_model::limits::{self, Quotas};
use glint_model::patch::{self, PatchDialect};
use glint_model::properties::FormatRules;
use glint_model::query::{Filter, ImageListQuery};
use glint_model::{Image, ImageId, NewImage, time};
use serde_json::{Value, json};

use crate::short;

const QUOTAS: Quotas = Quotas {
    tags: Some(16),
    properties: Some(16),
    locations: Some(4),
};

/// Any JSON body either fails as a create body or a JSON patch, or gives an
/// image within glint's bounds; nothing panics, quotas hold, and errors
/// quote at most a few hundred characters of what was sent.
pub fn image_request(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let formats = FormatRules::default();
    let image = match NewImage::from_json(&body, &formats, QUOTAS) {
        Ok(new) => {
            assert!(new.tags.len() <= 16 && new.properties.len() <= 16);
            assert!(
                new.properties
                    .keys()
                    .all(|k| !k.is_empty() && !k.contains('\0'))
            );
            assert!((0..=limits::MAX_MIN_REQUIREMENT).contains(&new.min_ram));
            new.into_image(Some("p".into()))
        }
        Err(e) => {
            short(&e.to_string());
            Image::queued(ImageId::new_random(), time::now())
        }
    };
    patch_image(&body, image);
}

/// A JSON patch body, in both dialects, applied to an image that already
/// has tags and properties: parsing and applying never panic, the quotas
/// and bounds hold after every successful patch, and errors stay short.
/// The first line of the input, when it is not JSON, is the request's
/// `Content-Type`, which must choose the dialect or none.
pub fn patch(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) if !data.starts_with(b"[") && !data.starts_with(b"{") => {
            (Some(&data[..end]), &data[end + 1..])
        }
        _ => (None, data),
    };
    if let Some(content_type) = content_type {
        let text = String::from_utf8_lossy(content_type);
        if let Some(dialect) = PatchDialect::from_content_type(&text) {
            let essence = text.split(';').next().unwrap_or("").trim().to_lowercase();
            let expected = match dialect {
                PatchDialect::V20 => patch::MEDIA_TYPE_V20,
                PatchDialect::V21 => patch::MEDIA_TYPE_V21,
            };
            assert_eq!(essence, expected, "{text:?}");
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let formats = FormatRules::default();
    let mut image = NewImage::from_json(
        &json!({
            "name": "cirros",
            "disk_format": "qcow2",
            "container_format": "bare",
            "tags": ["a", "b"],
            "hw_disk_bus": "virtio",
            "os_distro": "cirros",
        }),
        &formats,
        QUOTAS,
    )
    .expect("the starting image is valid")
    .into_image(Some("p".into()));
    image.min_disk = 1;
    patch_image(&body, image);
}

fn patch_image(body: &Value, mut image: Image) {
    let formats = FormatRules::default();
    for dialect in [PatchDialect::V20, PatchDialect::V21] {
        match patch::parse_patch(body, dialect, &formats, QUOTAS) {
            Ok(ops) => {
                if let Err(e) = patch::apply_patch(&mut image, &ops) {
                    short(&e.to_string());
                }
                assert!(image.tags.len() <= 16, "{:?}", image.tags);
                assert!((0..=limits::MAX_MIN_REQUIREMENT).contains(&image.min_disk));
                assert!((0..=limits::MAX_MIN_REQUIREMENT).contains(&image.min_ram));
            }
            Err(e) => short(&e.to_string()),
        }
    }
}

/// Any query string either fails to parse as an image list query or gives
/// one within glint's bounds; parsing never panics, and an error quoting
/// the client's text stays short.
pub fn list_query(raw: &[u8]) {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let query = match ImageListQuery::from_pairs(&pairs) {
        Ok(query) => query,
        Err(e) => {
            short(&e.to_string());
            return;
        }
    };
    assert!(pairs.len() <= limits::MAX_QUERY_PARAMETERS);
    assert!(query.sort.len() <= 8, "{:?}", query.sort);
    let joined = query
        .filters
        .iter()
        .filter(|f| matches!(f, Filter::Tag(_) | Filter::Property { .. }))
        .count();
    assert!(joined <= limits::MAX_TAG_AND_PROPERTY_FILTERS);
    for (k, v) in &pairs {
        assert!(!k.contains('\0') && !v.contains('\0'));
    }
}
