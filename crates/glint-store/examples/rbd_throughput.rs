//! Throughput of the rbd store against `rbd import` and `rbd export` on the
//! same cluster, and how much the process grows while it uploads.
//!
//! Needs a cluster (the Ceph kit: `source tests/ceph/env.sh`), about twice
//! the size in free pool space and the size again in free disk for the file
//! `rbd import` reads. Run:
//!
//!     cargo run --release -p glint-store --example rbd_throughput [MiB]
//!
//! The size defaults to 1024 MiB. Every image it makes is removed.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use glint_model::ImageId;
use glint_store::{RbdConfig, RbdStore, Store};

const MIB: u64 = 1024 * 1024;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: source tests/ceph/env.sh"))
}

/// Resident set size of this process, from /proc.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// 16 MiB of xorshift bytes, served as 1 MiB slices: the stream costs no copy.
fn pattern() -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(16 * MIB as usize);
    while out.len() < 16 * MIB as usize {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    Bytes::from(out)
}

fn rate(bytes: u64, took: Duration) -> String {
    format!(
        "{:.1} s, {:.0} MB/s",
        took.as_secs_f64(),
        bytes as f64 / 1e6 / took.as_secs_f64()
    )
}

fn rbd(args: &[&str]) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "rbd --id {} -p {} {} >/dev/null 2>&1",
            env("CEPH_RBD_USER"),
            env("CEPH_RBD_POOL"),
            args.join(" ")
        ))
        .status()
        .unwrap();
    assert!(status.success(), "rbd {args:?}");
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .map_or(1024, |a| a.parse().expect("a size in MiB"));
    let size = mib * MIB;
    let store = RbdStore::new(
        "rbd",
        RbdConfig {
            pool: env("CEPH_RBD_POOL"),
            user: Some(env("CEPH_RBD_USER")),
            ceph_conf: Some(env("CEPH_CONF").into()),
            ..RbdConfig::default()
        },
    )
    .unwrap();
    store.fsid().await.unwrap();
    let pattern = pattern();

    // Upload, sampling the RSS as it goes.
    let base = rss_bytes();
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let chunks = (0..size / MIB).map(move |i| {
        let at = (i % 16 * MIB) as usize;
        Ok(pattern.slice(at..at + MIB as usize))
    });
    let id = ImageId::new_random();
    let started = Instant::now();
    let stored = store
        .put(id, futures::stream::iter(chunks).boxed())
        .await
        .unwrap();
    let put = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(stored.size, size);
    let growth = peak.load(Ordering::Relaxed).saturating_sub(base);

    let started = Instant::now();
    let mut stream = store.get(&stored.url, None).await.unwrap().stream;
    let mut read = 0u64;
    while let Some(piece) = stream.next().await {
        read += piece.unwrap().len() as u64;
    }
    let get = started.elapsed();
    assert_eq!(read, size);

    // The same bytes through the rbd command; the file is read from the page cache.
    let file = std::env::temp_dir().join(format!("glint-rbd-bench-{id}"));
    let name = format!("bench-import-{id}");
    let export = {
        let image = id.to_string();
        let took = rbd(&["export", "--no-progress", &format!("{image}@snap"), "-"]);
        store.delete(&stored.url).await.unwrap();
        took
    };
    {
        use std::io::Write;
        let mut out = std::fs::File::create(&file).unwrap();
        let pattern = self::pattern();
        for i in 0..size / MIB {
            let at = (i % 16 * MIB) as usize;
            out.write_all(&pattern[at..at + MIB as usize]).unwrap();
        }
    }
    let file_arg = file.to_string_lossy().into_owned();
    let import = rbd(&[
        "import",
        "--no-progress",
        "--object-size",
        "8M",
        &file_arg,
        &name,
    ]);
    rbd(&["rm", "--no-progress", &name]);
    std::fs::remove_file(&file).unwrap();

    println!("{mib} MiB, 8 MiB objects");
    println!("RbdStore put     {}", rate(size, put));
    println!("rbd import       {}", rate(size, import));
    println!("RbdStore get     {}", rate(size, get));
    println!("rbd export       {}", rate(size, export));
    println!(
        "RSS growth during the put: {:.1} MiB (from {:.1} MiB)",
        growth as f64 / MIB as f64,
        base as f64 / MIB as f64
    );
}
