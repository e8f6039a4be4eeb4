//! Images without an owner (an admin created them with `owner: null` or
//! took the owner away): who may create them, and who sees them. A
//! non-admin sees one only when it is public or community, or shared with
//! the caller's project, as Glance's image list decides.

use crate::common;

use common::{Caller, TestApp, expect_error, expect_json, id_of, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn ownerless(app: &TestApp, name: &str, visibility: &str) -> String {
    let body = json!({"name": name, "owner": null, "visibility": visibility,
                      "disk_format": "raw", "container_format": "bare", "tags": ["t"]});
    let image = app.admin().create_image(body).await;
    assert_eq!(image["owner"], serde_json::Value::Null);
    id_of(&image)
}

/// Every request a caller can make about one image, with the status it
/// must get.
async fn assert_every_request(caller: &Caller<'_>, id: &str, status: StatusCode) {
    let requests = [
        (Method::GET, format!("/v2/images/{id}")),
        (Method::GET, format!("/v2/images/{id}/file")),
        (Method::PUT, format!("/v2/images/{id}/tags/new")),
        (Method::DELETE, format!("/v2/images/{id}/tags/t")),
        (Method::GET, format!("/v2/images/{id}/members")),
        (Method::POST, format!("/v2/images/{id}/actions/deactivate")),
        (Method::DELETE, format!("/v2/images/{id}")),
    ];
    for (method, path) in requests {
        let resp = caller.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(resp.status(), status, "{method} {path}");
    }
    let ops = json!([{"op": "replace", "path": "/name", "value": "mine"}]);
    assert_eq!(caller.patch(id, ops).await.status(), status, "PATCH");
}

#[tokio::test]
async fn a_member_cannot_create_an_ownerless_image() {
    let app = TestApp::new().await;
    let resp = app
        .member_of("p1")
        .create(json!({"name": "orphan", "owner": null}))
        .await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not permitted to create images owned by 'None'"
    );
    assert!(app.admin().list_names("").await.is_empty());
}

#[tokio::test]
async fn private_and_shared_ownerless_images_are_invisible_to_other_projects() {
    on_every_backend(|app: TestApp| async move {
        let private = ownerless(&app, "private", "private").await;
        let shared = ownerless(&app, "shared", "shared").await;
        let member = app.member_of("p1");
        assert_every_request(&member, &private, StatusCode::NOT_FOUND).await;
        assert_every_request(&member, &shared, StatusCode::NOT_FOUND).await;
        for query in [
            "",
            "visibility=all",
            "visibility=private",
            "visibility=shared",
        ] {
            assert!(member.list_names(query).await.is_empty(), "{query}");
        }
        let resp = member
            .get(&format!("/v2/images?marker={private}"))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::FORBIDDEN).await;
        let mut all = app.admin().list_names("").await;
        all.sort();
        assert_eq!(all, ["private", "shared"]);
    })
    .await;
}

#[tokio::test]
async fn public_and_community_ownerless_images_are_visible_to_everyone() {
    on_every_backend(|app: TestApp| async move {
        let public = ownerless(&app, "public", "public").await;
        let community = ownerless(&app, "community", "community").await;
        let member = app.member_of("p1");
        assert_eq!(member.image(&public).await["name"], "public");
        assert_eq!(member.image(&community).await["name"], "community");
        assert_eq!(member.list_names("").await, ["public"]);
        let ops = json!([{"op": "replace", "path": "/name", "value": "mine"}]);
        let message = expect_error(member.patch(&public, ops).await, StatusCode::FORBIDDEN).await;
        assert_eq!(
            message,
            "You are not authorized to complete modify_image action."
        );
    })
    .await;
}

#[tokio::test]
async fn a_shared_ownerless_image_is_visible_to_its_members() {
    on_every_backend(|app: TestApp| async move {
        let id = ownerless(&app, "shared", "shared").await;
        let resp = app
            .admin()
            .post(&format!("/v2/images/{id}/members"))
            .json(&json!({"member": "p1"}))
            .send()
            .await
            .unwrap();
        expect_json(resp, StatusCode::OK).await;
        let member = app.member_of("p1");
        assert_eq!(member.image(&id).await["name"], "shared");
        assert!(member.list_names("").await.is_empty());
        assert_eq!(member.list_names("member_status=pending").await, ["shared"]);
        assert_every_request(&app.member_of("p2"), &id, StatusCode::NOT_FOUND).await;
    })
    .await;
}
