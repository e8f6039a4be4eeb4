//! Direct I/O for uploads: the data is copied once, into a few reused aligned
//! blocks, and goes from there to the disk without passing through the page
//! cache.
//!
//! Through the page cache, every uploaded byte costs a copy into a freshly
//! allocated cache page, and a write-once image pushes hotter pages (the
//! catalogue, images being downloaded) out of memory. Allocating those pages is
//! the expensive part: on the virtual machines glint was measured on, writing
//! 1 GiB through the cache took 0.4-2.2 CPU-seconds depending on whether the
//! guest's memory had been touched before, while copying it into a reused
//! buffer takes about 0.15.
//!
//! Direct writes must start at, and be a multiple of, the device's logical
//! block size, from memory aligned to it; [`ALIGN`] covers the 512-byte and
//! 4 KiB devices seen in practice. The last block is padded with zeros and the
//! file cut back to its real size afterwards. Should a device refuse even that
//! (`EINVAL`), the rest of the object is written through the page cache.
//!
//! Blocks are filled on the writer thread and written on a second thread, so
//! the disk is busy while the next block fills.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, channel, sync_channel};
use std::thread;

use bytes::Bytes;

use crate::store::StoreError;

/// Alignment of memory, file offsets and lengths for direct I/O.
pub(super) const ALIGN: usize = 4096;
/// Bytes per direct write. Writes of 1 MiB reached about 60 % of the disk's
/// speed on the machines measured, 4 MiB all of it.
pub(super) const BLOCK: usize = 4 * 1024 * 1024;
/// Blocks per upload: one filling while the other is written.
const BLOCKS: usize = 2;

/// An aligned buffer of [`BLOCK`] bytes and how much of it holds data.
struct Block {
    mem: Vec<u8>,
    /// Where the aligned part of `mem` starts.
    start: usize,
    len: usize,
}

impl Block {
    fn new() -> Block {
        let mem = vec![0; BLOCK + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        Block { mem, start, len: 0 }
    }

    /// Copies as much of `data` as fits; returns how much that was.
    fn fill(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(BLOCK - self.len);
        let at = self.start + self.len;
        self.mem[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    fn is_full(&self) -> bool {
        self.len == BLOCK
    }

    /// The data, zero-padded to a whole number of aligned units.
    fn padded(&mut self) -> &[u8] {
        let end = self.start + self.len.next_multiple_of(ALIGN);
        self.mem[self.start + self.len..end].fill(0);
        &self.mem[self.start..end]
    }
}

/// Opens a new file for direct writes. `Ok(None)` when the file system does
/// not support direct I/O at all (nothing is left behind then).
pub(super) fn create(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    match opened {
        Ok(file) => Ok(Some(file)),
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
            // Linux creates the file before it checks for O_DIRECT support.
            match std::fs::remove_file(path) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
                _ => Ok(None),
            }
        }
        Err(err) => Err(err),
    }
}

/// Why filling stopped early.
enum Stop {
    /// The input failed or was abandoned.
    Source(StoreError),
    /// The disk thread stopped; its own result says why.
    Disk,
}

/// Writes every chunk `next` yields (until it yields `Ok(None)`) to `file`,
/// opened by [`create`] at `path`. Returns the size written; the file is cut
/// to that size but not yet synced.
pub(super) fn write(
    file: &File,
    path: &Path,
    mut next: impl FnMut() -> Result<Option<Vec<Bytes>>, StoreError>,
) -> Result<u64, StoreError> {
    let (to_disk, filled) = sync_channel::<(Block, u64)>(BLOCKS - 1);
    let (to_filler, free) = channel::<Block>();
    let span = tracing::Span::current();
    thread::scope(|scope| {
        let disk = thread::Builder::new()
            .name("glint-direct-io".to_owned())
            .spawn_scoped(scope, move || {
                let _span = span.entered();
                write_blocks(file, path, &filled, &to_filler)
            })?;
        let result = fill(&mut next, &to_disk, &free);
        drop(to_disk);
        let written = disk
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the direct I/O thread panicked")));
        match (result, written) {
            (Err(Stop::Source(err)), _) => Err(err),
            (_, Err(err)) => Err(StoreError::from_io(err)),
            (Err(Stop::Disk), Ok(())) => Err(StoreError::Io(io::Error::other(
                "the direct I/O thread stopped",
            ))),
            (Ok(size), Ok(())) => {
                // The padded tail made the file longer than the data.
                file.set_len(size).map_err(StoreError::from_io)?;
                Ok(size)
            }
        }
    })
}

fn fill(
    next: &mut impl FnMut() -> Result<Option<Vec<Bytes>>, StoreError>,
    to_disk: &SyncSender<(Block, u64)>,
    free: &Receiver<Block>,
) -> Result<u64, Stop> {
    let mut unused = BLOCKS;
    let mut take = || match free.try_recv() {
        Ok(block) => Ok(block),
        Err(TryRecvError::Empty) if unused > 0 => {
            // Allocated only when needed, so a small image costs one block.
            unused -= 1;
            Ok(Block::new())
        }
        Err(TryRecvError::Empty) => free.recv().map_err(|_| Stop::Disk),
        Err(TryRecvError::Disconnected) => Err(Stop::Disk),
    };
    let mut block = take()?;
    let mut offset = 0u64;
    while let Some(chunks) = next().map_err(Stop::Source)? {
        for chunk in &chunks {
            let mut rest: &[u8] = chunk;
            while !rest.is_empty() {
                let n = block.fill(rest);
                rest = &rest[n..];
                if block.is_full() {
                    to_disk.send((block, offset)).map_err(|_| Stop::Disk)?;
                    offset += BLOCK as u64;
                    block = take()?;
                }
            }
        }
    }
    let size = offset + block.len as u64;
    if block.len > 0 {
        to_disk.send((block, offset)).map_err(|_| Stop::Disk)?;
    }
    Ok(size)
}

/// The disk thread: writes blocks at their offsets and hands them back.
fn write_blocks(
    file: &File,
    path: &Path,
    filled: &Receiver<(Block, u64)>,
    free: &std::sync::mpsc::Sender<Block>,
) -> io::Result<()> {
    let mut buffered: Option<File> = None;
    for (mut block, offset) in filled {
        let data = block.padded();
        match &buffered {
            Some(fallback) => fallback.write_all_at(data, offset)?,
            None => match file.write_all_at(data, offset) {
                Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!(
                        path = %path.display(),
                        "direct I/O refused; writing the rest through the page cache"
                    );
                    let fallback = OpenOptions::new().write(true).open(path)?;
                    fallback.write_all_at(data, offset)?;
                    buffered = Some(fallback);
                }
                other => other?,
            },
        }
        block.len = 0;
        // The filler is gone only once it has sent its last block.
        let _ = free.send(block);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_pad_with_zeros() {
        let mut block = Block::new();
        assert_eq!(block.mem[block.start..].as_ptr() as usize % ALIGN, 0);
        assert_eq!(block.fill(&[7; 10]), 10);
        block.mem[block.start + 10] = 9;
        let padded = block.padded();
        assert_eq!(padded.len(), ALIGN);
        assert_eq!(&padded[..10], &[7; 10]);
        assert!(padded[10..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_block_takes_no_more_than_it_holds() {
        let mut block = Block::new();
        let data = vec![1; BLOCK + 5];
        assert_eq!(block.fill(&data), BLOCK);
        assert!(block.is_full());
        assert_eq!(block.fill(&data), 0);
        assert_eq!(block.padded().len(), BLOCK);
    }
}
