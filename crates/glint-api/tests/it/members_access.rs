//! What a membership grants: listing the shared image by member status,
//! reading it and downloading its data, and how removing the member,
//! making the image private or deleting it takes that away.

use crate::common;

use common::{Caller, TestApp, expect_error, expect_json, expect_status, id_of, sorted};
use glint_model::ImageId;
use reqwest::{Response, StatusCode};
use serde_json::json;

const DATA: [u8; 64] = [7u8; 64];

/// A shared raw image of `p1` with data, and `p2` added as a member.
async fn shared_with_p2(app: &TestApp, name: &str) -> String {
    let p1 = app.member_of("p1");
    let body = json!({
        "name": name, "visibility": "shared",
        "disk_format": "raw", "container_format": "bare",
    });
    let id = id_of(&p1.create_image(body).await);
    expect_status(p1.upload(&id, DATA.to_vec()).await, StatusCode::NO_CONTENT).await;
    let resp = p1
        .post(&format!("/v2/images/{id}/members"))
        .json(&json!({"member": "p2"}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK).await;
    id
}

async fn set_status(caller: &Caller<'_>, id: &str, status: &str) {
    let resp = caller
        .put(&format!("/v2/images/{id}/members/p2"))
        .json(&json!({ "status": status }))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK).await;
}

async fn download(caller: &Caller<'_>, id: &str) -> Response {
    caller
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap()
}

async fn patch_visibility(caller: &Caller<'_>, id: &str, visibility: &str) {
    let ops = json!([{"op": "replace", "path": "/visibility", "value": visibility}]);
    expect_status(caller.patch(id, ops).await, StatusCode::OK).await;
}

#[tokio::test]
async fn member_lists_the_image_once_accepted_and_by_member_status() {
    let app = TestApp::new().await;
    shared_with_p2(&app, "shared").await;
    let p2 = app.member_of("p2");
    let id = id_of(&p2.list("member_status=pending").await["images"][0]);
    assert!(p2.list_names("").await.is_empty());
    assert!(p2.list_names("visibility=shared").await.is_empty());
    assert_eq!(p2.list_names("member_status=pending").await, ["shared"]);
    assert_eq!(p2.list_names("member_status=all").await, ["shared"]);

    set_status(&p2, &id, "accepted").await;
    assert_eq!(p2.list_names("").await, ["shared"]);
    assert_eq!(p2.list_names("visibility=shared").await, ["shared"]);
    assert!(p2.list_names("member_status=pending").await.is_empty());

    set_status(&p2, &id, "rejected").await;
    assert!(p2.list_names("").await.is_empty());
    assert_eq!(p2.list_names("member_status=rejected").await, ["shared"]);
    assert_eq!(p2.list_names("member_status=all").await, ["shared"]);
    // Other projects never list it.
    let p3 = app.member_of("p3");
    assert!(p3.list_names("member_status=all").await.is_empty());
}

#[tokio::test]
async fn member_reads_and_downloads_the_image_in_every_status() {
    let app = TestApp::new().await;
    let id = shared_with_p2(&app, "shared").await;
    let p2 = app.member_of("p2");
    for status in ["pending", "accepted", "rejected"] {
        set_status(&p2, &id, status).await;
        assert_eq!(p2.image(&id).await["name"], "shared", "{status}");
        let resp = download(&p2, &id).await;
        assert_eq!(resp.status(), StatusCode::OK, "{status}");
        assert_eq!(resp.bytes().await.unwrap()[..], DATA, "{status}");
    }
    let resp = download(&app.member_of("p3"), &id).await;
    expect_error(resp, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn removing_a_member_revokes_its_access() {
    let app = TestApp::new().await;
    let id = shared_with_p2(&app, "shared").await;
    let p2 = app.member_of("p2");
    set_status(&p2, &id, "accepted").await;
    let resp = app
        .member_of("p1")
        .delete(&format!("/v2/images/{id}/members/p2"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let resp = p2.get(&format!("/v2/images/{id}")).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    expect_error(download(&p2, &id).await, StatusCode::NOT_FOUND).await;
    assert!(p2.list_names("member_status=all").await.is_empty());
    let resp = p2
        .get(&format!("/v2/images/{id}/members"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("Image {id} not found."));
}

#[tokio::test]
async fn a_private_image_keeps_its_members_but_they_lose_access() {
    let app = TestApp::new().await;
    let id = shared_with_p2(&app, "shared").await;
    let (p1, p2) = (app.member_of("p1"), app.member_of("p2"));
    set_status(&p2, &id, "accepted").await;

    // Glance lets the owner make the image private with members present.
    patch_visibility(&p1, &id, "private").await;
    let resp = p2.get(&format!("/v2/images/{id}")).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    expect_error(download(&p2, &id).await, StatusCode::NOT_FOUND).await;
    assert!(p2.list_names("member_status=all").await.is_empty());
    let resp = p1
        .get(&format!("/v2/images/{id}/members"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;

    // Shared again: the kept membership, still accepted, grants access again.
    patch_visibility(&p1, &id, "shared").await;
    assert_eq!(p2.list_names("").await, ["shared"]);
    let resp = p1
        .get(&format!("/v2/images/{id}/members/p2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(resp, StatusCode::OK).await["status"],
        "accepted"
    );
}

#[tokio::test]
async fn deleting_the_image_deletes_its_members() {
    let app = TestApp::new().await;
    let id = shared_with_p2(&app, "shared").await;
    let p1 = app.member_of("p1");
    let resp = p1.delete(&format!("/v2/images/{id}")).send().await.unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let resp = p1
        .get(&format!("/v2/images/{id}/members"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("Image {id} not found."));
    let image = ImageId::parse(&id).unwrap();
    assert!(app.db().list_members(image).await.unwrap().is_empty());
    assert_eq!(app.db().count_members(image).await.unwrap(), 0);
}

#[tokio::test]
async fn each_member_lists_only_the_images_shared_with_it() {
    let app = TestApp::new().await;
    let first = shared_with_p2(&app, "first").await;
    shared_with_p2(&app, "second").await;
    let p2 = app.member_of("p2");
    set_status(&p2, &first, "accepted").await;
    assert_eq!(p2.list_names("").await, ["first"]);
    let all = sorted(p2.list_names("member_status=all").await);
    assert_eq!(all, ["first", "second"]);
}
