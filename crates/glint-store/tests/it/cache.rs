//! The image cache's files: the write-through fill keeps only whole,
//! verified data, and leaves nothing behind otherwise.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::{failing_stream, random_bytes, stream_of};
use futures::StreamExt;
use glint_model::ImageId;
use glint_store::{
    ByteRange, ByteStream, Expected, FillCommit, HashAlgo, ImageCache, StoreError, WriteStrategy,
};
use md5::{Digest, Md5};
use sha2::Sha512;

/// Records what a fill told the use cases; refuses `verified` on demand.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    refuse: bool,
}

#[async_trait::async_trait]
impl FillCommit for Recorder {
    async fn verified(&self, image: ImageId, size: u64) -> Result<(), StoreError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("verified {image} {size}"));
        if self.refuse {
            return Err(StoreError::Unavailable("database down".into()));
        }
        Ok(())
    }

    async fn withdrawn(&self, image: ImageId) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("withdrawn {image}"));
    }

    async fn committed(&self, image: ImageId, size: u64) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("committed {image} {size}"));
    }
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn open(dir: &Path) -> Arc<ImageCache> {
    Arc::new(ImageCache::open(dir, WriteStrategy::Buffered).unwrap())
}

fn expected(data: &[u8]) -> Expected {
    Expected {
        size: data.len() as u64,
        checksum: Some(hex(&Md5::digest(data))),
        multihash: Some((HashAlgo::Sha512, hex(&Sha512::digest(data)))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn collect(mut stream: ByteStream) -> (Vec<u8>, Option<StoreError>) {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn wait_until_empty(dir: &Path) {
    for _ in 0..200 {
        if names(dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} still holds {:?}", dir.display(), names(dir));
}

#[tokio::test]
async fn a_whole_verified_download_is_cached_and_served_with_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let (image, data) = (ImageId::new_random(), random_bytes(5_000_000, 1));
    let commit = Arc::new(Recorder::default());
    let stream = cache
        .fill(image, expected(&data), stream_of(&data), commit.clone())
        .unwrap_or_else(|_| panic!("the cache refused the fill"));
    let (sent, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(sent, data);
    assert_eq!(
        commit.calls(),
        [
            format!("verified {image} {}", data.len()),
            format!("committed {image} {}", data.len())
        ]
    );
    assert!(names(tmp.path()).contains(&image.to_string()));
    assert!(names(&tmp.path().join("incomplete")).is_empty());
    assert_eq!(cache.stats().fills(), 1);
    let files = cache.files().await.unwrap();
    assert_eq!(
        (files.len(), files[0].image, files[0].size),
        (1, image, 5_000_000)
    );

    let whole = cache.read(image, None).await.unwrap().unwrap();
    assert_eq!(collect(whole.stream).await.0, data);
    let part = cache
        .read(image, Some(ByteRange { start: 10, end: 19 }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(part.total_size, 5_000_000);
    assert_eq!(collect(part.stream).await.0, &data[10..20]);
    assert_eq!(cache.stats().bytes_served(), 5_000_010);
    assert!(
        cache
            .read(ImageId::new_random(), None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn data_that_does_not_match_its_checksums_is_never_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let data = random_bytes(300_000, 2);
    let mut corrupt = data.clone();
    corrupt[150_000] ^= 1;
    let mut wrong_hash = expected(&data);
    wrong_hash.checksum = None;
    for expect in [expected(&data), wrong_hash] {
        let image = ImageId::new_random();
        let commit = Arc::new(Recorder::default());
        let stream = cache
            .fill(image, expect, stream_of(&corrupt), commit.clone())
            .unwrap_or_else(|_| panic!("the cache refused the fill"));
        let (sent, error) = collect(stream).await;
        let error = error.expect("the download fails instead of ending well");
        assert!(error.to_string().contains("does not match"), "{error}");
        assert!(sent.len() < corrupt.len(), "the last bytes are held back");
        assert!(commit.calls().is_empty());
        assert!(!names(tmp.path()).contains(&image.to_string()));
        assert_eq!(names(&tmp.path().join("invalid")), [image.to_string()]);
        let cleaned = cache
            .clean(Duration::from_secs(3600), SystemTime::now())
            .await
            .unwrap();
        assert_eq!((cleaned.invalid, cleaned.stalled), (1, 0));
    }
    assert_eq!(cache.stats().rejected(), 2);
    assert!(cache.files().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_download_dropped_half_way_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let (image, data) = (ImageId::new_random(), random_bytes(4_000_000, 3));
    let commit = Arc::new(Recorder::default());
    let mut stream = cache
        .fill(image, expected(&data), stream_of(&data), commit.clone())
        .unwrap_or_else(|_| panic!("the cache refused the fill"));
    let mut got = 0;
    while got < 2_000_000 {
        got += stream.next().await.unwrap().unwrap().len();
    }
    assert!(cache.is_filling(image));
    drop(stream);
    assert!(!cache.is_filling(image));
    wait_until_empty(&tmp.path().join("incomplete")).await;
    assert!(cache.files().await.unwrap().is_empty());
    assert!(commit.calls().is_empty());
}

#[tokio::test]
async fn short_failed_or_long_data_is_passed_on_but_not_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let data = random_bytes(200_000, 4);
    let mut longer = expected(&data);
    longer.size += 1;
    let mut shorter = expected(&data[..100_000]);
    shorter.checksum = None;
    shorter.multihash = None;
    let cases: Vec<(Expected, ByteStream)> = vec![
        (longer, stream_of(&data)),
        (shorter, stream_of(&data)),
        (expected(&data), failing_stream(&data, 50_000)),
    ];
    for (expect, source) in cases {
        let commit = Arc::new(Recorder::default());
        let (_, error) = collect(
            cache
                .fill(ImageId::new_random(), expect, source, commit.clone())
                .unwrap_or_else(|_| panic!("the cache refused the fill")),
        )
        .await;
        assert!(error.is_some());
        assert!(commit.calls().is_empty());
    }
    wait_until_empty(&tmp.path().join("incomplete")).await;
    assert!(cache.files().await.unwrap().is_empty());
    assert!(names(&tmp.path().join("invalid")).is_empty());
}

#[tokio::test]
async fn one_fill_per_image_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let (image, data) = (ImageId::new_random(), random_bytes(3_000_000, 5));
    let first_commit = Arc::new(Recorder::default());
    let mut first = cache
        .fill(
            image,
            expected(&data),
            stream_of(&data),
            first_commit.clone(),
        )
        .unwrap_or_else(|_| panic!("the cache refused the fill"));
    first.next().await.unwrap().unwrap();
    let second_commit = Arc::new(Recorder::default());
    let second = cache.fill(
        image,
        expected(&data),
        stream_of(&data),
        second_commit.clone(),
    );
    let second = second
        .err()
        .expect("filling already: the source comes back");
    assert_eq!(collect(second).await.0, data);
    assert!(second_commit.calls().is_empty());
    collect(first).await;
    assert_eq!(first_commit.calls().len(), 2);
}

#[tokio::test]
async fn an_entry_removed_or_refused_while_filling_is_not_put_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let data = random_bytes(1_000_000, 6);

    let image = ImageId::new_random();
    let commit = Arc::new(Recorder::default());
    let mut stream = cache
        .fill(image, expected(&data), stream_of(&data), commit.clone())
        .unwrap_or_else(|_| panic!("the cache refused the fill"));
    stream.next().await.unwrap().unwrap();
    assert!(!cache.remove(image).await.unwrap());
    let (_, error) = collect(stream).await;
    assert!(error.is_none());
    assert!(commit.calls().is_empty());

    let refused = Arc::new(Recorder {
        refuse: true,
        ..Recorder::default()
    });
    let image = ImageId::new_random();
    let (sent, error) = collect(
        cache
            .fill(image, expected(&data), stream_of(&data), refused.clone())
            .unwrap_or_else(|_| panic!("the cache refused the fill")),
    )
    .await;
    assert!(error.is_none());
    assert_eq!(sent, data, "the client still gets its data");
    assert_eq!(refused.calls(), [format!("verified {image} 1000000")]);

    assert!(cache.files().await.unwrap().is_empty());
    assert!(names(&tmp.path().join("incomplete")).is_empty());
}

#[tokio::test]
async fn cleaning_removes_invalid_and_stalled_files_only() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    let incomplete = tmp.path().join("incomplete");
    let write = |path: std::path::PathBuf, age: Duration| {
        std::fs::write(&path, b"partial").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    };
    write(incomplete.join("stalled"), Duration::from_secs(2 * 86_400));
    write(incomplete.join("recent"), Duration::from_secs(60));
    write(tmp.path().join("invalid").join("bad"), Duration::ZERO);
    let kept = ImageId::new_random().to_string();
    write(tmp.path().join(&kept), Duration::from_secs(3 * 86_400));

    let cleaned = cache
        .clean(Duration::from_secs(86_400), SystemTime::now())
        .await
        .unwrap();
    assert_eq!((cleaned.invalid, cleaned.stalled), (1, 1));
    assert_eq!(names(&incomplete), ["recent"]);
    assert!(names(&tmp.path().join("invalid")).is_empty());
    assert!(names(tmp.path()).contains(&kept));

    assert!(cache.remove(ImageId::parse(&kept).unwrap()).await.unwrap());
    assert!(cache.files().await.unwrap().is_empty());
}
