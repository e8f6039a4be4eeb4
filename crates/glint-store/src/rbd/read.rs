//! Reading an image (at its snapshot) as a stream: a blocking thread opens
//! it, answers its size, then keeps a few asynchronous reads in flight and
//! hands the pieces over in order through a small channel.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::cluster::Connection;
use super::errors::op_error;
use super::ffi::{CephError, Image, InFlight};
use crate::store::{ByteRange, ObjectData, StoreError};

/// Reads are at most this long and never span two 4 MiB-aligned blocks.
const PIECE: u64 = 4 * 1024 * 1024;
/// Reads in flight at once.
const IN_FLIGHT: usize = 3;

pub(crate) struct Source {
    pub pool: String,
    pub image: String,
    pub snapshot: Option<String>,
    /// The location, for errors.
    pub url: String,
}

type Opened = Result<(u64, Option<ByteRange>), StoreError>;

pub(crate) async fn get(
    connection: Arc<Connection>,
    source: Source,
    range: Option<ByteRange>,
) -> Result<ObjectData, StoreError> {
    let (opened_tx, opened) = oneshot::channel::<Opened>();
    let (pieces_tx, pieces) = mpsc::channel(1);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _span = span.entered();
        read(&connection, &source, range, opened_tx, &pieces_tx);
    });
    let (total_size, range) = opened
        .await
        .map_err(|_| StoreError::Io(std::io::Error::other("the RBD reader stopped")))??;
    let stream = futures::stream::unfold(pieces, |mut pieces| async move {
        pieces.recv().await.map(|piece| (piece, pieces))
    });
    Ok(ObjectData {
        stream: stream.boxed(),
        total_size,
        range,
    })
}

/// Opens the image read-only and answers its size; nothing else.
pub(crate) fn size(connection: &Connection, source: &Source) -> Result<u64, StoreError> {
    let io = connection
        .ioctx(&source.pool)
        .map_err(|e| not_found_or(e, source))?;
    let image = io
        .open(&source.image, source.snapshot.as_deref(), true)
        .map_err(|e| not_found_or(e, source))?;
    image.size().map_err(|e| not_found_or(e, source))
}

fn not_found_or(err: CephError, source: &Source) -> StoreError {
    op_error(err, &source.url)
}

fn read(
    connection: &Connection,
    source: &Source,
    range: Option<ByteRange>,
    opened: oneshot::Sender<Opened>,
    pieces: &mpsc::Sender<Result<Bytes, StoreError>>,
) {
    let io = match connection.ioctx(&source.pool) {
        Ok(io) => io,
        Err(e) => {
            let _ = opened.send(Err(not_found_or(e, source)));
            return;
        }
    };
    let image = match io.open(&source.image, source.snapshot.as_deref(), true) {
        Ok(image) => image,
        Err(e) => {
            let _ = opened.send(Err(not_found_or(e, source)));
            return;
        }
    };
    let clamped = image
        .size()
        .map_err(|e| not_found_or(e, source))
        .and_then(|size| Ok((size, range.map(|r| r.clamp_to(size)).transpose()?)));
    let (size, range) = match clamped {
        Ok(answer) => answer,
        Err(err) => {
            let _ = opened.send(Err(err));
            return;
        }
    };
    if opened.send(Ok((size, range))).is_err() {
        return;
    }
    let (start, end) = match range {
        Some(r) => (r.start, r.end + 1),
        None => (0, size),
    };
    if let Err(e) = stream(&image, start, end, pieces) {
        let _ = pieces.blocking_send(Err(op_error(e, &source.url)));
    }
}

/// Sends `start..end` in order; returns early, without error, when the
/// reader of the stream has gone.
fn stream(
    image: &Image<'_>,
    start: u64,
    end: u64,
    pieces: &mpsc::Sender<Result<Bytes, StoreError>>,
) -> Result<(), CephError> {
    let mut pending: VecDeque<InFlight<'_>> = VecDeque::with_capacity(IN_FLIGHT);
    let mut next = start;
    loop {
        while pending.len() < IN_FLIGHT && next < end {
            let len = (PIECE - next % PIECE).min(end - next);
            pending.push_back(image.read_at(next, vec![0; len as usize])?);
            next += len;
        }
        let Some(read) = pending.pop_front() else {
            return Ok(());
        };
        let (result, buf) = read.wait();
        if result? != buf.len() {
            return Err(CephError {
                call: "rbd_aio_read",
                errno: libc::EIO,
            });
        }
        if pieces.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return Ok(());
        }
    }
}
