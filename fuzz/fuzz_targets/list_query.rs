//! Any query string either fails to parse as an image list query or gives
//! one within glint's bounds; parsing never panics, and an error quoting
//! the client's text stays short.

#![no_main]

use glint_model::limits;
use glint_model::query::{Filter, ImageListQuery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let query = match ImageListQuery::from_pairs(&pairs) {
        Ok(query) => query,
        Err(e) => {
            assert!(e.to_string().chars().count() < 1000, "{e}");
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
});
