//! `image_decompression`: a staged image compressed with gzip, zip (one
//! member), zstd or xz is replaced by its decompressed data, bounded by
//! `image_size_cap`; an LHA archive is refused. Skipped for images whose
//! `container_format` is `compressed`, which are meant to stay so.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use glint_db::Versioned;
use glint_store::archive::{self, ArchiveError, ArchiveKind};

use super::failed;
use crate::error::CoreError;
use crate::images::ImageService;

impl ImageService {
    pub(super) async fn decompress_staged(
        &self,
        current: Versioned,
        path: PathBuf,
    ) -> Result<Versioned, CoreError> {
        let id = current.image.id;
        if current.image.container_format.as_deref() == Some("compressed") {
            return Ok(current);
        }
        let limit = self.config.image_size_cap;
        let outcome = tokio::task::spawn_blocking(move || decompress_file(&path, limit))
            .await
            .map_err(|e| CoreError::Internal(format!("decompression task: {e}")))?;
        match outcome {
            Ok(Some((kind, size))) => {
                tracing::info!(image.id = %id, format = kind.as_str(), size_bytes = size, "image decompressed");
                Ok(current)
            }
            Ok(None) => Ok(current),
            Err(e) => {
                tracing::info!(image.id = %id, error = %e, "image decompression failed");
                Err(failed(e.to_string()))
            }
        }
    }
}

/// Replaces the archive at `path` by its content; `None` when the file is
/// not compressed.
fn decompress_file(path: &Path, limit: u64) -> Result<Option<(ArchiveKind, u64)>, ArchiveError> {
    let mut input = File::open(path).map_err(ArchiveError::Io)?;
    let mut head = Vec::with_capacity(archive::HEAD_LEN);
    (&mut input)
        .take(archive::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(ArchiveError::Io)?;
    let Some(kind) = archive::detect(&head) else {
        return Ok(None);
    };
    let input = File::open(path).map_err(ArchiveError::Io)?;
    // A hidden name the staging store discards with the image's data.
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let out_path = path.with_file_name(format!(".{name}.uc.partial"));
    let written = File::create(&out_path)
        .map_err(ArchiveError::Io)
        .and_then(|out| archive::decompress(kind, input, BufWriter::new(out), limit))
        .and_then(|size| {
            // Removed first, as conversion does (see `convert::replace_file`).
            std::fs::remove_file(path)
                .and_then(|()| std::fs::rename(&out_path, path))
                .map(|()| size)
                .map_err(ArchiveError::Io)
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&out_path);
    }
    written.map(|size| Some((kind, size)))
}
