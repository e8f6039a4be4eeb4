//! One behaviour suite, run against every backend: whatever the store, the service
//! relies on exactly these answers.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{collect, eventually, failing_stream, random_bytes, stalling_stream, stream_of};
use glint_model::ImageId;
use glint_store::{ByteRange, FileStore, MemoryStore, ReadStrategy, Store, StoreError};
use tempfile::TempDir;

/// A store under test, with a way to see everything it physically holds (partial
/// data included), so tests can check that nothing was left behind.
struct Backend {
    store: Arc<dyn Store>,
    residue: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    _dir: Option<TempDir>,
}

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_backend_with(strategy: ReadStrategy) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("images");
    let store = FileStore::new("file", datadir.clone())
        .unwrap()
        .with_read_strategy(strategy);
    Backend {
        store: Arc::new(store),
        residue: Box::new(move || dir_listing(&datadir)),
        _dir: Some(dir),
    }
}

fn file_mmap() -> Backend {
    file_backend_with(ReadStrategy::Mmap)
}

fn file_read() -> Backend {
    file_backend_with(ReadStrategy::Read)
}

fn memory() -> Backend {
    let store = Arc::new(MemoryStore::new("memory"));
    let probe = Arc::clone(&store);
    Backend {
        store,
        residue: Box::new(move || vec!["object".to_owned(); probe.object_count()]),
        _dir: None,
    }
}

const MIB: usize = 1024 * 1024;

mod suite {
    use super::*;

    pub async fn put_then_get_returns_the_same_bytes(b: Backend) {
        let data = random_bytes(5 * MIB + 3, 1);
        let id = ImageId::new_random();
        let stored = b.store.put(id, stream_of(&data)).await.unwrap();
        assert_eq!(stored.size, data.len() as u64);
        assert!(b.store.owns(&stored.url), "{}", stored.url);
        assert!(stored.url.ends_with(&id.to_string()));
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
        assert!((b.residue)().is_empty());
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
        assert_eq!((b.residue)(), Vec::<String>::new());
    }

    pub async fn dropped_put_leaves_nothing_behind(b: Backend) {
        let data = random_bytes(3 * MIB, 5);
        let put = b
            .store
            .put(ImageId::new_random(), stalling_stream(&data, 3 * MIB));
        let outcome = tokio::time::timeout(Duration::from_millis(300), put).await;
        assert!(outcome.is_err(), "a stalled upload cannot finish");
        assert!(
            eventually(|| (b.residue)().is_empty()).await,
            "{:?}",
            (b.residue)()
        );
    }

    pub async fn discard_removes_a_complete_object(b: Backend) {
        let id = ImageId::new_random();
        let stored = b.store.put(id, stream_of(b"complete")).await.unwrap();
        b.store.discard(id).await.unwrap();
        let err = b.store.get(&stored.url, None).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert!((b.residue)().is_empty());
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
}

macro_rules! behaviour_suite {
    ($backend:ident: $($behaviour:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    super::suite::$behaviour(super::$backend()).await;
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
            );
        )*
    };
}

every_backend!(file_mmap, file_read, memory);
