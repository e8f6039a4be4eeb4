//! The swift store against real servers: the Swift kit's tempauth proxy (v1
//! auth), its Keystone proxy (v3 auth, storage URL from the catalog), and
//! radosgw's Swift API from the Ceph kit. Every test works in a container
//! of its own, removed at the end.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::suite::Backend;
use futures::StreamExt;
use glint_model::ImageId;
use glint_store::{
    ByteRange, Secret, Store, StoreError, SwiftAuthVersion, SwiftConfig, SwiftStore,
};

use common::{collect, random_bytes, store_env, stream_of};

const MIB: u64 = 1024 * 1024;

/// A fresh container name: 3–63 lowercase characters, as radosgw wants.
fn unique_container() -> String {
    let id = ImageId::new_random().to_string().replace('-', "");
    format!("glint-t-{}", &id[..16])
}

fn tempauth() -> Option<SwiftConfig> {
    let url = store_env("SWIFT_AUTH_URL")?;
    let user = store_env("SWIFT_USER")?;
    let key = store_env("SWIFT_KEY")?;
    Some(SwiftConfig::new(
        "swift-test",
        url,
        SwiftAuthVersion::V1,
        user,
        Secret::new(key),
    ))
}

fn keystone() -> Option<SwiftConfig> {
    let url = store_env("SWIFT_KS_AUTH_URL")?;
    let user = store_env("SWIFT_KS_USER")?;
    let password = store_env("SWIFT_KS_PASSWORD")?;
    let project = store_env("SWIFT_KS_PROJECT")?;
    let domain = store_env("SWIFT_KS_DOMAIN_ID")?;
    let region = store_env("SWIFT_KS_REGION")?;
    let user = format!("{project}:{user}");
    let mut config = SwiftConfig::new(
        "swift-ks",
        url,
        SwiftAuthVersion::V3,
        user,
        Secret::new(password),
    );
    config.user_domain_id = Some(domain.clone());
    config.project_domain_id = Some(domain);
    config.region = Some(region);
    Some(config)
}

fn radosgw() -> Option<SwiftConfig> {
    let url = store_env("CEPH_SWIFT_AUTH_URL")?;
    let user = store_env("CEPH_SWIFT_USER")?;
    let key = store_env("CEPH_SWIFT_KEY")?;
    Some(SwiftConfig::new(
        "swift-rgw",
        url,
        SwiftAuthVersion::V1,
        user,
        Secret::new(key),
    ))
}

/// A store writing in a container of its own, created on the first put.
fn store_in(mut config: SwiftConfig) -> (SwiftStore, String) {
    let container = unique_container();
    config.container = container.clone();
    config.create_container_on_put = true;
    (SwiftStore::new("swift", config).unwrap(), container)
}

/// Removes the test's containers when the test ends, whatever happened.
struct Cleanup {
    store: SwiftStore,
    containers: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let store = self.store.clone();
        let containers = std::mem::take(&mut self.containers);
        // Its own runtime: the test's may be shutting down.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                for container in containers {
                    if let Err(err) = store.remove_container(&container).await {
                        eprintln!("could not remove test container {container}: {err}");
                    }
                }
            });
        });
        let _ = done.join();
    }
}

fn cleanup(store: &SwiftStore, containers: &[&str]) -> Cleanup {
    Cleanup {
        store: store.clone(),
        containers: containers.iter().map(|c| c.to_string()).collect(),
    }
}

async fn listing(store: &SwiftStore, container: &str) -> Vec<String> {
    let mut names = store.list_objects(container).await.unwrap();
    names.sort();
    names
}

fn backend(config: SwiftConfig) -> Backend {
    let (store, container) = store_in(config);
    let probe = store.clone();
    let guard = cleanup(&store, &[&container]);
    Backend {
        store: Arc::new(store),
        residue: Box::new(move || {
            let probe = probe.clone();
            let container = container.clone();
            Box::pin(async move { listing(&probe, &container).await })
        }),
        guard: Some(Box::new(guard)),
    }
}

async fn swift_tempauth() -> Option<Backend> {
    tempauth().map(backend)
}

async fn swift_keystone() -> Option<Backend> {
    keystone().map(backend)
}

async fn swift_radosgw() -> Option<Backend> {
    radosgw().map(backend)
}

every_backend!(swift_tempauth, swift_keystone, swift_radosgw);

/// Small large-object settings: anything over 2 MiB is an SLO of 1 MiB
/// segments (the first one 2 MiB).
fn small_segments(mut config: SwiftConfig) -> SwiftConfig {
    config.large_object_size = 2 * MIB;
    config.large_object_chunk_size = MIB;
    config
}

