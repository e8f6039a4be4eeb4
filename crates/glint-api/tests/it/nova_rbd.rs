//! The calls Nova makes against an rbd store, as Nova makes them
//! (`nova/image/glance.py` and its rbd image backend), on the real Ceph of
//! `tests/ceph`: boot (show with `direct_url`, clone the snapshot
//! copy-on-write, download), and snapshot (create with the instance's
//! properties, write the RBD image itself, add its location).
//!
//! Needs `CEPH_CONF` (and the `rbd` command); skipped without it unless
//! `GLINT_REQUIRE_STORES` is set.

use crate::common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, expect_error, expect_status};
use glint_store::{FileStore, RbdConfig, RbdStore, StoreMeta, StoreRegistry};
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How Nova calls Glance: the user's token, with the service role.
const NOVA: &str = "member,reader,service";

fn ceph_env() -> Option<(String, String, String)> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (get("CEPH_CONF"), get("CEPH_RBD_POOL"), get("CEPH_RBD_USER")) {
        (Some(conf), Some(pool), Some(user)) => Some((conf, pool, user)),
        _ if std::env::var_os("GLINT_REQUIRE_STORES").is_some() => {
            panic!("CEPH_CONF, CEPH_RBD_POOL and CEPH_RBD_USER must be set")
        }
        _ => {
            eprintln!("skipped: CEPH_CONF is not set");
            None
        }
    }
}

fn rbd_config(conf: &str, pool: &str, user: &str) -> RbdConfig {
    RbdConfig {
        pool: pool.into(),
        user: Some(user.into()),
        ceph_conf: Some(conf.into()),
        connect_timeout: Duration::from_secs(60),
        ..RbdConfig::default()
    }
}

/// `ceph` (default, an rbd store) and `local` (a file store); `direct_url`
/// shown, as Nova's copy-on-write boot needs.
async fn app(conf: &str, pool: &str, user: &str) -> TestApp {
    let config = rbd_config(conf, pool, user);
    TestApp::builder()
        .stores(move |dir| {
            let rbd = RbdStore::new("ceph", config).unwrap();
            let meta = StoreMeta {
                kind: "rbd".into(),
                ..StoreMeta::default()
            };
            let mut registry = StoreRegistry::with_meta(Arc::new(rbd), meta).multi_store();
            let file = FileStore::new("local", dir.join("local")).unwrap();
            registry.add_with_meta(
                Arc::new(file),
                StoreMeta {
                    kind: "file".into(),
                    ..StoreMeta::default()
                },
            );
            registry
        })
        .api_config(|c| c.show_image_direct_url = true)
        .start()
        .await
}

