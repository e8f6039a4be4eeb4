//! Who sees which image: private, shared (with members), community and
//! public images between two projects.

use crate::common;

use common::{TestApp, expect_error, id_of, sorted};
use glint_model::{ImageId, Member, MemberStatus, time};
use reqwest::StatusCode;
use serde_json::json;

/// Makes `project` a member of the image with `status` (the member API is
/// not under test here).
async fn add_member(app: &TestApp, image: &str, project: &str, status: MemberStatus) {
    let now = time::now();
    let member = Member {
        image_id: ImageId::parse(image).unwrap(),
        member_id: project.into(),
        status,
        created_at: now,
        updated_at: now,
    };
    app.db().add_member(&member, None).await.unwrap();
}

async fn p1_image(app: &TestApp, name: &str, visibility: &str) -> String {
    let body = json!({"name": name, "visibility": visibility});
    id_of(&app.member_of("p1").create_image(body).await)
}

async fn show_status(app: &TestApp, project: &str, id: &str) -> StatusCode {
    let resp = app
        .member_of(project)
        .get(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    resp.status()
}

#[tokio::test]
async fn private_image_is_invisible_to_other_projects() {
    let app = TestApp::new().await;
    let id = p1_image(&app, "secret", "private").await;
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
    assert!(app.member_of("p2").list_names("").await.is_empty());
    assert!(
        app.member_of("p2")
            .list_names("visibility=private")
            .await
            .is_empty()
    );
    assert_eq!(app.member_of("p1").list_names("").await, ["secret"]);
}

#[tokio::test]
async fn private_image_is_visible_to_admin() {
    let app = TestApp::new().await;
    let id = p1_image(&app, "secret", "private").await;
    assert_eq!(app.image(&id).await["visibility"], "private");
    assert_eq!(app.admin().list_names("").await, ["secret"]);
}

#[tokio::test]
async fn public_image_is_listed_for_everyone() {
    let app = TestApp::new().await;
    let id = id_of(
        &app.create_image(json!({"name": "pub", "visibility": "public"}))
            .await,
    );
    assert_eq!(show_status(&app, "p2", &id).await, StatusCode::OK);
    assert_eq!(app.member_of("p2").list_names("").await, ["pub"]);
    assert_eq!(app.as_user("p3", "reader").list_names("").await, ["pub"]);
}

#[tokio::test]
async fn community_image_is_not_in_others_default_list() {
    let app = TestApp::new().await;
    p1_image(&app, "comm", "community").await;
    assert!(app.member_of("p2").list_names("").await.is_empty());
    assert_eq!(app.member_of("p1").list_names("").await, ["comm"]);
}

#[tokio::test]
async fn community_image_is_visible_by_id_and_with_visibility_filter() {
    let app = TestApp::new().await;
    let id = p1_image(&app, "comm", "community").await;
    assert_eq!(show_status(&app, "p2", &id).await, StatusCode::OK);
    let p2 = app.member_of("p2");
    assert_eq!(p2.list_names("visibility=community").await, ["comm"]);
    assert_eq!(p2.list_names("visibility=all").await, ["comm"]);
}

#[tokio::test]
async fn shared_image_is_invisible_to_non_members() {
    let app = TestApp::new().await;
    let id = p1_image(&app, "shared", "shared").await;
    assert_eq!(show_status(&app, "p2", &id).await, StatusCode::NOT_FOUND);
    let p2 = app.member_of("p2");
    assert!(p2.list_names("").await.is_empty());
    assert!(p2.list_names("visibility=shared").await.is_empty());
    assert!(p2.list_names("visibility=all").await.is_empty());
}

#[tokio::test]
async fn shared_image_is_visible_by_id_to_a_pending_member() {
    let app = TestApp::new().await;
    let id = p1_image(&app, "shared", "shared").await;
    add_member(&app, &id, "p2", MemberStatus::Pending).await;
    assert_eq!(show_status(&app, "p2", &id).await, StatusCode::OK);
    assert_eq!(show_status(&app, "p3", &id).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn shared_image_is_listed_for_members_by_member_status() {
    let app = TestApp::new().await;
    let pending = p1_image(&app, "pending", "shared").await;
    let accepted = p1_image(&app, "accepted", "shared").await;
    let rejected = p1_image(&app, "rejected", "shared").await;
    add_member(&app, &pending, "p2", MemberStatus::Pending).await;
    add_member(&app, &accepted, "p2", MemberStatus::Accepted).await;
    add_member(&app, &rejected, "p2", MemberStatus::Rejected).await;
    let p2 = app.member_of("p2");
    assert_eq!(p2.list_names("").await, ["accepted"]);
    assert_eq!(p2.list_names("member_status=accepted").await, ["accepted"]);
    assert_eq!(p2.list_names("member_status=pending").await, ["pending"]);
    assert_eq!(p2.list_names("member_status=rejected").await, ["rejected"]);
    let all = sorted(p2.list_names("member_status=all").await);
    assert_eq!(all, ["accepted", "pending", "rejected"]);
    assert_eq!(p2.list_names("visibility=shared").await, ["accepted"]);
}

#[tokio::test]
async fn owner_sees_its_shared_images_whatever_the_member_status_filter() {
    let app = TestApp::new().await;
    p1_image(&app, "own-shared", "shared").await;
    let p1 = app.member_of("p1");
    assert_eq!(p1.list_names("").await, ["own-shared"]);
    assert_eq!(p1.list_names("visibility=shared").await, ["own-shared"]);
}

#[tokio::test]
async fn member_of_shared_image_may_not_modify_it() {
    let app = TestApp::new().await;
    let id = p1_image(&app, "shared", "shared").await;
    add_member(&app, &id, "p2", MemberStatus::Accepted).await;
    let ops = json!([{"op": "replace", "path": "/name", "value": "taken"}]);
    let resp = app.member_of("p2").patch(&id, ops).await;
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn member_of_shared_image_may_download_it() {
    let app = TestApp::new().await;
    let p1 = app.member_of("p1");
    let body = json!({"disk_format": "raw", "container_format": "bare"});
    let id = id_of(&p1.create_image(body).await);
    assert_eq!(
        p1.upload(&id, vec![3u8; 32]).await.status(),
        StatusCode::NO_CONTENT
    );
    add_member(&app, &id, "p2", MemberStatus::Accepted).await;
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap()[..], [3u8; 32]);
}

#[tokio::test]
async fn list_visibility_filter_restricts_to_that_visibility() {
    let app = TestApp::new().await;
    for v in ["private", "shared", "community"] {
        p1_image(&app, v, v).await;
    }
    app.create_image(json!({"name": "public", "visibility": "public"}))
        .await;
    let p1 = app.member_of("p1");
    for v in ["private", "shared", "community", "public"] {
        assert_eq!(p1.list_names(&format!("visibility={v}")).await, [v]);
    }
    let all = sorted(p1.list_names("visibility=all").await);
    assert_eq!(all, ["community", "private", "public", "shared"]);
}

/// A `get_image` rule that reads an extra property (and a dotted key)
/// decides shows and list pages: an image's policy target holds whatever
/// key the rules in effect read, though only those.
#[tokio::test]
async fn a_get_image_rule_on_a_property_decides_shows_and_lists() {
    let app = TestApp::builder()
        .policy_overrides(
            "\"get_image\": \"project_id:%(owner)s or 'cirros':%(os_distro)s \
             or 'yes':%(lab.shared)s\"\n",
        )
        .start()
        .await;
    let admin = app.admin();
    let mut ids = Vec::new();
    for (name, extra) in [
        ("cirros", json!({"os_distro": "cirros"})),
        ("ubuntu", json!({"os_distro": "ubuntu"})),
        ("dotted", json!({"lab.shared": "yes"})),
        ("plain", json!({})),
    ] {
        let mut body = json!({"name": name, "visibility": "public"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ids.push(id_of(&admin.create_image(body).await));
    }
    let shown: Vec<StatusCode> = show_statuses(&app, "p2", &ids).await;
    assert_eq!(
        shown,
        [
            StatusCode::OK,
            StatusCode::NOT_FOUND,
            StatusCode::OK,
            StatusCode::NOT_FOUND
        ]
    );
    assert_eq!(
        sorted(app.member_of("p2").list_names("").await),
        ["cirros", "dotted"]
    );
    // The owner passes the rule by its first check.
    assert_eq!(
        sorted(app.admin().list_names("").await),
        ["cirros", "dotted", "plain", "ubuntu"]
    );
}

async fn show_statuses(app: &TestApp, project: &str, ids: &[String]) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for id in ids {
        statuses.push(show_status(app, project, id).await);
    }
    statuses
}
