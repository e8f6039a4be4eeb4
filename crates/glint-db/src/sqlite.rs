//! The SQLite read path: a small pool of read-only connections driven
//! directly through SQLite's C API (rusqlite), used for every read outside
//! a write transaction when the catalogue is a SQLite file.
//!
//! sqlx's SQLite driver runs each connection on its own worker thread and
//! hands every row across a channel, and its `Any` layer copies each value
//! into an owned `AnyValue`; for the short reads that make up show and list
//! that costs more than SQLite itself. Here a whole read is one closure on
//! one connection, and rows are decoded in place from SQLite's own buffers. Statements are
//! prepared once per connection and cached by their SQL text.
//!
//! Point reads (one image, one member, a count: tens of microseconds of
//! SQLite work on cached pages) run right on the calling task, since
//! handing them to another thread and back costs more CPU than the read
//! itself. Reads of many rows (list pages) run on tokio's blocking pool, so
//! a large page never holds up the async workers. Under WAL a reader waits
//! for a lock only while some connection rebuilds the WAL index after a
//! crash, which is rare while these connections keep the database open.
//!
//! Writes keep going through sqlx (see [`crate::exec`]): the serialised
//! `BEGIN IMMEDIATE` writers are unchanged. Under WAL a reader sees every
//! transaction committed before its read began and never blocks a writer.
//!
//! SQLite has no statement timeout of its own. Each reader checks, every
//! [`CHECK_EVERY`] steps of SQLite's virtual machine (a progress handler),
//! whether its read has run past the statement time limit
//! ([`crate::ConnectOptions::statement_timeout`]) or been abandoned (the
//! caller of [`Readers::run`] stopped waiting: the request was cancelled or
//! its client went away), and interrupts it then, so that no read holds
//! one of the few readers longer than the limit, nor at all once nobody
//! waits for it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sea_query::{Value, Values};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::DbError;
use crate::rows::RowRead;

/// How long a reader waits on a lock before giving up (readers only meet
/// one in rare WAL recovery or checkpoint-restart moments).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Distinct statements kept prepared per connection: the show statements
/// and the list shapes, each for an admin and a member (a page led by a
/// tag in an order of two keys takes up to seven). With 64, a mix of the
/// sixty list shapes of the benchmark prepared most statements again on
/// each use (a fifth of the rate of 16 clients); 256 keep them all for a
/// few megabytes more.
const STATEMENT_CACHE: usize = 256;
/// Page cache per reader, in KiB (SQLite's default is 2 MiB). Show reads
/// land on random images; with the default cache most of them copied pages
/// in from the OS again (about a quarter of the CPU of a show).
const CACHE_KIB: i64 = 8 * 1024;

/// Steps of SQLite's virtual machine between two checks of a read's time
/// limit (a step is tens of nanoseconds: a check every few tens of
/// microseconds, and none at all in a read of one image).
const CHECK_EVERY: std::ffi::c_int = 1000;

/// A fixed set of read-only connections to one SQLite file.
pub(crate) struct Readers {
    idle: Mutex<Vec<Reader>>,
    permits: Arc<Semaphore>,
    /// How long one read may run (`None`: no limit).
    limit: Option<Duration>,
    /// Whether the file is in WAL mode (see [`Readers::in_wal_mode`]).
    wal: bool,
}

/// A read-only connection and what its progress handler checks.
struct Reader {
    conn: Connection,
    watch: Arc<Watch>,
}

/// The time limit of the read a reader runs, and whether its caller
/// stopped waiting for it. Each read is numbered: a caller that stops
/// waiting marks its own read abandoned, never a later one on the same
/// reader.
struct Watch {
    /// Instants are kept as nanoseconds from this one.
    origin: Instant,
    /// When the current read must stop, `u64::MAX` for never.
    deadline: AtomicU64,
    /// The number of the current read.
    read: AtomicU64,
    /// The number of the last read whose caller stopped waiting.
    abandoned: AtomicU64,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            origin: Instant::now(),
            deadline: AtomicU64::new(u64::MAX),
            read: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }

    /// Starts a new read limited to `limit`; returns its number.
    fn start(&self, limit: Option<Duration>) -> u64 {
        let deadline = limit.map_or(u64::MAX, |limit| self.nanos(Instant::now() + limit));
        self.deadline.store(deadline, Ordering::Relaxed);
        self.read.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn abandon(&self, read: u64) {
        self.abandoned.store(read, Ordering::Release);
    }

    /// Whether the current read must stop (the progress handler's answer).
    fn expired(&self) -> bool {
        self.abandoned.load(Ordering::Acquire) == self.read.load(Ordering::Acquire)
            || self.nanos(Instant::now()) > self.deadline.load(Ordering::Relaxed)
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX - 1)
    }
}

