//! Per-project quotas from a real Keystone's unified limits, through
//! glint's HTTP API with real tokens. The test registers an image service
//! and an endpoint of its own (unique names per run), registered limits
//! for them and a project limit, points `[oslo_limit]` (system-scoped, as
//! Glance's install guide does) at that endpoint, and removes everything
//! it made at the end.
//!
//! Skipped unless `GLINT_TEST_KEYSTONE_URL` is set, like `keystone_real.rs`
//! (whose account variables it reads); `GLINT_REQUIRE_KEYSTONE=1` turns the
//! skip into a failure.

use std::time::Duration;

use crate::common::keystone::{AuthSettings, keystone_mode_as};
use crate::common::{TestApp, expect_error, expect_json, expect_status, id_of, noise};
use futures::FutureExt;
use glint_api::auth::{
    EndpointChoice, KeystoneLimits, LimitsConfig, NameOrId, Scope, ServiceCredentials,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

struct Account {
    user: String,
    password: String,
    project: String,
}

fn account(who: &str, user: &str, project: &str) -> Account {
    let var = |what: &str| format!("GLINT_TEST_KEYSTONE_{who}_{what}");
    Account {
        user: env(&var("USER")).unwrap_or_else(|| user.into()),
        password: env(&var("PASSWORD"))
            .unwrap_or_else(|| panic!("{} must be set with the Keystone URL", var("PASSWORD"))),
        project: env(&var("PROJECT")).unwrap_or_else(|| project.into()),
    }
}

/// Keystone's API as the kit's admin, with a system-scoped token.
struct Keystone {
    v3: String,
    domain: String,
    http: reqwest::Client,
    admin: String,
}

impl Keystone {
    async fn connect(url: &str) -> Keystone {
        let base = url.trim_end_matches('/');
        let v3 = format!("{}/v3", base.strip_suffix("/v3").unwrap_or(base));
        let mut ks = Keystone {
            v3,
            domain: env("GLINT_TEST_KEYSTONE_DOMAIN").unwrap_or_else(|| "Default".into()),
            // A fresh connection per call: the Keystone kit's server may
            // close an idle kept-alive connection just as it is reused.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            admin: String::new(),
        };
        let admin = account("ADMIN", "admin", "admin");
        let (token, _) = ks.login(&admin, json!({"system": {"all": true}})).await;
        ks.admin = token;
        ks
    }

    /// A token of `account` with `scope`, and its document.
    async fn login(&self, account: &Account, scope: Value) -> (String, Value) {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": account.user, "domain": {"name": self.domain},
                "password": account.password}}},
            "scope": scope
        }});
        let url = format!("{}/auth/tokens?nocatalog", self.v3);
        let resp = self.http.post(url).json(&body).send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "login of {}",
            account.user
        );
        let token = resp.headers()["X-Subject-Token"]
            .to_str()
            .unwrap()
            .to_owned();
        (token, resp.json().await.unwrap())
    }

    /// A project-scoped token of `account`, and its project's id.
    async fn project_token(&self, account: &Account) -> (String, String) {
        let scope = json!({"project": {"name": account.project, "domain": {"name": self.domain}}});
        let (token, doc) = self.login(account, scope).await;
        let project = doc["token"]["project"]["id"].as_str().unwrap().to_owned();
        (token, project)
    }

    /// An admin call, tried again when Keystone failed it: the test kit's
    /// Keystone keeps its data in SQLite, which refuses a write made while
    /// another test's write holds the database ("database is locked": a
    /// 500, or the connection closed without an answer), and rolls it back.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        const ATTEMPTS: u32 = 4;
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .http
                .request(method.clone(), format!("{}/{path}", self.v3))
                .header("X-Auth-Token", &self.admin);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let (status, text) = match request.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    (status, resp.text().await.unwrap_or_default())
                }
                Err(e) if attempt < ATTEMPTS => {
                    eprintln!("{method} {path}: {e}; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    continue;
                }
                Err(e) => panic!("{method} {path}: {e}"),
            };
            if status.is_server_error() && attempt < ATTEMPTS {
                eprintln!("{method} {path}: {status} {text}; trying again");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                continue;
            }
            assert!(status.is_success(), "{method} {path}: {status} {text}");
            return serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        unreachable!("the last attempt returns or panics")
    }
}

