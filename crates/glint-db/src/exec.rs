//! Opening the pool, rendering sea-query statements for the dialect in use,
//! binding their values for sqlx's `Any` driver, and write transactions.

use std::path::PathBuf;
use std::time::Duration;

use sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder, Value,
    Values,
};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{
    Any, AnyConnection, AnyPool, Arguments, AssertSqlSafe, Connection, Executor, Row, Transaction,
};
use tokio::sync::MutexGuard;

use crate::{Database, DbError, Dialect};

/// On a SQLite file sqlx only serves the serialised writers (reads go to
/// [`crate::sqlite::Readers`]), so a spare connection is plenty.
const SQLITE_POOL_SIZE: u32 = 2;
const SERVER_POOL_SIZE: u32 = 10;

/// How every pooled connection is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Longest a single statement may run on PostgreSQL and MySQL/MariaDB
    /// before the server cancels it (`None`: no limit). Schema migrations
    /// are exempt. On SQLite, which has no such setting, reads on the
    /// read connections are stopped after it (see `sqlite`); writes are
    /// not limited. glint also gives up on its
    /// side [`ANSWER_GRACE`] later, so a server that stops answering
    /// altogether (frozen, cut off by the network) cannot hold a request
    /// forever.
    pub statement_timeout: Option<Duration>,
    /// Longest a request waits for a pooled connection, connecting
    /// included (a server that refuses connections is retried until then):
    /// after it the request answers 503.
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// How long glint waits for a server's answer to one statement: the
    /// statement timeout (which the server enforces itself) and a grace
    /// for the cancellation to arrive. `None` on SQLite, a local file, and
    /// when statements have no time limit.
    fn answer_deadline(&self, dialect: Dialect) -> Option<Duration> {
        match dialect {
            Dialect::Sqlite => None,
            _ => self.statement_timeout.map(|t| t + ANSWER_GRACE),
        }
    }
}

/// Long enough for a busy pool to hand a connection over and for a
/// restarting server to come back; short enough that an unreachable
/// database answers 503 within seconds.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Time allowed beyond the statement timeout for the server's own
/// cancellation to reach glint.
pub const ANSWER_GRACE: Duration = Duration::from_secs(5);

/// Far beyond any statement glint issues for a request (a list page of a
/// thousand images takes milliseconds), short enough that a stuck one
/// frees its connection.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

impl Dialect {
    /// Tells the dialect from the URL scheme.
    pub fn from_url(url: &str) -> Result<Dialect, DbError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            _ => Err(DbError::internal(format!(
                "unsupported database URL scheme {scheme:?}"
            ))),
        }
    }
}

/// Opens a pool whose every connection is configured for glint.
/// Returns the pool, its dialect and the deadline of a statement's answer.
pub(crate) async fn open_pool(
    url: &str,
    options: &ConnectOptions,
) -> Result<(AnyPool, Dialect, Option<Duration>), DbError> {
    sqlx::any::install_default_drivers();
    let dialect = Dialect::from_url(url)?;
    let (url, in_memory) = match dialect {
        Dialect::Sqlite => sqlite_url(url),
        _ => (url.to_string(), false),
    };
    let deadline = options.answer_deadline(dialect);
    let timeout = options.statement_timeout.filter(|t| !t.is_zero());
    let mut options = AnyPoolOptions::new()
        .acquire_timeout(options.acquire_timeout)
        .after_connect(move |conn, _meta| Box::pin(configure(conn, dialect, timeout)));
    options = match (dialect, in_memory) {
        // A private in-memory database lives as long as its one connection,
        // so exactly one is opened and never recycled.
        (Dialect::Sqlite, true) => options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false),
        // A local file cannot go away under us: skip the ping per acquire.
        (Dialect::Sqlite, false) => options
            .max_connections(SQLITE_POOL_SIZE)
            .test_before_acquire(false),
        _ => options.max_connections(SERVER_POOL_SIZE),
    };
    // One direct attempt first: the pool would retry an unreachable server
    // until the acquire timeout, and a bad URL should fail start-up at once.
    let probe = AnyConnection::connect(&url).await.map_err(connect_error)?;
    let _ = probe.close().await;
    let pool = options.connect(&url).await.map_err(connect_error)?;
    Ok((pool, dialect, deadline))
}

