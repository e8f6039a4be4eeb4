//! An image's extra properties and tags read back alike from show and list,
//! whichever request wrote them, on every database; and images whose rows
//! predate the children copy in the image row show their children once the
//! database is upgraded.

use crate::common;

use common::{Backend, TestApp, expect_status, id_of, md5_hex, on_every_backend};
use glint_db::testing::children_copy;
use glint_model::{Image, ImageId};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The image as the admin's list shows it and as show returns it, which
/// must be the same view.
async fn read_back(app: &TestApp, id: &str) -> Value {
    let page = app.admin().list("limit=1000").await;
    let images = page["images"].as_array().expect("images");
    let listed = images.iter().find(|i| i["id"] == id).expect("listed");
    let shown = app.image(id).await;
    assert_eq!(listed, &shown);
    shown
}

fn extras(view: &Value) -> Vec<(String, Value)> {
    let base = [
        "name",
        "disk_format",
        "container_format",
        "visibility",
        "size",
        "virtual_size",
        "status",
        "checksum",
        "protected",
        "min_ram",
        "min_disk",
        "owner",
        "os_hidden",
        "os_hash_algo",
        "os_hash_value",
        "id",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
    ];
    let object = view.as_object().expect("an image view is an object");
    (object.iter())
        .filter(|(k, _)| !base.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

async fn patch_ok(app: &TestApp, id: &str, ops: Value) {
    expect_status(app.admin().patch(id, ops).await, StatusCode::OK).await;
}

#[tokio::test]
async fn children_written_by_every_request_read_back_alike_from_list_and_show() {
    on_every_backend(|app: TestApp| async move {
        let created = app
            .create_image(json!({
                "name": "kids", "disk_format": "raw", "container_format": "bare",
                "tags": ["b", "a"], "os_distro": "cirros", "hw_disk_bus": "scsi",
                "description": "ünïcode \"quoted\" ✓",
            }))
            .await;
        let id = id_of(&created);
        let view = read_back(&app, &id).await;
        assert_eq!(view, created);
        assert_eq!(view["tags"], json!(["b", "a"]));

        patch_ok(
            &app,
            &id,
            json!([{"op": "add", "path": "/added", "value": "x"}]),
        )
        .await;
        patch_ok(
            &app,
            &id,
            json!([{"op": "replace", "path": "/os_distro", "value": "y"}]),
        )
        .await;
        patch_ok(&app, &id, json!([{"op": "remove", "path": "/hw_disk_bus"}])).await;
        let view = read_back(&app, &id).await;
        let expected = [
            ("added", "x"),
            ("description", "ünïcode \"quoted\" ✓"),
            ("os_distro", "y"),
        ];
        let expected: Vec<(String, Value)> = (expected.iter())
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        assert_eq!(extras(&view), expected);

        let ops = json!([{"op": "replace", "path": "/tags", "value": ["z", "y"]}]);
        patch_ok(&app, &id, ops).await;
        assert_eq!(read_back(&app, &id).await["tags"], json!(["z", "y"]));
        let tag = |method: reqwest::Method, tag: &str| {
            app.admin()
                .request(method, &format!("/v2/images/{id}/tags/{tag}"))
                .send()
        };
        let added = tag(reqwest::Method::PUT, "w").await.unwrap();
        expect_status(added, StatusCode::NO_CONTENT).await;
        let deleted = tag(reqwest::Method::DELETE, "z").await.unwrap();
        expect_status(deleted, StatusCode::NO_CONTENT).await;
        assert_eq!(read_back(&app, &id).await["tags"], json!(["y", "w"]));

        // The upload records a location and saves the image again.
        let data = vec![7u8; 1000];
        app.upload_ok(&id, data.clone()).await;
        let view = read_back(&app, &id).await;
        assert_eq!(view["checksum"], md5_hex(&data));
        assert_eq!(view["tags"], json!(["y", "w"]));
        assert_eq!(extras(&view), expected);
        let stored = app.db().get_image(ImageId::parse(&id).unwrap()).await;
        assert_eq!(stored.unwrap().unwrap().locations.len(), 1);
        let listed = app
            .db()
            .list_images(&Default::default(), 1000, None, &admin_viewer())
            .await
            .unwrap();
        assert_eq!(listed[0].locations.len(), 1);
    })
    .await;
}

fn admin_viewer() -> glint_db::Viewer {
    glint_db::Viewer {
        project_id: None,
        is_admin: true,
    }
}

#[tokio::test]
async fn images_written_before_the_children_copy_show_their_children_after_the_upgrade() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let mut old = Vec::new();
        for i in 0..3_i64 {
            let mut image = Image::queued(ImageId::new_random(), glint_model::time::now());
            image.name = Some(format!("old-{i}"));
            image.owner = Some("admin".into());
            image.tags = vec![format!("t{i}"), "all".into()];
            image.properties.insert("os_distro".into(), format!("d{i}"));
            old.push(image);
        }
        let app = TestApp::builder()
            .backend(backend)
            .images_of_schema_version_1(old.clone())
            .start()
            .await;
        for image in &old {
            let id = image.id.to_string();
            assert!(children_copy(app.db(), image.id).await.unwrap().is_some());
            let view = read_back(&app, &id).await;
            assert_eq!(view["tags"], json!(image.tags));
            assert_eq!(view["os_distro"], image.properties["os_distro"]);
        }
        let filtered = app.admin().list_names("os_distro=d1&tag=all").await;
        assert_eq!(filtered, ["old-1"]);
        let id = old[0].id.to_string();
        let ops = json!([{"op": "add", "path": "/new", "value": "v"}]);
        patch_ok(&app, &id, ops).await;
        let view = read_back(&app, &id).await;
        assert_eq!(view["new"], "v");
        assert_eq!(view["os_distro"], "d0");
        assert_eq!(view["tags"], json!(["t0", "all"]));
    }
}
