//! The bulk loader that seeds catalogues of a million images for the list
//! benchmark (`glint_db::testing::load_catalogue`, and `delete_loaded`)
//! must leave the very rows the API leaves: otherwise the benchmark would
//! time another database than a real one. Images are made through the
//! API (queued with tags and properties, shared with a member, uploaded,
//! deleted with a member), read back, loaded into other databases of the
//! same kind (the deleted one stored as deleted at once, and stored live
//! then deleted), and every row of each compared.

use crate::common;

use common::{Backend, TestApp, expect_status, id_of};
use glint_model::{Image, ImageId, Member};
use reqwest::StatusCode;
use serde_json::json;

/// What the API made: each image's id, the image that was deleted as it
/// was just before, and every membership as it was before any delete.
struct Made {
    ids: Vec<ImageId>,
    before_delete: Image,
    members: Vec<Member>,
}

async fn share(app: &TestApp, id: &str, member: &str) {
    let added = app
        .admin()
        .post(&format!("/v2/images/{id}/members"))
        .json(&json!({"member": member}))
        .send()
        .await
        .unwrap();
    expect_status(added, StatusCode::OK).await;
}

async fn made_through_the_api(app: &TestApp) -> Made {
    let admin = app.admin();
    let queued = admin
        .create_image(json!({
            "name": "image-00000003",
            "visibility": "public",
            "tags": ["bucket-3", "all"],
            "os_distro": "cirros",
        }))
        .await;
    let shared = admin
        .create_image(json!({
            "name": "image-00000006",
            "visibility": "shared",
            "disk_format": "raw",
            "container_format": "bare",
            "tags": ["bucket-6", "all"],
            "os_distro": "cirros",
        }))
        .await;
    let shared_id = id_of(&shared);
    app.upload_ok(&shared_id, vec![7u8; 4096]).await;
    share(app, &shared_id, "project-7").await;
    let deleted = admin
        .create_image(json!({
            "name": "image-00000009",
            "visibility": "shared",
            "tags": ["bucket-9"],
            "group": "bucket-9",
        }))
        .await;
    let deleted_id = id_of(&deleted);
    share(app, &deleted_id, "project-10").await;
    let ids: Vec<ImageId> = [&queued, &shared, &deleted]
        .iter()
        .map(|view| id_of(view).parse().unwrap())
        .collect();
    let mut members = Vec::new();
    for id in &ids {
        members.extend(app.db().list_members(*id).await.unwrap());
    }
    assert_eq!(members.len(), 2, "two members were added through the API");
    let before_delete = app.db().get_image_any(ids[2]).await.unwrap().unwrap();
    let gone = admin
        .delete(&format!("/v2/images/{deleted_id}"))
        .send()
        .await
        .unwrap();
    expect_status(gone, StatusCode::NO_CONTENT).await;
    Made {
        ids,
        before_delete,
        members,
    }
}

#[tokio::test]
async fn bulk_loaded_images_leave_the_rows_the_api_leaves() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = TestApp::builder().backend(backend.clone()).start().await;
        let made = made_through_the_api(&app).await;
        let mut images: Vec<Image> = Vec::new();
        for id in &made.ids {
            images.push(app.db().get_image_any(*id).await.unwrap().unwrap());
        }
        let at = images[2].deleted_at.expect("deleted through the API");
        // Stored as they are, the deleted image as deleted.
        let at_once = TestApp::builder().backend(backend.clone()).start().await;
        glint_db::testing::load_catalogue(at_once.db(), &images, &made.members)
            .await
            .unwrap();
        // Stored live, then deleted.
        let later = TestApp::builder().backend(backend).start().await;
        let mut live = images.clone();
        live[2] = made.before_delete.clone();
        glint_db::testing::load_catalogue(later.db(), &live, &made.members)
            .await
            .unwrap();
        glint_db::testing::delete_loaded(later.db(), &[(made.ids[2], at)])
            .await
            .unwrap();
        for id in &made.ids {
            let rows = glint_db::testing::image_rows(app.db(), *id).await.unwrap();
            assert!(rows.len() >= 3, "an image row and its children: {rows:?}");
            for copy in [&at_once, &later] {
                let copied = glint_db::testing::image_rows(copy.db(), *id).await.unwrap();
                assert_eq!(rows, copied, "rows of {id}");
            }
        }
        let of_deleted = glint_db::testing::image_rows(app.db(), made.ids[2])
            .await
            .unwrap();
        assert!(
            of_deleted
                .iter()
                .any(|row| row.starts_with("image_members:") && row.contains("deleted=Some(1)")),
            "the deleted image's member is compared, marked deleted: {of_deleted:?}"
        );
    }
}