fn connect_error(e: sqlx::Error) -> DbError {
    match e {
        sqlx::Error::Configuration(msg) => DbError::internal(format!("bad database URL: {msg}")),
        other => DbError::unavailable(other.to_string()),
    }
}

/// Normalises a SQLite URL: files are created when missing, and
/// `sqlite::memory:` becomes a named in-memory database (sqlx would give each
/// connection its own otherwise).
fn sqlite_url(url: &str) -> (String, bool) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if rest == ":memory:" || rest.starts_with(":memory:?") {
        let name = uuid::Uuid::new_v4().simple();
        return (format!("sqlite:file:glint-memory-{name}?mode=memory"), true);
    }
    if rest.contains("mode=memory") {
        return (url.to_string(), true);
    }
    if rest.contains("mode=") {
        return (url.to_string(), false);
    }
    let sep = if rest.contains('?') { '&' } else { '?' };
    (format!("{url}{sep}mode=rwc"), false)
}

/// The file behind a SQLite database, or `None` for an in-memory database
/// or another dialect. Asked of SQLite itself, so the path is exactly the
/// one sqlx opened, however the URL spelled it.
pub(crate) async fn sqlite_file(db: &Database) -> Result<Option<PathBuf>, DbError> {
    if db.dialect() != Dialect::Sqlite {
        return Ok(None);
    }
    let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_optional(db.pool())
        .await?;
    let file: Option<String> = match row {
        Some(row) => row.try_get(0)?,
        None => None,
    };
    Ok(file.filter(|f| !f.is_empty()).map(PathBuf::from))
}

