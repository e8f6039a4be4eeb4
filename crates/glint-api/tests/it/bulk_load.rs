//! The bulk loader that seeds catalogues of a million images for the list
//! benchmark (`glint_db::testing::load_catalogue`, then `delete_loaded`)
//! must leave the very rows the API leaves: otherwise the benchmark would
//! time another database than a real one. Images are made through the
//! API (queued with tags and properties, shared with a member, uploaded,
//! deleted), read back, loaded into a second database of the same kind,
//! and every row of each compared.

use crate::common;

use common::{Backend, TestApp, expect_status, id_of};
use glint_model::{Image, ImageId};
use reqwest::StatusCode;
use serde_json::json;

async fn made_through_the_api(app: &TestApp) -> Vec<ImageId> {
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
    let member = admin
        .post(&format!("/v2/images/{shared_id}/members"))
        .json(&json!({"member": "project-7"}))
        .send()
        .await
        .unwrap();
    expect_status(member, StatusCode::OK).await;
    let deleted = admin
        .create_image(json!({"name": "image-00000009", "tags": ["bucket-9"]}))
        .await;
    let deleted_id = id_of(&deleted);
    let gone = admin
        .delete(&format!("/v2/images/{deleted_id}"))
        .send()
        .await
        .unwrap();
    expect_status(gone, StatusCode::NO_CONTENT).await;
    [queued, shared, deleted]
        .iter()
        .map(|view| id_of(view).parse().unwrap())
        .collect()
}

#[tokio::test]
async fn bulk_loaded_images_leave_the_rows_the_api_leaves() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = TestApp::builder().backend(backend.clone()).start().await;
        let loaded = TestApp::builder().backend(backend).start().await;
        let ids = made_through_the_api(&app).await;
        let mut images: Vec<Image> = Vec::new();
        let mut members = Vec::new();
        let mut gone = Vec::new();
        for id in &ids {
            let image = app.db().get_image_any(*id).await.unwrap().unwrap();
            if let Some(at) = image.deleted_at {
                gone.push((*id, at));
            }
            members.extend(app.db().list_members(*id).await.unwrap());
            images.push(image);
        }
        assert_eq!(gone.len(), 1, "one image was deleted through the API");
        assert_eq!(members.len(), 1, "one member was added through the API");
        glint_db::testing::load_catalogue(loaded.db(), &images, &members)
            .await
            .unwrap();
        glint_db::testing::delete_loaded(loaded.db(), &gone)
            .await
            .unwrap();
        for id in &ids {
            let made = glint_db::testing::image_rows(app.db(), *id).await.unwrap();
            let copied = glint_db::testing::image_rows(loaded.db(), *id)
                .await
                .unwrap();
            assert!(made.len() >= 2, "an image row and its children: {made:?}");
            assert_eq!(made, copied, "rows of {id}");
        }
    }
}
