//! The rbd store against the Ceph kit (`tests/ceph`): the behaviour suite,
//! and what only RBD promises (the protected snapshot clones are made from,
//! clones blocking deletion, thin provisioning, object size, fsid checks,
//! an unreachable cluster). Checked with the `rbd` command as `client.glint`.

use crate::common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::suite::Backend;
use common::{collect, random_bytes, store_env, stream_of};
use glint_model::ImageId;
use glint_store::{
    ByteRange, ByteStream, ObjectData, RbdConfig, RbdStore, Store, StoreError, Stored,
};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

/// The kit's settings: ceph.conf, pool and cephx id; None (skip) without it.
struct Kit {
    conf: String,
    pool: String,
    user: String,
}

fn kit() -> Option<Kit> {
    Some(Kit {
        conf: store_env("CEPH_CONF")?,
        pool: store_env("CEPH_RBD_POOL")?,
        user: store_env("CEPH_RBD_USER")?,
    })
}

impl Kit {
    fn config(&self) -> RbdConfig {
        RbdConfig {
            pool: self.pool.clone(),
            user: Some(self.user.clone()),
            ceph_conf: Some(self.conf.clone().into()),
            connect_timeout: Duration::from_secs(20),
            ..RbdConfig::default()
        }
    }

    fn store(&self, config: RbdConfig) -> RbdStore {
        RbdStore::new("rbd", config).unwrap()
    }

    /// Runs `rbd` as the store's user on its pool; stdout, or stderr as Err.
    fn rbd(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("rbd")
            .env("CEPH_CONF", &self.conf)
            .args(["--id", &self.user, "-p", &self.pool])
            .args(args)
            .output()
            .expect("the rbd command (ceph-common) is installed");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        let out = self
            .rbd(&args)
            .unwrap_or_else(|e| panic!("rbd {args:?}: {e}"));
        serde_json::from_str(&out).unwrap()
    }

    fn images(&self) -> Vec<String> {
        let listed = self.json(&["ls"]);
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }
}

/// Forwards to the store and remembers every image id it was given, so the
/// residue is the pool's images of this test only.
#[derive(Debug)]
struct Tracked {
    store: RbdStore,
    ids: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl Store for Tracked {
    fn id(&self) -> &str {
        self.store.id()
    }
    fn owns(&self, url: &str) -> bool {
        self.store.owns(url)
    }
    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        self.ids.lock().unwrap().push(image_id.to_string());
        self.store.put(image_id, data).await
    }
    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        self.store.get(url, range).await
    }
    async fn size(&self, url: &str) -> Result<u64, StoreError> {
        self.store.size(url).await
    }
    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        self.store.delete(url).await
    }
    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        self.store.discard(image_id).await
    }
}

/// Removes the images a suite test left (its data is not deleted by every
/// behaviour), once the test is over.
struct RemoveTracked {
    kit: Arc<Kit>,
    ids: Arc<Mutex<Vec<String>>>,
}

impl Drop for RemoveTracked {
    fn drop(&mut self) {
        let ids = self.ids.lock().unwrap().clone();
        drop(Cleanup {
            kit: &self.kit,
            images: ids,
        });
    }
}

async fn rbd() -> Option<Backend> {
    let kit = Arc::new(kit()?);
    let ids = Arc::new(Mutex::new(Vec::new()));
    let store = Tracked {
        store: kit.store(kit.config()),
        ids: Arc::clone(&ids),
    };
    let guard = RemoveTracked {
        kit: Arc::clone(&kit),
        ids: Arc::clone(&ids),
    };
    Some(Backend::with_sync_residue(
        Arc::new(store),
        move || {
            let ids = ids.lock().unwrap().clone();
            kit.images()
                .into_iter()
                .filter(|i| ids.contains(i))
                .collect()
        },
        Some(Box::new(guard)),
    ))
}

every_backend!(rbd);

/// Removes what a test made, whatever happens to it.
struct Cleanup<'a> {
    kit: &'a Kit,
    images: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for image in &self.images {
            let _ = self
                .kit
                .rbd(&["snap", "unprotect", &format!("{image}@snap")]);
            let _ = self.kit.rbd(&["snap", "purge", image]);
            let _ = self.kit.rbd(&["rm", image]);
        }
    }
}

