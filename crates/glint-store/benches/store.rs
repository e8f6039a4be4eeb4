//! Upload and download data paths: hashing (the upload bound), file-store writes,
//! and file-store reads of a page-cache-hot object under each read strategy.
//!
//! Run with `cargo bench -p glint-store`; set `GLINT_BENCH_DIR` to put the data
//! files on another filesystem than the system temp dir.

use std::io::Read;
use std::net::{TcpListener, TcpStream as StdTcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use glint_model::ImageId;
use glint_store::{
    ByteStream, FileStore, HashAlgo, IngestConfig, ReadStrategy, Store, StoreError, ingest,
};
use md5::Md5;
use openssl::hash::{Hasher, MessageDigest};
use sha2::{Digest, Sha512};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

const MIB: usize = 1024 * 1024;
const TOTAL: usize = 256 * MIB;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// 256 MiB of incompressible-looking data in 1 MiB chunks (sharing one buffer).
fn chunks(chunk: usize) -> Vec<Bytes> {
    let mut data = vec![0u8; TOTAL];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for word in data.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
    }
    let data = Bytes::from(data);
    (0..TOTAL)
        .step_by(chunk)
        .map(|at| data.slice(at..(at + chunk).min(TOTAL)))
        .collect()
}

fn stream_of(chunks: &[Bytes]) -> ByteStream {
    let owned = Vec::from(chunks);
    stream::iter(owned.into_iter().map(Ok)).boxed()
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("GLINT_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn hashing(c: &mut Criterion) {
    let rt = runtime();
    let data = chunks(MIB);
    let mut group = c.benchmark_group("hash_256MiB");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(TOTAL as u64));
    group.bench_function("md5_then_sha512_one_thread", |b| {
        b.iter(|| {
            let (mut md5, mut sha) = (ossl(MessageDigest::md5()), ossl(MessageDigest::sha512()));
            for chunk in &data {
                md5.update(chunk).unwrap();
                sha.update(chunk).unwrap();
            }
            (md5.finish().unwrap(), sha.finish().unwrap())
        });
    });
    // What the ingest wrapper does, without it: its ceiling.
    group.bench_function("md5_and_sha512_two_threads_no_wrapper", |b| {
        b.iter(|| {
            thread::scope(|s| {
                let md5 = s.spawn(|| openssl_digest(MessageDigest::md5(), &data));
                let sha = s.spawn(|| openssl_digest(MessageDigest::sha512(), &data));
                (md5.join().unwrap(), sha.join().unwrap())
            })
        });
    });
    for (name, digest) in [
        ("md5_alone", MessageDigest::md5()),
        ("sha512_alone", MessageDigest::sha512()),
    ] {
        group.bench_function(name, |b| b.iter(|| openssl_digest(digest, &data)));
    }
    // RustCrypto's assembly versions, the implementation uploads used before.
    group.bench_function("rustcrypto_md5_alone", |b| {
        b.iter(|| {
            data.iter()
                .fold(Md5::new(), |h, c| h.chain_update(c))
                .finalize()
        });
    });
    group.bench_function("rustcrypto_sha512_alone", |b| {
        b.iter(|| {
            data.iter()
                .fold(Sha512::new(), |h, c| h.chain_update(c))
                .finalize()
        });
    });
    for inspect in [false, true] {
        let name = if inspect {
            "ingest_wrapper_inspect"
        } else {
            "ingest_wrapper"
        };
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(ingest_into_nothing(&data, inspect)));
        });
    }
    group.finish();
}

fn ossl(digest: MessageDigest) -> Hasher {
    Hasher::new(digest).unwrap()
}

fn openssl_digest(digest: MessageDigest, data: &[Bytes]) -> impl AsRef<[u8]> {
    let mut hasher = ossl(digest);
    for chunk in data {
        hasher.update(chunk).unwrap();
    }
    hasher.finish().unwrap()
}

fn ingest_config(inspect: bool) -> IngestConfig {
    IngestConfig {
        hash_algo: HashAlgo::Sha512,
        size_cap: u64::MAX,
        expected_size: Some(TOTAL as u64),
        inspect,
    }
}

async fn ingest_into_nothing(data: &[Bytes], inspect: bool) -> u64 {
    let (mut wrapped, handle) = ingest(stream_of(data), ingest_config(inspect));
    while let Some(chunk) = wrapped.next().await {
        std::hint::black_box(chunk.unwrap());
    }
    handle.finish().await.unwrap().size
}

fn file_put(c: &mut Criterion) {
    let rt = runtime();
    let dir = bench_dir();
    let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
    let mut group = c.benchmark_group("file_put_256MiB");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(TOTAL as u64));
    for (name, chunk) in [("1MiB_chunks", MIB), ("64KiB_chunks", 64 * 1024)] {
        let data = chunks(chunk);
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(put_and_delete(&store, stream_of(&data))));
        });
        let path = dir.path().join("tokio-fs");
        group.bench_function(format!("tokio_fs_baseline_{name}"), |b| {
            b.iter(|| rt.block_on(tokio_fs_write(&path, &data)));
        });
    }
    let data = chunks(64 * 1024);
    group.bench_function("ingest_then_put_64KiB_chunks", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (wrapped, handle) = ingest(stream_of(&data), ingest_config(true));
                put_and_delete(&store, wrapped).await;
                handle.finish().await.unwrap()
            })
        });
    });
    group.finish();
}

/// The alternative to the store's writer thread: tokio's file, which copies each
/// write into its own buffer and runs it as a separate blocking task.
async fn tokio_fs_write(path: &std::path::Path, data: &[Bytes]) {
    let mut file = tokio::fs::File::create(path).await.unwrap();
    for chunk in data {
        file.write_all(chunk).await.unwrap();
    }
    file.sync_data().await.unwrap();
    tokio::fs::remove_file(path).await.unwrap();
}

