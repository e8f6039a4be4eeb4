//! Bounded work per list request: how many parameters, filters, filter
//! values and sort keys one `GET /v2/images` may carry, what a marker the
//! caller cannot see answers, and filters no database can compare.

use crate::common;

use std::time::{Duration, Instant};

use common::{TestApp, expect_error, expect_json, id_of, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

/// What another client must get its answer within, after a heavy request
/// was answered: far above the few milliseconds it takes.
const PROMPTLY: Duration = Duration::from_secs(5);

async fn list_error(app: &TestApp, query: &str, status: StatusCode) -> String {
    let resp = app
        .member_of("p1")
        .get(&format!("/v2/images?{query}"))
        .send()
        .await
        .unwrap();
    expect_error(resp, status).await
}

fn repeat(param: &str, n: usize) -> String {
    vec![param; n].join("&")
}

/// The server still answers someone else at once.
async fn assert_still_prompt(app: &TestApp) {
    let started = Instant::now();
    app.member_of("p2").list("").await;
    let took = started.elapsed();
    assert!(took < PROMPTLY, "another client waited {took:?}");
}

#[tokio::test]
async fn repeated_filters_beyond_the_parameter_limit_are_400_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        app.member_of("p1").create_image(json!({"name": "x"})).await;
        for query in [
            repeat("tag=a", 3000),
            repeat("created_at=gt:2020-01-01T00:00:00Z", 1000),
            repeat("protected=true", 3000),
            repeat("name=x", 101),
            (0..500)
                .map(|i| format!("p{i}=x"))
                .collect::<Vec<_>>()
                .join("&"),
        ] {
            let started = Instant::now();
            let message = list_error(&app, &query, StatusCode::BAD_REQUEST).await;
            eprintln!(
                "{} bytes of query answered in {:?}",
                query.len(),
                started.elapsed()
            );
            assert!(
                message.starts_with("Too many query parameters in one request: "),
                "{message}"
            );
            assert!(message.ends_with("at most 100 are allowed."), "{message}");
            assert_still_prompt(&app).await;
        }
    })
    .await;
}

#[tokio::test]
async fn more_tag_and_property_filters_together_than_allowed_are_400() {
    let app = TestApp::new().await;
    let properties: Vec<String> = (0..5).map(|i| format!("p{i}=x")).collect();
    for query in [
        repeat("tag=a", 11),
        repeat("os_distro=x", 11),
        format!("{}&{}", repeat("tag=a", 6), properties.join("&")),
    ] {
        let message = list_error(&app, &query, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            message,
            "Too many tag and property filters in one request: 11; at most 10 are allowed."
        );
    }
}

#[tokio::test]
async fn in_lists_are_bounded_by_their_values_together() {
    let app = TestApp::new().await;
    let ids: Vec<String> = (0..1001)
        .map(|i| format!("{i:08}-0000-4000-8000-000000000000"))
        .collect();
    let query = format!("id=in:{}", ids.join(","));
    let message = list_error(&app, &query, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        message,
        "Too many filter values in one request: 1001; at most 1000 are allowed."
    );
    let half = ids[..600].join(",");
    let query = format!("id=in:{half}&name=in:{half}");
    let message = list_error(&app, &query, StatusCode::BAD_REQUEST).await;
    assert!(message.contains(": 1200;"), "{message}");
}

#[tokio::test]
async fn the_largest_allowed_filters_answer_correctly_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let member = app.member_of("p1");
        let mut body =
            json!({"name": "all", "tags": (0..5).map(|i| format!("t{i}")).collect::<Vec<_>>()});
        for i in 0..5 {
            body[format!("p{i}")] = json!("v");
        }
        let all = id_of(&member.create_image(body).await);
        let mut wanted = vec![all.clone()];
        for n in 0..30 {
            let body = json!({"name": format!("some{n}"), "tags": ["t0", "t1"], "p0": "v"});
            wanted.push(id_of(&member.create_image(body).await));
        }
        let tags: Vec<String> = (0..5).map(|i| format!("tag=t{i}")).collect();
        let props: Vec<String> = (0..5).map(|i| format!("p{i}=v")).collect();
        let query = format!("{}&{}", tags.join("&"), props.join("&"));
        let started = Instant::now();
        assert_eq!(member.list_names(&query).await, ["all"]);
        eprintln!(
            "5 tag and 5 property filters answered in {:?}",
            started.elapsed()
        );
        let query = format!("id=in:{}&limit=1000", wanted.join(","));
        assert_eq!(
            member.list(&query).await["images"]
                .as_array()
                .unwrap()
                .len(),
            31
        );
        assert_still_prompt(&app).await;
    })
    .await;
}

