//! `GET /v2/images` filters.

use crate::common;

use common::{Caller, TestApp, expect_error, id_of, md5_hex, sha512_hex, sorted};
use reqwest::StatusCode;
use serde_json::json;

const ALPHA_DATA: &[u8] = &[1u8; 10];
const GLASS_DATA: &[u8] = &[2u8; 100];

/// Six images with different attributes; returns (app, alpha id, beta id).
async fn fixture() -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let raw = |name: &str| json!({"name": name, "disk_format": "raw", "container_format": "bare"});
    let mut alpha = raw("alpha");
    alpha["min_ram"] = json!(512);
    alpha["os_distro"] = json!("cirros");
    alpha["tags"] = json!(["a", "b"]);
    let alpha = id_of(&app.create_image(alpha).await);
    app.upload_ok(&alpha, ALPHA_DATA.to_vec()).await;
    let beta = app
        .create_image(json!({
            "name": "beta", "disk_format": "qcow2", "container_format": "bare",
            "tags": ["a"], "protected": true,
        }))
        .await;
    let mut glass = raw("glass, darkly");
    glass["tags"] = json!(["b"]);
    let glass = id_of(&app.create_image(glass).await);
    app.upload_ok(&glass, GLASS_DATA.to_vec()).await;
    app.create_image(json!({"name": "hidden", "os_hidden": true}))
        .await;
    app.member_of("p1")
        .create_image(json!({"name": "p1-img"}))
        .await;
    app.create_image(json!({"name": "public-one", "visibility": "public", "os_distro": "ubuntu"}))
        .await;
    (app, alpha, id_of(&beta))
}

const VISIBLE: [&str; 5] = ["alpha", "beta", "glass, darkly", "p1-img", "public-one"];

async fn assert_names(caller: &Caller<'_>, query: &str, expected: &[&str]) {
    let got = sorted(caller.list_names(query).await);
    let want = sorted(expected.iter().map(|s| s.to_string()).collect());
    assert_eq!(got, want, "query: {query}");
}

async fn assert_bad_query(app: &TestApp, query: &str) -> String {
    let resp = app
        .get(&format!("/v2/images?{query}"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST).await
}

#[tokio::test]
async fn list_without_filters_shows_every_visible_image_but_hidden_ones() {
    let (app, _, _) = fixture().await;
    let page = app.admin().list("").await;
    assert_eq!(page["first"], "/v2/images");
    assert_eq!(page["schema"], "/v2/schemas/images");
    assert!(page.get("next").is_none());
    assert_names(&app.admin(), "", &VISIBLE).await;
}

#[tokio::test]
async fn list_filters_by_exact_name() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "name=alpha", &["alpha"]).await;
    assert_names(&app.admin(), "name=eq:alpha", &["alpha"]).await;
    assert_names(&app.admin(), "name=alp", &[]).await;
}

#[tokio::test]
async fn list_filters_by_name_in_list_with_quoted_commas() {
    let (app, _, _) = fixture().await;
    let admin = app.admin();
    assert_names(&admin, "name=in:alpha,beta", &["alpha", "beta"]).await;
    let quoted = "name=in:%22glass,%20darkly%22,beta";
    assert_names(&admin, quoted, &["glass, darkly", "beta"]).await;
}

#[tokio::test]
async fn list_filters_by_id_in_list() {
    let (app, alpha, beta) = fixture().await;
    assert_names(
        &app.admin(),
        &format!("id=in:{alpha},{beta}"),
        &["alpha", "beta"],
    )
    .await;
    assert_names(&app.admin(), &format!("id={beta}"), &["beta"]).await;
}

#[tokio::test]
async fn list_filters_by_status() {
    let (app, _, _) = fixture().await;
    let admin = app.admin();
    assert_names(&admin, "status=active", &["alpha", "glass, darkly"]).await;
    assert_names(&admin, "status=queued", &["beta", "p1-img", "public-one"]).await;
    assert_names(&admin, "status=in:active,queued", &VISIBLE).await;
}

#[tokio::test]
async fn list_filters_by_disk_and_container_format() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "disk_format=qcow2", &["beta"]).await;
    let both = "disk_format=in:raw,qcow2";
    assert_names(&app.admin(), both, &["alpha", "beta", "glass, darkly"]).await;
    let bare = "container_format=bare";
    assert_names(&app.admin(), bare, &["alpha", "beta", "glass, darkly"]).await;
}

#[tokio::test]
async fn list_filters_by_visibility() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "visibility=public", &["public-one"]).await;
    let shared = ["alpha", "beta", "glass, darkly", "p1-img"];
    assert_names(&app.admin(), "visibility=shared", &shared).await;
    assert_names(&app.admin(), "visibility=private", &[]).await;
}

#[tokio::test]
async fn list_excludes_hidden_images_unless_os_hidden_is_true() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "os_hidden=false", &VISIBLE).await;
    assert_names(&app.admin(), "os_hidden=true", &["hidden"]).await;
    assert_names(&app.admin(), "os_hidden=True", &["hidden"]).await;
}

