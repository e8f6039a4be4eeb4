//! Helpers shared by the integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, stream};
use glint_store::{ByteStream, StoreError};

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Cuts `data` into chunks of the given sizes, cycling through them, so stores see
/// irregular chunking like a network body's.
pub fn chunks_of(data: &[u8], sizes: &[usize]) -> Vec<Bytes> {
    let data = Bytes::copy_from_slice(data);
    let mut out = Vec::new();
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        out.push(data.slice(at..end));
        at = end;
    }
    out
}

/// Odd sizes, some tiny, some above the 1 MiB write size.
pub const ODD_SIZES: &[usize] = &[1, 4093, 65_537, 1_500_000, 7, 300_001, 2_097_153];

/// `data` in odd-sized chunks. Like the upload stream a store is given, it
/// must not be polled again once it has ended (it panics then).
pub fn stream_of(data: &[u8]) -> ByteStream {
    let chunks = chunks_of(data, ODD_SIZES).into_iter();
    stream::unfold(chunks, |mut chunks| async move {
        chunks.next().map(|chunk| (Ok(chunk), chunks))
    })
    .boxed()
}

/// The first `good` bytes of `data`, then a failure, as when a client's connection
/// breaks mid-upload.
pub fn failing_stream(data: &[u8], good: usize) -> ByteStream {
    let chunks = chunks_of(&data[..good], ODD_SIZES);
    let failure = Err(StoreError::Source("connection reset".to_owned()));
    stream::iter(chunks.into_iter().map(Ok).chain([failure])).boxed()
}

/// The first `good` bytes of `data`, then nothing ever again: a stalled client.
pub fn stalling_stream(data: &[u8], good: usize) -> ByteStream {
    let chunks = chunks_of(&data[..good], ODD_SIZES);
    stream::iter(chunks.into_iter().map(Ok))
        .chain(stream::pending())
        .boxed()
}

pub async fn collect(mut stream: ByteStream) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Polls `condition` until it holds or a few seconds pass; cleanup after a dropped
/// upload happens on another thread, shortly after the drop.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// The value of an environment variable that points a test at a real server
/// (the kits in `tests/` that `scripts/test` starts). When it is not set the
/// test is skipped, unless `GLINT_REQUIRE_STORES` is set, as `scripts/test`
/// does: then a missing server fails the test instead of hiding it.
pub fn store_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("GLINT_REQUIRE_STORES").is_some() => {
            panic!("{name} is not set, and GLINT_REQUIRE_STORES asks for every store")
        }
        _ => {
            eprintln!("skipped: {name} is not set");
            None
        }
    }
}