/// What the test made in Keystone, removed at the end whatever happens.
#[derive(Default)]
struct Made {
    service: Option<String>,
    endpoint: Option<String>,
    registered: Vec<String>,
    limits: Vec<String>,
}

impl Made {
    async fn remove(&self, ks: &Keystone) {
        for id in &self.limits {
            ks.call(Method::DELETE, &format!("limits/{id}"), None).await;
        }
        for id in &self.registered {
            ks.call(Method::DELETE, &format!("registered_limits/{id}"), None)
                .await;
        }
        if let Some(id) = &self.endpoint {
            ks.call(Method::DELETE, &format!("endpoints/{id}"), None)
                .await;
        }
        if let Some(id) = &self.service {
            ks.call(Method::DELETE, &format!("services/{id}"), None)
                .await;
        }
    }
}

const REGION: &str = "RegionOne";

/// An image service and endpoint of this run, its registered limits, and
/// `alpha`'s own `image_count_total`.
async fn register(ks: &Keystone, made: &mut Made, alpha: &str) -> String {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let service = ks
        .call(
            Method::POST,
            "services",
            Some(
                json!({"service": {"type": "image", "name": format!("glint-limits-{run}"),
                                     "description": "glint keystone_limits_real test"}}),
            ),
        )
        .await;
    let service = service["service"]["id"].as_str().unwrap().to_owned();
    made.service = Some(service.clone());
    let endpoint = ks
        .call(
            Method::POST,
            "endpoints",
            Some(
                json!({"endpoint": {"service_id": service, "interface": "public",
                                      "region_id": REGION,
                                      "url": format!("http://glint-limits-{run}.invalid")}}),
            ),
        )
        .await;
    let endpoint = endpoint["endpoint"]["id"].as_str().unwrap().to_owned();
    made.endpoint = Some(endpoint.clone());
    let registered: Vec<Value> = [
        ("image_size_total", 1),
        ("image_stage_total", 0),
        ("image_count_total", 2),
        ("image_count_uploading", -1),
    ]
    .iter()
    .map(|(resource, limit)| {
        json!({"service_id": service, "region_id": REGION, "resource_name": resource,
               "default_limit": limit})
    })
    .collect();
    let created = ks
        .call(
            Method::POST,
            "registered_limits",
            Some(json!({ "registered_limits": registered })),
        )
        .await;
    for limit in created["registered_limits"].as_array().unwrap() {
        made.registered
            .push(limit["id"].as_str().unwrap().to_owned());
    }
    let created = ks
        .call(
            Method::POST,
            "limits",
            Some(
                json!({"limits": [{"service_id": service, "region_id": REGION,
                                     "project_id": alpha, "resource_name": "image_count_total",
                                     "resource_limit": 3}]}),
            ),
        )
        .await;
    for limit in created["limits"].as_array().unwrap() {
        made.limits.push(limit["id"].as_str().unwrap().to_owned());
    }
    endpoint
}

async fn app_behind(ks_url: &str, domain: &str, endpoint: String) -> TestApp {
    let name = || Some(NameOrId::Name(domain.to_owned()));
    let service = account("SERVICE", "glint", "service");
    let credentials = ServiceCredentials {
        user: NameOrId::Name(service.user.clone()),
        user_domain: name(),
        password: service.password.clone(),
        project: NameOrId::Name(service.project.clone()),
        project_domain: name(),
    };
    let settings = AuthSettings {
        http_timeout: Duration::from_secs(10),
        ..AuthSettings::default()
    };
    let mode = keystone_mode_as(ks_url, credentials, settings);
    let admin = account("ADMIN", "admin", "admin");
    let reader = KeystoneLimits::new(LimitsConfig {
        auth_url: ks_url.parse().unwrap(),
        user: NameOrId::Name(admin.user),
        user_domain: name(),
        password: admin.password,
        scope: Scope::System,
        endpoint: EndpointChoice::Id(endpoint),
        http_timeout: Duration::from_secs(10),
        http_max_retries: 0,
    })
    .unwrap();
    TestApp::builder()
        .api_config(|c| c.auth = mode)
        .unified_limits(std::sync::Arc::new(reader), Duration::ZERO)
        .start()
        .await
}

