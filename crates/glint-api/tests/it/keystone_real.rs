//! glint behind a real Keystone. Skipped unless `GLINT_TEST_KEYSTONE_URL`
//! is set, like the PostgreSQL and MariaDB tests without their URLs.
//!
//! The Keystone must hold these accounts, all in one domain, with passwords
//! given by environment variables (user and project names have defaults):
//!
//! | variable prefix                 | default user / project | roles on the project |
//! |---------------------------------|------------------------|----------------------|
//! | `GLINT_TEST_KEYSTONE_SERVICE_`  | `glint` / `service`    | service, admin (may validate tokens) |
//! | `GLINT_TEST_KEYSTONE_ADMIN_`    | `admin` / `admin`      | admin |
//! | `GLINT_TEST_KEYSTONE_ALICE_`    | `alice` / `alpha`      | member, reader |
//! | `GLINT_TEST_KEYSTONE_BOB_`      | `bob` / `beta`         | member, reader |
//! | `GLINT_TEST_KEYSTONE_RITA_`     | `rita` / `alpha`       | reader |
//!
//! Each prefix takes `USER`, `PASSWORD` (required) and `PROJECT`, e.g.
//! `GLINT_TEST_KEYSTONE_ALICE_PASSWORD`. `GLINT_TEST_KEYSTONE_DOMAIN` names
//! the domain of users and projects (default `Default`).

use crate::common;

use std::time::Duration;

use common::keystone::{AuthSettings, WWW_AUTHENTICATE_URI, keystone_mode_as};
use common::{TestApp, expect_error, expect_json, expect_status, id_of};
use glint_api::auth::{NameOrId, ServiceCredentials};
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

/// How long glint trusts a validated token in this test.
const CACHE_TTL: Duration = Duration::from_secs(2);

struct Account {
    user: String,
    password: String,
    project: String,
}

