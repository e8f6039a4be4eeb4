//! The s3 store against real S3 servers: radosgw of the Ceph kit
//! (`CEPH_S3_*`) and the s3api of the Swift kit (`SWIFT_S3_*`). Every test
//! works in a bucket of its own, created by the store on its first put and
//! removed at the end.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use crate::suite::Backend;
use glint_model::ImageId;
use glint_store::{ByteRange, S3Config, S3Store, S3UrlFormat, Secret, Store, StoreError};
use tokio::net::{TcpListener, TcpStream};

use common::{collect, failing_stream, random_bytes, stalling_stream, store_env, stream_of};

const MIB: usize = 1024 * 1024;

/// An S3 server's address and keys, from a kit's environment.
#[derive(Clone)]
struct Kit {
    endpoint: String,
    access_key: String,
    secret_key: String,
    region: String,
}

fn kit(prefix: &str, endpoint_var: &str) -> Option<Kit> {
    Some(Kit {
        endpoint: store_env(endpoint_var)?,
        access_key: store_env(&format!("{prefix}_ACCESS_KEY"))?,
        secret_key: store_env(&format!("{prefix}_SECRET_KEY"))?,
        region: store_env(&format!("{prefix}_REGION"))?,
    })
}

fn ceph() -> Option<Kit> {
    kit("CEPH_S3", "CEPH_S3_ENDPOINT")
}

fn swift() -> Option<Kit> {
    kit("SWIFT_S3", "SWIFT_S3_URL")
}

fn unique_bucket() -> String {
    format!("glint-test-{}", ImageId::new_random())
}

impl Kit {
    /// A config for a fresh bucket that the first put creates.
    fn config(&self) -> S3Config {
        let mut config = S3Config::new(
            &self.endpoint,
            &self.access_key,
            Secret::new(&self.secret_key),
            unique_bucket(),
        );
        config.region_name = Some(self.region.clone());
        config.create_bucket_on_put = true;
        config
    }

    /// Small parts, so multipart uploads happen with a few MiB.
    fn multipart_config(&self, large_object_size: u64, thread_pools: usize) -> S3Config {
        let mut config = self.config();
        config.large_object_size = large_object_size;
        config.large_object_chunk_size = 5 * MIB as u64;
        config.thread_pools = thread_pools;
        config
    }
}

/// Empties and removes a test's bucket when the test ends, on a runtime of
/// its own, since the test's runtime is going away.
struct BucketGuard(Arc<S3Store>);

impl Drop for BucketGuard {
    fn drop(&mut self) {
        let store = Arc::clone(&self.0);
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(remove_bucket(&store));
        });
        let _ = cleanup.join();
    }
}

