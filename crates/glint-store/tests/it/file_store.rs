//! What only the file store promises: Glance's on-disk layout, partial files, and
//! never reading outside its directory.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    chunks_of, collect, eventually, failing_stream, random_bytes, stalling_stream, stream_of,
};
use futures::{StreamExt, stream};
use glint_model::ImageId;
use glint_store::{ByteRange, FileStore, ReadStrategy, Store, StoreError, WriteStrategy};

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn object_is_stored_at_the_glance_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new("file", dir.path().join("images")).unwrap();
    let id = ImageId::new_random();
    let data = random_bytes(100_000, 7);
    let stored = store.put(id, stream_of(&data)).await.unwrap();
    let path = dir.path().join("images").join(id.to_string());
    assert_eq!(stored.url, format!("file://{}", path.display()));
    assert!(std::fs::read(&path).unwrap() == data);
    assert_eq!(names(store.datadir()), [id.to_string()]);
}

const WRITE_STRATEGIES: [WriteStrategy; 2] = [WriteStrategy::Direct, WriteStrategy::Buffered];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_of_every_size_are_written_byte_for_byte() {
    // Runs of tiny chunks (copied together), chunks on either side of the
    // coalescing threshold, and ones larger than a write batch, over several
    // writeback ranges and direct-I/O blocks, ending off any block boundary.
    let data = random_bytes(21 * 1024 * 1024 + 3, 11);
    let sizes = [
        1,
        3,
        65_535,
        65_536,
        65_537,
        4 * 1024 * 1024 + 3,
        17,
        0,
        1_048_575,
    ];
    for strategy in WRITE_STRATEGIES {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new("file", dir.path().to_path_buf())
            .unwrap()
            .with_write_strategy(strategy);
        let chunks = chunks_of(&data, &sizes);
        let id = ImageId::new_random();
        let stored = store
            .put(id, stream::iter(chunks.into_iter().map(Ok)).boxed())
            .await
            .unwrap();
        assert_eq!(stored.size, data.len() as u64, "{strategy:?}");
        let on_disk = std::fs::read(store.datadir().join(id.to_string())).unwrap();
        assert!(on_disk == data, "{strategy:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_around_block_boundaries_come_back_exactly() {
    let block = 4 * 1024 * 1024;
    let sizes = [
        0,
        1,
        511,
        4095,
        4096,
        4097,
        block - 1,
        block,
        block + 1,
        2 * block,
    ];
    for strategy in WRITE_STRATEGIES {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new("file", dir.path().to_path_buf())
            .unwrap()
            .with_write_strategy(strategy);
        for (n, &size) in sizes.iter().enumerate() {
            let data = random_bytes(size, n as u64);
            let id = ImageId::new_random();
            let stored = store.put(id, stream_of(&data)).await.unwrap();
            assert_eq!(stored.size, size as u64, "{strategy:?} {size}");
            let path = store.datadir().join(id.to_string());
            assert_eq!(std::fs::metadata(&path).unwrap().len(), size as u64);
            assert!(std::fs::read(&path).unwrap() == data, "{strategy:?} {size}");
            let object = store.get(&stored.url, None).await.unwrap();
            assert!(collect(object.stream).await.unwrap() == data);
        }
        assert_eq!(
            names(store.datadir()).len(),
            sizes.len(),
            "no partial files left"
        );
    }
}

/// Like the eviction tests below, this needs the temporary directory on a
/// disk-backed file system (tmpfs keeps everything in the page cache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_writes_bypass_the_page_cache() {
    let data = random_bytes(16 * 1024 * 1024 + 100, 13);
    for strategy in WRITE_STRATEGIES {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new("file", dir.path().to_path_buf())
            .unwrap()
            .with_write_strategy(strategy);
        let id = ImageId::new_random();
        store.put(id, stream_of(&data)).await.unwrap();
        let cached = cached_bytes(&dir.path().join(id.to_string()));
        let half = data.len() as u64 / 2;
        match strategy {
            WriteStrategy::Direct => assert!(cached < half, "{cached} bytes cached"),
            WriteStrategy::Buffered => assert!(cached > half, "{cached} bytes cached"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_leaves_nothing_behind() {
    for strategy in WRITE_STRATEGIES {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new("file", dir.path().to_path_buf())
            .unwrap()
            .with_write_strategy(strategy);
        // Fails after more than two direct-I/O blocks have gone to the disk.
        let data = random_bytes(9 * 1024 * 1024, 5);
        let failing = failing_stream(&data, data.len());
        let err = store.put(ImageId::new_random(), failing).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Source(_)),
            "{strategy:?}: {err:?}"
        );
        assert!(
            names(dir.path()).is_empty(),
            "{strategy:?}: {:?}",
            names(dir.path())
        );
    }
}

#[tokio::test]
async fn objects_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let stored = {
        let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
        store
            .put(ImageId::new_random(), stream_of(b"kept"))
            .await
            .unwrap()
    };
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let object = store.get(&stored.url, None).await.unwrap();
    assert_eq!(collect(object.stream).await.unwrap(), b"kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_writes_a_partial_file_that_vanishes_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let id = ImageId::new_random();
    let data = random_bytes(3 * 1024 * 1024, 8);
    let upload = tokio::spawn(async move {
        let _ = store.put(id, stalling_stream(&data, data.len())).await;
    });
    let partial = |names: Vec<String>| {
        names.len() == 1
            && names[0].starts_with(&format!(".{id}."))
            && names[0].ends_with(".partial")
    };
    assert!(
        eventually(|| partial(names(dir.path()))).await,
        "{:?}",
        names(dir.path())
    );
    upload.abort();
    assert!(
        eventually(|| names(dir.path()).is_empty()).await,
        "{:?}",
        names(dir.path())
    );
}

#[tokio::test]
async fn discard_removes_partial_data_left_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let id = ImageId::new_random();
    // What a process killed mid-upload leaves: a partial file, maybe several.
    std::fs::write(dir.path().join(format!(".{id}.4242-0.partial")), b"half").unwrap();
    std::fs::write(dir.path().join(format!(".{id}.4243-7.partial")), b"ha").unwrap();
    let other = store
        .put(ImageId::new_random(), stream_of(b"other"))
        .await
        .unwrap();
    store.discard(id).await.unwrap();
    let other_name = other.url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(names(dir.path()), [other_name]);
}

#[tokio::test]
async fn symlinked_location_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), b"secret").unwrap();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let id = ImageId::new_random();
    let link = dir.path().join(id.to_string());
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let url = format!("file://{}", link.display());
    let err = store.get(&url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidLocation(_)), "{err:?}");
}

