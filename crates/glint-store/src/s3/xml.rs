//! The few pieces of S3's XML answers the store reads: error codes, upload
//! ids, listed keys. S3 documents are flat enough that finding elements by
//! name is exact; no attribute or namespace is needed.

/// The text of every `<name>…</name>` element, in document order, unescaped.
pub(crate) fn texts<'a>(doc: &'a str, name: &str) -> impl Iterator<Item = String> + 'a {
    elements(doc, name).map(unescape)
}

/// The text of the first `<name>…</name>` element.
pub(crate) fn text(doc: &str, name: &str) -> Option<String> {
    texts(doc, name).next()
}

/// The raw content of every `<name>…</name>` element (for nested documents:
/// each `<Upload>` of a listing).
pub(crate) fn elements<'a>(doc: &'a str, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut rest = doc;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let content = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(content)
    })
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an element's content.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_error_code() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><BucketName>b</BucketName><RequestId>tx1</RequestId></Error>"#;
        assert_eq!(text(doc, "Code").as_deref(), Some("NoSuchBucket"));
        assert_eq!(text(doc, "Message"), None);
    }

    #[test]
    fn reads_nested_listings() {
        let doc = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>\
            <Upload><Key>a&amp;b</Key><UploadId>2~x</UploadId></Upload>\
            <Upload><Key>c</Key><UploadId>2~y&#x2F;z</UploadId></Upload></ListMultipartUploadsResult>";
        let uploads: Vec<(String, String)> = elements(doc, "Upload")
            .map(|u| (text(u, "Key").unwrap(), text(u, "UploadId").unwrap()))
            .collect();
        assert_eq!(
            uploads,
            [
                ("a&b".to_owned(), "2~x".to_owned()),
                ("c".to_owned(), "2~y/z".to_owned())
            ]
        );
    }

    #[test]
    fn escapes_and_unescapes() {
        let raw = r#""2~a<b>&c""#;
        assert_eq!(unescape(&escape(raw)), raw);
        assert_eq!(unescape("a & b &bogus; &#65;"), "a & b &bogus; A");
    }
}