async fn check_slo_round_trip(config: SwiftConfig) {
    let (store, container) = store_in(small_segments(config));
    let _cleanup = cleanup(&store, &[&container]);
    let data = random_bytes((5 * MIB + 5) as usize, 11);
    let id = ImageId::new_random();
    let stored = store.put(id, stream_of(&data)).await.unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(
        stored.url,
        format!("swift+config://{}/{container}/{id}", "swift-test-ref")
    );

    let expected: Vec<String> = std::iter::once(id.to_string())
        .chain((1..=5).map(|n| format!("{id}-{n:05}")))
        .collect();
    assert_eq!(listing(&store, &container).await, expected);
    assert_eq!(store.size(&stored.url).await.unwrap(), data.len() as u64);

    let whole = store.get(&stored.url, None).await.unwrap();
    assert_eq!(whole.total_size, data.len() as u64);
    assert!(collect(whole.stream).await.unwrap() == data);
    let n = data.len() as u64;
    // Inside the first segment, across the first/second and several
    // boundaries, and the tail of the last.
    for (start, end) in [
        (10, 20),
        (2 * MIB - 3, 2 * MIB + 3),
        (MIB, 4 * MIB + 1),
        (n - 7, n + 100),
    ] {
        let part = store
            .get(&stored.url, Some(ByteRange { start, end }))
            .await
            .unwrap();
        let end = end.min(n - 1);
        assert_eq!(part.range, Some(ByteRange { start, end }));
        let got = collect(part.stream).await.unwrap();
        assert!(got == data[start as usize..=end as usize], "{start}-{end}");
    }

    store.delete(&stored.url).await.unwrap();
    assert_eq!(listing(&store, &container).await, Vec::<String>::new());
    let err = store.delete(&stored.url).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

fn with_reference(mut config: SwiftConfig) -> SwiftConfig {
    config.reference = "swift-test-ref".to_owned();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_image_is_a_static_large_object_on_swift() {
    if let Some(config) = tempauth() {
        check_slo_round_trip(with_reference(config)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_image_is_a_static_large_object_on_radosgw() {
    if let Some(config) = radosgw() {
        check_slo_round_trip(with_reference(config)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_of_exactly_the_large_object_size_stays_a_plain_object() {
    let Some(config) = tempauth() else { return };
    let (store, container) = store_in(small_segments(config));
    let _cleanup = cleanup(&store, &[&container]);
    let data = random_bytes((2 * MIB) as usize, 12);
    let id = ImageId::new_random();
    let stored = store.put(id, stream_of(&data)).await.unwrap();
    assert_eq!(listing(&store, &container).await, vec![id.to_string()]);
    let object = store.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_removes_the_manifest_and_every_segment() {
    let Some(config) = tempauth() else { return };
    let (store, container) = store_in(small_segments(config));
    let _cleanup = cleanup(&store, &[&container]);
    let kept = store
        .put(ImageId::new_random(), stream_of(b"kept"))
        .await
        .unwrap();
    let id = ImageId::new_random();
    store
        .put(id, stream_of(&random_bytes((3 * MIB) as usize, 13)))
        .await
        .unwrap();
    assert_eq!(listing(&store, &container).await.len(), 1 + 3);
    store.discard(id).await.unwrap();
    let left = listing(&store, &container).await;
    assert_eq!(left, vec![kept.url.rsplit('/').next().unwrap().to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upload_after_some_segments_leaves_nothing() {
    let Some(config) = tempauth() else { return };
    let (store, container) = store_in(small_segments(config));
    let _cleanup = cleanup(&store, &[&container]);
    let data = random_bytes((5 * MIB) as usize, 14);
    let err = store
        .put(
            ImageId::new_random(),
            common::failing_stream(&data, (4 * MIB + 10) as usize),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Source(_)), "{err:?}");
    assert_eq!(listing(&store, &container).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_dropped_between_segments_leaves_nothing() {
    let Some(config) = tempauth() else { return };
    let (store, container) = store_in(small_segments(config));
    let _cleanup = cleanup(&store, &[&container]);
    let data = random_bytes((4 * MIB) as usize, 15);
    let put = store.put(
        ImageId::new_random(),
        common::stalling_stream(&data, (4 * MIB) as usize),
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(2), put)
            .await
            .is_err()
    );
    let mut left = listing(&store, &container).await;
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = listing(&store, &container).await;
    }
    assert_eq!(left, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiple_containers_seed_spreads_images_like_glance_store() {
    let Some(mut config) = tempauth() else { return };
    config.multiple_containers_seed = 3;
    let (store, prefix) = store_in(config);
    let id = ImageId::new_random();
    let container = format!("{prefix}_{}", &id.to_string()[..3]);
    let _cleanup = cleanup(&store, &[&container]);
    let stored = store.put(id, stream_of(b"seeded")).await.unwrap();
    assert_eq!(
        stored.url,
        format!("swift+config://swift-test/{container}/{id}")
    );
    assert_eq!(listing(&store, &container).await, vec![id.to_string()]);
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"seeded");
    store.discard(id).await.unwrap();
    assert_eq!(listing(&store, &container).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_container_is_refused_when_it_may_not_be_created() {
    let Some(mut config) = tempauth() else { return };
    let container = unique_container();
    config.container = container.clone();
    config.create_container_on_put = false;
    let store = SwiftStore::new("swift", config).unwrap();
    let _cleanup = cleanup(&store, &[&container]);
    let err = store
        .put(ImageId::new_random(), stream_of(b"nowhere"))
        .await
        .unwrap_err();
    let StoreError::Refused(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains(&container), "{message}");
    assert!(
        message.contains("swift_store_create_container_on_put"),
        "{message}"
    );
    assert_eq!(listing(&store, &container).await, Vec::<String>::new());
}

async fn check_wrong_key_is_refused(mut config: SwiftConfig) {
    let wrong = "wrong-key-7c1e9d";
    config.key = Secret::new(wrong);
    let url = format!("swift+config://{}/c/x", config.reference);
    let (store, _container) = store_in(config);
    assert!(!format!("{store:?}").contains(wrong));
    let err = store
        .put(ImageId::new_random(), stream_of(b"denied"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    assert!(!err.to_string().contains(wrong), "{err}");
    assert!(!format!("{err:?}").contains(wrong), "{err:?}");
    let err = store.get(&url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    assert!(!err.to_string().contains(wrong), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_refused_without_showing_it() {
    if let Some(config) = tempauth() {
        check_wrong_key_is_refused(config).await;
    }
    if let Some(config) = keystone() {
        check_wrong_key_is_refused(config).await;
    }
    if let Some(config) = radosgw() {
        check_wrong_key_is_refused(config).await;
    }
}

/// With `expire_soon_interval` longer than a token lives, every token is
/// due for renewal at once: each request of a long upload logs in again.
async fn check_token_renewed_between_segments(config: SwiftConfig) {
    let mut config = small_segments(config);
    config.expire_soon_interval = Duration::from_secs(3 * 24 * 3600);
    let (store, container) = store_in(config);
    let _cleanup = cleanup(&store, &[&container]);
    let data = random_bytes((5 * MIB) as usize, 16);
    let stored = store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    // Object, copy to the first segment, three more segments, manifest
    // (plus the container's creation).
    assert!(store.login_count() >= 6, "{} logins", store.login_count());
    let object = store.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_near_expiry_is_renewed_between_segments() {
    if let Some(config) = tempauth() {
        check_token_renewed_between_segments(config).await;
    }
    if let Some(config) = keystone() {
        check_token_renewed_between_segments(config).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_login() {
    let Some(config) = keystone() else { return };
    let (store, container) = store_in(config);
    let _cleanup = cleanup(&store, &[&container]);
    let puts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let data = random_bytes(100_000, i);
            store
                .put(ImageId::new_random(), stream_of(&data))
                .await
                .unwrap()
        })
    });
    for put in futures::future::join_all(puts).await {
        put.unwrap();
    }
    assert_eq!(store.login_count(), 1);
    assert_eq!(listing(&store, &container).await.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_domains_by_name_and_the_internal_endpoint_work() {
    let Some(mut config) = keystone() else { return };
    let Some(domain) = store_env("KS_DOMAIN_NAME") else {
        return;
    };
    config.user_domain_id = None;
    config.project_domain_id = None;
    config.user_domain_name = Some(domain.clone());
    config.project_domain_name = Some(domain);
    config.endpoint_type = "internalURL".to_owned();
    let (store, container) = store_in(config.clone());
    let _cleanup = cleanup(&store, &[&container]);
    let stored = store
        .put(ImageId::new_random(), stream_of(b"internal"))
        .await
        .unwrap();
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"internal");

    // A region the catalog does not have is a clear refusal.
    config.region = Some("NoSuchRegion".to_owned());
    let (elsewhere, _) = store_in(config);
    let err = elsewhere.get(&stored.url, None).await.unwrap_err();
    let StoreError::Refused(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("NoSuchRegion"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refused_mid_upload_is_renewed_and_the_segment_sent_again() {
    let Some(config) = tempauth() else { return };
    let (store, container) = store_in(small_segments(config));
    let _cleanup = cleanup(&store, &[&container]);
    let data = random_bytes((5 * MIB) as usize, 17);
    // The token goes bad while the second segment is being read.
    let spoiler = store.clone();
    let seen = Arc::new(AtomicU64::new(0));
    let spoiled = Arc::new(AtomicBool::new(false));
    let (seen_in, spoiled_in) = (Arc::clone(&seen), Arc::clone(&spoiled));
    let source = stream_of(&data)
        .inspect(move |chunk| {
            let total = seen_in.fetch_add(
                chunk.as_ref().map_or(0, |c| c.len() as u64),
                Ordering::SeqCst,
            );
            if total >= 3 * MIB + MIB / 2 && !spoiled_in.swap(true, Ordering::SeqCst) {
                spoiler.spoil_token();
            }
        })
        .boxed();
    let stored = store.put(ImageId::new_random(), source).await.unwrap();
    assert!(spoiled.load(Ordering::SeqCst));
    assert_eq!(store.login_count(), 2);
    let object = store.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);

    // A read with a refused token logs in again too.
    store.spoil_token();
    assert_eq!(store.size(&stored.url).await.unwrap(), data.len() as u64);
    assert_eq!(store.login_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_swift_is_unavailable_until_it_answers() {
    let Some(real) = tempauth() else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut config = real.clone();
    config.auth_address = format!("http://127.0.0.1:{port}/auth/v1.0");
    let (store, container) = store_in(config);
    // Cleans up through the real address, whatever happens to the relay.
    let direct = SwiftStore::new("swift", real.clone()).unwrap();
    let _cleanup = cleanup(&direct, &[&container]);
    let err = store
        .put(ImageId::new_random(), stream_of(b"later"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let url = format!("swift+config://swift-test/{container}/x");
    let err = store.get(&url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.delete(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // The auth service comes up on that port: the same store now works.
    let _forwarder = forward(port, &real.auth_address, None).await;
    store.check().await.unwrap();
    let stored = store
        .put(ImageId::new_random(), stream_of(b"later"))
        .await
        .unwrap();
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_download_is_resumed_when_retries_are_allowed() {
    let Some(real) = tempauth() else { return };
    let storage = store_env("SWIFT_STORAGE_URL").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Downloads go through a relay that cuts the first connection carrying
    // more than 1 MiB back to the client.
    let relay = forward_with(listener, &storage, Some(MIB));
    let path = storage.split_once("/v1/").unwrap().1;
    let mut config = real;
    config.endpoint = Some(format!("http://127.0.0.1:{port}/v1/{path}"));
    let data = random_bytes((3 * MIB) as usize, 18);

    let (store, container) = store_in(config.clone());
    let _cleanup = cleanup(&store, &[&container]);
    let stored = store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    let err = collect(store.get(&stored.url, None).await.unwrap().stream)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    config.retry_get_count = 1;
    config.container = container.clone();
    let retrying = SwiftStore::new("swift", config).unwrap();
    relay.rearm();
    let object = retrying.get(&stored.url, None).await.unwrap();
    assert!(collect(object.stream).await.unwrap() == data);
}

/// A TCP relay from a local port to the host and port of `target`.
struct Relay {
    armed: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Cuts the next connection that carries too much again.
    fn rearm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(port: u16, target: &str, cut_after: Option<u64>) -> Relay {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    forward_with(listener, target, cut_after)
}

fn forward_with(listener: tokio::net::TcpListener, target: &str, cut_after: Option<u64>) -> Relay {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(target).unwrap();
    let upstream = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    );
    let armed = Arc::new(AtomicBool::new(true));
    let armed_in = Arc::clone(&armed);
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let armed = Arc::clone(&armed_in);
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut buf = vec![0; 64 * 1024];
                let mut carried = 0u64;
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    carried += n as u64;
                    if cut_after.is_some_and(|limit| carried > limit)
                        && armed.swap(false, Ordering::SeqCst)
                    {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    Relay { armed, task }
}

/// A server that takes connections and requests and never answers.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_swift_that_never_answers_is_unavailable_after_the_read_timeout() {
    let (port, _server) = silent_server().await;
    let mut config = SwiftConfig::new(
        "silent",
        format!("http://127.0.0.1:{port}/auth/v1.0"),
        SwiftAuthVersion::V1,
        "test:tester",
        Secret::new("testing"),
    );
    config.read_timeout = Duration::from_millis(300);
    let store = SwiftStore::new("swift", config).unwrap();
    let started = std::time::Instant::now();
    let err = store
        .put(ImageId::new_random(), stream_of(b"never stored"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("testing"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
