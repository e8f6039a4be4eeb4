//! Keystone token authentication against a fake Keystone: validation and
//! its cache, the service token, refusals (401 with `WWW-Authenticate`,
//! 503 when Keystone cannot answer), forged identity headers, anonymous
//! access and the paths that need no token.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::keystone::{
    AuthSettings, FakeKeystone, fake_service_credentials, keystone_mode, keystone_mode_as,
    unreachable_url,
};
use common::{TestApp, expect_error, expect_json, expect_status, id_of};
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);
const WWW_AUTHENTICATE_VALUE: &str = "Keystone uri=\"https://keystone.example.com/identity\"";
const KSM_401_BODY: &str = "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \
                            \"message\": \"The request you have made requires authentication.\"}}";

async fn app_with(auth_url: &str, settings: AuthSettings) -> TestApp {
    let mode = keystone_mode(auth_url, settings);
    TestApp::builder()
        .api_config(|c| c.auth = mode)
        .start()
        .await
}

async fn app(ks: &FakeKeystone) -> TestApp {
    app_with(&ks.url(), AuthSettings::default()).await
}

async fn send(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> Response {
    let mut req = app.request(method, path);
    if let Some(token) = token {
        req = req.header("X-Auth-Token", token);
    }
    req.send().await.unwrap()
}

async fn list(app: &TestApp, token: &str) -> Response {
    send(app, Method::GET, "/v2/images", Some(token)).await
}

async fn create(app: &TestApp, token: &str, body: Value) -> Response {
    app.post("/v2/images")
        .header("X-Auth-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A 401 from the token check itself: keystonemiddleware's JSON body,
/// whatever the `Accept` header, and where to get a token.
async fn expect_ksm_401(resp: Response) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()[WWW_AUTHENTICATE], WWW_AUTHENTICATE_VALUE);
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        "application/json; charset=UTF-8"
    );
    assert_eq!(resp.text().await.unwrap(), KSM_401_BODY);
}

/// A 503 because Keystone could not be asked: webob's body with
/// keystonemiddleware's detail.
async fn expect_503(resp: Response) {
    assert!(resp.headers().get(WWW_AUTHENTICATE).is_none());
    let body = expect_json(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "503 Service Unavailable");
    assert_eq!(
        body["message"],
        "The server is currently unavailable. Please try again at a later time.<br /><br />\n\
         The Keystone service is temporarily unavailable.\n\n"
    );
}

#[tokio::test]
async fn service_token_is_obtained_once_and_valid_user_tokens_are_cached() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let alice = ks.issue("alice", "alpha", &["member", "reader"], HOUR);
    let bob = ks.issue("bob", "beta", &["member", "reader"], HOUR);
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    assert_eq!((ks.password_auths(), ks.validations()), (1, 1));
    expect_status(list(&app, &bob).await, StatusCode::OK).await;
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    assert_eq!((ks.password_auths(), ks.validations()), (1, 2));
    assert_eq!(
        ks.validation_queries(),
        [Some("nocatalog".to_string()), Some("nocatalog".to_string())]
    );
}

#[tokio::test]
async fn validation_asks_for_the_catalog_when_configured_to() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        include_service_catalog: true,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let alice = ks.issue("alice", "alpha", &["reader"], HOUR);
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    assert_eq!(ks.validation_queries(), [None]);
}

#[tokio::test]
async fn service_token_refused_by_keystone_is_renewed_and_the_validation_retried() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let alice = ks.issue("alice", "alpha", &["member", "reader"], HOUR);
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    ks.revoke_service_tokens();
    let bob = ks.issue("bob", "beta", &["member", "reader"], HOUR);
    expect_status(list(&app, &bob).await, StatusCode::OK).await;
    assert_eq!(ks.password_auths(), 2);
    assert_eq!(ks.validations(), 3, "one refused, then one retried");
}