/// Marks a read abandoned when dropped before [`Abandon::disarm`]: the
/// future waiting for it was dropped.
struct Abandon {
    watch: Option<(Arc<Watch>, u64)>,
}

impl Abandon {
    fn disarm(mut self) {
        self.watch = None;
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Some((watch, read)) = self.watch.take() {
            watch.abandon(read);
        }
    }
}

impl Readers {
    /// Opens `count` connections to the existing database file at `path`,
    /// each read on them stopped after `limit`.
    pub(crate) fn open(
        path: &Path,
        count: usize,
        limit: Option<Duration>,
    ) -> Result<Readers, DbError> {
        let readers = (0..count)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        // A first read opens the WAL index, which the readers then keep
        // open (and so in place) for as long as they are.
        let mut wal = false;
        if let Some(reader) = readers.first() {
            let conn = &reader.conn;
            conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
            wal = mode.eq_ignore_ascii_case("wal");
        }
        Ok(Readers {
            idle: Mutex::new(readers),
            permits: Arc::new(Semaphore::new(count)),
            limit,
            wal,
        })
    }

    /// Whether the file was in WAL mode when the readers opened it; the
    /// readers then hold its WAL index (the `-shm` file) open, and so in
    /// place, until they close. (A `-shm` file beside a database no
    /// longer in WAL mode would never change.)
    pub(crate) fn in_wal_mode(&self) -> bool {
        self.wal
    }

    /// Whether the readers are still open.
    pub(crate) fn is_open(&self) -> bool {
        !self.permits.is_closed()
    }

