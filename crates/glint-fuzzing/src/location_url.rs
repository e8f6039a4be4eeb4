//! The location URLs a client may give (`locations` in a patch, the
//! `add_location` API): which store owns them, and how messages show them.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use glint_store::{
    HttpStore, S3Config, S3Store, Secret, Store, SwiftAuthVersion, SwiftConfig, SwiftStore,
    redact_url,
};

static STORES: LazyLock<Vec<Arc<dyn Store>>> = LazyLock::new(|| {
    let s3 = S3Config::new(
        "http://127.0.0.1:7480",
        "access",
        Secret::new("secret"),
        "glance",
    );
    let swift = SwiftConfig::new(
        "ref1",
        "http://127.0.0.1:5000/v3",
        SwiftAuthVersion::V3,
        "service:glance",
        Secret::new("key"),
    );
    vec![
        Arc::new(HttpStore::new("web", Duration::from_secs(1)).unwrap()),
        Arc::new(S3Store::new("s3", s3).unwrap()),
        Arc::new(SwiftStore::new("swift", swift).unwrap()),
    ]
});

/// Any text is owned by at most one kind of store (http, s3, swift), and
/// only by the one its scheme names; deciding never panics. A URL shown
/// in a message carries no user name or password.
pub fn location_url(data: &[u8]) {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let owners: Vec<&str> = STORES
        .iter()
        .filter(|store| store.owns(url))
        .map(|store| store.id())
        .collect();
    assert!(owners.len() <= 1, "{url:?} owned by {owners:?}");
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    let scheme = scheme.to_ascii_lowercase();
    if let Some(owner) = owners.first() {
        let expected = match *owner {
            "web" => scheme == "http" || scheme == "https",
            "s3" => scheme.starts_with("s3"),
            _ => scheme.starts_with("swift"),
        };
        assert!(expected, "{url:?} owned by {owner}");
    }
    if let Some(shown) = redact_url(url) {
        let shown = url::Url::parse(&shown).expect("a redacted URL parses");
        assert_eq!(shown.password(), None, "{shown}");
        assert_eq!(shown.username(), "", "{shown}");
    }
}
