//! The two ways of turning a byte range of an object file into chunks. Reading
//! runs on the blocking pool (see `read.rs`); a mapped range whose pages are all in
//! the page cache is handed out directly instead, since nothing can wait for the
//! disk there.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use memmap2::{Advice, Mmap, MmapOptions};

use super::read::ReadStrategy;

/// Chunk size handed to the HTTP layer: large enough that per-chunk costs vanish.
const CHUNK_BYTES: usize = 1024 * 1024;
/// Bytes mapped at a time: amortises mmap/munmap, while bounding the page tables a
/// download holds (they grow with the faulted-in pages until the window is unmapped).
const MAP_WINDOW: u64 = 16 * 1024 * 1024;
/// Buffers kept for reuse per download: two batches' worth plus a couple in the
/// HTTP layer's hands.
const POOL_BUFFERS: usize = 10;

pub(super) enum Source {
    Mapped {
        file: File,
        /// End of the requested range; windows never extend past it.
        end: u64,
        window: Option<Window>,
    },
    Buffered {
        file: File,
        pool: BufferPool,
    },
}

pub(super) struct Window {
    start: u64,
    map: Arc<Mmap>,
    /// The whole window as `Bytes`, sliced into chunks without copying.
    bytes: Bytes,
}

impl Window {
    /// Where `[offset, end)` starts in the window, and how much of it the window
    /// holds.
    fn span(&self, offset: u64, end: u64) -> io::Result<(usize, usize)> {
        let window_end = self.start + self.bytes.len() as u64;
        let at = usize::try_from(offset - self.start).map_err(io::Error::other)?;
        let len = usize::try_from(end.min(window_end) - offset).map_err(io::Error::other)?;
        Ok((at, len))
    }
}

impl Source {
    pub(super) fn new(file: File, strategy: ReadStrategy, end: u64) -> Self {
        match strategy {
            ReadStrategy::Mmap => Source::Mapped {
                file,
                end,
                window: None,
            },
            ReadStrategy::Read => Source::Buffered {
                file,
                pool: BufferPool::default(),
            },
        }
    }

    /// Chunks covering `[offset, offset + len)` if every page of it is in the page
    /// cache: slices of the mapping, faulted in by whoever reads them, which costs
    /// no disk access. `None` when some page is not (or the source reads with
    /// `pread`): then [`Source::read`] on the blocking pool is the way. Only
    /// system calls that never wait for the disk run here (mmap without
    /// populating, fstat, mincore), so async workers may call it.
    pub(super) fn resident(&mut self, mut offset: u64, len: u64) -> io::Result<Option<Vec<Bytes>>> {
        let Source::Mapped {
            file,
            end: limit,
            window,
        } = self
        else {
            return Ok(None);
        };
        let end = offset + len;
        let mut chunks = Vec::new();
        while offset < end {
            let window = current_window(window, file, offset, *limit)?;
            let (at, len) = window.span(offset, end)?;
            if !is_resident(&window.map, at, len)? {
                return Ok(None);
            }
            chunks.extend(
                (at..at + len)
                    .step_by(CHUNK_BYTES)
                    .map(|c| window.bytes.slice(c..(c + CHUNK_BYTES).min(at + len))),
            );
            offset += len as u64;
        }
        Ok(Some(chunks))
    }

    /// Chunks covering `[offset, offset + len)`.
    pub(super) fn read(&mut self, mut offset: u64, len: u64) -> io::Result<Vec<Bytes>> {
        let end = offset + len;
        // The reads below wait for one page or chunk at a time; asking for this
        // batch and the next up front keeps many reads in flight on the disk.
        match self {
            Source::Mapped { file, .. } | Source::Buffered { file, .. } => {
                will_need(file, offset, 2 * len);
            }
        }
        let mut chunks = Vec::new();
        while offset < end {
            let chunk = match self {
                Source::Mapped {
                    file,
                    end: limit,
                    window,
                } => {
                    let window = current_window(window, file, offset, *limit)?;
                    mapped_chunk(window, offset, end)?
                }
                Source::Buffered { file, pool } => read_chunk(file, pool, offset, end)?,
            };
            offset += chunk.len() as u64;
            chunks.push(chunk);
        }
        Ok(chunks)
    }
}

/// The window holding `offset`, mapping the next one when the current is used up.
fn current_window<'w>(
    window: &'w mut Option<Window>,
    file: &File,
    offset: u64,
    limit: u64,
) -> io::Result<&'w Window> {
    let covers = |w: &Window| w.start <= offset && offset < w.start + w.bytes.len() as u64;
    if !window.as_ref().is_some_and(covers) {
        let map = Arc::new(map_window(file, offset, (limit - offset).min(MAP_WINDOW))?);
        let bytes = Bytes::from_owner(SharedMap(Arc::clone(&map)));
        *window = Some(Window {
            start: offset,
            map,
            bytes,
        });
    }
    window
        .as_ref()
        .ok_or_else(|| io::Error::other("no mapped window"))
}

