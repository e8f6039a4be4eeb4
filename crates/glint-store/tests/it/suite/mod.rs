//! The behaviour every store must show, whatever it is built on: the service
//! relies on exactly these answers. A test binary declares `mod common; mod suite;`,
//! writes one function per backend returning a [`Backend`], and lists them in
//! `every_backend!`.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use glint_model::ImageId;
use glint_store::{ByteRange, Store, StoreError};

use crate::common::{collect, failing_stream, random_bytes, stalling_stream, stream_of};

/// What a backend physically holds (partial data included), as names.
pub type Residue = Pin<Box<dyn Future<Output = Vec<String>> + Send>>;

/// A store under test, with a way to see everything it physically holds (partial
/// data included), so tests can check that nothing was left behind. A shared
/// remote store must scope `residue` to what this one test may have written.
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub residue: Box<dyn Fn() -> Residue + Send + Sync>,
    /// Kept alive for the test (a temporary directory, a bucket to remove...).
    pub guard: Option<Box<dyn std::any::Any + Send>>,
}

impl Backend {
    /// A backend whose residue is computed synchronously.
    pub fn with_sync_residue(
        store: Arc<dyn Store>,
        residue: impl Fn() -> Vec<String> + Send + Sync + 'static,
        guard: Option<Box<dyn std::any::Any + Send>>,
    ) -> Self {
        let residue = Arc::new(residue);
        Self {
            store,
            residue: Box::new(move || {
                let residue = Arc::clone(&residue);
                Box::pin(async move { residue() })
            }),
            guard,
        }
    }

    async fn residue(&self) -> Vec<String> {
        (self.residue)().await
    }

    /// Polls the residue until it is empty or a few seconds pass: cleanup after
    /// a dropped upload happens in the background, shortly after the drop.
    async fn residue_eventually_empty(&self) -> Vec<String> {
        for _ in 0..100 {
            let left = self.residue().await;
            if left.is_empty() {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.residue().await
    }
}

/// What a backend function returns: a `Backend`, or `Option<Backend>` for one
/// that needs a server this run may not have (see `common::store_env`).
pub trait Available {
    fn available(self) -> Option<Backend>;
}

impl Available for Backend {
    fn available(self) -> Option<Backend> {
        Some(self)
    }
}

impl Available for Option<Backend> {
    fn available(self) -> Option<Backend> {
        self
    }
}

const MIB: usize = 1024 * 1024;

pub async fn put_then_get_returns_the_same_bytes(b: Backend) {
    let data = random_bytes(5 * MIB + 3, 1);
    let id = ImageId::new_random();
    let stored = b.store.put(id, stream_of(&data)).await.unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert!(b.store.owns(&stored.url), "{}", stored.url);
    assert!(stored.url.contains(&id.to_string()), "{}", stored.url);
    let object = b.store.get(&stored.url, None).await.unwrap();
    assert_eq!(object.total_size, data.len() as u64);
    assert!(object.range.is_none());
    assert!(collect(object.stream).await.unwrap() == data);
}

pub async fn empty_object_round_trips(b: Backend) {
    let stored = b
        .store
        .put(ImageId::new_random(), stream_of(&[]))
        .await
        .unwrap();
    assert_eq!(stored.size, 0);
    let object = b.store.get(&stored.url, None).await.unwrap();
    assert_eq!(object.total_size, 0);
    assert!(collect(object.stream).await.unwrap().is_empty());
    let range = ByteRange { start: 0, end: 0 };
    let err = b.store.get(&stored.url, Some(range)).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidRange), "{err:?}");
}

pub async fn ranges_return_exactly_the_requested_bytes(b: Backend) {
    let data = random_bytes(3 * MIB + 17, 2);
    let n = data.len() as u64;
    let stored = b
        .store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    let cases = [
        (0, 0, 0),                    // first byte
        (1000, 2_000_000, 2_000_000), // middle, across chunk boundaries
        (n - 1, n - 1, n - 1),        // last byte
        (n - 10, n + 100, n - 1),     // end clamped
        (0, u64::MAX, n - 1),         // open-ended
    ];
    for (start, end, clamped) in cases {
        let object = b
            .store
            .get(&stored.url, Some(ByteRange { start, end }))
            .await
            .unwrap();
        assert_eq!(object.total_size, n);
        assert_eq!(
            object.range,
            Some(ByteRange {
                start,
                end: clamped
            })
        );
        let got = collect(object.stream).await.unwrap();
        assert!(
            got == data[start as usize..=clamped as usize],
            "{start}-{end}"
        );
    }
}

