//! Images read by id on a SQLite file, kept between reads for as long as
//! the file has not changed.
//!
//! A show is glint's most frequent request, and on SQLite half of its CPU
//! went to the read itself: taking and releasing the read transaction's
//! locks on the `-shm` file, running the statement and decoding the row
//! and its children document. Between two writes the answer to "image X
//! as stored" cannot change, so it is kept here, and a later show of X
//! reads only whether the file changed since.
//!
//! *Whether the file changed* comes from SQLite's own WAL index: the
//! header at the start of the `-shm` file, which every commit rewrites
//! (its change counter, frame count, salts and checksum) and which a new
//! read transaction reads to find its snapshot. Its 48 bytes are a mark of
//! the database's content: equal marks, equal content, whoever wrote (this
//! process, another glint on the same file, `glint db …`). SQLite writes
//! the header twice, second copy first; a mark is taken only when both
//! copies agree, the header says it is initialised and its checksum holds,
//! as SQLite's readers check it. The format is SQLite's documented WAL
//! index (<https://sqlite.org/walformat.html>), which every version since
//! 3.7.0 shares, since processes of different versions may share one file.
//!
//! An image is kept only when the mark read before it was read and the
//! mark read after are the same (no commit in between, so what was read
//! is the content of that mark), and found only under the mark read now.
//! A new mark empties the store. Policy, visibility and the view are
//! applied to every request as before: what is kept is the stored row,
//! never an answer.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use glint_model::{Image, ImageId};

/// The WAL index header, as SQLite lays it out: version, unused, change
/// counter, `isInit`, byte order, page size, frame count, page count,
/// last frame's checksum, salts, then the checksum of the 40 bytes before.
const HEADER: usize = 48;
/// `iVersion` of every WAL index SQLite has written (3.7.0 onward).
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// The bytes kept images may hold together, by [`weight`]. Images are a
/// few hundred bytes to a few kilobytes; a full store is emptied.
const BUDGET: usize = 16 << 20;

/// A mark of the database's content (see the module documentation).
pub(crate) type Mark = [u8; HEADER];

/// Images (`V`: an image as read, with what else the read gave) read at
/// one mark.
pub(crate) struct Shown<V> {
    shm: File,
    kept: Mutex<Kept<V>>,
    hits: AtomicU64,
}

struct Kept<V> {
    mark: Option<Mark>,
    images: HashMap<ImageId, (V, usize)>,
    weight: usize,
}

impl<V> Kept<V> {
    fn at(mark: Option<Mark>) -> Kept<V> {
        Kept {
            mark,
            images: HashMap::new(),
            weight: 0,
        }
    }
}

impl<V: Clone> Shown<V> {
    /// The store for the SQLite file at `database`, whose readers have
    /// already opened its WAL index; `None` when there is none to read (a
    /// database not in WAL mode).
    pub(crate) fn open(database: &Path) -> Option<Shown<V>> {
        let mut shm = database.as_os_str().to_owned();
        shm.push("-shm");
        let shm = File::open(shm).ok()?;
        let shown = Shown {
            shm,
            kept: Mutex::new(Kept::at(None)),
            hits: AtomicU64::new(0),
        };
        shown.mark().map(|_| shown)
    }

    /// The database's mark now; `None` while SQLite writes the header (or
    /// if it cannot be read).
    pub(crate) fn mark(&self) -> Option<Mark> {
        let mut both = [0_u8; 2 * HEADER];
        self.shm.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(HEADER);
        let mark: Mark = first.try_into().ok()?;
        (first == second && header_holds(&mark)).then_some(mark)
    }