#[tokio::test]
async fn list_filters_by_protected() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "protected=true", &["beta"]).await;
    let unprotected = ["alpha", "glass, darkly", "p1-img", "public-one"];
    assert_names(&app.admin(), "protected=false", &unprotected).await;
}

#[tokio::test]
async fn list_filters_by_all_given_tags() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "tag=a", &["alpha", "beta"]).await;
    assert_names(&app.admin(), "tag=b", &["alpha", "glass, darkly"]).await;
    assert_names(&app.admin(), "tag=a&tag=b", &["alpha"]).await;
    assert_names(&app.admin(), "tag=c", &[]).await;
}

#[tokio::test]
async fn list_filters_by_size_range() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "size_min=50", &["glass, darkly"]).await;
    assert_names(&app.admin(), "size_max=50", &["alpha"]).await;
    assert_names(
        &app.admin(),
        "size_min=10&size_max=100",
        &["alpha", "glass, darkly"],
    )
    .await;
    assert_names(&app.admin(), "size_min=11&size_max=99", &[]).await;
}

#[tokio::test]
async fn list_filters_by_checksum_and_hash_value() {
    let (app, _, _) = fixture().await;
    let admin = app.admin();
    assert_names(
        &admin,
        &format!("checksum={}", md5_hex(ALPHA_DATA)),
        &["alpha"],
    )
    .await;
    let by_hash = format!("os_hash_value={}", sha512_hex(GLASS_DATA));
    assert_names(&admin, &by_hash, &["glass, darkly"]).await;
    assert_names(&admin, "checksum=0123", &[]).await;
}

#[tokio::test]
async fn list_filters_by_owner_and_min_ram() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "owner=p1", &["p1-img"]).await;
    assert_names(&app.admin(), "min_ram=512", &["alpha"]).await;
}

#[tokio::test]
async fn list_filters_by_extra_property() {
    let (app, _, _) = fixture().await;
    assert_names(&app.admin(), "os_distro=cirros", &["alpha"]).await;
    assert_names(&app.admin(), "os_distro=ubuntu", &["public-one"]).await;
    assert_names(&app.admin(), "os_distro=arch", &[]).await;
}

#[tokio::test]
async fn list_filters_by_created_at_with_every_operator() {
    let (app, _, _) = fixture().await;
    let admin = app.admin();
    let past = "2000-01-01T00:00:00Z";
    let future = "2999-01-01T00:00:00Z";
    for (query, all) in [
        (format!("created_at=gt:{past}"), true),
        (format!("created_at=gte:{past}"), true),
        (format!("created_at=lt:{future}"), true),
        (format!("created_at=lte:{future}"), true),
        (format!("created_at=neq:{past}"), true),
        (format!("created_at=gt:{future}"), false),
        (format!("created_at=lt:{past}"), false),
        (format!("created_at=eq:{past}"), false),
        (format!("created_at={past}"), false),
        (format!("updated_at=gte:{past}"), true),
        (format!("updated_at=lt:{past}"), false),
    ] {
        let expected: &[&str] = if all { &VISIBLE } else { &[] };
        assert_names(&admin, &query, expected).await;
    }
}

#[tokio::test]
async fn list_created_at_filter_with_exact_time_of_an_image() {
    let (app, alpha, _) = fixture().await;
    let created = app.image(&alpha).await["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    let names = app
        .admin()
        .list_names(&format!("created_at=gte:{created}"))
        .await;
    assert!(names.contains(&"alpha".to_string()), "{names:?}");
}

#[tokio::test]
async fn list_with_invalid_filter_values_is_400() {
    let (app, _, _) = fixture().await;
    for query in [
        "protected=True",
        "protected=yes",
        "os_hidden=maybe",
        "size_min=abc",
        "size_max=1.5",
        "created_at=gt:notadate",
        "created_at=after:2000-01-01T00:00:00Z",
        "updated_at=yesterday",
        "name=gt:alpha",
        "status=neq:active",
        "visibility=everyone",
        "member_status=bogus",
        "changes-since=2000-01-01T00:00:00Z",
        "limit=abc",
        "name=in:%22unclosed",
    ] {
        assert_bad_query(&app, query).await;
    }
}

#[tokio::test]
async fn list_with_non_boolean_protected_has_glance_message() {
    let (app, _, _) = fixture().await;
    let message = assert_bad_query(&app, "protected=yes").await;
    assert_eq!(
        message,
        "Invalid value 'yes' for 'protected' filter. Valid values are 'true' or 'false'."
    );
}

#[tokio::test]
async fn list_by_reader_of_a_project_shows_its_images_and_public_ones() {
    let (app, _, _) = fixture().await;
    assert_names(&app.as_user("p1", "reader"), "", &["p1-img", "public-one"]).await;
    assert_names(&app.member_of("p2"), "", &["public-one"]).await;
}
