//! The `file` store: one file per image in a data directory, as Glance's
//! `filesystem_store_datadir`, with locations `file://<datadir>/<image id>`.

mod direct;
mod read;
mod source;
mod write;

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use glint_model::ImageId;

use crate::store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};

pub use read::ReadStrategy;
pub use write::WriteStrategy;

const URL_SCHEME: &str = "file://";
/// Suffix of the names data is written under before it is complete. They start with
/// a dot so no location can ever name them (see [`FileStore::object_path`]).
const PARTIAL_SUFFIX: &str = ".partial";

#[derive(Debug)]
pub struct FileStore {
    id: String,
    datadir: PathBuf,
    /// `file://<datadir>/`, what every location of this store starts with.
    url_prefix: String,
    read_strategy: ReadStrategy,
    write_strategy: WriteStrategy,
}

impl FileStore {
    /// Bytes handed to the file system per write (buffered writes; direct
    /// I/O writes whole aligned blocks).
    pub const WRITE_SIZE: usize = write::WRITE_BYTES;

    /// Opens the store over `datadir`, creating the directory if needed. A relative
    /// path is made absolute against the working directory; symlinks are kept as
    /// configured, so locations look the way the operator wrote the path.
    pub fn new(id: &str, datadir: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&datadir)?;
        let datadir = std::path::absolute(&datadir)?;
        let datadir: PathBuf = datadir.components().collect();
        let Some(dir) = datadir.to_str() else {
            return Err(StoreError::InvalidLocation(format!(
                "data directory {} is not valid UTF-8",
                datadir.display()
            )));
        };
        let url_prefix = format!("{URL_SCHEME}{}/", dir.trim_end_matches('/'));
        Ok(Self {
            id: id.to_owned(),
            datadir,
            url_prefix,
            read_strategy: ReadStrategy::default(),
            write_strategy: WriteStrategy::default(),
        })
    }

    /// Chooses how downloads read files (see [`ReadStrategy`]).
    pub fn with_read_strategy(mut self, strategy: ReadStrategy) -> Self {
        self.read_strategy = strategy;
        self
    }

    /// Chooses how uploads write files (see [`WriteStrategy`]).
    pub fn with_write_strategy(mut self, strategy: WriteStrategy) -> Self {
        self.write_strategy = strategy;
        self
    }

    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The file a location names, refusing anything but a plain file name directly
    /// inside the data directory: a location is never followed elsewhere.
    fn object_path(&self, url: &str) -> Result<PathBuf, StoreError> {
        let invalid = || StoreError::InvalidLocation(url.to_owned());
        let name = url.strip_prefix(&self.url_prefix).ok_or_else(invalid)?;
        let mut components = Path::new(name).components();
        let single_normal =
            matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none();
        if !single_normal || name.starts_with('.') || name.contains(['/', '\0']) {
            return Err(invalid());
        }
        Ok(self.datadir.join(name))
    }

    pub fn url_for(&self, image_id: ImageId) -> String {
        format!("{}{image_id}", self.url_prefix)
    }
}

/// A name no other upload of the same image can be using, even one still being
/// cleaned up after its client went away.
fn partial_name(image_id: ImageId) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".{image_id}.{}-{n}{PARTIAL_SUFFIX}", std::process::id())
}

fn is_partial_of(name: &str, image_id: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(image_id))
        .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(PARTIAL_SUFFIX))
}

/// Runs blocking filesystem work off the async threads.
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
}

fn not_found_or(url: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |err| match err.kind() {
        std::io::ErrorKind::NotFound => StoreError::NotFound(url.to_owned()),
        // O_NOFOLLOW met a symlink: someone planted it; never read through it.
        _ if err.raw_os_error() == Some(libc::ELOOP) => StoreError::InvalidLocation(url.to_owned()),
        _ => StoreError::from_io(err),
    }
}

#[async_trait::async_trait]
impl Store for FileStore {
    fn id(&self) -> &str {
        &self.id
    }

    fn owns(&self, url: &str) -> bool {
        url.starts_with(&self.url_prefix)
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        let target = write::Target {
            partial: self.datadir.join(partial_name(image_id)),
            object: self.datadir.join(image_id.to_string()),
            dir: self.datadir.clone(),
        };
        let size = write::write_object(target, data, self.write_strategy).await?;
        Ok(Stored {
            url: self.url_for(image_id),
            size,
        })
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        let path = self.object_path(url)?;
        let file = blocking({
            let url = url.to_owned();
            move || read::open_object(&path).map_err(not_found_or(&url))
        })
        .await?;
        read::object_data(file, range, self.read_strategy)
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        let path = self.object_path(url)?;
        let url = url.to_owned();
        blocking(move || std::fs::remove_file(&path).map_err(not_found_or(&url))).await
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        let dir = self.datadir.clone();
        blocking(move || discard_files(&dir, image_id)).await
    }

    /// The data directory is there and is a directory (an unmounted
    /// volume, a removed directory are not).
    async fn check(&self) -> Result<(), StoreError> {
        let dir = self.datadir.clone();
        blocking(move || match std::fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(format!(
                "{} is not a directory",
                dir.display()
            ))),
            Err(err) => Err(StoreError::Unavailable(format!(
                "data directory {}: {err}",
                dir.display()
            ))),
        })
        .await
    }
}

fn discard_files(dir: &Path, image_id: ImageId) -> Result<(), StoreError> {
    let id = image_id.to_string();
    let mut doomed = vec![dir.join(&id)];
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if name.to_str().is_some_and(|n| is_partial_of(n, &id)) {
            doomed.push(dir.join(name));
        }
    }
    for path in doomed {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "discarded image data"),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(StoreError::from_io(err)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> FileStore {
        FileStore::new("file", dir.to_path_buf()).unwrap()
    }

    #[test]
    fn locations_outside_the_datadir_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let prefix = &store.url_prefix;
        for url in [
            "file:///etc/passwd".to_owned(),
            format!("{prefix}../escape"),
            format!("{prefix}a/b"),
            format!("{prefix}.hidden.partial"),
            prefix.clone(),
            format!("{prefix}."),
            format!("{prefix}x\0y"),
            format!("http://example.com/{}", tmp.path().display()),
        ] {
            assert!(
                matches!(store.object_path(&url), Err(StoreError::InvalidLocation(_))),
                "{url}"
            );
        }
        let id = ImageId::new_random();
        let path = store.object_path(&store.url_for(id)).unwrap();
        assert_eq!(path, store.datadir().join(id.to_string()));
    }

    #[test]
    fn urls_use_the_glance_form() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let id = ImageId::new_random();
        let expected = format!("file://{}/{id}", tmp.path().display());
        assert_eq!(store.url_for(id), expected);
        assert!(store.owns(&expected));
        assert!(!store.owns("file:///elsewhere/x"));
    }

    #[test]
    fn partial_names_are_recognised_per_image() {
        let id = ImageId::new_random();
        let other = ImageId::new_random().to_string();
        let name = partial_name(id);
        assert!(is_partial_of(&name, &id.to_string()));
        assert!(!is_partial_of(&name, &other));
        assert!(!is_partial_of(&id.to_string(), &id.to_string()));
        assert_ne!(partial_name(id), name);
    }
}
