//! Any JSON body either fails as a create body or a JSON patch, or gives an
//! image within glint's bounds; nothing panics, quotas hold, and errors
//! quote at most a few hundred characters of what was sent.

#![no_main]

use glint_model::limits::{self, Quotas};
use glint_model::patch::{self, PatchDialect};
use glint_model::properties::FormatRules;
use glint_model::{ImageId, NewImage, time};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const QUOTAS: Quotas = Quotas {
    tags: Some(16),
    properties: Some(16),
};

fn short(e: &glint_model::ModelError) {
    assert!(e.to_string().chars().count() < 1000, "{e}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let formats = FormatRules::default();
    let mut image = match NewImage::from_json(&body, &formats, QUOTAS) {
        Ok(new) => {
            assert!(new.tags.len() <= 16 && new.properties.len() <= 16);
            assert!(new.properties.keys().all(|k| !k.is_empty() && !k.contains('\0')));
            assert!((0..=limits::MAX_MIN_REQUIREMENT).contains(&new.min_ram));
            new.into_image(Some("p".into()))
        }
        Err(e) => {
            short(&e);
            glint_model::Image::queued(ImageId::new_random(), time::now())
        }
    };
    for dialect in [PatchDialect::V20, PatchDialect::V21] {
        match patch::parse_patch(&body, dialect, &formats, QUOTAS) {
            Ok(ops) => {
                if let Err(e) = patch::apply_patch(&mut image, &ops) {
                    short(&e);
                }
                assert!(image.tags.len() <= 16);
                assert!((0..=limits::MAX_MIN_REQUIREMENT).contains(&image.min_disk));
            }
            Err(e) => short(&e),
        }
    }
});