#[tokio::test]
async fn put_ends_with_a_protected_snapshot_at_the_glance_url() {
    let Some(kit) = kit() else { return };
    let store = kit.store(kit.config());
    let id = ImageId::new_random();
    let _cleanup = Cleanup {
        kit: &kit,
        images: vec![id.to_string()],
    };
    let data = random_bytes(3 * MIB + 5, 11);
    let stored = store.put(id, stream_of(&data)).await.unwrap();
    let fsid = store.fsid().await.unwrap();
    assert_eq!(stored.url, format!("rbd://{fsid}/{}/{id}/snap", kit.pool));
    let snaps = kit.json(&["snap", "ls", &id.to_string()]);
    let names: Vec<&str> = snaps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["snap"]);
    let snap = kit.json(&["info", &format!("{id}@snap")]);
    assert_eq!(snap["protected"], "true", "{snap}");
    assert_eq!(snap["size"], data.len() as u64, "{snap}");
    let features: Vec<&str> = snap["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(features.contains(&"layering"), "{features:?}");
    assert_eq!(store.size(&stored.url).await.unwrap(), data.len() as u64);
}

#[tokio::test]
async fn chunk_size_becomes_the_object_size() {
    let Some(kit) = kit() else { return };
    for (chunk_size, order) in [(MIB as u64, 20), (4 * MIB as u64, 22)] {
        let store = kit.store(RbdConfig {
            chunk_size,
            ..kit.config()
        });
        let id = ImageId::new_random();
        let _cleanup = Cleanup {
            kit: &kit,
            images: vec![id.to_string()],
        };
        let data = random_bytes(2 * MIB + 1, 12);
        let stored = store.put(id, stream_of(&data)).await.unwrap();
        let info = kit.json(&["info", &id.to_string()]);
        assert_eq!(info["order"], order, "{info}");
        assert_eq!(info["object_size"], chunk_size, "{info}");
        let object = store.get(&stored.url, None).await.unwrap();
        assert!(collect(object.stream).await.unwrap() == data);
    }
}

#[tokio::test]
async fn delete_of_an_image_with_clones_is_in_use_until_they_are_gone() {
    let Some(kit) = kit() else { return };
    let store = kit.store(kit.config());
    let id = ImageId::new_random();
    let clone = format!("clone-of-{id}");
    let _cleanup = Cleanup {
        kit: &kit,
        images: vec![clone.clone(), id.to_string()],
    };
    let data = random_bytes(MIB, 13);
    let stored = store.put(id, stream_of(&data)).await.unwrap();
    kit.rbd(&[
        "clone",
        &format!("{}/{id}@snap", kit.pool),
        &format!("{}/{clone}", kit.pool),
    ])
    .unwrap();

    let err = store.delete(&stored.url).await.unwrap_err();
    assert!(matches!(err, StoreError::InUse(_)), "{err:?}");
    assert!(kit.images().contains(&id.to_string()));
    let snap = kit.json(&["info", &format!("{id}@snap")]);
    assert_eq!(snap["protected"], "true", "left as it was: {snap}");
    let object = store.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);
    // discard (reconciling a dead upload) must not break clones either.
    let err = store.discard(id).await.unwrap_err();
    assert!(matches!(err, StoreError::InUse(_)), "{err:?}");

    kit.rbd(&["rm", &clone]).unwrap();
    store.delete(&stored.url).await.unwrap();
    assert!(!kit.images().contains(&id.to_string()));
    let err = store.get(&stored.url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// 16 MiB of zeros around 1 MiB of data, in 1 MiB objects.
fn mostly_zeros() -> Vec<u8> {
    let mut data = vec![0u8; 17 * MIB];
    data[8 * MIB..9 * MIB].copy_from_slice(&random_bytes(MIB, 14));
    data
}

fn used_bytes(kit: &Kit, image: &str) -> u64 {
    let du = kit.json(&["du", image]);
    du["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["used_size"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn thin_provisioning_skips_runs_of_zeros() {
    let Some(kit) = kit() else { return };
    let data = mostly_zeros();
    let mut used = Vec::new();
    for thin_provisioning in [false, true] {
        let store = kit.store(RbdConfig {
            chunk_size: MIB as u64,
            thin_provisioning,
            ..kit.config()
        });
        let id = ImageId::new_random();
        let _cleanup = Cleanup {
            kit: &kit,
            images: vec![id.to_string()],
        };
        let stored = store.put(id, stream_of(&data)).await.unwrap();
        assert_eq!(stored.size, data.len() as u64);
        let object = store.get(&stored.url, None).await.unwrap();
        assert!(collect(object.stream).await.unwrap() == data);
        used.push(used_bytes(&kit, &id.to_string()));
    }
    assert_eq!(used, [17 * MIB as u64, MIB as u64], "thick, then thin");
}

#[tokio::test]
async fn locations_of_another_cluster_are_refused() {
    let Some(kit) = kit() else { return };
    let store = kit.store(kit.config());
    let id = ImageId::new_random();
    let _cleanup = Cleanup {
        kit: &kit,
        images: vec![id.to_string()],
    };
    let stored = store.put(id, stream_of(b"kept")).await.unwrap();
    let fsid = store.fsid().await.unwrap();
    let foreign = "00000000-1111-2222-3333-444444444444";
    assert_ne!(fsid, foreign);
    let url = stored.url.replace(&fsid, foreign);
    assert!(!store.owns(&url));
    assert!(store.owns(&stored.url));
    let err = store.get(&url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidLocation(_)), "{err:?}");
    let err = store.size(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidLocation(_)), "{err:?}");
    let err = store.delete(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidLocation(_)), "{err:?}");
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"kept");
}