/// Runs `rbd` as the store's cephx user; panics with its output on failure.
fn rbd(conf: &str, user: &str, args: &[&str]) -> String {
    let out = Command::new("rbd")
        .args(["--conf", conf, "--id", user])
        .args(args)
        .output()
        .expect("run rbd");
    assert!(
        out.status.success(),
        "rbd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn download(app: &TestApp, id: &str) -> Vec<u8> {
    let resp = app
        .as_user("p1", NOVA)
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_clones_the_snapshot_and_a_cloned_image_cannot_be_deleted() {
    let Some((conf, pool, user)) = ceph_env() else {
        return;
    };
    let app = app(&conf, &pool, &user).await;
    let nova = app.as_user("p1", NOVA);
    let image = nova
        .create_image(json!({"name": "cirros", "disk_format": "raw",
                             "container_format": "bare", "visibility": "shared"}))
        .await;
    let id = image["id"].as_str().unwrap().to_owned();
    let data = random(3 * 1024 * 1024 + 5, 1);
    expect_status(nova.upload(&id, data.clone()).await, StatusCode::NO_CONTENT).await;

    // Nova reads direct_url to decide it can clone instead of downloading.
    let shown = nova.image(&id).await;
    let fsid = RbdStore::new("probe", rbd_config(&conf, &pool, &user))
        .unwrap()
        .fsid()
        .await
        .unwrap();
    assert_eq!(
        shown["direct_url"],
        format!("rbd://{fsid}/{pool}/{id}/snap")
    );
    assert_eq!(shown["stores"], "ceph");
    assert_eq!(download(&app, &id).await, data);

    // The instance disk: a copy-on-write clone of the image's snapshot.
    let disk = format!("{id}_disk");
    rbd(
        &conf,
        &user,
        &[
            "clone",
            &format!("{pool}/{id}@snap"),
            &format!("{pool}/{disk}"),
        ],
    );
    let message = expect_error(
        nova.delete(&format!("/v2/images/{id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        message,
        format!(
            "Image {id} could not be deleted because it is in use: The image cannot be \
             deleted because it is in use through the backend store outside of Glance."
        )
    );
    assert_eq!(nova.image(&id).await["status"], "active");
    assert_eq!(download(&app, &id).await, data);

    rbd(&conf, &user, &["rm", &format!("{pool}/{disk}")]);
    expect_status(
        nova.delete(&format!("/v2/images/{id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    let listed = rbd(&conf, &user, &["ls", &pool]);
    assert!(!listed.lines().any(|l| l == id), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_written_by_nova_becomes_an_image_through_its_location() {
    let Some((conf, pool, user)) = ceph_env() else {
        return;
    };
    let app = app(&conf, &pool, &user).await;
    let nova = app.as_user("p1", NOVA);
    // The properties Nova copies from the instance into its snapshot.
    let image = nova
        .create_image(json!({
            "name": "server-snapshot",
            "disk_format": "raw",
            "container_format": "bare",
            "image_type": "snapshot",
            "instance_uuid": "8a1e0d2c-5b7f-4c35-9d6e-1f2a3b4c5d6e",
            "base_image_ref": "0b8c6f3a-2d4e-4f5a-8b9c-7d6e5f4a3b2c",
            "user_id": "user-p1",
            "owner_id": "p1",
            "boot_roles": "member,reader",
        }))
        .await;
    let id = image["id"].as_str().unwrap().to_owned();
    assert_eq!(image["status"], "queued");
    assert_eq!(image["image_type"], "snapshot");

    // Nova's rbd driver writes the snapshot into the image pool itself,
    // named by the image id, with a protected snapshot `snap`.
    let data = random(2 * 1024 * 1024 + 123, 2);
    let file = app.scratch_dir().join("disk.raw");
    std::fs::write(&file, &data).unwrap();
    rbd(
        &conf,
        &user,
        &["import", file.to_str().unwrap(), &format!("{pool}/{id}")],
    );
    rbd(
        &conf,
        &user,
        &["snap", "create", &format!("{pool}/{id}@snap")],
    );
    rbd(
        &conf,
        &user,
        &["snap", "protect", &format!("{pool}/{id}@snap")],
    );
    let fsid = RbdStore::new("probe", rbd_config(&conf, &pool, &user))
        .unwrap()
        .fsid()
        .await
        .unwrap();
    let url = format!("rbd://{fsid}/{pool}/{id}/snap");
    let sha256: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let resp = nova
        .post(&format!("/v2/images/{id}/locations"))
        .json(&json!({"url": url, "validation_data":
                      {"os_hash_algo": "sha256", "os_hash_value": sha256}}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::ACCEPTED).await;
    let mut shown = Value::Null;
    for _ in 0..400 {
        shown = nova.image(&id).await;
        if shown["status"] == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["size"], data.len());
    assert_eq!(shown["os_hash_value"], sha256);
    assert_eq!(shown["direct_url"], url);
    assert_eq!(shown["stores"], "ceph");
    assert_eq!(download(&app, &id).await, data);
    let locations = nova
        .get(&format!("/v2/images/{id}/locations"))
        .send()
        .await
        .unwrap();
    let locations: Value = locations.json().await.unwrap();
    assert_eq!(
        locations,
        json!([{"url": url, "metadata": {"store": "ceph"}}])
    );
    expect_status(
        nova.delete(&format!("/v2/images/{id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
}