#[tokio::test]
async fn service_token_is_renewed_shortly_before_it_expires() {
    let ks = FakeKeystone::start().await;
    // Renewal is due two minutes before expiry: one second from now.
    ks.service_token_ttl(Duration::from_secs(121));
    let app = app(&ks).await;
    let alice = ks.issue("alice", "alpha", &["reader"], HOUR);
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    let bob = ks.issue("bob", "beta", &["reader"], HOUR);
    expect_status(list(&app, &bob).await, StatusCode::OK).await;
    assert_eq!(ks.password_auths(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let carol = ks.issue("carol", "gamma", &["reader"], HOUR);
    expect_status(list(&app, &carol).await, StatusCode::OK).await;
    assert_eq!(ks.password_auths(), 2);
    assert_eq!(ks.validations(), 3, "no validation was refused");
}

#[tokio::test]
async fn service_token_refused_twice_gives_503() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    ks.refuse_service_tokens();
    let alice = ks.issue("alice", "alpha", &["member"], HOUR);
    expect_503(list(&app, &alice).await).await;
    assert_eq!((ks.password_auths(), ks.validations()), (2, 2));
}

#[tokio::test]
async fn wrong_service_password_gives_503_not_401() {
    let ks = FakeKeystone::start().await;
    let mut credentials = fake_service_credentials();
    credentials.password = "wrong".into();
    let mode = keystone_mode_as(&ks.url(), credentials, AuthSettings::default());
    let app = TestApp::builder()
        .api_config(|c| c.auth = mode)
        .start()
        .await;
    let alice = ks.issue("alice", "alpha", &["member"], HOUR);
    expect_503(list(&app, &alice).await).await;
    assert_eq!((ks.password_auths(), ks.validations()), (1, 0));
}

#[tokio::test]
async fn missing_token_gets_keystonemiddleware_401() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    expect_ksm_401(send(&app, Method::GET, "/v2/images", None).await).await;
    let html = app
        .get("/v2/images")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    expect_ksm_401(html).await;
    expect_ksm_401(send(&app, Method::GET, "/v2/no-such-route", None).await).await;
    expect_ksm_401(send(&app, Method::GET, "/v2.1/images", None).await).await;
    assert_eq!(ks.validations(), 0);
}

#[tokio::test]
async fn unknown_token_gets_401_and_is_asked_about_again() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    expect_ksm_401(list(&app, "no-such-token").await).await;
    expect_ksm_401(list(&app, "no-such-token").await).await;
    assert_eq!(ks.validations(), 2, "failures are never cached");
}

#[tokio::test]
async fn expired_token_is_refused_even_when_keystone_describes_it() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let token = ks.issue_expired("alice", "alpha");
    expect_ksm_401(list(&app, &token).await).await;
}

#[tokio::test]
async fn cached_token_is_refused_once_it_expires() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let token = ks.issue("alice", "alpha", &["reader"], Duration::from_millis(1500));
    expect_status(list(&app, &token).await, StatusCode::OK).await;
    tokio::time::sleep(Duration::from_millis(1700)).await;
    expect_ksm_401(list(&app, &token).await).await;
    assert_eq!(ks.validations(), 2);
}

#[tokio::test]
async fn revoked_token_is_refused_once_its_cache_entry_ages_out() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        token_cache_time: Some(Duration::from_secs(1)),
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let token = ks.issue("alice", "alpha", &["reader"], HOUR);
    expect_status(list(&app, &token).await, StatusCode::OK).await;
    ks.revoke(&token);
    expect_status(list(&app, &token).await, StatusCode::OK).await;
    assert_eq!(ks.validations(), 1, "still cached");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    expect_ksm_401(list(&app, &token).await).await;
    assert_eq!(ks.validations(), 2);
}

#[tokio::test]
async fn disabled_cache_asks_keystone_every_time() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        token_cache_time: None,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let token = ks.issue("alice", "alpha", &["reader"], HOUR);
    for _ in 0..3 {
        expect_status(list(&app, &token).await, StatusCode::OK).await;
    }
    assert_eq!(ks.validations(), 3);
}

#[tokio::test]
async fn full_cache_evicts_the_oldest_token() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        token_cache_size: 2,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let tokens: Vec<String> = (0..3)
        .map(|n| ks.issue(&format!("u{n}"), "alpha", &["reader"], HOUR))
        .collect();
    for token in &tokens {
        expect_status(list(&app, token).await, StatusCode::OK).await;
    }
    expect_status(list(&app, &tokens[2]).await, StatusCode::OK).await;
    assert_eq!(ks.validations(), 3, "the newest is still cached");
    expect_status(list(&app, &tokens[0]).await, StatusCode::OK).await;
    assert_eq!(ks.validations(), 4, "the oldest was evicted");
}