/// Per-connection settings, applied to every pooled connection.
async fn configure(
    conn: &mut AnyConnection,
    dialect: Dialect,
    statement_timeout: Option<Duration>,
) -> Result<(), sqlx::Error> {
    let statements: &[&'static str] = match dialect {
        // busy_timeout (10 s, how long to wait for another process's write
        // lock) comes first, so that switching to WAL waits too.
        Dialect::Sqlite => &[
            "PRAGMA busy_timeout = 10000",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
        ],
        // READ COMMITTED avoids InnoDB gap locks, which would otherwise let
        // two transactions replacing different images' tags deadlock.
        // GROUP_CONCAT's 1 MiB default limit would silently truncate what
        // it builds (the children backfill of large images).
        Dialect::MySql => &[
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET SESSION group_concat_max_len = 1073741824",
        ],
        // No parallel workers: each statement reads a page or a bounded
        // count, and starting workers for one took longer than the read (a
        // tag's page at a million images: 12-18 ms with two workers, 3 ms
        // without), and took cores from other requests.
        Dialect::Postgres => &["SET max_parallel_workers_per_gather = 0"],
    };
    for statement in statements {
        sqlx::raw_sql(*statement).execute(&mut *conn).await?;
    }
    if let Some(timeout) = statement_timeout {
        let set = timeout_statement(conn, dialect, timeout).await?;
        if let Some(set) = set {
            sqlx::raw_sql(AssertSqlSafe(set))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// The statement that makes the server cancel statements running longer
/// than `timeout`: PostgreSQL's `statement_timeout` (any statement, lock
/// waits included), MariaDB's `max_statement_time` (likewise), MySQL's
/// `max_execution_time` (read-only statements only). SQLite has none.
async fn timeout_statement(
    conn: &mut AnyConnection,
    dialect: Dialect,
    timeout: Duration,
) -> Result<Option<String>, sqlx::Error> {
    let millis = timeout.as_millis().max(1);
    Ok(match dialect {
        Dialect::Sqlite => None,
        Dialect::Postgres => Some(format!("SET statement_timeout = {millis}")),
        Dialect::MySql if is_mariadb(conn).await? => Some(format!(
            "SET SESSION max_statement_time = {:.3}",
            timeout.as_secs_f64().max(0.001)
        )),
        Dialect::MySql => Some(format!("SET SESSION max_execution_time = {millis}")),
    })
}

/// Whether a MySQL-protocol server is MariaDB (whose version string says
/// so) rather than MySQL.
pub(crate) async fn is_mariadb(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await?;
    let version: String = row.try_get(0)?;
    Ok(version.contains("MariaDB"))
}

/// Renders a statement for `dialect`, with placeholders for its values.
pub(crate) fn build<S: QueryStatementWriter>(dialect: Dialect, statement: &S) -> (String, Values) {
    match dialect {
        Dialect::Sqlite => statement.build(SqliteQueryBuilder),
        Dialect::Postgres => statement.build(PostgresQueryBuilder),
        Dialect::MySql => statement.build(MysqlQueryBuilder),
    }
}

/// Renders a statement for `dialect` and binds its values.
pub(crate) fn render<S: QueryStatementWriter>(
    dialect: Dialect,
    statement: &S,
) -> Result<(String, AnyArguments), DbError> {
    let (sql, values) = build(dialect, statement);
    Ok((sql, bind(values)?))
}

/// A MySQL statement rendered with `?` placeholders, with `values` written
/// in their place: numbers as numerals, text as a hexadecimal literal with
/// a character set introducer (`_utf8mb4 X'…'`). No value can end such a
/// literal early, whatever the server's SQL mode (backslashes escaping or
/// not), and the literal takes the collation of the column it is compared
/// with, so that column's index serves the comparison.
pub(crate) fn inline_mysql(sql: &str, values: Values) -> Result<String, DbError> {
    use std::fmt::Write as _;
    let mut values = values.into_iter();
    let mut out = String::with_capacity(sql.len() + 64);
    for (i, part) in sql.split('?').enumerate() {
        if i > 0 {
            let value = values
                .next()
                .ok_or_else(|| DbError::internal("a placeholder without a value"))?;
            // (Writing to a String cannot fail.)
            let _ = match value {
                Value::Bool(Some(b)) => write!(out, "{}", u8::from(b)),
                Value::SmallInt(Some(v)) => write!(out, "{v}"),
                Value::Int(Some(v)) => write!(out, "{v}"),
                Value::BigInt(Some(v)) => write!(out, "{v}"),
                Value::BigUnsigned(Some(v)) => write!(out, "{v}"),
                Value::String(Some(text)) => {
                    out.push_str("_utf8mb4 X'");
                    for byte in text.as_bytes() {
                        let _ = write!(out, "{byte:02x}");
                    }
                    write!(out, "'")
                }
                Value::Bool(None)
                | Value::SmallInt(None)
                | Value::Int(None)
                | Value::BigInt(None)
                | Value::BigUnsigned(None)
                | Value::String(None) => write!(out, "NULL"),
                _ => return Err(DbError::internal("cannot write a value of this kind")),
            };
        }
        out.push_str(part);
    }
    if values.next().is_some() {
        return Err(DbError::internal("a value without a placeholder"));
    }
    Ok(out)
}

/// Converts sea-query values into `Any` arguments. Only the kinds this
/// crate produces are accepted; anything else is a programming error.
pub(crate) fn bind(values: Values) -> Result<AnyArguments, DbError> {
    let mut args = AnyArguments::default();
    for value in values {
        let added = match value {
            Value::Bool(b) => args.add(b.map(i16::from)),
            Value::SmallInt(v) => args.add(v),
            Value::Int(v) => args.add(v),
            Value::BigInt(v) => args.add(v),
            Value::String(v) => args.add(v),
            // LIMIT values arrive unsigned.
            Value::BigUnsigned(v) => args.add(
                v.map(i64::try_from)
                    .transpose()
                    .map_err(|e| DbError::internal(format!("value out of range: {e}")))?,
            ),
            // The kind only: the value itself may be large.
            _ => return Err(DbError::internal("cannot bind a value of this kind")),
        };
        added.map_err(|e| DbError::internal(format!("cannot bind a value: {e}")))?;
    }
    Ok(args)
}

/// Runs a statement that returns rows.
pub(crate) async fn fetch_all<'e, E, S>(
    executor: E,
    dialect: Dialect,
    statement: &S,
) -> Result<Vec<AnyRow>, DbError>
where
    E: Executor<'e, Database = Any>,
    S: QueryStatementWriter,
{
    let (sql, args) = render(dialect, statement)?;
    Ok(sqlx::query_with(AssertSqlSafe(sql), args)
        .fetch_all(executor)
        .await?)
}

/// Runs a statement and returns how many rows it matched.
pub(crate) async fn execute<'e, E, S>(
    executor: E,
    dialect: Dialect,
    statement: &S,
) -> Result<u64, DbError>
where
    E: Executor<'e, Database = Any>,
    S: QueryStatementWriter,
{
    let (sql, args) = render(dialect, statement)?;
    let done = sqlx::query_with(AssertSqlSafe(sql), args)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

/// A write transaction; on SQLite it also holds the process-wide write lock.
/// Dropping it without [`WriteTx::commit`] rolls back.
pub(crate) struct WriteTx<'a> {
    // Declared before the guard so the rollback is queued before another
    // writer may begin.
    pub(crate) tx: Transaction<'static, Any>,
    _guard: Option<MutexGuard<'a, ()>>,
    deadline: Option<Duration>,
}

impl WriteTx<'_> {
    /// The connection, for statements that run without the answer
    /// deadline (schema migrations).
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// [`fetch_all`] in this transaction, within the answer deadline.
    pub(crate) async fn fetch_all<S: QueryStatementWriter>(
        &mut self,
        dialect: Dialect,
        statement: &S,
    ) -> Result<Vec<AnyRow>, DbError> {
        let deadline = self.deadline;
        answered(deadline, fetch_all(&mut *self.tx, dialect, statement)).await
    }

    /// [`execute`] in this transaction, within the answer deadline.
    pub(crate) async fn execute<S: QueryStatementWriter>(
        &mut self,
        dialect: Dialect,
        statement: &S,
    ) -> Result<u64, DbError> {
        let deadline = self.deadline;
        answered(deadline, execute(&mut *self.tx, dialect, statement)).await
    }

    pub(crate) async fn commit(self) -> Result<(), DbError> {
        let commit = async { Ok(self.tx.commit().await?) };
        answered(self.deadline, commit).await
    }
}