    /// Runs `read` on an idle connection on the blocking pool, waiting for
    /// one when all are busy. For reads of many rows. Dropping the future
    /// stops the read at its next check.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let lease = self.lease().await?;
        let (_, found) = run_blocking(lease, read).await?;
        found
    }

    /// Takes an idle connection (waiting for one when all are busy) for a
    /// sequence of reads (see [`Held`]).
    pub(crate) async fn hold(self: &Arc<Self>) -> Result<Held, DbError> {
        Ok(Held {
            lease: Mutex::new(Some(self.lease().await?)),
        })
    }

    /// Runs `read` on an idle connection on the calling task, waiting for
    /// one when all are busy. For point reads only (see the module notes).
    pub(crate) async fn run_here<T>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let lease = self.lease().await?;
        read(lease.conn())
    }

    async fn lease(self: &Arc<Self>) -> Result<Lease, DbError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        let reader = self.lock().pop().ok_or_else(closed)?;
        let read = reader.watch.start(self.limit);
        Ok(Lease {
            reader: Some(reader),
            read,
            readers: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Closes every connection; later reads fail with `Unavailable`.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reader>> {
        // The list stays consistent even if a holder panicked.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn closed() -> DbError {
    DbError::unavailable("the database is closed")
}

/// Runs `read` on `lease`'s connection on the blocking pool and hands the
/// lease back with its answer; dropping the future stops the read at its
/// next check (the lease then goes back to the pool when the read ends).
async fn run_blocking<T, F>(lease: Lease, read: F) -> Result<(Lease, Result<T, DbError>), DbError>
where
    F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    let abandon = Abandon {
        watch: Some((Arc::clone(&lease.reader().watch), lease.read)),
    };
    let done = tokio::task::spawn_blocking(move || {
        let found = read(lease.conn());
        (lease, found)
    })
    .await;
    abandon.disarm();
    done.map_err(|e| DbError::internal(format!("a database read failed: {e}")))
}

/// One reader kept for a sequence of reads, such as the counts and
/// statements of one list page: each finds the pages of the file the
/// earlier ones read in this connection's cache (a page led by a tag in an
/// order of two keys reads the same hundred images two or three times),
/// and the reads wait for a free reader once, not each time. The time
/// limit of a read applies to the whole sequence. The reader goes back to
/// the pool when this is dropped.
pub(crate) struct Held {
    /// `None` only while a read on the blocking pool has the lease.
    lease: Mutex<Option<Lease>>,
}

impl Held {
    /// [`Readers::run`] on the held connection.
    pub(crate) async fn run<T, F>(&self, read: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let lease = self.lock().take().ok_or_else(busy)?;
        let (lease, found) = run_blocking(lease, read).await?;
        *self.lock() = Some(lease);
        found
    }

    /// [`Readers::run_here`] on the held connection.
    pub(crate) fn run_here<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let held = self.lock();
        let lease = held.as_ref().ok_or_else(busy)?;
        read(lease.conn())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Lease>> {
        self.lease.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A held reader asked for a second read while one is under way, or after
/// a read whose caller stopped waiting: a programming error, since the
/// reads of a sequence are awaited one by one.
fn busy() -> DbError {
    DbError::internal("a held database reader was asked for two reads at once")
}

/// The readers a read goes to: any idle one, or the one held for a
/// sequence of reads.
#[derive(Clone, Copy)]
pub(crate) enum Reads<'a> {
    Pool(&'a Arc<Readers>),
    Held(&'a Held),
}

impl Reads<'_> {
    /// See [`Readers::run`].
    pub(crate) async fn run<T, F>(self, read: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Reads::Pool(readers) => readers.run(read).await,
            Reads::Held(held) => held.run(read).await,
        }
    }

    /// See [`Readers::run_here`].
    pub(crate) async fn run_here<T>(
        self,
        read: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self {
            Reads::Pool(readers) => readers.run_here(read).await,
            Reads::Held(held) => held.run_here(read),
        }
    }
}

fn open_reader(path: &Path) -> Result<Reader, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A reader must never write, whatever statement reaches it.
    conn.pragma_update(None, "query_only", true)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    // SQLite plans `LIMIT ?` with the bound value, and then treats every
    // new binding of that parameter as a reason to prepare the statement
    // again: each list page paid for a full re-prepare. With the query
    // planner stability guarantee plans never depend on bound values, so a
    // cached statement stays prepared. The list shapes checked (default
    // order, sort keys, filters, admin and user) kept the same plans.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let watch = Arc::new(Watch::new());
    let checked = Arc::clone(&watch);
    conn.progress_handler(CHECK_EVERY, Some(move || checked.expired()))?;
    Ok(Reader { conn, watch })
}

/// A connection taken from the pool for read number `read` on it; it goes
/// back when the lease drops, even if the read panicked or its caller
/// stopped waiting.
struct Lease {
    reader: Option<Reader>,
    read: u64,
    readers: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    fn reader(&self) -> &Reader {
        self.reader
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }

    fn conn(&self) -> &Connection {
        &self.reader().conn
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take()
            && !self.readers.permits.is_closed()
        {
            self.readers.lock().push(reader);
        }
    }
}

/// Runs `sql` with `values` bound and hands every row to `each`.
pub(crate) fn for_each_row(
    conn: &Connection,
    sql: &str,
    values: &Values,
    mut each: impl FnMut(&dyn RowRead) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let mut statement = conn.prepare_cached(sql)?;
    for (i, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(i + 1, param(value)?)?;
    }
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        each(row)?;
    }
    Ok(())
}

/// Runs `sql` and decodes every row with `decode`.
pub(crate) fn query<T>(
    conn: &Connection,
    sql: &str,
    values: &Values,
    decode: fn(&dyn RowRead) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    let mut out = Vec::new();
    for_each_row(conn, sql, values, |row| {
        out.push(decode(row)?);
        Ok(())
    })?;
    Ok(out)
}