async fn remove_bucket(store: &S3Store) {
    // A dropped upload's cleanup may still be running: try a few times.
    let mut last = None;
    for _ in 0..20 {
        // Nothing to do when the server cannot be reached with these keys.
        let Ok(mut keys) = store.keys().await else {
            return;
        };
        keys.extend(store.pending_uploads().await.unwrap_or_default());
        for key in keys {
            if let Some(id) = ImageId::parse(&key) {
                let _ = store.discard(id).await;
            }
        }
        match store.delete_bucket().await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("could not remove a test bucket: {last:?}");
}

/// Objects and multipart uploads in progress, as names.
async fn residue_of(store: &S3Store) -> Vec<String> {
    let mut names = store.keys().await.unwrap();
    names.extend(
        store
            .pending_uploads()
            .await
            .unwrap()
            .into_iter()
            .map(|key| format!("upload:{key}")),
    );
    names
}

fn backend_with(config: S3Config) -> (Backend, Arc<S3Store>) {
    let store = Arc::new(S3Store::new("s3", config).unwrap());
    let probe = Arc::clone(&store);
    let backend = Backend {
        store: Arc::clone(&store) as Arc<dyn Store>,
        residue: Box::new(move || {
            let probe = Arc::clone(&probe);
            Box::pin(async move { residue_of(&probe).await })
        }),
        guard: Some(Box::new(BucketGuard(Arc::clone(&store)))),
    };
    (backend, store)
}

async fn ceph_single() -> Option<Backend> {
    Some(backend_with(ceph()?.config()).0)
}

/// Every non-empty image goes up in parts of 5 MiB, two at a time.
async fn ceph_multipart() -> Option<Backend> {
    Some(backend_with(ceph()?.multipart_config(0, 2)).0)
}

async fn swift_single() -> Option<Backend> {
    Some(backend_with(swift()?.config()).0)
}

async fn swift_multipart() -> Option<Backend> {
    Some(backend_with(swift()?.multipart_config(0, 2)).0)
}

every_backend!(ceph_single, ceph_multipart, swift_single, swift_multipart);

async fn check_multipart_round_trip(kit: Kit) {
    let (backend, store) = backend_with(kit.multipart_config(6 * MIB as u64, 4));
    let data = random_bytes(17 * MIB, 11);
    let stored = store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert!(
        store.peak_parts_in_flight() >= 1,
        "a 17 MiB image over 6 MiB goes up in parts"
    );
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(object.total_size, data.len() as u64);
    assert!(collect(object.stream).await.unwrap() == data);
    assert_eq!(store.size(&stored.url).await.unwrap(), data.len() as u64);
    let n = data.len() as u64;
    let part = 5 * MIB as u64;
    for (start, end) in [
        (0, 9),
        (part - 1, part),
        (part - 3, 2 * part + 3),
        (3 * part, n - 1),
        (n - 1, n + 10),
    ] {
        let object = store
            .get(&stored.url, Some(ByteRange { start, end }))
            .await
            .unwrap();
        let end = end.min(n - 1);
        assert_eq!(object.range, Some(ByteRange { start, end }));
        let got = collect(object.stream).await.unwrap();
        assert!(got == data[start as usize..=end as usize], "{start}-{end}");
    }
    assert_eq!(
        residue_of(&store).await,
        [stored.url.rsplit('/').next().unwrap()]
    );
    drop(backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceph_multipart_upload_reads_back_whole_and_in_ranges() {
    if let Some(kit) = ceph() {
        check_multipart_round_trip(kit).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swift_multipart_upload_reads_back_whole_and_in_ranges() {
    if let Some(kit) = swift() {
        check_multipart_round_trip(kit).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_below_large_object_size_goes_up_in_one_put() {
    let Some(kit) = ceph() else { return };
    let (_backend, store) = backend_with(kit.multipart_config(6 * MIB as u64, 4));
    let data = random_bytes(6 * MIB - 1, 12);
    let stored = store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    assert_eq!(store.peak_parts_in_flight(), 0, "no part was sent");
    let object = store.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_in_flight_never_exceed_thread_pools() {
    let Some(kit) = ceph() else { return };
    let (_backend, store) = backend_with(kit.multipart_config(0, 3));
    let data = random_bytes(41 * MIB, 13);
    let stored = store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    let peak = store.peak_parts_in_flight();
    assert!(
        (2..=3).contains(&peak),
        "parts went up in parallel, at most 3 at once: {peak}"
    );
    let object = store.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_input_during_multipart_leaves_no_object_and_no_upload() {
    let Some(kit) = ceph() else { return };
    let (_backend, store) = backend_with(kit.multipart_config(0, 2));
    let data = random_bytes(13 * MIB, 14);
    let err = store
        .put(ImageId::new_random(), failing_stream(&data, 12 * MIB))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Source(_)), "{err:?}");
    assert!(store.peak_parts_in_flight() >= 1, "parts had been sent");
    assert_eq!(residue_of(&store).await, Vec::<String>::new());
}

/// Waits until the store lists a multipart upload in progress.
async fn until_an_upload_is_open(store: &S3Store) {
    loop {
        if !store.pending_uploads().await.unwrap().is_empty() && store.peak_parts_in_flight() >= 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_multipart_upload_is_aborted() {
    let Some(kit) = ceph() else { return };
    let (_backend, store) = backend_with(kit.multipart_config(0, 2));
    let data = random_bytes(12 * MIB, 15);
    let put = store.put(ImageId::new_random(), stalling_stream(&data, 12 * MIB));
    tokio::select! {
        _ = put => panic!("a stalled upload cannot finish"),
        () = until_an_upload_is_open(&store) => {}
    }
    // The put future is gone: its cleanup runs in the background.
    let mut left = residue_of(&store).await;
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = residue_of(&store).await;
    }
    assert_eq!(left, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_aborts_an_upload_a_dead_process_left_open() {
    let Some(kit) = ceph() else { return };
    let (_backend, store) = backend_with(kit.multipart_config(0, 2));
    let id = ImageId::new_random();
    let data = random_bytes(12 * MIB, 16);
    let mut put = Box::pin(store.put(id, stalling_stream(&data, 12 * MIB)));
    tokio::select! {
        _ = &mut put => panic!("a stalled upload cannot finish"),
        () = until_an_upload_is_open(&store) => {}
    }
    // Never dropped, never cleaned up: what a killed process leaves.
    std::mem::forget(put);
    assert_eq!(store.pending_uploads().await.unwrap(), [id.to_string()]);
    store.discard(id).await.unwrap();
    assert_eq!(residue_of(&store).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_format_works_against_radosgw() {
    let Some(kit) = ceph() else { return };
    let mut config = kit.config();
    config.bucket_url_format = S3UrlFormat::Path;
    let bucket = config.bucket.clone();
    let (_backend, store) = backend_with(config);
    let id = ImageId::new_random();
    let stored = store.put(id, stream_of(b"path style")).await.unwrap();
    let host = kit.endpoint.trim_start_matches("http://");
    assert_eq!(stored.url, format!("s3://{host}/{bucket}/{id}"));
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"path style");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glance_location_with_credentials_is_read_without_them() {
    let Some(kit) = ceph() else { return };
    let (_backend, store) = backend_with(kit.config());
    let stored = store
        .put(ImageId::new_random(), stream_of(b"from glance"))
        .await
        .unwrap();
    assert!(!stored.url.contains(&kit.access_key));
    assert!(!stored.url.contains('@'));
    let glance_url = stored
        .url
        .replacen("s3://", "s3://SOMEACCESS:some/secret@", 1);
    assert!(store.owns(&glance_url));
    assert_eq!(store.size(&glance_url).await.unwrap(), 11);
    let object = store.get(&glance_url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"from glance");
    store.delete(&glance_url).await.unwrap();
    let err = store.size(&stored.url).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// The location this store would give an image.
fn location_in(kit: &Kit, bucket: &str, id: ImageId) -> String {
    let host = kit.endpoint.trim_start_matches("http://");
    format!("s3://{host}/{bucket}/{id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_refused_without_showing_it() {
    let Some(kit) = ceph() else { return };
    let wrong = "wrong-secret-0123456789-do-not-print";
    let mut config = kit.config();
    config.secret_key = Secret::new(wrong);
    let location = location_in(&kit, &config.bucket, ImageId::new_random());
    let (_backend, store) = backend_with(config);
    let err = store
        .put(ImageId::new_random(), stream_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("s3_store_secret_key"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    assert!(!format!("{store:?}").contains(wrong));
    for err in [
        store.get(&location, None).await.unwrap_err(),
        store.size(&location).await.unwrap_err(),
        store.check().await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
        assert!(!err.to_string().contains(wrong));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_without_create_bucket_on_put_is_a_clear_error() {
    let Some(kit) = ceph() else { return };
    let mut config = kit.config();
    config.create_bucket_on_put = false;
    let bucket = config.bucket.clone();
    let location = location_in(&kit, &bucket, ImageId::new_random());
    let (_backend, store) = backend_with(config);
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = store
        .put(ImageId::new_random(), stream_of(b"x"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    assert!(
        message.contains(&bucket) && message.contains("does not exist"),
        "{message}"
    );
    assert!(
        message.contains("s3_store_create_bucket_on_put"),
        "{message}"
    );
    let err = store.get(&location, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    store.discard(ImageId::new_random()).await.unwrap();
}

/// A loopback port nothing listens on.
async fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Forwards every connection of `listener` to `target`: the S3 server
/// coming back on the address the store was given.
async fn forward(listener: TcpListener, target: String) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut server) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable_until_it_is_back() {
    let Some(kit) = ceph() else { return };
    let port = unused_port().await;
    let mut config = kit.config();
    config.host = format!("127.0.0.1:{port}");
    let location = location_in(
        &Kit {
            endpoint: config.host.clone(),
            ..kit.clone()
        },
        &config.bucket,
        ImageId::new_random(),
    );
    let (_backend, store) = backend_with(config);
    let err = store
        .put(ImageId::new_random(), stream_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    for err in [
        store.get(&location, None).await.unwrap_err(),
        store.size(&location).await.unwrap_err(),
        store.delete(&location).await.unwrap_err(),
        store.discard(ImageId::new_random()).await.unwrap_err(),
        store.check().await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
    // The server comes back at the same address; the same store works.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let target = kit.endpoint.trim_start_matches("http://").to_owned();
    let proxy = tokio::spawn(forward(listener, target));
    let stored = store
        .put(ImageId::new_random(), stream_of(b"back again"))
        .await
        .unwrap();
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"back again");
    store.delete(&stored.url).await.unwrap();
    remove_bucket(&store).await;
    proxy.abort();
}
