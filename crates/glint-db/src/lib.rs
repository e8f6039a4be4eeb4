//! Persistence of glint's catalogue: images (with their extra properties,
//! tags and locations) and image members, on SQLite (the embedded default),
//! PostgreSQL and MySQL/MariaDB from one code base. Queries are built with
//! sea-query and rendered for the dialect chosen at run time; rows come back
//! as `glint-model` types, decoded once over `rows::RowRead` whichever
//! driver produced them. This crate must not import axum, the stores or the
//! policy engine: it answers "what is stored", never "who may do what".
//!
//! Two drivers execute the statements:
//! * sqlx's `Any` driver, with manually bound values, for every write, the
//!   migrations, and all reads on PostgreSQL and MySQL. A single executor
//!   type keeps those paths written once. `Any` only carries booleans,
//!   integers, floats, text and blobs, so the schema is shaped for it: ids
//!   are UUID text, timestamps are BIGINT microseconds since the epoch,
//!   flags are SMALLINT 0/1 and location metadata is JSON text.
//! * on a SQLite file, a pool of read-only rusqlite connections for every
//!   read outside a write transaction (module `sqlite`): show and list are
//!   the hot paths, and sqlx's per-row worker-thread hand-off and value
//!   copying cost more than SQLite itself.
//!
//! Migrations live in `migrations/{sqlite,postgres,mysql}` and are applied by
//! a small migrator of our own (see [`schema`]) that holds a database-wide
//! lock while it runs, so two processes starting at once are safe on every
//! dialect (sqlx's migrator takes no lock on SQLite).
//!
//! An image's properties, tags and locations live in child tables (which
//! list filters query) and, copied as one JSON document, in the image row
//! itself (column `children`, written in the same transaction), so reading
//! images, one or a page, is one statement returning one row per image.
//! A migration gave the rows written before that column existed their copy.
//!
//! Every save of an image is compare-and-set on its row's [`Version`];
//! upload leases and the storage quota (module `uploads`, `quota`) are
//! decided in the transactions that move an upload on. Background jobs
//! (module `jobs`) are claimed with leases of their own; the scrub of a
//! pending delete and its restore (module `scrub`) are decided with the
//! image row locked.
//!
//! The metadata definitions catalogue (module `metadefs`): namespaces,
//! their properties, objects and tags, and resource type associations.
//!
//! Tasks (module `tasks`) record imports and legacy tasks; workers claim
//! the unfinished ones with job leases.
//!
//! The image cache's records (module `cache`) live here too: which node
//! caches which image, and each node's prefetch queue, claimed with leases.
//!
//! Server connections carry a statement timeout ([`ConnectOptions`]), as
//! do SQLite's read connections (checked by glint itself), and
//! errors never carry more than a few hundred bytes of driver text
//! ([`ErrorText`]).
//!
//! SQLite write transactions are serialised inside the process and opened
//! with `BEGIN IMMEDIATE`, so concurrent writers queue instead of failing
//! with "database is locked"; reads run concurrently under WAL.

mod cache;
mod children;
mod error;
mod exec;
mod images;
mod jobs;
mod list;
mod members;
mod metadefs;
mod purge;
mod quota;
mod read;
mod rows;
pub mod schema;
mod scrub;
mod shown;
mod sqlite;
mod stats;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod uploads;

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};
use tokio::sync::Mutex;

pub use cache::{CacheNode, CachedData, CachedImage};
pub use error::{DbError, ErrorText, InvalidValue};
pub use exec::{ANSWER_GRACE, ConnectOptions, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT};
pub use images::{Version, Versioned};
pub use jobs::{JobLease, JobState};
pub use metadefs::{NAMESPACE_SORT_KEYS, NamespaceListQuery, TAG_SORT_KEYS, TagListQuery};
pub use purge::{PURGE_BATCH, PurgeCounts, PurgeRequest};
pub use quota::{CountLimit, DataKind, ProjectUsage, StorageQuota};
pub use scrub::{RestoreOutcome, SCRUB_JOB, ScrubCursor};
pub use stats::{
    CATALOGUE_TABLES, CHANGED_ROWS, SKETCH_STATISTICS_TARGET, SKETCH_TIMEOUT_MS,
    SQLITE_ANALYSIS_LIMIT,
};
pub use tasks::{TASK_SORT_KEYS, TaskListQuery};
pub use uploads::{UploadLease, UploadStarted};

