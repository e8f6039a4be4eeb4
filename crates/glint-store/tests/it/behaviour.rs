//! The behaviour suite (`suite/mod.rs`) run against the local backends: the
//! file store with both read strategies, and the memory store.

use std::path::Path;
use std::sync::Arc;

use crate::suite::Backend;
use glint_store::{FileStore, MemoryStore, ReadStrategy};

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_backend_with(strategy: ReadStrategy) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("images");
    let store = FileStore::new("file", datadir.clone())
        .unwrap()
        .with_read_strategy(strategy);
    Backend::with_sync_residue(
        Arc::new(store),
        move || dir_listing(&datadir),
        Some(Box::new(dir)),
    )
}

async fn file_mmap() -> Backend {
    file_backend_with(ReadStrategy::Mmap)
}

async fn file_read() -> Backend {
    file_backend_with(ReadStrategy::Read)
}

async fn memory() -> Backend {
    let store = Arc::new(MemoryStore::new("memory"));
    let probe = Arc::clone(&store);
    Backend::with_sync_residue(
        store,
        move || vec!["object".to_owned(); probe.object_count()],
        None,
    )
}

every_backend!(file_mmap, file_read, memory);
