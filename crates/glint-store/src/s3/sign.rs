//! AWS Signature Version 4 for S3 requests (header-based, `Authorization`).

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::Secret;

/// SigV4's "unreserved" characters stay as they are; everything else is encoded.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The payload hash sent for bodies that are not hashed: image data, whose
/// integrity the upload's own md5 and multihash already cover.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Percent-encodes one path segment or query component the way SigV4 wants it.
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, SIGV4_ENCODE).to_string()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&openssl::sha::sha256(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC-SHA256 with a key of any length cannot fail in OpenSSL; a failure
    // here would be a broken libcrypto, which no request could survive anyway.
    let key = PKey::hmac(key).expect("HMAC key");
    let mut signer = Signer::new(MessageDigest::sha256(), &key).expect("HMAC-SHA256");
    signer.update(data).expect("HMAC update");
    signer.sign_to_vec().expect("HMAC final")
}

/// What a request looks like to the signer.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    /// The path as sent, already encoded (`/bucket/key`).
    pub path: &'a str,
    /// Query parameters, not encoded; a parameter without value has `""`.
    pub query: &'a [(&'a str, String)],
    /// `host[:port]` as in the `Host` header.
    pub host: &'a str,
    /// Headers to sign besides `host`, `x-amz-date` and `x-amz-content-sha256`,
    /// names in lower case.
    pub headers: &'a [(&'static str, String)],
    pub payload_sha256: &'a str,
}

pub(crate) struct Credentials<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a Secret,
    pub region: &'a str,
}

/// The canonical query string: parameters sorted by encoded name and value.
pub(crate) fn canonical_query(query: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs a request made at `amz_date` (`20130524T000000Z`); returns the
/// `Authorization` header's value.
pub(crate) fn authorization(req: &Request<'_>, creds: &Credentials<'_>, amz_date: &str) -> String {
    let mut headers: Vec<(&str, &str)> = vec![
        ("host", req.host),
        ("x-amz-content-sha256", req.payload_sha256),
        ("x-amz-date", amz_date),
    ];
    headers.extend(req.headers.iter().map(|(k, v)| (*k, v.trim())));
    headers.sort_unstable_by_key(|(k, _)| *k);
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        req.method,
        req.path,
        canonical_query(req.query),
        req.payload_sha256
    );
    let date = &amz_date[..8];
    let scope = format!("{date}/{}/s3/aws4_request", creds.region);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = format!("AWS4{}", creds.secret_key.expose());
    let key = hmac(key.as_bytes(), date.as_bytes());
    let key = hmac(&key, creds.region.as_bytes());
    let key = hmac(&key, b"s3");
    let key = hmac(&key, b"aws4_request");
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn empty_payload_hash() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }

    /// The "GET Object" example of AWS's SigV4 documentation for S3.
    #[test]
    fn matches_the_documented_get_object_example() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let creds = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: &secret,
            region: "us-east-1",
        };
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            host: "examplebucket.s3.amazonaws.com",
            headers: &[("range", "bytes=0-9".to_owned())],
            payload_sha256: EMPTY_SHA256,
        };
        let auth = authorization(&req, &creds, "20130524T000000Z");
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert!(!auth.contains(secret.expose()));
    }

    #[test]
    fn query_is_sorted_and_encoded() {
        let q = [
            ("uploadId", "2~a/b+c".to_owned()),
            ("partNumber", "3".to_owned()),
            ("uploads", String::new()),
        ];
        assert_eq!(
            canonical_query(&q),
            "partNumber=3&uploadId=2~a%2Fb%2Bc&uploads="
        );
    }
}
