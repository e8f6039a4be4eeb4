//! Regrouping the chunks of an upload for consumers that pay per chunk.

use bytes::{Bytes, BytesMut};

/// Chunks at least this long pass on as they are, without a copy; shorter ones are
/// copied together until they reach it. A network body normally arrives in pieces
/// of a few hundred KiB, but a client may send one byte per chunk, and per-chunk
/// costs downstream (a `Bytes` handle in a batch, an iovec, a digest update) must
/// not be multiplied by that.
pub(crate) const MIN_PIECE: usize = 64 * 1024;

/// Turns a sequence of chunks into the same bytes in pieces of at least
/// [`MIN_PIECE`], except for the ones just before a long chunk and at the end.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    pending: BytesMut,
}

impl Coalescer {
    /// Takes the next chunk; returns the pieces that are ready, in order.
    pub(crate) fn push(&mut self, chunk: Bytes) -> [Option<Bytes>; 2] {
        if chunk.len() >= MIN_PIECE {
            return [self.finish(), Some(chunk)];
        }
        if chunk.is_empty() {
            return [None, None];
        }
        if self.pending.capacity() - self.pending.len() < chunk.len() {
            // Room for a full piece plus the chunk that completes it, so the
            // buffer is never grown by copying.
            self.pending.reserve(2 * MIN_PIECE);
        }
        self.pending.extend_from_slice(&chunk);
        if self.pending.len() >= MIN_PIECE {
            [Some(self.pending.split().freeze()), None]
        } else {
            [None, None]
        }
    }

    /// What is left once the input has ended.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        (!self.pending.is_empty()).then(|| self.pending.split().freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regroup(sizes: &[usize]) -> (Vec<u8>, Vec<Bytes>) {
        let total: usize = sizes.iter().sum();
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let source = Bytes::from(data.clone());
        let mut coalescer = Coalescer::default();
        let mut pieces = Vec::new();
        let mut at = 0;
        for &size in sizes {
            let ready = coalescer.push(source.slice(at..at + size));
            pieces.extend(ready.into_iter().flatten());
            at += size;
        }
        pieces.extend(coalescer.finish());
        (data, pieces)
    }

    #[test]
    fn bytes_come_out_unchanged_and_in_order() {
        let sizes = [1, 0, 70_000, 3, 65_535, 1, 200_000, 10, 10, 64 * 1024, 5];
        let (data, pieces) = regroup(&sizes);
        assert_eq!(pieces.concat(), data);
        assert!(pieces.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn tiny_chunks_become_full_pieces() {
        let (data, pieces) = regroup(&[1; 3 * MIN_PIECE + 7]);
        assert_eq!(pieces.concat(), data);
        let lengths: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert_eq!(lengths, [MIN_PIECE, MIN_PIECE, MIN_PIECE, 7]);
    }

    #[test]
    fn long_chunks_pass_without_a_copy() {
        let source = Bytes::from(vec![7u8; 3 * MIN_PIECE]);
        let mut coalescer = Coalescer::default();
        let [first, second] = coalescer.push(source.clone());
        assert!(first.is_none());
        assert_eq!(second.unwrap().as_ptr(), source.as_ptr());
        assert!(coalescer.finish().is_none());
    }

    #[test]
    fn pending_bytes_go_out_before_a_long_chunk() {
        let (data, pieces) = regroup(&[10, 20, MIN_PIECE * 2, 5]);
        let lengths: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert_eq!(lengths, [30, 2 * MIN_PIECE, 5]);
        assert_eq!(pieces.concat(), data);
    }
}
