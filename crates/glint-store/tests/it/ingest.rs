//! The upload wrapper: digests, size limits and inspection, in front of a real store.

use crate::common;

use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use common::{ODD_SIZES, chunks_of, collect, failing_stream, random_bytes, stream_of};
use futures::{StreamExt, stream};
use glint_format::{DetectedFormat, SafetyError};
use glint_model::ImageId;
use glint_store::{
    ByteStream, FileStore, HashAlgo, IngestConfig, Ingested, Store, StoreError, ingest,
};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

const MIB: usize = 1024 * 1024;

fn config(hash_algo: HashAlgo) -> IngestConfig {
    IngestConfig {
        hash_algo,
        size_cap: u64::MAX,
        expected_size: None,
        inspect: true,
    }
}

fn hex_of(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `input` through the wrapper into nowhere, as a store would consume it.
async fn ingest_all(input: ByteStream, cfg: IngestConfig) -> Result<Ingested, StoreError> {
    let (wrapped, handle) = ingest(input, cfg);
    collect(wrapped).await?;
    handle.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_equal_those_of_the_whole_buffer() {
    let data = random_bytes(7 * MIB + 11, 20);
    for (algo, expected) in [
        (HashAlgo::Sha512, hex_of(&Sha512::digest(&data))),
        (HashAlgo::Sha256, hex_of(&Sha256::digest(&data))),
    ] {
        let got = ingest_all(stream_of(&data), config(algo)).await.unwrap();
        assert_eq!(got.size, data.len() as u64);
        assert_eq!(got.checksum, hex_of(&Md5::digest(&data)));
        assert_eq!(got.os_hash_algo, algo.as_str());
        assert_eq!(got.os_hash_value, expected);
    }
}

/// The digest of `data` by an implementation independent of the one uploads use.
fn reference_digest(algo: HashAlgo, data: &[u8]) -> String {
    match algo {
        HashAlgo::Md5 => hex_of(&Md5::digest(data)),
        HashAlgo::Sha1 => hex_of(&Sha1::digest(data)),
        HashAlgo::Sha224 => hex_of(&Sha224::digest(data)),
        HashAlgo::Sha256 => hex_of(&Sha256::digest(data)),
        HashAlgo::Sha384 => hex_of(&Sha384::digest(data)),
        HashAlgo::Sha512 => hex_of(&Sha512::digest(data)),
    }
}

async fn ingest_chunks(chunks: Vec<Bytes>, algo: HashAlgo) -> Ingested {
    let input = stream::iter(chunks.into_iter().map(Ok)).boxed();
    ingest_all(input, config(algo)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_matches_an_independent_digest_whatever_the_chunking() {
    let data = random_bytes(3 * MIB + 129, 29);
    let chunkings: [&[usize]; 4] = [ODD_SIZES, &[MIB], &[127, 128, 129, 8191], &[3 * MIB + 129]];
    for algo in HashAlgo::ALL {
        let expected = reference_digest(algo, &data);
        for sizes in chunkings {
            let got = ingest_chunks(chunks_of(&data, sizes), algo).await;
            assert_eq!(got.os_hash_value, expected, "{algo}, chunks {sizes:?}");
            assert_eq!(got.checksum, reference_digest(HashAlgo::Md5, &data));
            assert_eq!(got.size, data.len() as u64);
        }
    }
}

#[tokio::test]
async fn digests_are_right_at_block_boundaries_even_byte_by_byte() {
    // md5 and sha1/sha256 pad in 64-byte blocks, sha384/sha512 in 128-byte ones;
    // these lengths fall just before, on and after a block or its length field.
    for len in [1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000] {
        let data = random_bytes(len, len as u64);
        for algo in HashAlgo::ALL {
            let byte_by_byte = chunks_of(&data, &[1]);
            let got = ingest_chunks(byte_by_byte, algo).await;
            assert_eq!(
                got.os_hash_value,
                reference_digest(algo, &data),
                "{algo}, {len} bytes"
            );
            assert_eq!(got.checksum, reference_digest(HashAlgo::Md5, &data));
        }
    }
}

#[tokio::test]
async fn digests_match_md5sum_and_sha512sum_of_known_input() {
    let input = stream::iter([Ok(Bytes::from_static(b"a")), Ok(Bytes::from_static(b"bc"))]);
    let got = ingest_all(input.boxed(), config(HashAlgo::Sha512))
        .await
        .unwrap();
    // `printf abc | md5sum` and `printf abc | sha512sum`.
    assert_eq!(got.checksum, "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        got.os_hash_value,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
}

#[tokio::test]
async fn empty_upload_has_the_digests_of_nothing() {
    let got = ingest_all(stream::empty().boxed(), config(HashAlgo::Sha256))
        .await
        .unwrap();
    assert_eq!(got.size, 0);
    assert_eq!(got.checksum, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(
        got.os_hash_value,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_the_size_cap_fails_and_leaves_the_store_clean() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let data = random_bytes(3 * MIB, 21);
    let cfg = IngestConfig {
        size_cap: 2 * MIB as u64,
        ..config(HashAlgo::Sha512)
    };
    let (wrapped, handle) = ingest(stream_of(&data), cfg);
    let err = store.put(ImageId::new_random(), wrapped).await.unwrap_err();
    assert!(matches!(err, StoreError::SizeLimitExceeded { limit } if limit == 2 * MIB as u64));
    assert!(handle.finish().await.is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn upload_of_exactly_the_cap_is_accepted() {
    let data = random_bytes(MIB, 22);
    let cfg = IngestConfig {
        size_cap: MIB as u64,
        ..config(HashAlgo::Sha512)
    };
    assert_eq!(
        ingest_all(stream_of(&data), cfg).await.unwrap().size,
        MIB as u64
    );
}

#[tokio::test]
async fn shorter_upload_than_announced_is_a_size_mismatch() {
    let data = random_bytes(1000, 23);
    let cfg = IngestConfig {
        expected_size: Some(1001),
        ..config(HashAlgo::Sha512)
    };
    let err = ingest_all(stream_of(&data), cfg).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SizeMismatch {
                expected: 1001,
                actual: 1000
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn longer_upload_than_announced_is_a_size_mismatch() {
    let data = random_bytes(1000, 24);
    let cfg = IngestConfig {
        expected_size: Some(999),
        ..config(HashAlgo::Sha512)
    };
    let err = ingest_all(stream_of(&data), cfg).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SizeMismatch { expected: 999, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn upload_of_the_announced_size_is_accepted() {
    let data = random_bytes(1000, 25);
    let cfg = IngestConfig {
        expected_size: Some(1000),
        ..config(HashAlgo::Sha512)
    };
    assert_eq!(ingest_all(stream_of(&data), cfg).await.unwrap().size, 1000);
}

#[tokio::test]
async fn input_errors_pass_through_unchanged() {
    let data = random_bytes(2 * MIB, 26);
    let (wrapped, handle) = ingest(failing_stream(&data, MIB), config(HashAlgo::Sha512));
    let err = collect(wrapped).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Source(ref m) if m == "connection reset"),
        "{err:?}"
    );
    assert!(handle.finish().await.is_err());
}

#[tokio::test]
async fn finish_fails_when_the_stream_was_not_read_to_its_end() {
    let data = random_bytes(2 * MIB, 27);
    let (mut wrapped, handle) = ingest(stream_of(&data), config(HashAlgo::Sha512));
    wrapped.next().await.unwrap().unwrap();
    drop(wrapped);
    assert!(handle.finish().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_in_front_of_a_store_stores_what_it_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(FileStore::new("file", dir.path().to_path_buf()).unwrap());
    let data = random_bytes(4 * MIB + 1, 28);
    let (wrapped, handle) = ingest(stream_of(&data), config(HashAlgo::Sha512));
    let stored = store.put(ImageId::new_random(), wrapped).await.unwrap();
    let ingested = handle.finish().await.unwrap();
    assert_eq!(stored.size, ingested.size);
    let object = store.get(&stored.url, None).await.unwrap();
    let back = collect(object.stream).await.unwrap();
    assert_eq!(hex_of(&Md5::digest(&back)), ingested.checksum);
}

#[tokio::test]
async fn qcow2_made_by_qemu_img_is_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.qcow2");
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&path)
        .arg("1G")
        .status()
        .expect("qemu-img (qemu-utils) is installed");
    assert!(status.success());
    let image = std::fs::read(&path).unwrap();
    let got = ingest_all(stream_of(&image), config(HashAlgo::Sha512))
        .await
        .unwrap();
    let inspection = got.inspection.unwrap();
    assert_eq!(inspection.format, DetectedFormat::Qcow2);
    assert_eq!(inspection.virtual_size, Some(1 << 30));
    assert_eq!(inspection.actual_size, image.len() as u64);
    assert_eq!(inspection.safety, Ok(()));
}

#[tokio::test]
async fn qcow2_with_a_backing_file_is_reported_unsafe() {
    let mut header = vec![0u8; 4096];
    header[..4].copy_from_slice(b"QFI\xfb");
    header[4..8].copy_from_slice(&3u32.to_be_bytes());
    header[8..16].copy_from_slice(&512u64.to_be_bytes()); // backing_file_offset
    header[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
    let got = ingest_all(stream_of(&header), config(HashAlgo::Sha512))
        .await
        .unwrap();
    let inspection = got.inspection.unwrap();
    assert_eq!(inspection.format, DetectedFormat::Qcow2);
    assert_eq!(inspection.safety, Err(SafetyError::BackingFile));
}

#[tokio::test]
async fn inspection_is_skipped_when_disabled() {
    let cfg = IngestConfig {
        inspect: false,
        ..config(HashAlgo::Sha512)
    };
    let got = ingest_all(stream_of(b"raw bytes"), cfg).await.unwrap();
    assert!(got.inspection.is_none());
}
