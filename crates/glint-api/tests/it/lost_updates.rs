//! No lost updates: whatever runs at the same time as a change (an upload,
//! other PATCHes, tag calls, actions), every change that was answered with
//! success is kept.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::raw::{read_response, send_chunk, start_chunked_upload};
use common::{Caller, PATCH_V21, TestApp, expect_status, id_of, noise, on_every_backend};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const WRITERS: usize = 4;
const PROPERTIES_EACH: usize = 20;

async fn patch(client: reqwest::Client, url: String, ops: Value) -> StatusCode {
    client
        .patch(url)
        .header(CONTENT_TYPE, PATCH_V21)
        .body(ops.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn changes_made_while_an_upload_runs_survive_its_completion() {
    on_every_backend(|app: TestApp| async move {
        let id = app.create_raw_image("uploading").await;
        let mut upload = start_chunked_upload(app.addr(), &id).await;
        send_chunk(&mut upload, &noise(64 * 1024, 1)).await;
        app.wait_for_image(&id, Duration::from_secs(5), |i| i["status"] == "saving")
            .await;

        let ops = json!([
            {"op": "replace", "path": "/visibility", "value": "public"},
            {"op": "replace", "path": "/protected", "value": true},
            {"op": "add", "path": "/tags", "value": ["during"]},
            {"op": "add", "path": "/os_distro", "value": "cirros"},
            {"op": "replace", "path": "/name", "value": "renamed"},
        ]);
        let url = app.url(&format!("/v2/images/{id}"));
        assert_eq!(patch(app.client().clone(), url, ops).await, StatusCode::OK);
        expect_status(
            app.put(&format!("/v2/images/{id}/tags/tagged-api"))
                .send()
                .await
                .unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;

        send_chunk(&mut upload, &noise(64 * 1024, 2)).await;
        upload.write_all(b"0\r\n\r\n").await.unwrap();
        let resp = read_response(&mut upload).await;
        assert_eq!(resp.status, 204, "{resp:?}");

        let image = app.image(&id).await;
        assert_eq!(image["status"], "active");
        assert_eq!(image["size"], 128 * 1024);
        assert_eq!(image["visibility"], "public");
        assert_eq!(image["protected"], true);
        assert_eq!(image["tags"], json!(["during", "tagged-api"]));
        assert_eq!(image["os_distro"], "cirros");
        assert_eq!(image["name"], "renamed");
    })
    .await;
}

#[tokio::test]
async fn an_upload_failing_after_changes_keeps_them() {
    on_every_backend(|app: TestApp| async move {
        let id = app.create_raw_image("failing").await;
        let mut upload = start_chunked_upload(app.addr(), &id).await;
        send_chunk(&mut upload, &noise(64 * 1024, 1)).await;
        app.wait_for_image(&id, Duration::from_secs(5), |i| i["status"] == "saving")
            .await;
        let ops = json!([{"op": "add", "path": "/kept", "value": "yes"}]);
        let url = app.url(&format!("/v2/images/{id}"));
        assert_eq!(patch(app.client().clone(), url, ops).await, StatusCode::OK);
        // The client goes away: the upload fails and the image is reset.
        drop(upload);
        let image = app
            .wait_for_image(&id, Duration::from_secs(5), |i| i["status"] == "queued")
            .await;
        assert_eq!(image["kept"], "yes");
    })
    .await;
}

/// `WRITERS` writers, each through one of `apps` in turn, each adding its
/// own `PROPERTIES_EACH` properties to `id` one PATCH at a time; every
/// PATCH must succeed. Returns how many of the properties the image keeps.
async fn patch_in_parallel(apps: &[&TestApp], id: &str) -> usize {
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let app = apps[w % apps.len()];
        let client = app.client().clone();
        let url = app.url(&format!("/v2/images/{id}"));
        writers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for p in 0..PROPERTIES_EACH {
                let ops = json!([{"op": "add", "path": format!("/w{w}_p{p}"), "value": "v"}]);
                statuses.push(patch(client.clone(), url.clone(), ops).await);
            }
            statuses
        }));
    }
    for writer in writers {
        let statuses = writer.await.expect("writer task");
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{statuses:?}"
        );
    }
    let image = apps[0].image(id).await;
    (0..WRITERS)
        .flat_map(|w| (0..PROPERTIES_EACH).map(move |p| format!("w{w}_p{p}")))
        .filter(|name| image[name] == "v")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_patches_of_different_properties_are_all_kept() {
    on_every_backend(|app: TestApp| async move {
        let id = app.create_raw_image("contended").await;
        let kept = patch_in_parallel(&[&app], &id).await;
        assert_eq!(
            kept,
            WRITERS * PROPERTIES_EACH,
            "{:#}",
            app.image(&id).await
        );
    })
    .await;
}