#[tokio::test]
async fn concurrent_requests_with_a_new_token_share_one_validation() {
    let ks = FakeKeystone::start().await;
    ks.slow_down(Duration::from_millis(300));
    let app = Arc::new(app(&ks).await);
    let token = ks.issue("alice", "alpha", &["reader"], HOUR);
    let requests = (0..16).map(|_| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move { list(&app, &token).await.status() })
    });
    for status in futures::future::join_all(requests).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(ks.validations(), 1);
}

#[tokio::test]
async fn unreachable_keystone_gives_503_in_both_decision_modes() {
    let url = unreachable_url().await;
    for delay_auth_decision in [false, true] {
        let settings = AuthSettings {
            delay_auth_decision,
            allow_anonymous_access: true,
            ..AuthSettings::default()
        };
        let app = app_with(&url, settings).await;
        expect_503(list(&app, "some-token").await).await;
    }
}

#[tokio::test]
async fn keystone_that_stops_gives_503_and_cached_tokens_keep_working() {
    let mut ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let alice = ks.issue("alice", "alpha", &["reader"], HOUR);
    let bob = ks.issue("bob", "beta", &["reader"], HOUR);
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
    ks.stop().await;
    expect_503(list(&app, &bob).await).await;
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
}

#[tokio::test]
async fn keystone_errors_give_503() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::FORBIDDEN,
        StatusCode::BAD_REQUEST,
    ] {
        let ks = FakeKeystone::start().await;
        let app = app(&ks).await;
        ks.fail_with(status);
        let token = ks.issue("alice", "alpha", &["reader"], HOUR);
        expect_503(list(&app, &token).await).await;
    }
}

#[tokio::test]
async fn slow_keystone_times_out_with_503() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        http_timeout: Duration::from_millis(500),
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let warm = ks.issue("alice", "alpha", &["reader"], HOUR);
    expect_status(list(&app, &warm).await, StatusCode::OK).await;
    ks.slow_down(Duration::from_secs(5));
    let token = ks.issue("bob", "beta", &["reader"], HOUR);
    let started = Instant::now();
    expect_503(list(&app, &token).await).await;
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn timeouts_are_retried_as_configured() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        http_timeout: Duration::from_millis(300),
        http_max_retries: 2,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let warm = ks.issue("alice", "alpha", &["reader"], HOUR);
    expect_status(list(&app, &warm).await, StatusCode::OK).await;
    ks.slow_down(Duration::from_secs(3));
    let token = ks.issue("bob", "beta", &["reader"], HOUR);
    expect_503(list(&app, &token).await).await;
    assert_eq!(ks.validations(), 1 + 3);
}

