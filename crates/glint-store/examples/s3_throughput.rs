//! Upload and download throughput of the s3 store, and the memory an upload
//! takes, against the S3 server of the Ceph kit:
//!
//! ```text
//! source tests/ceph/env.sh
//! cargo run --release -p glint-store --example s3_throughput -- 1024
//! ```
//!
//! The argument is the image size in MiB (1024). The image goes into a new
//! bucket with glance_store's default multipart settings (100 MiB threshold,
//! 10 MiB parts, 10 in flight); bucket and object are removed at the end.
//! radosgw frees the data of deleted objects only when its garbage collector
//! runs (two hours later by default), so between runs on the kit's small OSD
//! run `radosgw-admin gc process --include-all`, or the OSD fills up.

use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, stream};
use glint_model::ImageId;
use glint_store::{ByteStream, S3Config, S3Store, Secret, Store};

const MIB: usize = 1024 * 1024;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: source tests/ceph/env.sh"))
}

/// Resident and peak resident memory of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `mib` MiB in 1 MiB chunks, slices of one random 16 MiB block (no copy),
/// as a fast client would send them.
fn image(mib: usize) -> ByteStream {
    let mut block = vec![0u8; 16 * MIB];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for word in block.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes());
    }
    let block = Bytes::from(block);
    stream::iter((0..mib).map(move |i| Ok(block.slice((i % 16) * MIB..(i % 16 + 1) * MIB)))).boxed()
}

#[tokio::main]
async fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map_or(1024, |a| a.parse().expect("size in MiB"));
    let mut config = S3Config::new(
        env("CEPH_S3_ENDPOINT"),
        env("CEPH_S3_ACCESS_KEY"),
        Secret::new(env("CEPH_S3_SECRET_KEY")),
        format!("glint-bench-{}", ImageId::new_random()),
    );
    config.region_name = Some(env("CEPH_S3_REGION"));
    config.create_bucket_on_put = true;
    let store = S3Store::new("s3", config).expect("config");
    let bytes = (mib * MIB) as f64;

    let data = image(mib);
    let (rss_before, _) = rss_kib();
    let started = Instant::now();
    let stored = store
        .put(ImageId::new_random(), data)
        .await
        .expect("upload");
    let up = started.elapsed();
    let (_, peak) = rss_kib();
    println!(
        "upload:   {mib} MiB in {:.2} s = {:.0} MB/s; RSS {} MiB before, peak {} MiB (+{} MiB); {} parts in flight at most",
        up.as_secs_f64(),
        bytes / up.as_secs_f64() / 1e6,
        rss_before / 1024,
        peak / 1024,
        peak.saturating_sub(rss_before) / 1024,
        store.peak_parts_in_flight(),
    );

    let started = Instant::now();
    let mut object = store.get(&stored.url, None).await.expect("download");
    let mut received = 0u64;
    while let Some(chunk) = object.stream.next().await {
        received += chunk.expect("download").len() as u64;
    }
    let down = started.elapsed();
    assert_eq!(received, stored.size);
    println!(
        "download: {mib} MiB in {:.2} s = {:.0} MB/s",
        down.as_secs_f64(),
        bytes / down.as_secs_f64() / 1e6
    );

    store.delete(&stored.url).await.expect("delete");
    store.delete_bucket().await.expect("delete bucket");
}
