//! Keystone's unified limits read over its API, as oslo.limit reads them,
//! from the fake Keystone of `common/keystone.rs`: the endpoint's service
//! and region select the limits, a project limit overrides the registered
//! one, limits are kept for the cache time, and a Keystone that cannot be
//! read answers 503 (unreachable) or 500 (refusing the configuration).

use std::sync::Arc;
use std::time::Duration;

use crate::common::keystone::{
    FakeKeystone, IMAGE_ENDPOINT_ID, IMAGE_SERVICE_ID, REGION, SERVICE_PASSWORD, SERVICE_PROJECT,
    SERVICE_USER,
};
use crate::common::{TestApp, expect_error, expect_json};
use glint_api::auth::{EndpointChoice, KeystoneLimits, LimitsConfig, NameOrId, Scope};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn config(keystone: &FakeKeystone, endpoint: EndpointChoice) -> LimitsConfig {
    let default = Some(NameOrId::Name("Default".into()));
    LimitsConfig {
        auth_url: format!("{}/v3", keystone.url()).parse().unwrap(),
        user: NameOrId::Name(SERVICE_USER.into()),
        user_domain: default.clone(),
        password: SERVICE_PASSWORD.into(),
        scope: Scope::Project {
            project: NameOrId::Name(SERVICE_PROJECT.into()),
            domain: default,
        },
        endpoint,
        http_timeout: Duration::from_secs(2),
        http_max_retries: 0,
    }
}

async fn app_reading(
    keystone: &FakeKeystone,
    endpoint: EndpointChoice,
    cache_time: Duration,
) -> TestApp {
    let reader = KeystoneLimits::new(config(keystone, endpoint)).unwrap();
    TestApp::builder()
        .unified_limits(Arc::new(reader), cache_time)
        .start()
        .await
}

fn raw_image() -> Value {
    json!({"disk_format": "raw", "container_format": "bare"})
}

/// Registers the image service's limits, and decoys for another service
/// and another region, which must not count.
async fn keystone_with_limits() -> FakeKeystone {
    let keystone = FakeKeystone::start().await;
    for (resource, limit) in [
        ("image_count_total", 1),
        ("image_size_total", 10),
        ("image_stage_total", 10),
        ("image_count_uploading", 2),
    ] {
        keystone.register_limit(IMAGE_SERVICE_ID, REGION, resource, limit);
        keystone.register_limit("svc-compute", REGION, resource, 100);
        keystone.register_limit(IMAGE_SERVICE_ID, "RegionTwo", resource, 100);
    }
    keystone.set_project_limit("p2", "image_count_total", 3);
    keystone
}

async fn creates(app: &TestApp, project: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(app.member_of(project).create(raw_image()).await.status());
    }
    statuses
}

#[tokio::test]
async fn limits_of_the_endpoint_given_by_id_apply_per_project() {
    let keystone = keystone_with_limits().await;
    let endpoint = EndpointChoice::Id(IMAGE_ENDPOINT_ID.into());
    let app = app_reading(&keystone, endpoint, Duration::ZERO).await;
    let created = StatusCode::CREATED;
    let refused = StatusCode::PAYLOAD_TOO_LARGE;
    assert_eq!(creates(&app, "p1", 2).await, [created, refused]);
    assert_eq!(
        creates(&app, "p2", 4).await,
        [created, created, created, refused]
    );
    let resp = app
        .member_of("p2")
        .get("/v2/info/usage")
        .send()
        .await
        .unwrap();
    let usage = expect_json(resp, StatusCode::OK).await;
    assert_eq!(
        usage,
        json!({"usage": {
            "image_size_total": {"usage": 0, "limit": 10},
            "image_stage_total": {"usage": 0, "limit": 10},
            "image_count_total": {"usage": 3, "limit": 3},
            "image_count_uploading": {"usage": 0, "limit": 2},
        }})
    );
}

#[tokio::test]
async fn the_endpoint_may_be_found_by_service_type_region_and_interface() {
    let keystone = keystone_with_limits().await;
    let lookup = |service_type: &str, region: Option<&str>| EndpointChoice::Lookup {
        service_type: Some(service_type.into()),
        service_name: None,
        region_name: region.map(str::to_owned),
        interface: "publicURL".into(),
    };
    let app = app_reading(&keystone, lookup("image", Some(REGION)), Duration::ZERO).await;
    let statuses = creates(&app, "p1", 2).await;
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::PAYLOAD_TOO_LARGE]
    );
    // No such service, or no such region: the configuration is wrong.
    for wrong in [lookup("volume", None), lookup("image", Some("Nowhere"))] {
        let app = app_reading(&keystone, wrong, Duration::ZERO).await;
        let resp = app.member_of("p1").create(raw_image()).await;
        expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR).await;
    }
}

#[tokio::test]
async fn limits_are_read_again_once_the_cache_time_has_passed() {
    let keystone = keystone_with_limits().await;
    keystone.set_project_limit("p1", "image_count_total", 100);
    let endpoint = EndpointChoice::Id(IMAGE_ENDPOINT_ID.into());
    let app = app_reading(&keystone, endpoint, Duration::from_millis(500)).await;
    assert!(
        creates(&app, "p1", 5)
            .await
            .iter()
            .all(|s| *s == StatusCode::CREATED)
    );
    // The registered limits and p1's: read once for five creates.
    assert_eq!(keystone.limit_reads(), 2);
    keystone.set_project_limit("p1", "image_count_total", 5);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let resp = app.member_of("p1").create(raw_image()).await;
    let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(
        message.ends_with(
            "Project p1 is over a limit for [Resource image_count_total is over limit of 5 due \
             to current usage 5 and delta 1]"
        ),
        "{message}"
    );
    assert_eq!(keystone.limit_reads(), 4);
}

#[tokio::test]
async fn a_keystone_that_cannot_be_read_answers_503_or_500_and_creates_nothing() {
    let mut keystone = keystone_with_limits().await;
    let endpoint = EndpointChoice::Id(IMAGE_ENDPOINT_ID.into());
    let app = app_reading(&keystone, endpoint.clone(), Duration::ZERO).await;
    // Another model than flat, as oslo.limit refuses it.
    keystone.set_limit_model("strict-two-level");
    let resp = app.member_of("p1").create(raw_image()).await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR).await;
    keystone.set_limit_model("flat");
    // An endpoint that does not exist.
    let missing = EndpointChoice::Id("no-such-endpoint".into());
    let wrong = app_reading(&keystone, missing, Duration::ZERO).await;
    let resp = wrong.member_of("p1").create(raw_image()).await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR).await;
    // Unreachable.
    keystone.stop().await;
    let resp = app.member_of("p1").create(raw_image()).await;
    let message = expect_error(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        message,
        "The server is currently unavailable. Please try again at a later time."
    );
    let resp = app
        .member_of("p1")
        .get("/v2/info/usage")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(app.member_of("p1").list("").await["images"], json!([]));
}

#[tokio::test]
async fn a_reader_without_the_right_to_read_limits_is_a_configuration_error() {
    let keystone = keystone_with_limits().await;
    keystone.forbid_limit_reads();
    let endpoint = EndpointChoice::Id(IMAGE_ENDPOINT_ID.into());
    let app = app_reading(&keystone, endpoint, Duration::ZERO).await;
    let resp = app.member_of("p1").create(raw_image()).await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR).await;
}