/// A sea-query value as a SQLite parameter, borrowing its text. Only the
/// kinds this crate produces are accepted; anything else is a programming
/// error.
fn param(value: &Value) -> Result<ToSqlOutput<'_>, DbError> {
    let int = |v: Option<i64>| ToSqlOutput::Owned(v.map_or(SqlValue::Null, SqlValue::Integer));
    Ok(match value {
        Value::Bool(v) => int(v.map(i64::from)),
        Value::SmallInt(v) => int(v.map(i64::from)),
        Value::Int(v) => int(v.map(i64::from)),
        Value::BigInt(v) => int(*v),
        Value::BigUnsigned(v) => int(v
            .map(i64::try_from)
            .transpose()
            .map_err(|e| DbError::internal(format!("value out of range: {e}")))?),
        Value::String(Some(text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        Value::String(None) => ToSqlOutput::Owned(SqlValue::Null),
        // The kind only: the value itself may be large.
        _ => return Err(DbError::internal("cannot bind a value of this kind")),
    })
}

impl RowRead for rusqlite::Row<'_> {
    fn text(&self, index: usize) -> Result<Option<&str>, DbError> {
        match self.get_ref(index)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| DbError::internal(format!("column {index} is not UTF-8: {e}"))),
            other => Err(wrong_type(index, "text", other)),
        }
    }

    fn int(&self, index: usize) -> Result<Option<i64>, DbError> {
        match self.get_ref(index)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            other => Err(wrong_type(index, "an integer", other)),
        }
    }
}

fn wrong_type(index: usize, wanted: &str, got: ValueRef<'_>) -> DbError {
    DbError::internal(format!(
        "column {index} holds {:?}, expected {wanted}",
        got.data_type()
    ))
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                DbError::unavailable(e.to_string())
            }
            Some(ErrorCode::CannotOpen) => DbError::unavailable(e.to_string()),
            // The progress handler stopped it (see the module notes).
            Some(ErrorCode::OperationInterrupted) => {
                DbError::unavailable("a database read ran past its time limit and was stopped")
            }
            _ => DbError::internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readers on a fresh WAL file holding one table.
    fn readers(dir: &tempfile::TempDir, count: usize) -> Arc<Readers> {
        let path = dir.path().join("held.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (7)",
        )
        .unwrap();
        Arc::new(Readers::open(&path, count, None).unwrap())
    }

    fn idle(readers: &Readers) -> usize {
        readers.lock().len()
    }

    fn scalar(conn: &Connection, sql: &str) -> Result<i64, DbError> {
        Ok(conn.query_row(sql, [], |row| row.get(0))?)
    }

    /// SQLite as linked is built without `SQLITE_ENABLE_MEMORY_MANAGEMENT`
    /// (`.cargo/config.toml`): with it, every connection's page fetches
    /// wait on one process-wide mutex.
    #[test]
    fn each_connection_has_a_page_cache_of_its_own() {
        let conn = Connection::open_in_memory().unwrap();
        let used = |option: &str| {
            scalar(
                &conn,
                &format!("SELECT sqlite_compileoption_used('{option}')"),
            )
            .unwrap()
        };
        assert_eq!(used("THREADSAFE=1"), 1, "the check itself reads options");
        assert_eq!(used("ENABLE_MEMORY_MANAGEMENT"), 0);
    }

    #[tokio::test]
    async fn a_held_reader_serves_every_read_of_its_sequence_then_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let readers = readers(&dir, 2);
        let held = readers.hold().await.unwrap();
        assert_eq!(idle(&readers), 1);
        for _ in 0..3 {
            let on_pool = held.run(|conn| scalar(conn, "SELECT x FROM t")).await;
            assert_eq!(on_pool.unwrap(), 7);
            let here = held.run_here(|conn| scalar(conn, "SELECT x + 1 FROM t"));
            assert_eq!(here.unwrap(), 8);
            // The sequence never takes a second reader.
            assert_eq!(idle(&readers), 1);
        }
        drop(held);
        assert_eq!(idle(&readers), 2);
    }

    /// A sequence dropped in the middle of a read (its request was
    /// cancelled) stops the read, and the reader goes back to the pool.
    #[tokio::test]
    async fn a_held_reader_dropped_during_a_read_stops_it_and_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let readers = readers(&dir, 1);
        let held = readers.hold().await.unwrap();
        let long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL \
             SELECT x + 1 FROM c WHERE x < 100000000000) SELECT COUNT(*) FROM c";
        let read = held.run(move |conn| scalar(conn, long));
        let cut = tokio::time::timeout(Duration::from_millis(200), read).await;
        assert!(cut.is_err(), "a read of minutes ended: {cut:?}");
        drop(held);
        let again = tokio::time::timeout(
            Duration::from_secs(10),
            readers.run(|conn| scalar(conn, "SELECT x FROM t")),
        )
        .await
        .expect("the reader is back in the pool");
        assert_eq!(again.unwrap(), 7);
    }
}