#[tokio::test]
async fn repeated_sort_keys_are_sorted_on_once_and_bounded() {
    let app = TestApp::new().await;
    let admin = app.admin();
    for name in ["c", "a", "b"] {
        admin.create_image(json!({"name": name})).await;
    }
    let query = format!("{}&sort_dir=asc&limit=2", repeat("sort_key=name", 10));
    let page = admin.list(&query).await;
    assert_eq!(common::names(&page), ["a", "b"]);
    let next = page["next"].as_str().unwrap().replace("/v2/images?", "");
    let marker = next
        .split('&')
        .find_map(|p| p.strip_prefix("marker="))
        .unwrap();
    let query = format!(
        "{}&sort_dir=asc&marker={marker}",
        repeat("sort_key=name", 10)
    );
    assert_eq!(admin.list_names(&query).await, ["c"]);
    let message = list_error(&app, &repeat("sort_key=name", 11), StatusCode::BAD_REQUEST).await;
    assert_eq!(
        message,
        "Too many sort keys in one request: 11; at most 10 are allowed."
    );
    let sort = ["name:asc"; 11].join(",");
    let message = list_error(&app, &format!("sort={sort}"), StatusCode::BAD_REQUEST).await;
    assert!(message.starts_with("Too many sort keys"), "{message}");
    let message = list_error(
        &app,
        &format!("{}&marker={marker}", repeat("sort_key=name", 99)),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.starts_with("Too many sort keys"), "{message}");
    assert_still_prompt(&app).await;
}

#[tokio::test]
async fn nul_in_any_list_parameter_is_400_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        app.member_of("p1").create_image(json!({"name": "x"})).await;
        for query in [
            "name=a%00b",
            "name=in:a,b%00",
            "tag=a%00",
            "owner=p%001",
            "os_distro=a%00",
            "a%00b=c",
            "id=in:%00",
            "status=in:active,%00",
            "disk_format=%00",
            "checksum=%00",
            "os_hash_value=%00",
            "marker=%00",
            "sort_key=name%00",
            "visibility=%00",
            "member_status=%00",
        ] {
            let message = list_error(&app, query, StatusCode::BAD_REQUEST).await;
            assert_eq!(
                message, "Query parameters may not contain NUL characters.",
                "{query}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_marker_the_caller_cannot_see_is_403_and_a_missing_one_400() {
    let app = TestApp::new().await;
    let secret = id_of(
        &app.member_of("p2")
            .create_image(json!({"name": "secret", "visibility": "private"}))
            .await,
    );
    let message = list_error(&app, &format!("marker={secret}"), StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        format!("Forbidding request, image {secret} not visible")
    );
    let missing = "6f4ad1d2-21b2-4a4e-9bd5-6d5b2a9c1f00";
    let message = list_error(&app, &format!("marker={missing}"), StatusCode::BAD_REQUEST).await;
    assert_eq!(message, format!("No image found with ID {missing}"));
    let message = list_error(&app, "marker=nope", StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "No image found with ID nope");
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images?marker={secret}"))
        .send()
        .await
        .unwrap();
    expect_json(resp, StatusCode::OK).await;
}

#[tokio::test]
async fn values_quoted_in_list_errors_are_cut() {
    let app = TestApp::new().await;
    let long = "x".repeat(20_000);
    for query in [
        format!("sort_key={long}"),
        format!("sort_dir={long}"),
        format!("visibility={long}"),
        format!("member_status={long}"),
        format!("protected={long}"),
        format!("name={long}:y"),
        format!("size={long}"),
        format!("marker={long}"),
        format!("name=in:\"{long}"),
    ] {
        let message = list_error(&app, &query, StatusCode::BAD_REQUEST).await;
        assert!(
            message.len() < 500,
            "{} bytes: {}",
            message.len(),
            &message[..200]
        );
        assert!(message.contains("...(truncated)"), "{message}");
    }
}

#[tokio::test]
async fn a_filter_time_beyond_year_9999_is_400() {
    let app = TestApp::new().await;
    for value in ["9999-12-31T23:30:00-01:00", "gt:9999-12-31T23:30:00-01:00"] {
        let resp = app
            .member_of("p1")
            .get(&format!("/v2/images?created_at={value}"))
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            message,
            "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation."
        );
    }
}