#[tokio::test]
async fn the_old_location_form_reads_the_image_in_the_store_pool() {
    let Some(kit) = kit() else { return };
    let store = kit.store(kit.config());
    let id = ImageId::new_random();
    let _cleanup = Cleanup {
        kit: &kit,
        images: vec![id.to_string()],
    };
    let data = random_bytes(MIB + 3, 15);
    store.put(id, stream_of(&data)).await.unwrap();
    let old = format!("rbd://{id}");
    assert!(store.owns(&old));
    assert_eq!(store.size(&old).await.unwrap(), data.len() as u64);
    let range = ByteRange { start: 10, end: 99 };
    let object = store.get(&old, Some(range)).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), &data[10..100]);
    let missing = format!("rbd://{}", ImageId::new_random());
    let err = store.size(&missing).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_cluster_is_unavailable_at_once_and_the_store_recovers() {
    let Some(kit) = kit() else { return };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ceph.conf");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let real = std::fs::read_to_string(&kit.conf).unwrap();
    let keyring = real
        .lines()
        .find(|l| l.trim_start().starts_with("keyring"))
        .unwrap();
    std::fs::write(
        &conf,
        format!("[global]\nmon_host = v2:127.0.0.1:{port}\n{keyring}\n"),
    )
    .unwrap();
    let store = kit.store(RbdConfig {
        ceph_conf: Some(conf.clone()),
        connect_timeout: Duration::from_secs(2),
        ..kit.config()
    });

    let started = Instant::now();
    let err = store.fsid().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let err = store
        .put(ImageId::new_random(), stream_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("AQ"), "no key in errors: {err}");
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // The cluster "comes back": the same store connects without a restart.
    std::fs::write(&conf, real).unwrap();
    let fsid = store.fsid().await.unwrap();
    assert_eq!(fsid.len(), 36, "{fsid}");
    store.check().await.unwrap();
}

#[tokio::test]
async fn a_missing_pool_is_refused_with_its_name() {
    let Some(kit) = kit() else { return };
    let store = kit.store(RbdConfig {
        pool: "glint-no-such-pool".to_owned(),
        ..kit.config()
    });
    let err = store
        .put(ImageId::new_random(), stream_of(b"x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("glint-no-such-pool")),
        "{err:?}"
    );
    let err = store.check().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("glint-no-such-pool")),
        "{err:?}"
    );
}