/// Two servers on one database (two nodes, or two processes on a host):
/// their writers do not take turns in-process, the compare-and-set and
/// retries alone keep every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_patches_through_two_servers_are_all_kept() {
    for backend in common::Backend::configured() {
        eprintln!("running on {backend:?}");
        let first = TestApp::builder().backend(backend).start().await;
        let second = TestApp::builder().sharing_data_with(&first).start().await;
        let id = first.create_raw_image("contended").await;
        let kept = patch_in_parallel(&[&first, &second], &id).await;
        assert_eq!(kept, WRITERS * PROPERTIES_EACH);
        drop(second);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_tag_calls_are_all_kept() {
    on_every_backend(|app: TestApp| async move {
        let id = app.create_raw_image("tagged").await;
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let client = app.client().clone();
            let base = app.url(&format!("/v2/images/{id}/tags"));
            writers.push(tokio::spawn(async move {
                for t in 0..10 {
                    let resp = client
                        .put(format!("{base}/w{w}-t{t}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
                }
            }));
        }
        for writer in writers {
            writer.await.expect("writer task");
        }
        let tags: BTreeSet<String> = app.image(&id).await["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(tags.len(), WRITERS * 10, "{tags:?}");
    })
    .await;
}

/// Deactivates and reactivates an image while PATCHes run: each action and
/// each PATCH succeeds, and every property is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn actions_and_patches_at_the_same_time_all_succeed() {
    on_every_backend(|app: TestApp| async move {
        let id = app.create_raw_image("toggled").await;
        app.upload_ok(&id, vec![1u8; 1024]).await;
        let client = app.client().clone();
        let url = app.url(&format!("/v2/images/{id}"));
        let patches = tokio::spawn(async move {
            let mut statuses = Vec::new();
            for p in 0..PROPERTIES_EACH {
                let ops = json!([{"op": "add", "path": format!("/p{p}"), "value": "v"}]);
                statuses.push(patch(client.clone(), url.clone(), ops).await);
            }
            statuses
        });
        let admin: Caller<'_> = app.admin();
        for round in 0..PROPERTIES_EACH {
            let action = if round % 2 == 0 {
                "deactivate"
            } else {
                "reactivate"
            };
            let resp = admin
                .post(&format!("/v2/images/{id}/actions/{action}"))
                .send()
                .await
                .unwrap();
            expect_status(resp, StatusCode::NO_CONTENT).await;
        }
        let statuses = patches.await.expect("patch task");
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{statuses:?}"
        );
        let image = app.image(&id).await;
        assert_eq!(image["status"], "active");
        for p in 0..PROPERTIES_EACH {
            assert_eq!(image[format!("p{p}")], "v", "{image:#}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_replace_of_a_property_that_is_gone_is_409() {
    on_every_backend(|app: TestApp| async move {
        let id = id_of(&app.create_image(json!({"name": "x", "gone": "soon"})).await);
        let url = app.url(&format!("/v2/images/{id}"));
        let remove = json!([{"op": "remove", "path": "/gone"}]);
        assert_eq!(
            patch(app.client().clone(), url.clone(), remove).await,
            StatusCode::OK
        );
        let replace = json!([{"op": "replace", "path": "/gone", "value": "again"}]);
        assert_eq!(
            patch(app.client().clone(), url, replace).await,
            StatusCode::CONFLICT
        );
    })
    .await;
}
