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

criterion_group!(benches, feed_raw);
criterion_main!(benches);
