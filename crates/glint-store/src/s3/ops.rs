//! The S3 operations the store uses, one method each.

use bytes::Bytes;
use reqwest::{Method, StatusCode};

use super::client::{Client, Failure, Payload};
use super::endpoint::create_bucket_body;
use super::xml;

impl Client {
    pub(crate) async fn put_object(&self, key: &str, pieces: Vec<Bytes>) -> Result<(), Failure> {
        self.send(Method::PUT, Some(key), &[], &[], Payload::Data(pieces))
            .await
            .map(drop)
    }

    /// Starts a multipart upload; returns its upload id.
    pub(crate) async fn create_multipart(&self, key: &str) -> Result<String, Failure> {
        let query = [("uploads", String::new())];
        let doc = self
            .send_for_text(Method::POST, Some(key), &query, Payload::Empty)
            .await?;
        xml::text(&doc, "UploadId").ok_or_else(|| Failure::malformed("InitiateMultipartUpload"))
    }

    /// Uploads one part; returns its ETag.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        data: Bytes,
    ) -> Result<String, Failure> {
        let query = [
            ("partNumber", number.to_string()),
            ("uploadId", upload_id.to_owned()),
        ];
        let response = self
            .send(
                Method::PUT,
                Some(key),
                &query,
                &[],
                Payload::Data(vec![data]),
            )
            .await?;
        response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Failure::malformed("UploadPart"))
    }

    pub(crate) async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), Failure> {
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            doc.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                xml::escape(etag)
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let query = [("uploadId", upload_id.to_owned())];
        let answer = self
            .send_for_text(Method::POST, Some(key), &query, Payload::Xml(doc))
            .await?;
        // S3 may answer 200 and still fail, with an error document as the body.
        match xml::elements(&answer, "Error").next() {
            Some(error) => Err(Failure::in_body(
                xml::text(error, "Code").unwrap_or_default(),
            )),
            None => Ok(()),
        }
    }

    /// Aborts a multipart upload; one that is already gone is fine.
    pub(crate) async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), Failure> {
        let query = [("uploadId", upload_id.to_owned())];
        match self
            .send(Method::DELETE, Some(key), &query, &[], Payload::Empty)
            .await
        {
            Err(f) if f.is("NoSuchUpload") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Creates the bucket; one this user already owns is fine.
    pub(crate) async fn create_bucket(&self) -> Result<(), Failure> {
        let payload = match create_bucket_body(self.endpoint.location_constraint.as_deref()) {
            Some(doc) => Payload::Xml(doc),
            None => Payload::Empty,
        };
        match self.send(Method::PUT, None, &[], &[], payload).await {
            Err(f) if f.is("BucketAlreadyOwnedByYou") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes the bucket, which must be empty.
    pub(crate) async fn delete_bucket(&self) -> Result<(), Failure> {
        self.send(Method::DELETE, None, &[], &[], Payload::Empty)
            .await
            .map(drop)
    }

    /// The size of an object.
    pub(crate) async fn head_object(&self, key: &str) -> Result<u64, Failure> {
        let response = self
            .send(Method::HEAD, Some(key), &[], &[], Payload::Empty)
            .await?;
        response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Failure::malformed("HeadObject"))
    }

    pub(crate) async fn delete_object(&self, key: &str) -> Result<(), Failure> {
        self.send(Method::DELETE, Some(key), &[], &[], Payload::Empty)
            .await
            .map(drop)
    }

    /// Every key in the bucket starting with `prefix`.
    pub(crate) async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, Failure> {
        let mut keys = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("prefix", prefix.to_owned())];
            if !marker.is_empty() {
                query.push(("marker", marker.clone()));
            }
            let doc = self
                .send_for_text(Method::GET, None, &query, Payload::Empty)
                .await?;
            let page: Vec<String> = xml::elements(&doc, "Contents")
                .filter_map(|c| xml::text(c, "Key"))
                .collect();
            let truncated = xml::text(&doc, "IsTruncated").as_deref() == Some("true");
            marker = page.last().cloned().unwrap_or_default();
            keys.extend(page);
            if !truncated || marker.is_empty() {
                return Ok(keys);
            }
        }
    }

    /// The multipart uploads in progress for keys starting with `prefix`, as
    /// (key, upload id).
    pub(crate) async fn list_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, Failure> {
        let mut uploads = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut query = vec![("uploads", String::new()), ("prefix", prefix.to_owned())];
            if let Some((key, id)) = &markers {
                query.push(("key-marker", key.clone()));
                query.push(("upload-id-marker", id.clone()));
            }
            let doc = self
                .send_for_text(Method::GET, None, &query, Payload::Empty)
                .await?;
            let page: Vec<(String, String)> = xml::elements(&doc, "Upload")
                .filter_map(|u| Some((xml::text(u, "Key")?, xml::text(u, "UploadId")?)))
                .collect();
            let truncated = xml::text(&doc, "IsTruncated").as_deref() == Some("true");
            markers = page.last().cloned();
            uploads.extend(page);
            if !truncated || markers.is_none() {
                return Ok(uploads);
            }
        }
    }
}

impl Failure {
    /// A success answer that lacks what it must hold.
    fn malformed(operation: &str) -> Self {
        Self::with_code(
            StatusCode::BAD_GATEWAY,
            format!("Malformed{operation}Answer"),
        )
    }

    /// An error document inside a 200 answer. S3 sends one when a long
    /// operation fails after the status line has gone out; its code says why.
    fn in_body(code: String) -> Self {
        Self::with_code(StatusCode::INTERNAL_SERVER_ERROR, code)
    }
}
