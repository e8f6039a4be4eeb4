//! The scrubber against a real object store (radosgw's S3 API, reached
//! through a forwarder the test stops or pauses): a delete that fails is
//! tried again by the next run, and a scrubber killed in the middle of a
//! delete leaves its image to the next run, which finishes it.

use crate::common;
use crate::scrub_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::Setup;
use common::proxy::Proxy;
use glint_db::SCRUB_JOB;
use glint_model::{ImageId, ImageStatus};
use glint_store::{S3Config, S3Store, Secret, Store};
use reqwest::Client;
use scrub_support::*;

/// The Ceph kit's S3 endpoint and keys; `None` (the test is skipped)
/// unless they are set, which `GLINT_REQUIRE_STORES` requires.
struct Kit {
    endpoint: String,
    access_key: String,
    secret_key: String,
    region: String,
}

fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("GLINT_REQUIRE_STORES").is_some() => {
            panic!("{name} is not set, and GLINT_REQUIRE_STORES asks for every store")
        }
        _ => {
            eprintln!("skipped: {name} is not set");
            None
        }
    }
}

fn kit() -> Option<Kit> {
    Some(Kit {
        endpoint: env("CEPH_S3_ENDPOINT")?,
        access_key: env("CEPH_S3_ACCESS_KEY")?,
        secret_key: env("CEPH_S3_SECRET_KEY")?,
        region: env("CEPH_S3_REGION")?,
    })
}

/// A deployment whose single store is an S3 bucket of its own, reached
/// through `proxy`; the bucket is emptied and removed at the end.
struct Deployment {
    setup: Setup,
    proxy: Proxy,
    /// The bucket as the test sees it, straight at the endpoint.
    bucket: Arc<S3Store>,
}

impl Deployment {
    async fn start(kit: &Kit) -> Deployment {
        let url = url::Url::parse(&kit.endpoint).unwrap();
        let target: SocketAddr = format!(
            "{}:{}",
            url.host_str().unwrap(),
            url.port_or_known_default().unwrap()
        )
        .parse()
        .unwrap();
        let proxy = Proxy::start(target).await;
        let name = format!("glint-scrub-{}", ImageId::new_random());
        let setup = Setup::with_config(&format!(
            "[DEFAULT]\ndelayed_delete = true\n[glint]\nscrubber_in_serve = false\n\
             [glance_store]\nstores = s3\ndefault_store = s3\n\
             s3_store_host = http://127.0.0.1:{}\ns3_store_access_key = {}\n\
             s3_store_secret_key = {}\ns3_store_bucket = {name}\n\
             s3_store_create_bucket_on_put = true\ns3_store_region_name = {}\n",
            proxy.port, kit.access_key, kit.secret_key, kit.region
        ));
        let mut config = S3Config::new(
            &kit.endpoint,
            &kit.access_key,
            Secret::new(&kit.secret_key),
            name,
        );
        config.region_name = Some(kit.region.clone());
        let bucket = Arc::new(S3Store::new("s3", config).unwrap());
        Deployment {
            setup,
            proxy,
            bucket,
        }
    }

    /// Uploads `count` images through a server and deletes them: they
    /// wait in `pending_delete`, their objects in the bucket.
    async fn pending_images(&self, count: usize) -> Vec<String> {
        let client = Client::new();
        let mut server = self.setup.start();
        server.wait_ready(&client).await;
        let mut ids = Vec::new();
        for n in 0..count {
            let id = upload(&client, &server, format!("object {n}").as_bytes()).await;
            delete(&client, &server, &id).await;
            ids.push(id);
        }
        ids
    }

    async fn objects(&self) -> Vec<String> {
        let mut keys = self.bucket.keys().await.unwrap();
        keys.sort();
        keys
    }

    fn config(&self) -> &Path {
        &self.setup.config
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let bucket = Arc::clone(&self.bucket);
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                for key in bucket.keys().await.unwrap_or_default() {
                    if let Some(id) = ImageId::parse(&key) {
                        let _ = bucket.discard(id).await;
                    }
                }
                let _ = bucket.delete_bucket().await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Runs `glint scrub` to its end on the blocking pool, so that the
/// forwarder keeps running meanwhile.
async fn scrub_off_thread(configs: &[&Path]) -> common::Output {
    let configs: Vec<_> = configs.iter().map(|p| p.to_path_buf()).collect();
    tokio::task::spawn_blocking(move || {
        let configs: Vec<&Path> = configs.iter().map(|p| p.as_path()).collect();
        scrub(&configs, &[])
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_delete_that_fails_is_tried_again_by_the_next_run() {
    let Some(kit) = kit() else { return };
    let deployment = Deployment::start(&kit).await;
    let ids = deployment.pending_images(2).await;
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(deployment.objects().await, expected);
    // The object store cannot be reached: nothing is lost.
    deployment.proxy.stop();
    let failed = scrub_off_thread(&[deployment.config()]).await.ok();
    assert_eq!(
        failed.stderr.matches("the next run tries again").count(),
        2,
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("failed=2"), "{}", failed.stderr);
    let db = sqlite(&deployment.setup).await;
    for id in &ids {
        assert_eq!(status(&db, id).await, ImageStatus::PendingDelete);
        let job = db
            .job(SCRUB_JOB, id)
            .await
            .unwrap()
            .expect("a failed attempt");
        assert_eq!(job.attempts, 1);
        assert!(job.last_error.unwrap().contains("unavailable"));
    }
    assert_eq!(deployment.objects().await, expected);
    // Back: the next run removes the data.
    deployment.proxy.restart().await;
    let run = scrub_off_thread(&[deployment.config()]).await.ok();
    assert_eq!(scrubbed_ids(&run.stderr).len(), 2, "{}", run.stderr);
    for id in &ids {
        assert_eq!(status(&db, id).await, ImageStatus::Deleted);
        assert_eq!(db.job(SCRUB_JOB, id).await.unwrap(), None);
    }
    assert!(deployment.objects().await.is_empty());
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrubber_killed_in_the_middle_leaves_nothing_the_next_run_does_not_finish() {
    let Some(kit) = kit() else { return };
    let deployment = Deployment::start(&kit).await;
    let ids = deployment.pending_images(3).await;
    let db = sqlite(&deployment.setup).await;
    // The store stops answering: the first image's delete hangs.
    deployment.proxy.pause();
    let mut killed = spawn_scrub(&[deployment.config()], &[], Stdio::null());
    let mut claimed = None;
    for _ in 0..400 {
        for id in &ids {
            if db.job(SCRUB_JOB, id).await.unwrap().is_some() {
                claimed = Some(id.clone());
            }
        }
        if claimed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let claimed = claimed.expect("the scrubber claimed an image");
    tokio::time::sleep(Duration::from_millis(300)).await;
    killed.kill().unwrap();
    killed.wait().unwrap();
    // Left half-way: claimed by a process that is gone, still pending.
    assert!(db.job(SCRUB_JOB, &claimed).await.unwrap().is_some());
    assert_eq!(status(&db, &claimed).await, ImageStatus::PendingDelete);
    deployment.proxy.resume();
    let run = scrub_off_thread(&[deployment.config()]).await.ok();
    let scrubbed = scrubbed_ids(&run.stderr);
    assert_eq!(scrubbed.len(), 3, "{}", run.stderr);
    assert!(scrubbed.contains(&claimed));
    for id in &ids {
        assert_eq!(status(&db, id).await, ImageStatus::Deleted);
        assert_eq!(db.job(SCRUB_JOB, id).await.unwrap(), None);
    }
    assert!(deployment.objects().await.is_empty());
    db.close().await;
}
