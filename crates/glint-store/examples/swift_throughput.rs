//! Upload and download throughput of the swift store against a running
//! Swift (v1 auth), e.g. the kit in `tests/swift`:
//!
//! ```text
//! source tests/swift/env.sh
//! cargo run -p glint-store --example swift_throughput
//! ```
//!
//! (The dev profile optimises dependencies, where the work is done.)
//!
//! It streams `GLINT_BENCH_MIB` MiB (1024) of generated data in 1 MiB chunks
//! into a fresh container, reads it back, and removes it. Optional:
//! `GLINT_BENCH_LARGE_MIB` / `GLINT_BENCH_CHUNK_MIB` set `large_object_size`
//! and `large_object_chunk_size` to measure the Static Large Object path.

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use glint_model::ImageId;
use glint_store::{Secret, Store, SwiftAuthVersion, SwiftConfig, SwiftStore};

const MIB: u64 = 1024 * 1024;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (source tests/swift/env.sh)"))
}

fn env_mib(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse::<u64>().expect(name) * MIB)
}

#[tokio::main]
async fn main() {
    let size = env_mib("GLINT_BENCH_MIB").unwrap_or(1024 * MIB);
    let mut config = SwiftConfig::new(
        "bench",
        env("SWIFT_AUTH_URL"),
        SwiftAuthVersion::V1,
        env("SWIFT_USER"),
        Secret::new(env("SWIFT_KEY")),
    );
    config.container = format!("glint-bench-{}", &ImageId::new_random().to_string()[..8]);
    config.create_container_on_put = true;
    if let Some(large) = env_mib("GLINT_BENCH_LARGE_MIB") {
        config.large_object_size = large;
    }
    if let Some(chunk) = env_mib("GLINT_BENCH_CHUNK_MIB") {
        config.large_object_chunk_size = chunk;
    }
    let container = config.container.clone();
    let store = SwiftStore::new("bench", config).expect("store settings");

    let chunk = Bytes::from(vec![0x5a; MIB as usize]);
    let chunks = (size / MIB) as usize;
    let data = futures::stream::iter(std::iter::repeat_n(chunk, chunks).map(Ok)).boxed();
    let started = Instant::now();
    let stored = store
        .put(ImageId::new_random(), data)
        .await
        .expect("upload");
    report("upload", stored.size, started);

    let started = Instant::now();
    let object = store.get(&stored.url, None).await.expect("download");
    let mut stream = object.stream;
    let mut read = 0;
    while let Some(chunk) = stream.next().await {
        read += chunk.expect("download").len() as u64;
    }
    report("download", read, started);
    assert_eq!(read, stored.size);

    store.delete(&stored.url).await.expect("delete");
    store
        .remove_container(&container)
        .await
        .expect("remove container");
}

fn report(what: &str, bytes: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{what:>8}: {} MiB in {secs:.2} s = {:.0} MB/s",
        bytes / MIB,
        bytes as f64 / secs / 1e6
    );
}