async fn put_and_delete(store: &FileStore, data: ByteStream) {
    let stored = store.put(ImageId::new_random(), data).await.unwrap();
    store.delete(&stored.url).await.unwrap();
}

/// A download's destination. `Copy` stands for the HTTP layer's write into the
/// socket (the bytes are read once more); `Tcp` really writes to a loopback socket
/// that another thread drains, as a server answering `curl > /dev/null` does.
enum Sink {
    Copy(Vec<u8>),
    Tcp(tokio::net::TcpStream),
}

impl Sink {
    async fn consume(&mut self, chunk: &[u8]) {
        match self {
            Sink::Copy(scratch) => {
                scratch[..chunk.len()].copy_from_slice(chunk);
                std::hint::black_box(&scratch);
            }
            Sink::Tcp(socket) => socket.write_all(chunk).await.unwrap(),
        }
    }
}

fn tcp_sink(rt: &Runtime) -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut conn, _): (StdTcpStream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; MIB];
        while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let socket = rt.block_on(tokio::net::TcpStream::connect(addr)).unwrap();
    socket.set_nodelay(true).unwrap();
    Sink::Tcp(socket)
}

/// Opens one download of the bench object.
type Reader = Arc<dyn Fn() -> BoxFuture<'static, ByteStream> + Send + Sync>;

fn file_get(c: &mut Criterion) {
    let rt = runtime();
    let dir = bench_dir();
    let data = chunks(MIB);
    let stored = {
        let store = FileStore::new("file", dir.path().to_path_buf()).unwrap();
        rt.block_on(store.put(ImageId::new_random(), stream_of(&data)))
            .unwrap()
    };
    let path = stored.url.strip_prefix("file://").unwrap().to_owned();
    let mut readers: Vec<(&str, Reader)> = Vec::new();
    for (name, strategy) in [
        ("store_mmap", ReadStrategy::Mmap),
        ("store_read", ReadStrategy::Read),
    ] {
        let store = Arc::new(
            FileStore::new("file", dir.path().to_path_buf())
                .unwrap()
                .with_read_strategy(strategy),
        );
        let url = stored.url.clone();
        readers.push((
            name,
            Arc::new(move || {
                let (store, url) = (Arc::clone(&store), url.clone());
                async move { store.get(&url, None).await.unwrap().stream }.boxed()
            }),
        ));
    }
    readers.push((
        "tokio_reader_stream_256KiB",
        baseline_reader_stream(path.clone()),
    ));
    readers.push((
        "fresh_buffer_reader_1MiB",
        baseline_fresh_buffers(path.clone()),
    ));
    readers.push(("lazy_mmap_no_prefault", baseline_lazy_mmap(path)));
    // No file at all: the ceiling the sink allows.
    readers.push((
        "in_memory_bytes",
        Arc::new(move || {
            let stream = stream_of(&data);
            async move { stream }.boxed()
        }),
    ));

    let mut copy = Sink::Copy(vec![0u8; 4 * MIB]);
    let mut tcp = tcp_sink(&rt);
    let mut group = c.benchmark_group("file_get_256MiB_hot");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(TOTAL as u64));
    group.measurement_time(Duration::from_secs(8));
    for (sink_name, sink) in [("copy", &mut copy), ("tcp", &mut tcp)] {
        for (name, reader) in &readers {
            group.bench_function(format!("{name}/{sink_name}"), |b| {
                b.iter(|| rt.block_on(async { drain(reader().await, sink).await }));
            });
        }
    }
    group.finish();
}

async fn drain(mut stream: ByteStream, sink: &mut Sink) -> u64 {
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        sink.consume(&chunk).await;
        total += chunk.len() as u64;
    }
    assert_eq!(total, TOTAL as u64);
    total
}

/// tokio's file reader as axum examples use it, with a large buffer.
fn baseline_reader_stream(path: String) -> Reader {
    Arc::new(move || {
        let path = path.clone();
        async move {
            let file = tokio::fs::File::open(path).await.unwrap();
            tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
                .map(|r| r.map_err(StoreError::Io))
                .boxed()
        }
        .boxed()
    })
}

/// A blocking reader that allocates a new buffer per chunk (the simple design).
fn baseline_fresh_buffers(path: String) -> Reader {
    Arc::new(move || {
        let path = path.clone();
        async move { fresh_buffers(path) }.boxed()
    })
}

fn fresh_buffers(path: String) -> ByteStream {
    {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(path).unwrap();
            loop {
                let mut buf = BytesMut::zeroed(MIB);
                let n = file.read(&mut buf).unwrap();
                if n == 0 || tx.blocking_send(Ok(buf.split_to(n).freeze())).is_err() {
                    break;
                }
            }
        });
        stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }).boxed()
    }
}

/// One whole-file map, sliced without pre-faulting: page faults land on the consumer.
fn baseline_lazy_mmap(path: String) -> Reader {
    Arc::new(move || {
        let file = std::fs::File::open(&path).unwrap();
        #[expect(
            unsafe_code,
            reason = "benchmark only; the file is not modified while mapped"
        )]
        // SAFETY: the benchmark's file is written once and never changed.
        let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
        let all = Bytes::from_owner(map);
        let chunks: Vec<_> = (0..all.len())
            .step_by(MIB)
            .map(|at| Ok(all.slice(at..(at + MIB).min(all.len()))))
            .collect();
        let stream: ByteStream = stream::iter(chunks).boxed();
        async move { stream }.boxed()
    })
}

criterion_group!(benches, hashing, file_put, file_get);
criterion_main!(benches);