    /// The image `id` as read at `mark`, if it was kept.
    pub(crate) fn get(&self, mark: &Mark, id: ImageId) -> Option<V> {
        let kept = self.lock();
        if kept.mark.as_ref() != Some(mark) {
            return None;
        }
        let found = kept.images.get(&id).map(|(image, _)| image.clone());
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps `image` (the image `id`, about `weight` bytes, see
    /// [`weight`]), read after `before` was taken, if the database still
    /// has that mark.
    pub(crate) fn keep(&self, before: Mark, id: ImageId, image: &V, weight: usize) {
        if self.mark() != Some(before) {
            return;
        }
        let mut kept = self.lock();
        if kept.mark != Some(before) || kept.weight + weight > BUDGET {
            *kept = Kept::at(Some(before));
        }
        if weight <= BUDGET {
            kept.weight += weight;
            if let Some((_, was)) = kept.images.insert(id, (image.clone(), weight)) {
                kept.weight -= was;
            }
        }
    }

    /// How many reads were answered from the store.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept<V>> {
        // What is kept stays consistent even if a holder panicked.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a WAL index header is one SQLite would read: initialised, of
/// the version it writes, its checksum right.
fn header_holds(header: &Mark) -> bool {
    let word = |at: usize| u32::from_ne_bytes([0, 1, 2, 3].map(|i| header[at + i]));
    let is_init = header[12] == 1;
    is_init && word(0) == WAL_INDEX_VERSION && checksum(&header[..40]) == (word(40), word(44))
}

/// SQLite's WAL checksum of `bytes` in native byte order, as the header's
/// own is computed: two running sums over pairs of 32-bit words.
fn checksum(bytes: &[u8]) -> (u32, u32) {
    let (mut s1, mut s2) = (0_u32, 0_u32);
    for pair in bytes.chunks_exact(8) {
        let word = |at: usize| u32::from_ne_bytes([0, 1, 2, 3].map(|i| pair[at + i]));
        s1 = s1.wrapping_add(word(0)).wrapping_add(s2);
        s2 = s2.wrapping_add(word(4)).wrapping_add(s1);
    }
    (s1, s2)
}

/// About how many bytes an image holds in memory: a fixed part and its
/// text.
pub(crate) fn weight(image: &Image) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let properties: usize = (image.properties.iter())
        .map(|(k, v)| 64 + k.len() + v.len())
        .sum();
    let tags: usize = image.tags.iter().map(|t| 32 + t.len()).sum();
    let locations: usize = (image.locations.iter())
        .map(|l| 128 + l.url.len() + l.metadata.iter().map(entry_weight).sum::<usize>())
        .sum();
    let fields = [
        &image.name,
        &image.owner,
        &image.checksum,
        &image.os_hash_algo,
        &image.os_hash_value,
    ];
    512 + fields.into_iter().map(text).sum::<usize>() + properties + tags + locations
}

/// About how many bytes a location's metadata entry holds: its key and
/// its value, nested values included.
fn entry_weight((key, value): (&String, &serde_json::Value)) -> usize {
    32 + key.len() + value_weight(value)
}

fn value_weight(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::String(s) => 24 + s.len(),
        Value::Array(items) => 24 + items.iter().map(value_weight).sum::<usize>(),
        Value::Object(map) => 48 + map.iter().map(entry_weight).sum::<usize>(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{Versioned, version_of};

    /// A header as SQLite writes it, with `change` as its change counter.
    fn header(change: u32) -> Mark {
        let mut h = [0_u8; HEADER];
        h[0..4].copy_from_slice(&WAL_INDEX_VERSION.to_ne_bytes());
        h[8..12].copy_from_slice(&change.to_ne_bytes());
        h[12] = 1;
        h[14..16].copy_from_slice(&4096_u16.to_ne_bytes());
        h[16..20].copy_from_slice(&(change * 3).to_ne_bytes());
        h[32..40].copy_from_slice(&[7, 1, 7, 1, 9, 2, 9, 2]);
        let (s1, s2) = checksum(&h[..40]);
        h[40..44].copy_from_slice(&s1.to_ne_bytes());
        h[44..48].copy_from_slice(&s2.to_ne_bytes());
        h
    }

    fn shm_with<V: Clone>(dir: &Path, first: &Mark, second: &Mark) -> Option<Shown<V>> {
        let db = dir.join("glint.db");
        let mut bytes = first.to_vec();
        bytes.extend_from_slice(second);
        bytes.resize(32 * 1024, 0);
        std::fs::write(dir.join("glint.db-shm"), bytes).unwrap();
        Shown::open(&db)
    }

    #[test]
    fn a_mark_is_taken_only_from_a_whole_header() {
        let dir = tempfile::tempdir().unwrap();
        let good = header(5);
        let shown = shm_with::<()>(dir.path(), &good, &good).expect("a whole header");
        assert_eq!(shown.mark(), Some(good));

        // The two copies differ: SQLite is writing it.
        assert!(shm_with::<()>(dir.path(), &header(6), &good).is_none());
        // A bad checksum, not initialised, another version.
        let mut torn = good;
        torn[17] ^= 1;
        assert!(shm_with::<()>(dir.path(), &torn, &torn).is_none());
        let mut uninit = good;
        uninit[12] = 0;
        assert!(shm_with::<()>(dir.path(), &uninit, &uninit).is_none());
        let mut other = header(5);
        other[0] ^= 1;
        assert!(shm_with::<()>(dir.path(), &other, &other).is_none());
        // No WAL index at all.
        std::fs::remove_file(dir.path().join("glint.db-shm")).unwrap();
        assert!(Shown::<()>::open(&dir.path().join("glint.db")).is_none());
    }

    #[test]
    fn an_image_is_found_only_under_the_mark_it_was_kept_at() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (header(1), header(2));
        let shown = shm_with(dir.path(), &one, &one).unwrap();
        let image = Versioned {
            image: crate::tests::sample_image(),
            version: version_of(3),
        };
        let id = image.image.id;
        shown.keep(one, id, &image, 600);
        assert_eq!(shown.get(&one, id), Some(image.clone()));
        assert_eq!(shown.get(&two, id), None);
        assert_eq!(shown.hits(), 1);

        // Kept only if the database still has the mark read before.
        let later = shm_with(dir.path(), &two, &two).unwrap();
        later.keep(one, id, &image, 600);
        assert_eq!(later.get(&one, id), None);
        later.keep(two, id, &image, 600);
        assert_eq!(later.get(&two, id), Some(image));
    }

    #[test]
    fn an_image_weighs_at_least_its_text_nested_metadata_included() {
        let mut image = crate::tests::sample_image();
        let light = weight(&image);
        let mut location = glint_model::Location::new("file:///x", "fast");
        let deep = serde_json::json!({"a": [{"b": "x".repeat(100_000)}]});
        location.metadata.insert("nested".into(), deep);
        image.locations.push(location);
        image.properties.insert("k".into(), "v".repeat(50_000));
        image.tags.push("t".repeat(255));
        assert!(weight(&image) > light + 150_000 + 255);
    }

    #[test]
    fn what_is_kept_stays_within_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let mark = header(1);
        let shown = shm_with(dir.path(), &mark, &mark).unwrap();
        let mut first = None;
        for _ in 0..(BUDGET / 512 + 10) {
            let image = crate::tests::sample_image();
            first.get_or_insert(image.id);
            shown.keep(mark, image.id, &image, weight(&image));
            assert!(shown.lock().weight <= BUDGET);
        }
        // The store was emptied when full: the first image went with it.
        assert_eq!(shown.get(&mark, first.unwrap()), None);
    }
}