pub async fn range_starting_at_or_past_the_end_is_invalid(b: Backend) {
    let data = random_bytes(1000, 3);
    let stored = b
        .store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    for start in [1000, 1001, u64::MAX] {
        let range = ByteRange {
            start,
            end: u64::MAX,
        };
        let err = b.store.get(&stored.url, Some(range)).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidRange), "{start}: {err:?}");
    }
}

pub async fn get_after_delete_is_not_found(b: Backend) {
    let stored = b
        .store
        .put(ImageId::new_random(), stream_of(b"abc"))
        .await
        .unwrap();
    b.store.delete(&stored.url).await.unwrap();
    let err = b.store.get(&stored.url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(b.residue().await, Vec::<String>::new());
}

pub async fn deleting_twice_is_not_found(b: Backend) {
    let stored = b
        .store
        .put(ImageId::new_random(), stream_of(b"abc"))
        .await
        .unwrap();
    b.store.delete(&stored.url).await.unwrap();
    let err = b.store.delete(&stored.url).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn foreign_locations_are_refused(b: Backend) {
    for url in [
        "file:///etc/passwd",
        "memory://elsewhere/x",
        "http://example.com/x",
    ] {
        let err = b.store.get(url, None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidLocation(_)),
            "{url}: {err:?}"
        );
        let err = b.store.delete(url).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidLocation(_)),
            "{url}: {err:?}"
        );
        assert!(!b.store.owns(url));
    }
}

pub async fn failed_input_leaves_nothing_behind(b: Backend) {
    let data = random_bytes(3 * MIB, 4);
    let id = ImageId::new_random();
    let err = b
        .store
        .put(id, failing_stream(&data, 2 * MIB + 5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Source(_)), "{err:?}");
    assert_eq!(b.residue().await, Vec::<String>::new());
}

pub async fn dropped_put_leaves_nothing_behind(b: Backend) {
    let data = random_bytes(3 * MIB, 5);
    let put = b
        .store
        .put(ImageId::new_random(), stalling_stream(&data, 3 * MIB));
    let outcome = tokio::time::timeout(Duration::from_millis(300), put).await;
    assert!(outcome.is_err(), "a stalled upload cannot finish");
    assert_eq!(b.residue_eventually_empty().await, Vec::<String>::new());
}

pub async fn discard_removes_a_complete_object(b: Backend) {
    let id = ImageId::new_random();
    let stored = b.store.put(id, stream_of(b"complete")).await.unwrap();
    b.store.discard(id).await.unwrap();
    let err = b.store.get(&stored.url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(b.residue().await, Vec::<String>::new());
}

pub async fn discard_of_an_unknown_image_succeeds(b: Backend) {
    let kept = b
        .store
        .put(ImageId::new_random(), stream_of(b"kept"))
        .await
        .unwrap();
    b.store.discard(ImageId::new_random()).await.unwrap();
    let object = b.store.get(&kept.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"kept");
}

pub async fn a_working_store_passes_its_check(b: Backend) {
    b.store.check().await.unwrap();
    assert_eq!(
        b.residue().await,
        Vec::<String>::new(),
        "a check writes nothing"
    );
}

macro_rules! behaviour_suite {
    ($backend:ident: $($behaviour:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    use crate::suite::Available;
                    // A remote backend that is not configured here skips.
                    if let Some(backend) = super::$backend().await.available() {
                        crate::suite::$behaviour(backend).await;
                    }
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($backend:ident),*) => {
        $(
            behaviour_suite!($backend:
                put_then_get_returns_the_same_bytes,
                empty_object_round_trips,
                ranges_return_exactly_the_requested_bytes,
                range_starting_at_or_past_the_end_is_invalid,
                get_after_delete_is_not_found,
                deleting_twice_is_not_found,
                foreign_locations_are_refused,
                failed_input_leaves_nothing_behind,
                dropped_put_leaves_nothing_behind,
                discard_removes_a_complete_object,
                discard_of_an_unknown_image_succeeds,
                a_working_store_passes_its_check,
            );
        )*
    };
}
