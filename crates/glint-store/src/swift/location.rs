//! Location URLs of the swift store and the container an image goes in.

use glint_model::ImageId;

use crate::StoreError;

const SCHEME: &str = "swift+config://";

/// An object in Swift, named by a location URL of this store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectPath {
    pub container: String,
    pub object: String,
}

/// `swift+config://<reference>/<container>/<object>`: the reference names the
/// credentials in the configuration, so the URL itself, which Glance shows to
/// users in `locations`, holds no user, key or token.
pub(crate) fn location_url(reference: &str, path: &ObjectPath) -> String {
    format!("{SCHEME}{reference}/{}/{}", path.container, path.object)
}

/// The prefix every location of the store with this reference starts with.
pub(crate) fn prefix(reference: &str) -> String {
    format!("{SCHEME}{reference}/")
}

/// Splits a location URL of this store into container and object; any other
/// URL (another scheme, another reference, or a malformed path) is refused.
pub(crate) fn parse(reference: &str, url: &str) -> Result<ObjectPath, StoreError> {
    let invalid =
        || StoreError::InvalidLocation(format!("not a location of this swift store: {url}"));
    let rest = url.strip_prefix(&prefix(reference)).ok_or_else(invalid)?;
    let (container, object) = rest.split_once('/').ok_or_else(invalid)?;
    if container.is_empty() || object.is_empty() || object.contains('/') {
        return Err(invalid());
    }
    Ok(ObjectPath {
        container: container.to_owned(),
        object: object.to_owned(),
    })
}

/// The container of an image: `container`, or with a seed of N > 0,
/// `<container>_<first N characters of the id>`, where, as in glance_store,
/// the dashes in those first N characters do not count (N = 10 gives
/// `glance_fdae39a1-ba`).
pub(crate) fn container_for(container: &str, seed: u32, image_id: ImageId) -> String {
    if seed == 0 {
        return container.to_owned();
    }
    let id = image_id.to_string().to_lowercase();
    let seed = seed as usize;
    let dashes = id.chars().take(seed).filter(|&c| c == '-').count();
    let suffix: String = id.chars().take(seed + dashes).collect();
    format!("{container}_{suffix}")
}

/// The name of segment `number` (from 1) of an image's Static Large Object,
/// in the image's own container, as glance_store names its DLO segments.
pub(crate) fn segment_name(object: &str, number: u32) -> String {
    format!("{object}-{number:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ImageId {
        s.parse().unwrap()
    }

    #[test]
    fn location_round_trips_and_names_no_secret() {
        let path = ObjectPath {
            container: "glance".into(),
            object: "fdae39a1-bac5-4238-aba4-69bcc726e848".into(),
        };
        let url = location_url("ref1", &path);
        assert_eq!(
            url,
            "swift+config://ref1/glance/fdae39a1-bac5-4238-aba4-69bcc726e848"
        );
        assert_eq!(parse("ref1", &url).unwrap(), path);
    }

    #[test]
    fn other_references_and_malformed_paths_are_refused() {
        for url in [
            "swift+config://ref2/glance/x",
            "swift+config://ref1/glance",
            "swift+config://ref1//x",
            "swift+config://ref1/glance/",
            "swift+config://ref1/a/b/c",
            "swift+https://user:key@host/v1/glance/x",
            "swift+config://ref10/glance/x",
        ] {
            assert!(
                matches!(parse("ref1", url), Err(StoreError::InvalidLocation(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn containers_follow_the_seed_like_glance_store() {
        let image = id("fdae39a1-bac5-4238-aba4-69bcc726e848");
        assert_eq!(container_for("glance", 0, image), "glance");
        assert_eq!(container_for("glance", 3, image), "glance_fda");
        assert_eq!(container_for("glance", 10, image), "glance_fdae39a1-ba");
        assert_eq!(
            container_for("glance", 32, image),
            "glance_fdae39a1-bac5-4238-aba4-69bcc726e848"
        );
    }

    #[test]
    fn segments_sort_in_order() {
        assert_eq!(segment_name("abc", 1), "abc-00001");
        assert_eq!(segment_name("abc", 12345), "abc-12345");
    }
}
