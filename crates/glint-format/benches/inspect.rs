//! Upload hot path: the cost of feeding a large raw image through the inspector.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glint_format::Inspector;

const CHUNK: usize = 1024 * 1024;
const CHUNKS: usize = 64;

fn feed_raw(c: &mut Criterion) {
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("inspect");
    group.throughput(Throughput::Bytes((CHUNK * CHUNKS) as u64));
    group.bench_function("raw_64MiB_in_1MiB_chunks", |b| {
        b.iter(|| {
            let mut inspector = Inspector::new();
            for _ in 0..CHUNKS {
                inspector.feed(black_box(&chunk));
            }
            black_box(inspector.finish())
        });
    });
    group.finish();
}

/// A qcow2 version 3 header of a 1 GiB disk, as qemu-img writes one.
fn qcow2_head(chunk: &mut [u8]) {
    let fields: [(usize, &[u8]); 11] = [
        (0, b"QFI\xfb"),
        (4, &3u32.to_be_bytes()),
        (20, &16u32.to_be_bytes()),
        (24, &(1u64 << 30).to_be_bytes()),
        (36, &16u32.to_be_bytes()),
        (40, &0x30000u64.to_be_bytes()),
        (48, &0x10000u64.to_be_bytes()),
        (56, &1u32.to_be_bytes()),
        (96, &4u32.to_be_bytes()),
        (100, &104u32.to_be_bytes()),
        (104, &[0; 8]),
    ];
    for (at, bytes) in fields {
        chunk[at..at + bytes.len()].copy_from_slice(bytes);
    }
}

/// The inspection of a 1 GiB qcow2 upload, in the chunks of a stream (1 MiB,
/// and the 64 KiB pieces the ingest wrapper gathers small chunks into):
/// what inspection adds to such an upload.
fn feed_qcow2_1gib(c: &mut Criterion) {
    let mut group = c.benchmark_group("inspect");
    group.throughput(Throughput::Bytes(1 << 30));
    for (label, size) in [("1MiB", CHUNK), ("64KiB", 64 * 1024)] {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut first = body.clone();
        qcow2_head(&mut first);
        let chunks = (1usize << 30) / size;
        group.bench_function(format!("qcow2_1GiB_in_{label}_chunks"), |b| {
            b.iter(|| {
                let mut inspector = Inspector::new();
                inspector.feed(black_box(&first));
                for _ in 1..chunks {
                    inspector.feed(black_box(&body));
                }
                black_box(inspector.finish())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, feed_raw, feed_qcow2_1gib);
criterion_main!(benches);