#[tokio::test]
async fn identity_comes_from_the_token_and_forged_headers_are_ignored() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let alice = ks.issue("alice", "alpha", &["member", "reader"], HOUR);
    let forged = |req: reqwest::RequestBuilder| {
        req.header("X-Auth-Token", &alice)
            .header("X-Identity-Status", "Confirmed")
            .header("X-Roles", "admin")
            .header("X-Role", "admin")
            .header("X-User-Id", "admin")
            .header("X-Project-Id", "admin")
            .header("X-Tenant-Id", "admin")
            .header("X-Is-Admin-Project", "True")
    };
    let resp = forged(app.post("/v2/images"))
        .json(&json!({"name": "mine"}))
        .send()
        .await
        .unwrap();
    let image = expect_json(resp, StatusCode::CREATED).await;
    assert_eq!(image["owner"], "alpha");
    let resp = forged(app.post("/v2/images"))
        .json(&json!({"name": "public", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        "You are not authorized to complete publicize_image action."
    );
    let resp = app
        .get("/v2/images")
        .header("X-Identity-Status", "Confirmed")
        .header("X-Roles", "admin")
        .header("X-User-Id", "admin")
        .header("X-Project-Id", "admin")
        .send()
        .await
        .unwrap();
    expect_ksm_401(resp).await;
}

#[tokio::test]
async fn roles_of_the_token_reach_the_policy() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let admin = ks.issue("root", "admin", &["admin", "member", "reader"], HOUR);
    let reader = ks.issue("rita", "alpha", &["reader"], HOUR);
    let other = ks.issue("bob", "beta", &["member", "reader"], HOUR);
    let resp = create(&app, &reader, json!({"name": "x"})).await;
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        "You are not authorized to complete add_image action."
    );
    let resp = create(&app, &admin, json!({"name": "p", "visibility": "private"})).await;
    let id = id_of(&expect_json(resp, StatusCode::CREATED).await);
    let path = format!("/v2/images/{id}");
    expect_status(
        send(&app, Method::GET, &path, Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    expect_status(
        send(&app, Method::GET, &path, Some(&other)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn versions_and_healthcheck_need_no_token() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    for (path, status) in [
        ("/", StatusCode::MULTIPLE_CHOICES),
        ("/versions", StatusCode::OK),
        ("/healthcheck", StatusCode::OK),
        ("/v9/images", StatusCode::MULTIPLE_CHOICES),
    ] {
        let resp = send(&app, Method::GET, path, None).await;
        assert_eq!(resp.status(), status, "{path}");
    }
    let resp = send(&app, Method::GET, "/versions", Some("garbage")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(ks.validations(), 0);
}

#[tokio::test]
async fn delayed_decision_without_anonymous_access_gives_webob_401() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        delay_auth_decision: true,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    for token in [None, Some("no-such-token")] {
        let resp = send(&app, Method::GET, "/v2/images", token).await;
        assert_eq!(resp.headers()[WWW_AUTHENTICATE], WWW_AUTHENTICATE_VALUE);
        assert_eq!(
            expect_error(resp, StatusCode::UNAUTHORIZED).await,
            "This server could not verify that you are authorized to access the document you \
             requested. Either you supplied the wrong credentials (e.g., bad password), or your \
             browser does not understand how to supply the credentials required."
        );
    }
    let alice = ks.issue("alice", "alpha", &["reader"], HOUR);
    expect_status(list(&app, &alice).await, StatusCode::OK).await;
}

#[tokio::test]
async fn anonymous_access_needs_the_delayed_decision() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        delay_auth_decision: false,
        allow_anonymous_access: true,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    expect_ksm_401(send(&app, Method::GET, "/v2/images", None).await).await;
}

#[tokio::test]
async fn anonymous_callers_pass_authentication_but_may_only_read() {
    let ks = FakeKeystone::start().await;
    let settings = AuthSettings {
        delay_auth_decision: true,
        allow_anonymous_access: true,
        ..AuthSettings::default()
    };
    let app = app_with(&ks.url(), settings).await;
    let admin = ks.issue("root", "admin", &["admin", "member", "reader"], HOUR);
    let resp = create(&app, &admin, json!({"name": "pub", "visibility": "public"})).await;
    let id = id_of(&expect_json(resp, StatusCode::CREATED).await);
    for token in [None, Some("no-such-token")] {
        let schema = send(&app, Method::GET, "/v2/schemas/image", token).await;
        expect_status(schema, StatusCode::OK).await;
        // Glance's default rules give nothing to a caller without roles.
        let resp = send(&app, Method::GET, "/v2/images", token).await;
        assert_eq!(
            expect_error(resp, StatusCode::FORBIDDEN).await,
            "You are not authorized to complete get_images action."
        );
        let resp = send(&app, Method::GET, &format!("/v2/images/{id}"), token).await;
        expect_status(resp, StatusCode::NOT_FOUND).await;
        for (method, path) in [
            (Method::POST, "/v2/images".to_string()),
            (Method::DELETE, format!("/v2/images/{id}")),
            (Method::PUT, format!("/v2/images/{id}/tags/t")),
            (
                Method::DELETE,
                "/v2/images/00000000-0000-0000-0000-000000000000".into(),
            ),
        ] {
            let resp = send(&app, method, &path, token).await;
            assert_eq!(
                expect_error(resp, StatusCode::FORBIDDEN).await,
                "Access was denied to this resource. Read-only access",
                "{path}"
            );
        }
    }
    expect_status(
        send(&app, Method::GET, &format!("/v2/images/{id}"), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn x_storage_token_is_accepted_like_x_auth_token() {
    let ks = FakeKeystone::start().await;
    let app = app(&ks).await;
    let alice = ks.issue("alice", "alpha", &["reader"], HOUR);
    let resp = app
        .get("/v2/images")
        .header("X-Storage-Token", &alice)
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK).await;
}
