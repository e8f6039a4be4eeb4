//! Upload leases: two glint processes on one host and database. An upload
//! running on one survives the other's start, however long it runs; one
//! whose process died (its lease no longer renewed) is reclaimed once the
//! lease has expired, and only then.

use crate::common;

use std::time::{Duration, Instant};

use common::raw::{read_response, send_chunk, start_chunked_upload};
use common::{Backend, TestApp, noise};
use glint_db::UploadLease;
use glint_model::{ImageId, ImageStatus};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const LEASE: Duration = Duration::from_millis(600);

async fn first_server(backend: Backend) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .image_config(|c| c.upload_lease_time = LEASE)
        .start()
        .await
}

async fn second_server(first: &TestApp) -> TestApp {
    TestApp::builder()
        .sharing_data_with(first)
        .image_config(|c| c.upload_lease_time = LEASE)
        .start()
        .await
}

#[tokio::test]
async fn an_upload_running_on_one_server_survives_another_servers_start() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let first = first_server(backend).await;
        let id = first.create_raw_image("long upload").await;
        let mut upload = start_chunked_upload(first.addr(), &id).await;
        send_chunk(&mut upload, &noise(64 * 1024, 1)).await;
        first
            .wait_for_image(&id, Duration::from_secs(5), |i| i["status"] == "saving")
            .await;
        // The upload outlives its first lease several times over: only
        // renewals keep it.
        let started = Instant::now();
        let mut sent = 1;
        while started.elapsed() < 3 * LEASE {
            send_chunk(&mut upload, &noise(4096, sent)).await;
            sent += 1;
            tokio::time::sleep(LEASE / 10).await;
        }

        let second = second_server(&first).await;
        let image = second.image(&id).await;
        assert_eq!(image["status"], "saving", "{image:#}");
        second
            .service()
            .reconcile_interrupted_uploads()
            .await
            .unwrap();
        assert_eq!(second.image(&id).await["status"], "saving");

        upload.write_all(b"0\r\n\r\n").await.unwrap();
        let resp = read_response(&mut upload).await;
        assert_eq!(resp.status, 204, "{resp:?}");
        let image = second.image(&id).await;
        assert_eq!(image["status"], "active");
        assert_eq!(second.store_files(), std::slice::from_ref(&id));
        drop(second);
    }
}

/// What a process that died mid-upload leaves: the image in `saving`
/// under a lease nobody renews, and a partial file.
async fn leave_dead_upload(app: &TestApp, id: &str) -> String {
    let image_id = ImageId::parse(id).unwrap();
    let stored = app
        .db()
        .get_image_versioned(image_id)
        .await
        .unwrap()
        .unwrap();
    let mut saving = stored.image.clone();
    saving.status = ImageStatus::Saving;
    let lease = UploadLease {
        holder: "localhost/a-run-that-died".into(),
        expires_at: glint_model::time::now() + LEASE,
    };
    app.db()
        .begin_upload(&saving, stored.version, &lease, None)
        .await
        .unwrap();
    let partial = format!(".{id}.4242-0.partial");
    std::fs::create_dir_all(app.store_dir()).unwrap();
    std::fs::write(app.store_dir().join(&partial), b"half an image").unwrap();
    partial
}

#[tokio::test]
async fn an_upload_whose_lease_is_not_renewed_is_reclaimed_once_expired_only() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let first = first_server(backend).await;
        let id = first.create_raw_image("dead upload").await;
        let partial = leave_dead_upload(&first, &id).await;
        let lease_taken = Instant::now();

        // While the lease holds, neither a start nor a check resets it.
        let second = second_server(&first).await;
        second
            .service()
            .reconcile_interrupted_uploads()
            .await
            .unwrap();
        let image = second.image(&id).await;
        if lease_taken.elapsed() < LEASE {
            assert_eq!(image["status"], "saving", "{image:#}");
            assert_eq!(second.store_files(), std::slice::from_ref(&partial));
        }

        while lease_taken.elapsed() <= LEASE {
            tokio::time::sleep(LEASE / 10).await;
        }
        let reset = second
            .service()
            .reconcile_interrupted_uploads()
            .await
            .unwrap();
        assert_eq!(reset, 1);
        let image = second.image(&id).await;
        assert_eq!(image["status"], "queued", "{image:#}");
        assert_eq!(image["size"], Value::Null);
        assert!(
            second.store_files().is_empty(),
            "{:?}",
            second.store_files()
        );
        let lease = second.db().upload_lease(ImageId::parse(&id).unwrap()).await;
        assert_eq!(lease.unwrap(), None);
        // The image takes a new upload.
        second.upload_ok(&id, vec![5u8; 100]).await;
        assert_eq!(second.image(&id).await["status"], "active");
        drop(second);
    }
}

/// A staging (`PUT /stage`) holds a lease like an upload: one whose process
/// died is reset to `queued` once the lease has expired, its partial staged
/// data removed, while an image whose data was staged whole (no lease; it
/// waits for its import) is left alone.
#[tokio::test]
async fn a_staging_whose_lease_is_not_renewed_is_reclaimed_once_expired() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let first = first_server(backend).await;
        let staged = first.create_raw_image("staged whole").await;
        let resp = first
            .admin()
            .put(&format!("/v2/images/{staged}/stage"))
            .header("content-type", "application/octet-stream")
            .body(noise(1000, 3))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);

        let id = first.create_raw_image("dead staging").await;
        let image_id = ImageId::parse(&id).unwrap();
        let stored = first
            .db()
            .get_image_versioned(image_id)
            .await
            .unwrap()
            .unwrap();
        let mut uploading = stored.image.clone();
        uploading.status = ImageStatus::Uploading;
        let lease = UploadLease {
            holder: "localhost/a-run-that-died".into(),
            expires_at: glint_model::time::now() + LEASE,
        };
        first
            .db()
            .begin_upload(&uploading, stored.version, &lease, None)
            .await
            .unwrap();
        let lease_taken = Instant::now();
        let staging = first.scratch_dir().join("staging");
        let partial = format!(".{id}.4242-0.partial");
        std::fs::write(staging.join(&partial), b"half an image").unwrap();

        let second = second_server(&first).await;
        second
            .service()
            .reconcile_interrupted_uploads()
            .await
            .unwrap();
        if lease_taken.elapsed() < LEASE {
            assert_eq!(second.image(&id).await["status"], "uploading");
        }
        while lease_taken.elapsed() <= LEASE {
            tokio::time::sleep(LEASE / 10).await;
        }
        let reset = first
            .service()
            .reconcile_interrupted_uploads()
            .await
            .unwrap();
        assert_eq!(reset, 1);
        let image = first.image(&id).await;
        assert_eq!(image["status"], "queued", "{image:#}");
        assert_eq!(first.staged_files(), vec![staged.clone()]);
        assert_eq!(first.db().upload_lease(image_id).await.unwrap(), None);
        let whole = first.image(&staged).await;
        assert_eq!(whole["status"], "uploading", "{whole:#}");
        assert_eq!(whole["size"], 1000);
        drop(second);
    }
}
