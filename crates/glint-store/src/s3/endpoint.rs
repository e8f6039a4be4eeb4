//! Where requests go and what locations look like: the host (with or without
//! a scheme), the bucket addressing style, the signing region, and the
//! `s3://host/bucket/key` location URLs.

use url::Url;

use super::config::{S3Config, S3UrlFormat};
use super::sign::encode;
use crate::StoreError;

/// The endpoint of one store, resolved once from its config.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    https: bool,
    /// `host[:port]`, the port only when it is not the scheme's default.
    authority: String,
    pub(crate) bucket: String,
    virtual_host: bool,
    /// The region requests are signed for.
    pub(crate) region: String,
    /// The `LocationConstraint` a created bucket asks for, if any.
    pub(crate) location_constraint: Option<String>,
}

/// A location URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) bucket: String,
    pub(crate) key: String,
}

impl Endpoint {
    pub(crate) fn new(config: &S3Config) -> Result<Self, StoreError> {
        let bad = |why: String| StoreError::Config(format!("s3_store_host: {why}"));
        let raw = config.host.trim().trim_end_matches('/');
        if raw.is_empty() {
            return Err(bad("is not set".to_owned()));
        }
        let with_scheme = if raw.starts_with("http://") || raw.starts_with("https://") {
            raw.to_owned()
        } else if raw.contains("://") {
            return Err(bad(format!("{raw:?} must be a host or an http(s) URL")));
        } else {
            format!("http://{raw}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| bad(format!("{raw:?}: {e}")))?;
        if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
            return Err(bad(format!(
                "{raw:?} must be a host, with an optional scheme and port, and nothing else"
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad(format!("{raw:?} has no host")))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let https = url.scheme() == "https";
        let bucket = config.bucket.clone();
        if bucket.is_empty() || bucket.contains('/') {
            return Err(StoreError::Config(format!(
                "s3_store_bucket: {bucket:?} is not a bucket name"
            )));
        }
        let is_ip = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
        let virtual_host = match config.bucket_url_format {
            S3UrlFormat::Path => false,
            S3UrlFormat::Virtual if !dns_compatible(&bucket, https) => {
                return Err(StoreError::Config(format!(
                    "s3_store_bucket: {bucket:?} cannot be a host name, which \
                     s3_store_bucket_url_format = virtual needs"
                )));
            }
            S3UrlFormat::Virtual => true,
            S3UrlFormat::Auto => !is_ip && dns_compatible(&bucket, https),
        };
        let region = match config.region_name.as_deref() {
            Some(r) if !r.is_empty() => r.to_owned(),
            _ => aws_region_of(host).unwrap_or_default(),
        };
        let location_constraint =
            (!region.is_empty() && region != "us-east-1").then(|| region.clone());
        let region = if region.is_empty() {
            "us-east-1".to_owned()
        } else {
            region
        };
        Ok(Self {
            https,
            authority,
            bucket,
            virtual_host,
            region,
            location_constraint,
        })
    }

    /// The `Host` header requests carry.
    pub(crate) fn host_header(&self) -> String {
        if self.virtual_host {
            format!("{}.{}", self.bucket, self.authority)
        } else {
            self.authority.clone()
        }
    }

    /// The request path (encoded) of an object, or of the bucket for `None`.
    pub(crate) fn path(&self, key: Option<&str>) -> String {
        let key = key.map(encode_key);
        match (self.virtual_host, key) {
            (true, Some(key)) => format!("/{key}"),
            (true, None) => "/".to_owned(),
            (false, Some(key)) => format!("/{}/{key}", encode(&self.bucket)),
            (false, None) => format!("/{}", encode(&self.bucket)),
        }
    }

    /// The full URL of a request path.
    pub(crate) fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.host_header())
    }

    /// The host shown in messages: never a credential, only where the store is.
    pub(crate) fn display_host(&self) -> &str {
        &self.authority
    }

    /// The location URL of an object this store writes.
    pub(crate) fn location(&self, key: &str) -> String {
        let scheme = if self.https { "s3+https" } else { "s3" };
        format!("{scheme}://{}/{}/{key}", self.authority, self.bucket)
    }

    /// Whether a location names an object in this store's bucket on this
    /// store's host.
    pub(crate) fn owns(&self, location: &Location) -> bool {
        let mine = parse_authority(&self.authority);
        location.bucket == self.bucket
            && mine.is_some_and(|(host, port)| {
                host.eq_ignore_ascii_case(&location.host)
                    && port.or(default_port(self.https)) == location.port
            })
    }
}

fn default_port(https: bool) -> Option<u16> {
    Some(if https { 443 } else { 80 })
}

fn encode_key(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}

fn parse_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let url = Url::parse(&format!("http://{authority}/")).ok()?;
    Some((url.host_str()?.to_owned(), url.port()))
}

/// Parses an `s3://`, `s3+http://` or `s3+https://` location, with or without
/// Glance's `access:secret@` (ignored: the store signs with its own keys).
/// An AWS secret may hold `/`, so the credentials end at the last `@`.
pub(crate) fn parse_location(url: &str) -> Option<Location> {
    let (scheme, rest) = url.split_once("://")?;
    let https = match scheme {
        "s3" | "s3+http" => false,
        "s3+https" => true,
        _ => return None,
    };
    if rest.contains("://") {
        return None;
    }
    let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    let rest = rest.trim_matches('/');
    let (service, key) = rest.rsplit_once('/')?;
    let (authority, bucket) = service.rsplit_once('/')?;
    if key.is_empty() || bucket.is_empty() || authority.is_empty() || authority.contains('/') {
        return None;
    }
    let (host, port) = parse_authority(authority)?;
    Some(Location {
        host,
        port: port.or(default_port(https)),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}

/// Whether a bucket name can be the first label of a host name, as botocore
/// decides before it addresses a bucket virtually (dots only over plain
/// http, where no certificate has to match).
fn dns_compatible(bucket: &str, https: bool) -> bool {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    (3..=63).contains(&bucket.len())
        && ok_chars
        && ends_ok
        && !bucket.contains("..")
        && !(https && bucket.contains('.'))
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
}

/// The region of an AWS endpoint named `s3-<region>.amazonaws.com` (or
/// `s3.<region>.amazonaws.com`), as glance_store derives it; `s3.amazonaws.com`
/// and other hosts have none.
fn aws_region_of(host: &str) -> Option<String> {
    let name = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let region = name
        .strip_prefix("s3-")
        .or_else(|| name.strip_prefix("s3."))?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

/// Renders the `CreateBucketConfiguration` body for a region, if any.
pub(crate) fn create_bucket_body(location_constraint: Option<&str>) -> Option<String> {
    location_constraint.map(|region| {
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            super::xml::escape(region)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn config(host: &str, bucket: &str, format: S3UrlFormat) -> S3Config {
        let mut c = S3Config::new(host, "ak", Secret::new("sk"), bucket);
        c.bucket_url_format = format;
        c
    }

    fn endpoint(host: &str, bucket: &str, format: S3UrlFormat) -> Endpoint {
        Endpoint::new(&config(host, bucket, format)).unwrap()
    }

    #[test]
    fn virtual_format_puts_the_bucket_in_the_host() {
        let e = endpoint(
            "https://s3.example.com",
            "glance-images",
            S3UrlFormat::Virtual,
        );
        assert_eq!(
            e.url(&e.path(Some("1b2c"))),
            "https://glance-images.s3.example.com/1b2c"
        );
        assert_eq!(
            e.url(&e.path(None)),
            "https://glance-images.s3.example.com/"
        );
        assert_eq!(e.host_header(), "glance-images.s3.example.com");
        assert_eq!(
            e.location("1b2c"),
            "s3+https://s3.example.com/glance-images/1b2c"
        );
    }

    #[test]
    fn path_format_puts_the_bucket_in_the_path() {
        let e = endpoint("127.0.0.1:7480", "images", S3UrlFormat::Path);
        assert_eq!(
            e.url(&e.path(Some("abc"))),
            "http://127.0.0.1:7480/images/abc"
        );
        assert_eq!(e.url(&e.path(None)), "http://127.0.0.1:7480/images");
        assert_eq!(e.location("abc"), "s3://127.0.0.1:7480/images/abc");
    }

    #[test]
    fn auto_format_is_virtual_only_for_named_hosts_and_host_like_buckets() {
        assert!(endpoint("s3.example.com", "images", S3UrlFormat::Auto).virtual_host);
        assert!(!endpoint("http://10.0.0.1:7480", "images", S3UrlFormat::Auto).virtual_host);
        assert!(!endpoint("[::1]:7480", "images", S3UrlFormat::Auto).virtual_host);
        assert!(!endpoint("s3.example.com", "Images_1", S3UrlFormat::Auto).virtual_host);
        assert!(!endpoint("https://s3.example.com", "a.b", S3UrlFormat::Auto).virtual_host);
        assert!(endpoint("http://s3.example.com", "a.b", S3UrlFormat::Auto).virtual_host);
    }

    #[test]
    fn virtual_format_refuses_a_bucket_that_cannot_be_a_host() {
        let err = Endpoint::new(&config("s3.example.com", "Bad_Name", S3UrlFormat::Virtual));
        assert!(matches!(err, Err(StoreError::Config(_))), "{err:?}");
    }

    #[test]
    fn hosts_are_taken_with_or_without_scheme() {
        let plain = endpoint("s3.example.com:8080/", "b", S3UrlFormat::Path);
        assert_eq!(plain.url("/b"), "http://s3.example.com:8080/b");
        let tls = endpoint("https://s3.example.com:443", "b", S3UrlFormat::Path);
        assert_eq!(tls.url("/b"), "https://s3.example.com/b");
        for bad in ["", "ftp://x", "http://h/some/path", "http://u:p@h"] {
            let err = Endpoint::new(&config(bad, "b", S3UrlFormat::Path));
            assert!(matches!(err, Err(StoreError::Config(_))), "{bad}: {err:?}");
        }
    }

    #[test]
    fn region_and_location_constraint() {
        let aws = endpoint("s3-eu-west-1.amazonaws.com", "b", S3UrlFormat::Path);
        assert_eq!(aws.region, "eu-west-1");
        assert_eq!(aws.location_constraint.as_deref(), Some("eu-west-1"));
        let rgw = endpoint("127.0.0.1:7480", "b", S3UrlFormat::Path);
        assert_eq!(rgw.region, "us-east-1");
        assert_eq!(rgw.location_constraint, None);
        let mut c = config("127.0.0.1:7480", "b", S3UrlFormat::Path);
        c.region_name = Some("us-east-1".to_owned());
        assert_eq!(Endpoint::new(&c).unwrap().location_constraint, None);
        c.region_name = Some("default".to_owned());
        let e = Endpoint::new(&c).unwrap();
        assert_eq!(e.region, "default");
        assert_eq!(e.location_constraint.as_deref(), Some("default"));
        assert!(
            create_bucket_body(e.location_constraint.as_deref())
                .unwrap()
                .contains("<LocationConstraint>default</LocationConstraint>")
        );
    }

    #[test]
    fn glance_locations_with_credentials_are_read_without_them() {
        let e = endpoint("http://127.0.0.1:7480", "images", S3UrlFormat::Path);
        for url in [
            "s3://127.0.0.1:7480/images/k1",
            "s3://AKIA:se/cr@et@127.0.0.1:7480/images/k1",
            "s3+http://ak:sk@127.0.0.1:7480/images/k1",
        ] {
            let loc = parse_location(url).unwrap();
            assert_eq!(loc.key, "k1", "{url}");
            assert!(e.owns(&loc), "{url}");
        }
        for url in [
            "s3://127.0.0.1:7481/images/k1",
            "s3://127.0.0.1:7480/other/k1",
            "s3://127.0.0.1:7480/k1",
            "s3://ak:sk@https://127.0.0.1:7480/images/k1",
            "swift://127.0.0.1:7480/images/k1",
        ] {
            assert!(!parse_location(url).is_some_and(|l| e.owns(&l)), "{url}");
        }
        let tls = endpoint("https://s3.example.com", "images", S3UrlFormat::Path);
        assert!(tls.owns(&parse_location("s3+https://ak:sk@S3.example.com/images/k").unwrap()));
        assert!(tls.owns(&parse_location("s3+https://s3.example.com:443/images/k").unwrap()));
        assert!(!tls.owns(&parse_location("s3://s3.example.com/images/k").unwrap()));
    }
}