fn over_limit(project: &str, resource: &str, limit: i64, usage: u64, delta: u64) -> String {
    format!(
        "The request returned a 413 Request Entity Too Large. This generally means that rate \
         limiting or a quota threshold was breached.\n\nThe response body:\nProject {project} \
         is over a limit for [Resource {resource} is over limit of {limit} due to current usage \
         {usage} and delta {delta}]"
    )
}

async fn create(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/v2/images")
        .header("X-Auth-Token", token)
        .json(&json!({"disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, token: &str, id: &str, size: usize) -> reqwest::Response {
    app.put(&format!("/v2/images/{id}/file"))
        .header("X-Auth-Token", token)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(noise(size, size as u64))
        .send()
        .await
        .unwrap()
}

async fn enforce_and_report(ks: &Keystone, app: &TestApp) {
    let (alice, alpha) = ks.project_token(&account("ALICE", "alice", "alpha")).await;
    let (bob, beta) = ks.project_token(&account("BOB", "bob", "beta")).await;
    // alpha's own limit (3) overrides the registered one (2).
    let mut images = Vec::new();
    for _ in 0..3 {
        images.push(id_of(
            &expect_json(create(app, &alice).await, StatusCode::CREATED).await,
        ));
    }
    let message = expect_error(create(app, &alice).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, over_limit(&alpha, "image_count_total", 3, 3, 1));
    for _ in 0..2 {
        expect_status(create(app, &bob).await, StatusCode::CREATED).await;
    }
    let message = expect_error(create(app, &bob).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, over_limit(&beta, "image_count_total", 2, 2, 1));
    // image_size_total is 1 MiB.
    expect_status(
        upload(app, &alice, &images[0], 700 * 1024).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let message = expect_error(
        upload(app, &alice, &images[1], 400 * 1024).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(message, over_limit(&alpha, "image_size_total", 1, 0, 2));
    expect_status(
        upload(app, &alice, &images[1], 300 * 1024).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let resp = app
        .get("/v2/info/usage")
        .header("X-Auth-Token", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(resp, StatusCode::OK).await,
        json!({"usage": {
            "image_size_total": {"usage": 0, "limit": 1},
            "image_stage_total": {"usage": 0, "limit": 0},
            "image_count_total": {"usage": 3, "limit": 3},
            "image_count_uploading": {"usage": 0, "limit": -1},
        }})
    );
}

#[tokio::test]
async fn limits_registered_in_a_real_keystone_are_enforced_and_reported() {
    let Some(url) = env("GLINT_TEST_KEYSTONE_URL") else {
        assert!(
            env("GLINT_REQUIRE_KEYSTONE").as_deref() != Some("1"),
            "GLINT_REQUIRE_KEYSTONE=1 but GLINT_TEST_KEYSTONE_URL is not set"
        );
        eprintln!("GLINT_TEST_KEYSTONE_URL is not set: skipped");
        return;
    };
    let ks = Keystone::connect(&url).await;
    let (_, alpha) = ks.project_token(&account("ALICE", "alice", "alpha")).await;
    let mut made = Made::default();
    let outcome = async {
        let endpoint = register(&ks, &mut made, &alpha).await;
        let app = app_behind(&url, &ks.domain, endpoint).await;
        enforce_and_report(&ks, &app).await;
    }
    .catch_unwind_boxed()
    .await;
    made.remove(&ks).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `catch_unwind` for a future that is not `UnwindSafe` (it borrows).
trait CatchUnwindBoxed: std::future::Future + Sized {
    fn catch_unwind_boxed(
        self,
    ) -> futures::future::CatchUnwind<std::panic::AssertUnwindSafe<Self>> {
        std::panic::AssertUnwindSafe(self).catch_unwind()
    }
}

impl<F: std::future::Future> CatchUnwindBoxed for F {}