/// Read-only connections to a SQLite file. Point reads hold one for tens
/// of microseconds; a few cover the cores with some reads on the disk.
const SQLITE_READERS: usize = 4;

/// Which SQL dialect a [`Database`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

/// Who is listing: decides which shared and community images are candidates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Viewer {
    pub project_id: Option<String>,
    pub is_admin: bool,
}

/// A handle on the catalogue database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
    /// The connection this handle's reads go to, where one is held for a
    /// sequence of reads (see [`Database::holding_a_connection`]).
    held: Option<Arc<Held>>,
}

/// A connection a [`Database`] handle holds for a sequence of reads.
enum Held {
    /// One of a SQLite file's read-only connections.
    Reader(sqlite::Held),
    /// A pooled connection to PostgreSQL or MySQL/MariaDB; `None` once a
    /// statement on it failed or was not answered in time, until the
    /// handle's next read takes another from the pool.
    Server(Mutex<Option<PoolConnection<Any>>>),
}

struct Inner {
    pool: AnyPool,
    dialect: Dialect,
    /// Held for every SQLite write transaction: SQLite has one writer at a
    /// time, and queuing here is cheaper and fairer than busy-waiting.
    write_lock: Option<Mutex<()>>,
    /// Read-only connections serving every read outside a write transaction
    /// when the database is a SQLite file (not for in-memory databases,
    /// which only exist inside their one sqlx connection).
    readers: Option<Arc<sqlite::Readers>>,
    /// Images shown by id on a SQLite file in WAL mode, kept while the file
    /// is unchanged (see [`shown`]).
    shown: Option<shown::Shown<images::Versioned>>,
    sql: images::Prepared,
    /// How long a server may take to answer one statement
    /// ([`ConnectOptions::statement_timeout`] plus a grace); `None` on
    /// SQLite.
    deadline: Option<std::time::Duration>,
    /// Row counts at the last analysis, where the server keeps no count
    /// of changes itself (MySQL).
    analyzed: stats::Analyzed,
    /// [`list::FEW_ROWS`] unless a test lowers it.
    few_rows: std::sync::atomic::AtomicU64,
    /// Filter counts that reached their cap lately.
    full_counts: stats::FullCounts,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dialect", &self.inner.dialect)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Connects, configures every pooled connection and applies pending
    /// migrations.
    ///
    /// Accepted URLs: `sqlite://path?mode=rwc`, `sqlite://path` (the file is
    /// created if missing), `sqlite::memory:`, `postgres://…`,
    /// `postgresql://…`, `mysql://…`, `mariadb://…`.
    pub async fn connect(url: &str) -> Result<Database, DbError> {
        Database::connect_with(url, &ConnectOptions::default()).await
    }

    /// [`Database::connect`] with every pooled connection set up as
    /// `options` say.
    pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Database, DbError> {
        Database::connect_up_to(url, options, schema::latest_version()).await
    }

    /// [`Database::connect_with`], with the schema migrated up to `version`
    /// only (tests of older schemas).
    pub(crate) async fn connect_up_to(
        url: &str,
        options: &ConnectOptions,
        version: i64,
    ) -> Result<Database, DbError> {
        Database::open_with(url, options, Some(version)).await
    }

    /// Connects without touching the schema, which may be missing, older
    /// or newer than this build's (see [`Database::schema_state`] and
    /// [`Database::migrate`]). For the tools that manage a shared database
    /// and for servers that must not migrate it themselves.
    pub async fn open(url: &str, options: &ConnectOptions) -> Result<Database, DbError> {
        Database::open_with(url, options, None).await
    }

