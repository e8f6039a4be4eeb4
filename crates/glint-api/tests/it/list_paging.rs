//! `GET /v2/images` sorting, limits and marker paging.

use crate::common;

use std::collections::HashSet;

use common::{TestApp, expect_error, id_of, names};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Images named c, a, b (created in that order) with sizes 1, 3, 2.
async fn three_images() -> TestApp {
    let app = TestApp::new().await;
    for (name, size) in [("c", 1usize), ("a", 3), ("b", 2)] {
        let id = app.create_raw_image(name).await;
        app.upload_ok(&id, vec![0u8; size]).await;
    }
    app
}

async fn assert_order(app: &TestApp, query: &str, expected: &[&str]) {
    assert_eq!(
        app.admin().list_names(query).await,
        expected,
        "query: {query}"
    );
}

async fn bad_query(app: &TestApp, query: &str) -> String {
    let resp = app
        .get(&format!("/v2/images?{query}"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST).await
}

#[tokio::test]
async fn list_sorts_by_sort_key_and_sort_dir() {
    let app = three_images().await;
    assert_order(&app, "sort_key=name&sort_dir=asc", &["a", "b", "c"]).await;
    assert_order(&app, "sort_key=name&sort_dir=desc", &["c", "b", "a"]).await;
    assert_order(&app, "sort_key=name", &["c", "b", "a"]).await;
    assert_order(&app, "sort_key=size&sort_dir=asc", &["c", "b", "a"]).await;
}

#[tokio::test]
async fn list_sorts_by_several_keys_with_one_dir_each() {
    let app = three_images().await;
    let query = "sort_key=status&sort_key=name&sort_dir=asc&sort_dir=desc";
    assert_order(&app, query, &["c", "b", "a"]).await;
}

#[tokio::test]
async fn list_sorts_with_the_sort_parameter() {
    let app = three_images().await;
    assert_order(&app, "sort=name:asc", &["a", "b", "c"]).await;
    assert_order(&app, "sort=name", &["c", "b", "a"]).await;
    assert_order(&app, "sort=status:asc,size:desc", &["a", "b", "c"]).await;
}

#[tokio::test]
async fn list_default_order_is_newest_first() {
    let app = three_images().await;
    let default = app.admin().list_names("").await;
    let explicit = app
        .admin()
        .list_names("sort_key=created_at&sort_dir=desc")
        .await;
    assert_eq!(default, explicit);
}

#[tokio::test]
async fn list_mixing_sort_syntaxes_is_400() {
    let app = three_images().await;
    let message = bad_query(&app, "sort=name:asc&sort_key=name").await;
    assert_eq!(message, "Old and new sorting syntax cannot be combined");
    bad_query(&app, "sort=name&sort_dir=asc").await;
}

#[tokio::test]
async fn list_with_unknown_sort_key_is_400_naming_the_allowed_keys() {
    let app = three_images().await;
    let expected = "Invalid sort key: nope. It must be one of the following: name, status, \
                    container_format, disk_format, size, id, created_at, updated_at.";
    assert_eq!(bad_query(&app, "sort_key=nope").await, expected);
    assert_eq!(bad_query(&app, "sort=nope:asc").await, expected);
}

#[tokio::test]
async fn list_with_more_sort_dirs_than_keys_is_400() {
    let app = three_images().await;
    bad_query(&app, "sort_key=name&sort_dir=asc&sort_dir=desc").await;
    bad_query(
        &app,
        "sort_key=name&sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc",
    )
    .await;
}

#[tokio::test]
async fn list_with_bad_sort_dir_is_400() {
    let app = three_images().await;
    bad_query(&app, "sort_key=name&sort_dir=up").await;
    bad_query(&app, "sort=name:up").await;
}

/// Follows `next` links from `start`; returns the pages.
async fn walk(app: &TestApp, start: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut path = start.to_string();
    loop {
        let resp = app.get(&path).send().await.unwrap();
        let page: Value = resp.json().await.unwrap();
        let next = page.get("next").and_then(Value::as_str).map(str::to_string);
        pages.push(page);
        match next {
            Some(n) => path = n,
            None => return pages,
        }
        assert!(pages.len() < 50, "paging does not end");
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn paging_23_images_by_5_sees_each_once_in_order() {
    let app = TestApp::new().await;
    for i in 0..23 {
        app.create_image(json!({"name": format!("img-{i:02}")}))
            .await;
    }
    let everything: Vec<String> = ids(&app.admin().list("limit=100").await);
    assert_eq!(everything.len(), 23);
    let pages = walk(&app, "/v2/images?limit=5").await;
    let sizes: Vec<usize> = pages.iter().map(|p| ids(p).len()).collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    let walked: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(walked, everything, "no gaps, no duplicates, same order");
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 23);
    for page in &pages {
        assert_eq!(page["first"], "/v2/images?limit=5");
    }
    let second_next = pages[1]["next"].as_str().unwrap();
    let last_of_second = ids(&pages[1]).pop().unwrap();
    assert_eq!(
        second_next,
        format!("/v2/images?limit=5&marker={last_of_second}")
    );
    assert!(pages[4].get("next").is_none());
}

#[tokio::test]
async fn paging_keeps_filters_and_sort_in_links() {
    let app = TestApp::new().await;
    for i in 0..7 {
        app.create_image(json!({"name": format!("n{i}"), "tags": ["t"]}))
            .await;
    }
    app.create_image(json!({"name": "untagged"})).await;
    let pages = walk(&app, "/v2/images?tag=t&sort_key=name&sort_dir=asc&limit=3").await;
    let walked: Vec<String> = pages.iter().flat_map(names).collect();
    assert_eq!(walked, ["n0", "n1", "n2", "n3", "n4", "n5", "n6"]);
    let first = pages[2]["first"].as_str().unwrap();
    assert_eq!(first, "/v2/images?tag=t&sort_key=name&sort_dir=asc&limit=3");
}

#[tokio::test]
async fn paging_exact_multiple_ends_with_an_empty_page() {
    let app = TestApp::new().await;
    for i in 0..4 {
        app.create_image(json!({"name": format!("x{i}")})).await;
    }
    let pages = walk(&app, "/v2/images?limit=2").await;
    let sizes: Vec<usize> = pages.iter().map(|p| ids(p).len()).collect();
    assert_eq!(sizes, [2, 2, 0]);
}

#[tokio::test]
async fn list_with_unknown_marker_is_400() {
    let app = TestApp::new().await;
    app.create_image(json!({"name": "one"})).await;
    let marker = "5d0e8a3c-1f5b-4f0a-8c39-7b6f1e2d3c4b";
    let message = bad_query(&app, &format!("marker={marker}")).await;
    assert_eq!(message, format!("No image found with ID {marker}"));
}

#[tokio::test]
async fn list_with_marker_of_invisible_image_is_403() {
    let app = TestApp::new().await;
    let private = app.create_image(json!({"visibility": "private"})).await;
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images?marker={}", id_of(&private)))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn list_with_negative_limit_is_400() {
    let app = TestApp::new().await;
    assert_eq!(
        bad_query(&app, "limit=-1").await,
        "limit param must be positive"
    );
}

#[tokio::test]
async fn list_with_limit_zero_returns_no_images() {
    let app = three_images().await;
    let page = app.admin().list("limit=0").await;
    assert_eq!(page["images"], json!([]));
}

#[tokio::test]
async fn list_limit_is_capped_at_api_limit_max() {
    let app = TestApp::builder()
        .image_config(|c| c.api_limit_max = 3)
        .start()
        .await;
    for i in 0..5 {
        app.create_image(json!({"name": format!("m{i}")})).await;
    }
    assert_eq!(app.admin().list_names("limit=10").await.len(), 3);
    assert_eq!(app.admin().list_names("").await.len(), 3);
}

#[tokio::test]
async fn list_default_limit_is_limit_param_default() {
    let app = TestApp::builder()
        .image_config(|c| c.limit_param_default = 2)
        .start()
        .await;
    for i in 0..5 {
        app.create_image(json!({"name": format!("d{i}")})).await;
    }
    let page = app.admin().list("").await;
    assert_eq!(names(&page).len(), 2);
    assert!(page.get("next").is_some());
}
