//! `http:` and `https:` policy checks: the rule, target and credentials are
//! posted to the URL, and the check passes only when the answer's body is
//! `True` (quotes allowed), as oslo.policy's external checks do.

use std::sync::mpsc;
use std::time::Duration;

use glint_policy::{Credentials, RemoteCheck, Target};
use serde_json::{Map, Value};

use crate::config::RemoteContentType;

/// Posts remote checks from a small runtime of its own, so that a policy
/// decision (which is synchronous) can wait for the answer without
/// needing, or stalling, the caller's runtime.
pub struct HttpRemoteCheck {
    client: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
    content_type: RemoteContentType,
    timeout: Duration,
}

impl std::fmt::Debug for HttpRemoteCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRemoteCheck")
            .field("content_type", &self.content_type)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpRemoteCheck {
    pub fn new(content_type: RemoteContentType, timeout: Duration) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("glint-remote-policy")
            .enable_all()
            .build()?;
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(HttpRemoteCheck {
            client,
            runtime: Some(runtime),
            content_type,
            timeout,
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
}

impl Drop for HttpRemoteCheck {
    fn drop(&mut self) {
        // May be dropped from inside the server's runtime, where a blocking
        // shutdown is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl RemoteCheck for HttpRemoteCheck {
    fn check(&self, rule: Option<&str>, url: &str, target: &Target, creds: &Credentials) -> bool {
        let Some(runtime) = &self.runtime else {
            return false;
        };
        let request = self.request(rule, url, target, creds);
        let (tx, rx) = mpsc::channel();
        runtime.spawn(async move {
            let answer = match request.send().await {
                Ok(resp) => resp.text().await,
                Err(e) => Err(e),
            };
            let _ = tx.send(answer);
        });
        // A little longer than the client's own timeout, which reports first.
        let wait = || rx.recv_timeout(self.timeout + Duration::from_secs(1));
        let on_server_runtime = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let answer = if on_server_runtime {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        };
        match answer {
            Ok(Ok(body)) => body.trim_matches('"') == "True",
            Ok(Err(e)) => {
                tracing::warn!(url, error = %e, "remote policy check failed; denying");
                false
            }
            Err(_) => {
                tracing::warn!(url, "remote policy check timed out; denying");
                false
            }
        }
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

    #[test]
    fn unreachable_checker_denies() {
        let check = HttpRemoteCheck::new(RemoteContentType::Form, Duration::from_secs(2)).unwrap();
        // A port nothing listens on: connection refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/check");
        assert!(!check.check(Some("r"), &url, &Target::new(), &Credentials::default()));
    }
}
