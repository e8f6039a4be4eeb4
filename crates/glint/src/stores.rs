//! Builds the store registry from the configuration: one store per
//! `enabled_backends` entry (or the legacy single-store choice), each with
//! what `/v2/info/stores/detail` tells about it. No store contacts its
//! server here: a store that is down at start-up answers 503 until it is
//! back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use glint_store::{
    FileStore, HttpStore, PropertyValue, RbdStore, S3Store, Store, StoreMeta, StoreRegistry,
    SwiftStore,
};

use crate::config::{GlanceConfig, StoreSettings, StoreSpec};

/// How long the http store waits for a web server to accept a connection.
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn build(conf: &GlanceConfig) -> anyhow::Result<StoreRegistry> {
    let mut specs = conf.stores.stores.iter();
    let default = specs
        .next()
        .context("the configuration names no store to upload to")?;
    let (store, meta) = open(conf, default)?;
    let mut registry = StoreRegistry::with_meta(store, meta);
    if conf.stores.multi {
        registry = registry.multi_store();
    }
    for spec in specs {
        let (store, meta) = open(conf, spec)?;
        registry.add_with_meta(store, meta);
    }
    Ok(registry)
}

fn open(conf: &GlanceConfig, spec: &StoreSpec) -> anyhow::Result<(Arc<dyn Store>, StoreMeta)> {
    let text = |v: &str| PropertyValue::Text(v.to_owned());
    let int = |v: u64| PropertyValue::Int(i64::try_from(v).unwrap_or(i64::MAX));
    let mut meta = StoreMeta {
        kind: spec.kind.name().to_owned(),
        description: spec.description.clone(),
        weight: spec.weight,
        read_only: false,
        properties: Vec::new(),
    };
    let store: Arc<dyn Store> = match &spec.settings {
        StoreSettings::File { .. } => {
            let datadir = conf
                .file_store_datadir(spec)
                .context("a file store without a directory")?;
            let store = FileStore::new(&spec.id, datadir.clone())
                .with_context(|| format!("cannot open the file store at {}", datadir.display()))?
                .with_write_strategy(conf.glint.write_strategy);
            meta.properties = vec![
                ("data_dir".into(), text(&datadir.display().to_string())),
                ("chunk_size".into(), int(FileStore::WRITE_SIZE as u64)),
                ("thin_provisioning".into(), PropertyValue::Bool(false)),
            ];
            Arc::new(store)
        }
        StoreSettings::Http => {
            meta.read_only = true;
            Arc::new(HttpStore::new(&spec.id, HTTP_CONNECT_TIMEOUT)?)
        }
        StoreSettings::Rbd(rbd) => {
            meta.properties = vec![
                ("chunk_size".into(), int(rbd.chunk_size)),
                ("pool".into(), text(&rbd.pool)),
                (
                    "thin_provisioning".into(),
                    PropertyValue::Bool(rbd.thin_provisioning),
                ),
            ];
            Arc::new(
                RbdStore::new(&spec.id, rbd.clone())
                    .with_context(|| format!("cannot set up the rbd store {}", spec.id))?,
            )
        }
        StoreSettings::Swift(swift) => {
            meta.properties = vec![
                ("container".into(), text(&swift.container)),
                ("large_object_size".into(), int(swift.large_object_size)),
                (
                    "large_object_chunk_size".into(),
                    int(swift.large_object_chunk_size),
                ),
            ];
            Arc::new(
                SwiftStore::new(&spec.id, (**swift).clone())
                    .with_context(|| format!("cannot set up the swift store {}", spec.id))?,
            )
        }
        StoreSettings::S3(s3) => {
            meta.properties = vec![
                (
                    "s3_store_large_object_size".into(),
                    int(s3.large_object_size),
                ),
                (
                    "s3_store_large_object_chunk_size".into(),
                    int(s3.large_object_chunk_size),
                ),
                ("s3_store_thread_pools".into(), int(s3.thread_pools as u64)),
            ];
            Arc::new(
                S3Store::new(&spec.id, (**s3).clone())
                    .with_context(|| format!("cannot set up the s3 store {}", spec.id))?,
            )
        }
    };
    Ok((store, meta))
}
