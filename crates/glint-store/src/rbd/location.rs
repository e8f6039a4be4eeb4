//! RBD location URLs, as glance_store writes and reads them:
//! `rbd://<fsid>/<pool>/<image>/<snapshot>`, each part percent-encoded, and
//! the old form `rbd://<image>` (an image in the store's pool, read at its head).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::store::StoreError;

pub(crate) const SCHEME: &str = "rbd://";

/// What Python's `urllib.parse.quote(part, '')` leaves as it is.
const PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RbdLocation {
    /// None in the old form.
    pub fsid: Option<String>,
    /// None in the old form: the store's pool.
    pub pool: Option<String>,
    pub image: String,
    /// None in the old form: the image's head.
    pub snapshot: Option<String>,
}

impl RbdLocation {
    pub(crate) fn parse(url: &str) -> Result<RbdLocation, StoreError> {
        let invalid = |why: &str| StoreError::InvalidLocation(format!("{url}: {why}"));
        let rest = url
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid("not an rbd:// location"))?;
        let pieces: Vec<&str> = rest.split('/').collect();
        if pieces.iter().any(|p| p.is_empty()) {
            return Err(invalid("empty component"));
        }
        let decode = |piece: &str| -> Result<String, StoreError> {
            let text = percent_decode_str(piece)
                .decode_utf8()
                .map_err(|_| invalid("not UTF-8"))?;
            if text.contains('\0') {
                return Err(invalid("NUL in a component"));
            }
            Ok(text.into_owned())
        };
        match pieces.as_slice() {
            [image] => Ok(RbdLocation {
                fsid: None,
                pool: None,
                image: decode(image)?,
                snapshot: None,
            }),
            [fsid, pool, image, snapshot] => Ok(RbdLocation {
                fsid: Some(decode(fsid)?),
                pool: Some(decode(pool)?),
                image: decode(image)?,
                snapshot: Some(decode(snapshot)?),
            }),
            _ => Err(invalid("expected 1 or 4 components")),
        }
    }

    /// The full form of a location.
    pub(crate) fn url(fsid: &str, pool: &str, image: &str, snapshot: &str) -> String {
        let part = |p: &str| utf8_percent_encode(p, PART).to_string();
        format!(
            "{SCHEME}{}/{}/{}/{}",
            part(fsid),
            part(pool),
            part(image),
            part(snapshot)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_form_round_trips_with_encoded_parts() {
        let url = RbdLocation::url("f5d3", "my pool/x", "abc", "snap");
        assert_eq!(url, "rbd://f5d3/my%20pool%2Fx/abc/snap");
        let loc = RbdLocation::parse(&url).unwrap();
        assert_eq!(loc.fsid.as_deref(), Some("f5d3"));
        assert_eq!(loc.pool.as_deref(), Some("my pool/x"));
        assert_eq!(loc.image, "abc");
        assert_eq!(loc.snapshot.as_deref(), Some("snap"));
    }

    #[test]
    fn old_form_names_only_the_image() {
        let loc = RbdLocation::parse("rbd://0b5f-image").unwrap();
        assert_eq!(loc.image, "0b5f-image");
        assert_eq!((loc.fsid, loc.pool, loc.snapshot), (None, None, None));
    }

    #[test]
    fn malformed_locations_are_invalid() {
        for url in [
            "rbd://",
            "rbd://a/b",
            "rbd://a/b/c",
            "rbd://a/b/c/d/e",
            "rbd://a//c/d",
            "rbd://a/b/c/",
            "rbd://a/b/c%00/d",
            "rbd://a/b/%ff/d",
            "file:///x",
            "swift://x",
        ] {
            let err = RbdLocation::parse(url).unwrap_err();
            assert!(matches!(err, StoreError::InvalidLocation(_)), "{url}");
        }
    }
}