#[tokio::test]
async fn directory_in_place_of_an_object_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let id = ImageId::new_random();
    std::fs::create_dir(dir.path().join(id.to_string())).unwrap();
    let url = format!("file://{}/{id}", dir.path().display());
    let err = store.get(&url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_download_stops_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let data = random_bytes(20 * 1024 * 1024, 9);
    let stored = store
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    let object = store.get(&stored.url, None).await.unwrap();
    drop(object);
    // The reader notices the closed channel; deleting afterwards must just work.
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.delete(&stored.url).await.unwrap();
    assert!(names(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_across_batch_and_window_boundaries_return_the_right_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(37 * 1024 * 1024 + 5, 10);
    let n = data.len() as u64;
    let stored = FileStore::new("file", dir.path().to_path_buf())
        .unwrap()
        .put(ImageId::new_random(), stream_of(&data))
        .await
        .unwrap();
    for strategy in [ReadStrategy::Mmap, ReadStrategy::Read] {
        let store = FileStore::new("file", dir.path().to_path_buf())
            .unwrap()
            .with_read_strategy(strategy);
        let whole = store.get(&stored.url, None).await.unwrap();
        assert!(collect(whole.stream).await.unwrap() == data, "{strategy:?}");
        // Unaligned starts, spanning the 4 MiB batches and 16 MiB mappings.
        for (start, end) in [(4093, 20 * 1024 * 1024 + 7), (16 * 1024 * 1024 - 1, n - 2)] {
            let range = ByteRange { start, end };
            let object = store.get(&stored.url, Some(range)).await.unwrap();
            let got = collect(object.stream).await.unwrap();
            assert!(
                got == data[start as usize..=end as usize],
                "{strategy:?} {start}-{end}"
            );
        }
    }
}

/// Drops a file's pages from the page cache, as memory pressure would
/// (`posix_fadvise(POSIX_FADV_DONTNEED)` through dd).
fn evict(path: &Path) {
    let status = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Bytes of a file in the page cache, as util-linux's fincore counts them.
fn cached_bytes(path: &Path) -> u64 {
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_outside_the_page_cache_is_read_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(37 * 1024 * 1024 + 5, 12);
    let id = ImageId::new_random();
    let stored = FileStore::new("file", dir.path().to_path_buf())
        .unwrap()
        .put(id, stream_of(&data))
        .await
        .unwrap();
    let path = dir.path().join(id.to_string());
    for strategy in [ReadStrategy::Mmap, ReadStrategy::Read] {
        let store = FileStore::new("file", dir.path().to_path_buf())
            .unwrap()
            .with_read_strategy(strategy);
        evict(&path);
        assert!(
            cached_bytes(&path) < data.len() as u64 / 2,
            "eviction failed"
        );
        let whole = store.get(&stored.url, None).await.unwrap();
        assert!(collect(whole.stream).await.unwrap() == data, "{strategy:?}");

        // Cached and uncached stretches in turn: the reader moves between
        // handing out cached pages and reading on the blocking pool.
        evict(&path);
        for (start, end) in [
            (5 * 1024 * 1024, 9 * 1024 * 1024),
            (20 * 1024 * 1024 + 3, 27 * 1024 * 1024),
        ] {
            let warm = store
                .get(&stored.url, Some(ByteRange { start, end }))
                .await
                .unwrap();
            collect(warm.stream).await.unwrap();
        }
        let whole = store.get(&stored.url, None).await.unwrap();
        assert!(collect(whole.stream).await.unwrap() == data, "{strategy:?}");
    }
}

#[tokio::test]
async fn the_check_fails_once_the_data_directory_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("images");
    let store = FileStore::new("file", datadir.clone()).unwrap();
    store.check().await.unwrap();
    std::fs::remove_dir(&datadir).unwrap();
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    std::fs::write(&datadir, b"not a directory").unwrap();
    let err = store.check().await.unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
}
