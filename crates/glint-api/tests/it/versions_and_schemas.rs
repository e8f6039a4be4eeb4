//! The versions document, version negotiation by URL prefix, and the JSON
//! schemas clients validate against.

use crate::common;

use common::{TestApp, expect_json};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The versions document with this server's address made stable.
fn without_address(doc: &Value, app: &TestApp) -> Value {
    let text = doc.to_string().replace(&app.addr().to_string(), "[host]");
    serde_json::from_str(&text).unwrap()
}

async fn get_json(app: &TestApp, path: &str, status: StatusCode) -> Value {
    expect_json(app.get(path).send().await.unwrap(), status).await
}

#[tokio::test]
async fn root_answers_300_with_the_versions_document() {
    let app = TestApp::new().await;
    let root = get_json(&app, "/", StatusCode::MULTIPLE_CHOICES).await;
    let versions = get_json(&app, "/versions", StatusCode::OK).await;
    assert_eq!(root, versions);
}

#[tokio::test]
async fn versions_lists_v2_minor_versions_with_v2_17_current() {
    let app = TestApp::new().await;
    let doc = get_json(&app, "/versions", StatusCode::OK).await;
    let versions = doc["versions"].as_array().unwrap();
    let ids: Vec<&str> = versions.iter().map(|v| v["id"].as_str().unwrap()).collect();
    for expected in ["v2.0", "v2.1", "v2.5", "v2.7", "v2.15", "v2.17"] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }
    for absent in ["v2.14", "v2.16", "v2.18", "v1.0", "v1.1"] {
        assert!(!ids.contains(&absent), "{absent} listed in {ids:?}");
    }
    let current: Vec<&str> = versions
        .iter()
        .filter(|v| v["status"] == "CURRENT")
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["v2.17"]);
    let self_link = format!("http://{}/v2/", app.addr());
    for v in versions {
        assert_eq!(v["links"], json!([{"rel": "self", "href": self_link}]));
    }
}

#[tokio::test]
async fn versions_document_snapshot() {
    let app = TestApp::new().await;
    let doc = get_json(&app, "/versions", StatusCode::OK).await;
    insta::assert_json_snapshot!("versions", without_address(&doc, &app));
}

#[tokio::test]
async fn versions_links_use_public_endpoint_when_configured() {
    let app = TestApp::builder()
        .api_config(|c| c.public_endpoint = Some("https://images.example.org/".into()))
        .start()
        .await;
    let doc = get_json(&app, "/versions", StatusCode::OK).await;
    assert_eq!(
        doc["versions"][0]["links"][0]["href"],
        "https://images.example.org/v2/"
    );
}

#[tokio::test]
async fn minor_version_prefixes_serve_the_v2_api() {
    let app = TestApp::new().await;
    app.create_raw_image("versioned").await;
    for prefix in ["/v2", "/v2.0", "/v2.5", "/v2.17"] {
        let page = get_json(&app, &format!("{prefix}/images"), StatusCode::OK).await;
        assert_eq!(page["images"].as_array().unwrap().len(), 1, "{prefix}");
        assert_eq!(page["images"][0]["name"], "versioned", "{prefix}");
    }
    let resp = app
        .post("/v2.17/images")
        .json(&json!({"name": "via-2.17"}))
        .send()
        .await
        .unwrap();
    let created = expect_json(resp, StatusCode::CREATED).await;
    assert_eq!(
        created["self"],
        format!("/v2/images/{}", created["id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn unknown_minor_version_answers_with_the_versions_document() {
    let app = TestApp::new().await;
    let doc = get_json(&app, "/v2.99/images", StatusCode::MULTIPLE_CHOICES).await;
    let versions = get_json(&app, "/versions", StatusCode::OK).await;
    assert_eq!(doc, versions);
}

#[tokio::test]
async fn image_schema_snapshot() {
    let app = TestApp::new().await;
    let schema = get_json(&app, "/v2/schemas/image", StatusCode::OK).await;
    insta::assert_json_snapshot!("schema_image", schema);
}

#[tokio::test]
async fn images_schema_snapshot() {
    let app = TestApp::new().await;
    let schema = get_json(&app, "/v2/schemas/images", StatusCode::OK).await;
    insta::assert_json_snapshot!("schema_images", schema);
}

#[tokio::test]
async fn member_schema_snapshot() {
    let app = TestApp::new().await;
    let schema = get_json(&app, "/v2/schemas/member", StatusCode::OK).await;
    insta::assert_json_snapshot!("schema_member", schema);
}

#[tokio::test]
async fn members_schema_snapshot() {
    let app = TestApp::new().await;
    let schema = get_json(&app, "/v2/schemas/members", StatusCode::OK).await;
    insta::assert_json_snapshot!("schema_members", schema);
}

#[tokio::test]
async fn task_schema_snapshot() {
    let app = TestApp::new().await;
    let schema = get_json(&app, "/v2/schemas/task", StatusCode::OK).await;
    insta::assert_json_snapshot!("schema_task", schema);
}

#[tokio::test]
async fn tasks_schema_snapshot() {
    let app = TestApp::new().await;
    let schema = get_json(&app, "/v2/schemas/tasks", StatusCode::OK).await;
    insta::assert_json_snapshot!("schema_tasks", schema);
}

#[tokio::test]
async fn images_schema_wraps_the_image_schema() {
    let app = TestApp::new().await;
    let image = get_json(&app, "/v2/schemas/image", StatusCode::OK).await;
    let images = get_json(&app, "/v2/schemas/images", StatusCode::OK).await;
    assert_eq!(images["name"], "images");
    assert_eq!(images["properties"]["images"]["items"], image);
}

#[tokio::test]
async fn image_schema_format_enums_follow_the_configuration() {
    let app = TestApp::builder()
        .image_config(|c| {
            c.formats.disk_formats = vec!["raw".into(), "qcow2".into()];
            c.formats.container_formats = vec!["bare".into()];
        })
        .start()
        .await;
    let schema = get_json(&app, "/v2/schemas/image", StatusCode::OK).await;
    assert_eq!(
        schema["properties"]["disk_format"]["enum"],
        json!([null, "raw", "qcow2"])
    );
    assert_eq!(
        schema["properties"]["container_format"]["enum"],
        json!([null, "bare"])
    );
    let resp = app
        .post("/v2/images")
        .json(&json!({"disk_format": "vmdk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn schemas_are_readable_by_a_reader_of_any_project() {
    let app = TestApp::new().await;
    let reader = app.as_user("p9", "reader");
    for path in ["image", "images", "member", "members", "task", "tasks"] {
        let resp = reader
            .get(&format!("/v2/schemas/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
}