    /// Opens the pool, migrates up to `migrate_to` if given, then opens the
    /// SQLite readers.
    async fn open_with(
        url: &str,
        options: &ConnectOptions,
        migrate_to: Option<i64>,
    ) -> Result<Database, DbError> {
        let (pool, dialect, deadline) = exec::open_pool(url, options).await?;
        let write_lock = (dialect == Dialect::Sqlite).then(|| Mutex::new(()));
        let mut db = Database {
            inner: Arc::new(Inner {
                pool,
                dialect,
                write_lock,
                readers: None,
                shown: None,
                sql: images::Prepared::new(dialect),
                deadline,
                analyzed: stats::Analyzed::default(),
                few_rows: std::sync::atomic::AtomicU64::new(list::FEW_ROWS),
                full_counts: stats::FullCounts::default(),
            }),
            held: None,
        };
        if let Some(version) = migrate_to {
            schema::migrate(&db, version).await?;
        }
        if let Some(path) = exec::sqlite_file(&db).await? {
            let limit = options.statement_timeout.filter(|t| !t.is_zero());
            let readers = sqlite::Readers::open(&path, SQLITE_READERS, limit)?;
            let inner = Arc::get_mut(&mut db.inner).expect("not shared yet");
            inner.shown = (readers.in_wal_mode())
                .then(|| shown::Shown::open(&path))
                .flatten();
            inner.readers = Some(Arc::new(readers));
        }
        Ok(db)
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Checks that a connection can be had and answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.inner.pool).await?;
        Ok(())
    }

    /// [`Database::ping`] within `deadline`, waiting for a pooled
    /// connection included: for health checks, which must answer quickly
    /// whatever the database does. A connection whose server did not answer
    /// in time is closed rather than returned to the pool.
    pub async fn ping_within(&self, deadline: std::time::Duration) -> Result<(), DbError> {
        let until = tokio::time::Instant::now() + deadline;
        let late = || {
            DbError::unavailable(format!(
                "the database did not answer within {} s",
                deadline.as_secs_f64()
            ))
        };
        let mut conn = tokio::time::timeout_at(until, self.inner.pool.acquire())
            .await
            .map_err(|_| late())??;
        match tokio::time::timeout_at(until, sqlx::query("SELECT 1").execute(&mut *conn)).await {
            Ok(done) => done.map(drop).map_err(DbError::from),
            Err(_) => {
                drop(conn.detach());
                Err(late())
            }
        }
    }

    /// Closes every pooled connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        if let Some(readers) = self.readers() {
            readers.close();
        }
        self.inner.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    pub(crate) fn readers(&self) -> Option<&Arc<sqlite::Readers>> {
        self.inner.readers.as_ref()
    }

    /// Where this handle's reads go on a SQLite file: the reader it holds,
    /// or any idle one; `None` elsewhere.
    pub(crate) fn reads(&self) -> Option<sqlite::Reads<'_>> {
        match self.held.as_deref() {
            Some(Held::Reader(held)) => Some(sqlite::Reads::Held(held)),
            _ => self.readers().map(sqlite::Reads::Pool),
        }
    }

    /// The server connection this handle holds, where it holds one.
    pub(crate) fn held_server(&self) -> Option<&Mutex<Option<PoolConnection<Any>>>> {
        match self.held.as_deref() {
            Some(Held::Server(slot)) => Some(slot),
            _ => None,
        }
    }

    /// A handle whose reads all go to one connection, held until the
    /// handle is dropped: on a SQLite file one reader (see
    /// [`sqlite::Held`]), whose cache then holds the pages an earlier read
    /// touched; on PostgreSQL and MySQL/MariaDB one pooled connection, so
    /// that a sequence of statements takes the pool's connection once
    /// (sqlx sends a round trip to check each connection given back to
    /// it). This handle itself for an in-memory SQLite database (one
    /// connection, which writes need too) and where one is held already.
    /// Every read made through it must be awaited before the next, and
    /// none made through another handle meanwhile by the same task: that
    /// one would wait for a connection this one keeps.
    pub(crate) async fn holding_a_connection(&self) -> Result<Database, DbError> {
        let held = match (&self.held, self.readers(), self.dialect()) {
            (Some(_), _, _) | (None, None, Dialect::Sqlite) => return Ok(self.clone()),
            (None, Some(readers), _) => Held::Reader(readers.hold().await?),
            (None, None, _) => Held::Server(Mutex::new(Some(self.pool().acquire().await?))),
        };
        Ok(Database {
            inner: Arc::clone(&self.inner),
            held: Some(Arc::new(held)),
        })
    }

    /// The images kept between reads, while the readers are open.
    pub(crate) fn shown(&self) -> Option<&shown::Shown<images::Versioned>> {
        let open = self.readers().is_some_and(|readers| readers.is_open());
        self.inner.shown.as_ref().filter(|_| open)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use glint_model::{Image, ImageId};

    /// A minimal image for unit tests.
    pub(crate) fn sample_image() -> Image {
        Image::queued(ImageId::new_random(), glint_model::time::now())
    }
}