fn mapped_chunk(window: &Window, offset: u64, end: u64) -> io::Result<Bytes> {
    let (at, len) = window.span(offset, end)?;
    let len = len.min(CHUNK_BYTES);
    populate(&window.map, at, len)?;
    Ok(window.bytes.slice(at..at + len))
}

/// Faults a chunk's pages in here, on the blocking pool, so the consumer never
/// waits on the disk inside an async worker; a read error surfaces here as an error
/// rather than as a `SIGBUS` when the consumer touches the page.
fn populate(map: &Mmap, at: usize, len: usize) -> io::Result<()> {
    match map.advise_range(Advice::PopulateRead, at, len) {
        // Kernels before 5.14 lack MADV_POPULATE_READ: touch one byte per page.
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
            let pages = map[at..at + len].iter().step_by(4096);
            std::hint::black_box(pages.fold(0u8, |acc, b| acc ^ b));
            Ok(())
        }
        other => other,
    }
}

/// Starts reading `[offset, offset + len)` into the page cache in the background
/// (`POSIX_FADV_WILLNEED`). Only a hint: a failure changes nothing but speed.
#[expect(
    unsafe_code,
    reason = "posix_fadvise only reads its integer arguments; the descriptor is kept \
              open by the borrowed File"
)]
fn will_need(file: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: see the reason above.
    let rc =
        unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED) };
    if rc != 0 {
        tracing::debug!(error = %io::Error::from_raw_os_error(rc), "read-ahead hint refused");
    }
}

/// Whether every page of `map[at..at + len]` is in the page cache.
#[expect(
    unsafe_code,
    reason = "mincore is given a page-aligned range inside a mapping that `map` keeps \
              alive for the call, and a vector with one byte per page of that range"
)]
fn is_resident(map: &Mmap, at: usize, len: usize) -> io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|p| p.is_power_of_two())
        .ok_or_else(|| io::Error::other("no page size"))?;
    let start = map[at..at + len].as_ptr() as usize;
    // The mapping itself starts on a page boundary at or before `start`.
    let aligned = start & !(page - 1);
    let span = start + len - aligned;
    let mut pages = vec![0u8; span.div_ceil(page)];
    // SAFETY: see the reason above; the kernel writes `pages.len()` bytes.
    let rc = unsafe { libc::mincore(aligned as *mut libc::c_void, span, pages.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pages.iter().all(|p| p & 1 == 1))
}

/// One mapping shared by the chunks cut from it; unmapped when the last is dropped.
struct SharedMap(Arc<Mmap>);

impl AsRef<[u8]> for SharedMap {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[expect(
    unsafe_code,
    reason = "mapping a file is unsound only if the file changes underneath the map; \
              objects are written under a partial name, renamed into place and never \
              modified or truncated afterwards (delete unlinks, which keeps the mapped \
              inode alive), and the size to map is checked against the file first"
)]
fn map_window(file: &File, offset: u64, len: u64) -> io::Result<Mmap> {
    let len = usize::try_from(len).map_err(io::Error::other)?;
    if file.metadata()?.len() < offset + len as u64 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "image file shrank while being read",
        ));
    }
    // SAFETY: see the reason above.
    unsafe { MmapOptions::new().offset(offset).len(len).map(file) }
}

fn read_chunk(file: &File, pool: &BufferPool, offset: u64, end: u64) -> io::Result<Bytes> {
    let len = usize::try_from(end - offset)
        .unwrap_or(CHUNK_BYTES)
        .min(CHUNK_BYTES);
    let mut buf = pool.take();
    file.read_exact_at(&mut buf.data[..len], offset)?;
    buf.len = len;
    Ok(Bytes::from_owner(buf))
}

/// Recycles read buffers: a fresh 1 MiB allocation per chunk costs page faults and
/// zeroing that show up as a large share of the read path.
#[derive(Default, Clone)]
pub(super) struct BufferPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl BufferPool {
    fn take(&self) -> PooledBuf {
        let recycled = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        PooledBuf {
            data: recycled.unwrap_or_else(|| vec![0; CHUNK_BYTES]),
            len: 0,
            pool: self.clone(),
        }
    }
}

/// A chunk whose buffer goes back to the pool when the HTTP layer drops it.
struct PooledBuf {
    data: Vec<u8>,
    len: usize,
    pool: BufferPool,
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        let mut free = self
            .pool
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if free.len() < POOL_BUFFERS {
            free.push(data);
        }
    }
}