struct RealKeystone {
    url: String,
    domain: String,
    http: reqwest::Client,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl RealKeystone {
    fn from_env() -> Option<RealKeystone> {
        let url = env("GLINT_TEST_KEYSTONE_URL")?;
        Some(RealKeystone {
            url: url.trim_end_matches('/').to_string(),
            domain: env("GLINT_TEST_KEYSTONE_DOMAIN").unwrap_or_else(|| "Default".into()),
            // A fresh connection per call: the Keystone kit's server may
            // close an idle kept-alive connection just as it is reused.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        })
    }

    fn account(&self, who: &str, user: &str, project: &str) -> Account {
        let var = |what: &str| format!("GLINT_TEST_KEYSTONE_{who}_{what}");
        Account {
            user: env(&var("USER")).unwrap_or_else(|| user.into()),
            password: env(&var("PASSWORD"))
                .unwrap_or_else(|| panic!("{} must be set with the Keystone URL", var("PASSWORD"))),
            project: env(&var("PROJECT")).unwrap_or_else(|| project.into()),
        }
    }

    fn tokens_url(&self) -> String {
        let base = self.url.strip_suffix("/v3").unwrap_or(&self.url);
        format!("{base}/v3/auth/tokens")
    }

    /// A project-scoped token of `account`.
    async fn token(&self, account: &Account) -> String {
        let domain = json!({ "name": self.domain });
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": account.user, "domain": domain, "password": account.password}}},
            "scope": {"project": {"name": account.project, "domain": domain}}
        }});
        let resp = self
            .http
            .post(self.tokens_url())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "token of {}",
            account.user
        );
        resp.headers()["X-Subject-Token"]
            .to_str()
            .unwrap()
            .to_string()
    }

    /// `DELETE /v3/auth/tokens`: the token is revoked at once in Keystone.
    async fn revoke(&self, by: &str, token: &str) {
        let resp = self
            .http
            .delete(self.tokens_url())
            .header("X-Auth-Token", by)
            .header("X-Subject-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
}

async fn send(app: &TestApp, token: &str, method: Method, path: &str) -> Response {
    app.request(method, path)
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn glint_behind_a_real_keystone_enforces_token_identity() {
    let Some(ks) = RealKeystone::from_env() else {
        eprintln!("GLINT_TEST_KEYSTONE_URL is not set: skipped");
        return;
    };
    let service = ks.account("SERVICE", "glint", "service");
    let domain = || Some(NameOrId::Name(ks.domain.clone()));
    let credentials = ServiceCredentials {
        user: NameOrId::Name(service.user.clone()),
        user_domain: domain(),
        password: service.password.clone(),
        project: NameOrId::Name(service.project.clone()),
        project_domain: domain(),
    };
    let settings = AuthSettings {
        token_cache_time: Some(CACHE_TTL),
        http_timeout: Duration::from_secs(10),
        ..AuthSettings::default()
    };
    let mode = keystone_mode_as(&ks.url, credentials, settings);
    let app = TestApp::builder()
        .api_config(|c| c.auth = mode)
        .start()
        .await;

    let admin = ks.token(&ks.account("ADMIN", "admin", "admin")).await;
    let alice_account = ks.account("ALICE", "alice", "alpha");
    let alice = ks.token(&alice_account).await;
    let bob = ks.token(&ks.account("BOB", "bob", "beta")).await;
    let rita = ks.token(&ks.account("RITA", "rita", "alpha")).await;

    // alice creates and uploads an image of her project.
    let resp = app
        .post("/v2/images")
        .header("X-Auth-Token", &alice)
        .json(
            &json!({"name": "real-ks", "disk_format": "raw", "container_format": "bare",
                "visibility": "private"}),
        )
        .send()
        .await
        .unwrap();
    let image = expect_json(resp, StatusCode::CREATED).await;
    let id = id_of(&image);
    let file = format!("/v2/images/{id}/file");
    let resp = app
        .put(&file)
        .header("X-Auth-Token", &alice)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;

    // The admin deactivates it (a reader may not); nobody but an admin may
    // download it then.
    let deactivate = format!("/v2/images/{id}/actions/deactivate");
    expect_status(
        send(&app, &rita, Method::POST, &deactivate).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_status(
        send(&app, &admin, Method::POST, &deactivate).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_status(
        send(&app, &bob, Method::GET, &file).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_status(
        send(&app, &rita, Method::GET, &file).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_status(
        send(&app, &alice, Method::GET, &file).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Reactivated, its owner's members may download again, not its readers.
    let reactivate = format!("/v2/images/{id}/actions/reactivate");
    expect_status(
        send(&app, &admin, Method::POST, &reactivate).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let resp = send(&app, &alice, Method::GET, &file).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().len(), 4096);
    let resp = send(&app, &rita, Method::GET, &file).await;
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        "You are not authorized to complete download_image action."
    );
    expect_status(
        send(&app, &bob, Method::GET, &format!("/v2/images/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // A reader cannot create.
    let resp = app
        .post("/v2/images")
        .header("X-Auth-Token", &rita)
        .json(&json!({"name": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        "You are not authorized to complete add_image action."
    );

    // A revoked token works until its cache entry ages out, then never.
    let doomed = ks.token(&alice_account).await;
    expect_status(
        send(&app, &doomed, Method::GET, "/v2/images").await,
        StatusCode::OK,
    )
    .await;
    ks.revoke(&admin, &doomed).await;
    expect_status(
        send(&app, &doomed, Method::GET, "/v2/images").await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(CACHE_TTL + Duration::from_millis(300)).await;
    let resp = send(&app, &doomed, Method::GET, "/v2/images").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()[WWW_AUTHENTICATE],
        format!("Keystone uri=\"{WWW_AUTHENTICATE_URI}\"").as_str()
    );

    // A token Keystone never issued.
    let resp = send(&app, "gAAAAABnot-a-real-token", Method::GET, "/v2/images").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key(WWW_AUTHENTICATE));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);

    // Identity comes from the token: alice's image is owned by her project.
    let resp = send(&app, &alice, Method::GET, &format!("/v2/images/{id}")).await;
    let shown = expect_json(resp, StatusCode::OK).await;
    assert_eq!(shown["status"], "active");
    assert_ne!(shown["owner"], json!(null));
    expect_status(
        send(&app, &admin, Method::DELETE, &format!("/v2/images/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
}