/// Runs `work` (one exchange with the server) within `deadline`. When the
/// server has not answered by then, the request fails as unavailable; a
/// transaction's connection then goes back to the pool, which first waits
/// for the server to roll it back.
pub(crate) async fn answered<T>(
    deadline: Option<Duration>,
    work: impl Future<Output = Result<T, DbError>>,
) -> Result<T, DbError> {
    let Some(deadline) = deadline else {
        return work.await;
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result,
        Err(_) => Err(no_answer(deadline)),
    }
}

fn no_answer(deadline: Duration) -> DbError {
    DbError::unavailable(format!(
        "the database did not answer within {} s",
        deadline.as_secs_f64()
    ))
}

impl Database {
    /// Begins a write transaction. On SQLite, `BEGIN IMMEDIATE` takes the
    /// database write lock up front, so the transaction never has to upgrade
    /// a read lock (an upgrade fails at once, without waiting, when another
    /// process has written meanwhile).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>, DbError> {
        let guard = match &self.inner.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let tx = match self.inner.dialect {
            Dialect::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            _ => {
                let begin = async { Ok(self.pool().begin().await?) };
                answered(self.inner.deadline, begin).await?
            }
        };
        Ok(WriteTx {
            tx,
            _guard: guard,
            deadline: self.inner.deadline,
        })
    }

    /// Runs `work` (statements outside a transaction) on the connection
    /// this handle holds (see [`Database::holding_a_connection`]) or else a
    /// pooled one, within the answer deadline. A connection whose server
    /// did not answer in time is closed rather than returned to the pool,
    /// which would first wait for it to answer; a handle holds no
    /// connection on which a statement failed.
    pub(crate) async fn on_connection<T>(
        &self,
        work: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut slot = match self.held_server() {
            Some(slot) => Some(slot.lock().await),
            None => None,
        };
        let mut conn = match slot.as_mut().and_then(|held| held.take()) {
            Some(conn) => conn,
            None => self.pool().acquire().await?,
        };
        let result = match self.inner.deadline {
            None => work(&mut conn).await,
            Some(deadline) => match tokio::time::timeout(deadline, work(&mut conn)).await {
                Ok(result) => result,
                Err(_) => {
                    drop(conn.detach());
                    return Err(no_answer(deadline));
                }
            },
        };
        // After an error the connection goes back to the pool, which checks
        // it, and the handle's next read takes whichever the pool gives.
        if let (Some(mut held), true) = (slot, result.is_ok()) {
            *held = Some(conn);
        }
        result
    }

    /// [`fetch_all`] outside a transaction, within the answer deadline.
    pub(crate) async fn fetch_all<S: QueryStatementWriter>(
        &self,
        statement: &S,
    ) -> Result<Vec<AnyRow>, DbError> {
        let dialect = self.dialect();
        self.on_connection(async |conn| fetch_all(conn, dialect, statement).await)
            .await
    }

    /// [`Database::fetch_all`] for the statements of a list page. On
    /// PostgreSQL each is sent as the unnamed statement, which is planned
    /// for its values every time: a named one, prepared once and cached, may
    /// be given a plan made without its values after five executions, and
    /// that plan suits a list badly, whose best path depends on them (a
    /// member's page behind two tags went from 3 ms to 30 ms at 100,000
    /// images). Other reads (an image by id) keep their cached plans:
    /// planning a show each time halved its rate. MariaDB optimizes each
    /// execution of a prepared statement anyway.
    pub(crate) async fn fetch_list_rows<S: QueryStatementWriter>(
        &self,
        statement: &S,
    ) -> Result<Vec<AnyRow>, DbError> {
        let dialect = self.dialect();
        if dialect != Dialect::Postgres {
            return self.fetch_all(statement).await;
        }
        let (sql, args) = render(dialect, statement)?;
        self.on_connection(async |conn| {
            Ok(sqlx::query_with(AssertSqlSafe(sql), args)
                .persistent(false)
                .fetch_all(conn)
                .await?)
        })
        .await
    }

    /// On MySQL/MariaDB, [`fetch_all`] as a plain query with its values
    /// written in ([`inline_mysql`]) rather than a prepared statement.
    /// MariaDB, re-executing a prepared statement that reads an index alone
    /// after another statement on the connection read the table's rows,
    /// read each row from the table too (a count of 20,000 index entries: 5
    /// ms, then 0.6 s); preparing it anew each time avoids that, but the
    /// close that follows left the next request waiting on the socket.
    pub(crate) async fn fetch_all_unprepared<S: QueryStatementWriter>(
        &self,
        statement: &S,
    ) -> Result<Vec<AnyRow>, DbError> {
        let (sql, values) = build(Dialect::MySql, statement);
        let sql = inline_mysql(&sql, values)?;
        self.on_connection(async |conn| {
            Ok(sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(conn).await?)
        })
        .await
    }

    /// [`execute`] outside a transaction, within the answer deadline.
    pub(crate) async fn execute<S: QueryStatementWriter>(
        &self,
        statement: &S,
    ) -> Result<u64, DbError> {
        let dialect = self.dialect();
        self.on_connection(async |conn| execute(conn, dialect, statement).await)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_values_are_written_in_as_numerals_and_hexadecimal_text() {
        let values = Values(vec![
            Value::String(Some("it's a \\'; DROP TABLE images; -- ?".into())),
            Value::BigInt(Some(-5)),
            Value::BigUnsigned(Some(20_000)),
            Value::Bool(Some(true)),
            Value::String(Some(String::new())),
            Value::String(None),
        ]);
        let sql = "SELECT id FROM t WHERE a = ? AND b >= ? AND c = ? AND d = ? AND e = ? AND f = ? LIMIT 1";
        let written = inline_mysql(sql, values).unwrap();
        let text: String = "it's a \\'; DROP TABLE images; -- ?"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            written,
            format!(
                "SELECT id FROM t WHERE a = _utf8mb4 X'{text}' AND b >= -5 AND c = 20000 \
                 AND d = 1 AND e = _utf8mb4 X'' AND f = NULL LIMIT 1"
            )
        );
        assert!(inline_mysql("a = ? AND b = ?", Values(vec![Value::Int(Some(1))])).is_err());
        assert!(inline_mysql("a = 1", Values(vec![Value::Int(Some(1))])).is_err());
    }

    #[test]
    fn sqlite_urls_create_missing_files() {
        assert_eq!(
            sqlite_url("sqlite:///tmp/a.db"),
            ("sqlite:///tmp/a.db?mode=rwc".to_string(), false)
        );
        assert_eq!(
            sqlite_url("sqlite://a.db?mode=ro"),
            ("sqlite://a.db?mode=ro".to_string(), false)
        );
        let (url, memory) = sqlite_url("sqlite::memory:");
        assert!(memory);
        assert!(url.starts_with("sqlite:file:glint-memory-"));
    }

    #[test]
    fn dialect_follows_the_scheme() {
        assert_eq!(
            Dialect::from_url("postgresql://x/y").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(Dialect::from_url("mariadb://x/y").unwrap(), Dialect::MySql);
        assert!(Dialect::from_url("oracle://x").is_err());
    }
}
