//! `http:` and `https:` policy checks: the rule, target and credentials are
//! posted to the URL, and the check passes only when the answer's body is
//! `True` (quotes allowed), as oslo.policy's external checks do.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use glint_core::remote::AsyncRemoteCheck;
use glint_policy::{Credentials, RemoteQuery, Target};
use serde_json::{Map, Value};

use crate::config::RemoteContentType;

/// Posts remote checks with an async HTTP client, on the task of the
/// request that needs them.
pub struct HttpRemoteCheck {
    client: reqwest::Client,
    content_type: RemoteContentType,
}

impl std::fmt::Debug for HttpRemoteCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRemoteCheck")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl HttpRemoteCheck {
    /// `timeout` bounds each check, from connecting to the last byte of the
    /// answer; a check that takes longer is a denial.
    pub fn new(content_type: RemoteContentType, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(HttpRemoteCheck {
            client,
            content_type,
        })
    }

    fn request(
        &self,
        rule: Option<&str>,
        url: &str,
        target: &Target,
        creds: &Credentials,
    ) -> reqwest::RequestBuilder {
        let rule = rule.map_or(Value::Null, |r| Value::String(r.to_owned()));
        let target = Value::Object(target.clone().into_iter().collect());
        let creds = credentials_json(creds);
        let request = self.client.post(url);
        match self.content_type {
            RemoteContentType::Json => request.json(&serde_json::json!({
                "rule": rule,
                "target": target,
                "credentials": creds,
            })),
            RemoteContentType::Form => {
                let body = form_urlencoded(&[
                    ("rule", &rule.to_string()),
                    ("target", &target.to_string()),
                    ("credentials", &creds.to_string()),
                ]);
                request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body)
            }
        }
    }

    async fn allowed(&self, query: &RemoteQuery, target: &Target, creds: &Credentials) -> bool {
        let request = self.request(query.rule.as_deref(), &query.url, target, creds);
        let answer = match request.send().await {
            Ok(resp) => resp.text().await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(body) => body.trim_matches('"') == "True",
            Err(e) => {
                tracing::warn!(url = %query.url, error = %e, "remote policy check failed; denying");
                false
            }
        }
    }
}

impl AsyncRemoteCheck for HttpRemoteCheck {
    fn ask<'a>(
        &'a self,
        query: &'a RemoteQuery,
        target: &'a Target,
        creds: &'a Credentials,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(self.allowed(query, target, creds))
    }
}

/// The credentials as oslo.policy sends them (a context's policy values).
fn credentials_json(creds: &Credentials) -> Value {
    let mut map = Map::new();
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    map.insert("user_id".into(), text(&creds.user_id));
    map.insert("project_id".into(), text(&creds.project_id));
    map.insert("domain_id".into(), text(&creds.domain_id));
    map.insert("system_scope".into(), text(&creds.system_scope));
    map.insert(
        "roles".into(),
        Value::Array(creds.roles.iter().cloned().map(Value::String).collect()),
    );
    map.insert("is_admin".into(), Value::Bool(creds.is_admin));
    for (key, value) in &creds.extra {
        map.entry(key.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
    Value::Object(map)
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn form_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_escape_matches_html_form_encoding() {
        assert_eq!(form_escape("a b&c=d/\"é\""), "a+b%26c%3Dd%2F%22%C3%A9%22");
        assert_eq!(
            form_urlencoded(&[("rule", "\"x\""), ("target", "{}")]),
            "rule=%22x%22&target=%7B%7D"
        );
    }

    #[test]
    fn credentials_carry_identity_roles_and_extra_attributes() {
        let mut creds = Credentials::default()
            .with_roles(["Member", "reader"])
            .with_project("p1");
        creds.user_id = Some("u1".into());
        creds
            .extra
            .insert("user_domain_id".into(), "default".into());
        let json = credentials_json(&creds);
        assert_eq!(json["project_id"], "p1");
        assert_eq!(json["user_id"], "u1");
        assert_eq!(json["roles"], serde_json::json!(["member", "reader"]));
        assert_eq!(json["is_admin"], false);
        assert_eq!(json["user_domain_id"], "default");
        assert_eq!(json["domain_id"], Value::Null);
    }

    #[tokio::test]
    async fn unreachable_checker_denies() {
        let check = HttpRemoteCheck::new(RemoteContentType::Form, Duration::from_secs(2)).unwrap();
        // A port nothing listens on: connection refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let query = RemoteQuery {
            rule: Some("r".into()),
            url: format!("http://127.0.0.1:{port}/check"),
        };
        assert!(
            !check
                .ask(&query, &Target::new(), &Credentials::default())
                .await
        );
    }
}
