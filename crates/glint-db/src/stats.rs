//! Planner statistics, kept fresh by glint itself: without them a
//! freshly loaded catalogue is planned blind (PostgreSQL loops over
//! `image_properties` once per image; SQLite, which never gathers any on
//! its own, cannot tell a selective index from a useless one).
//!
//! [`Database::refresh_statistics`] is cheap when little changed, so a
//! background worker calls it every few minutes:
//! * SQLite: a table with rows never analyzed, or with an index never
//!   analyzed (one a migration added), is analyzed (`ANALYZE`, sampling at
//!   most [`SQLITE_ANALYSIS_LIMIT`] rows per index, so it takes
//!   milliseconds at any size); otherwise `PRAGMA optimize` re-analyzes
//!   the tables whose size changed tenfold. (A full analysis made some
//!   plans worse, not better: told how many images share a property
//!   value, SQLite no longer starts from a value that matches nothing.)
//! * PostgreSQL: tables never analyzed, or with more rows changed since
//!   their last analysis (`n_mod_since_analyze`, the server's own counter)
//!   than [`CHANGED_ROWS`] plus a tenth of their rows, are analyzed, then
//!   vacuumed, without waiting for autovacuum (which may be off).
//!   Vacuuming marks the pages whose rows every transaction sees, so that
//!   the counts and walks a list plans with read an index alone: without
//!   it each of the 20,000 index entries a filter's count reads fetched its
//!   row from the table (19 ms rather than 6 ms at 200,000 images). The
//!   statistics are gathered first, so a vacuum that fails (a statement
//!   timeout on a huge table) leaves them fresh and is not tried again
//!   until the tables change as much again.
//! * MySQL/MariaDB: tables are analyzed on the first call in the process,
//!   then when their row count moved by more than that much from the count
//!   at their last analysis (InnoDB keeps its index statistics itself;
//!   `ANALYZE TABLE` adds the server's column statistics).
//!
//! [`Database::analyze_catalogue`] analyzes every catalogue table at once:
//! after `glint db sync` and bulk loads.
//!
//! [`Database::sketch_missing_statistics`] runs before a server answers:
//! on PostgreSQL, a catalogue restored or loaded while no glint ran has
//! rows but no statistics, and until the first analysis ends (0.9 s at
//! 100,000 freshly loaded images) lists are planned blind: the default
//! page of an admin read every image through the owner index and sorted
//! them, 90–130 ms instead of 0.2. A sample of a tenth of the usual size
//! (0.1–0.17 s there, taken of each table on its own connection) is
//! enough to plan them, and the next refresh analyzes those tables in
//! full.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::{Database, DbError, Dialect};

/// The tables list queries read.
pub const CATALOGUE_TABLES: [&str; 4] =
    ["images", "image_tags", "image_properties", "image_members"];

/// Rows a table may change, on top of a tenth of its size, before its
/// statistics are gathered again.
pub const CHANGED_ROWS: i64 = 200;

/// Rows SQLite's `ANALYZE` samples per index.
pub const SQLITE_ANALYSIS_LIMIT: i64 = 1000;

/// PostgreSQL's statistics target for the sketch made before serving:
/// `ANALYZE` samples 300 rows per unit of it, 3,000 per table here where
/// the default target of 100 samples 30,000.
pub const SKETCH_STATISTICS_TARGET: i64 = 10;

/// The longest a table's sketch may take: a server starts without that
/// table's rather than wait longer (on a database that answers slowly, or
/// behind another analysis of the same table).
pub const SKETCH_TIMEOUT_MS: i64 = 5_000;

/// What this process knows of the tables' analyses.
#[derive(Default)]
pub(crate) struct Analyzed {
    /// Row counts of MySQL tables at their last analysis by this process.
    rows: Mutex<HashMap<&'static str, i64>>,
    /// PostgreSQL tables given only a sketch, to analyze in full next.
    sketched: Mutex<Vec<&'static str>>,
}

impl Database {
    /// Gathers planner statistics for the catalogue tables that have none
    /// or whose contents changed much since (see the module notes).
    /// Returns the tables analyzed; on SQLite, `PRAGMA optimize` may
    /// analyze more than it reports.
    pub async fn refresh_statistics(&self) -> Result<Vec<&'static str>, DbError> {
        let stale = match self.dialect() {
            Dialect::Sqlite => self.sqlite_unanalyzed().await?,
            Dialect::Postgres => self.postgres_stale().await?,
            Dialect::MySql => self.mysql_stale().await?,
        };
        self.analyze(&stale).await?;
        self.inner
            .analyzed
            .sketched()
            .retain(|table| !stale.contains(table));
        if self.dialect() == Dialect::Postgres && !stale.is_empty() {
            // (On a connection of its own, outside a transaction, where
            // VACUUM must run.)
            let sql = format!("VACUUM {}", stale.join(", "));
            self.on_connection(async |conn| run(conn, &sql).await)
                .await?;
        }
        if self.dialect() == Dialect::Sqlite {
            let mut tx = self.begin_write().await?;
            sqlx::raw_sql("PRAGMA optimize = 0x10002")
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
        }
        Ok(stale)
    }

    /// On PostgreSQL, analyzes the catalogue tables that hold rows but
    /// have no statistics at all, from a small sample, for a server to
    /// call before it answers (see the module notes); the next
    /// [`Database::refresh_statistics`] analyzes them in full. Returns
    /// the tables sketched; nothing on SQLite (whose analysis samples
    /// little at any size) and MySQL/MariaDB (InnoDB keeps statistics of
    /// its indexes as rows are loaded). A table whose sample failed (held
    /// up past [`SKETCH_TIMEOUT_MS`]) does not cost the others theirs: they
    /// are kept and noted, and the first error is returned.
    pub async fn sketch_missing_statistics(&self) -> Result<Vec<&'static str>, DbError> {
        if self.dialect() != Dialect::Postgres {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT DISTINCT tablename::text FROM pg_stats \
             WHERE schemaname = current_schema() AND tablename IN ('{}')",
            CATALOGUE_TABLES.join("', '")
        );
        let missing = self
            .on_connection(async |conn| {
                let rows = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                    .fetch_all(&mut *conn)
                    .await?;
                let known = first_texts(&rows)?;
                filled_tables_besides(conn, &known).await
            })
            .await?;
        if missing.is_empty() {
            return Ok(missing);
        }
        // Each table on a connection of its own, side by side: at a
        // million images the four took 0.31 s one after another, 0.19 s
        // so.
        let mut samples = tokio::task::JoinSet::new();
        for table in missing {
            let db = self.clone();
            samples.spawn(async move { (table, db.sketch(table).await) });
        }
        let mut sketched = Vec::new();
        let mut failed = None;
        while let Some(joined) = samples.join_next().await {
            match joined {
                Ok((table, Ok(()))) => sketched.push(table),
                Ok((_, Err(e))) => failed = failed.or(Some(e)),
                Err(e) => failed = failed.or(Some(DbError::internal(e.to_string()))),
            }
        }
        sketched.sort_by_key(|t| CATALOGUE_TABLES.iter().position(|c| c == t));
        let mut noted = self.inner.analyzed.sketched();
        for table in &sketched {
            if !noted.contains(table) {
                noted.push(table);
            }
        }
        drop(noted);
        match failed {
            Some(e) => Err(e),
            None => Ok(sketched),
        }
    }

    /// Samples one table (see [`Database::sketch_missing_statistics`]).
    async fn sketch(&self, table: &str) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SET LOCAL default_statistics_target = {SKETCH_STATISTICS_TARGET}; \
             SET LOCAL statement_timeout = {SKETCH_TIMEOUT_MS}; \
             ANALYZE {table}"
        );
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(tx.conn()).await?;
        tx.commit().await
    }

    /// Gathers planner statistics for every catalogue table.
    pub async fn analyze_catalogue(&self) -> Result<(), DbError> {
        self.analyze(&CATALOGUE_TABLES).await
    }

    async fn analyze(&self, tables: &[&'static str]) -> Result<(), DbError> {
        if tables.is_empty() {
            return Ok(());
        }
        match self.dialect() {
            Dialect::Sqlite => {
                let mut tx = self.begin_write().await?;
                let limit = format!("PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}");
                sqlx::raw_sql(AssertSqlSafe(limit))
                    .execute(tx.conn())
                    .await?;
                for table in tables {
                    sqlx::raw_sql(AssertSqlSafe(format!("ANALYZE {table}")))
                        .execute(tx.conn())
                        .await?;
                }
                tx.commit().await
            }
            Dialect::Postgres => {
                let sql = format!("ANALYZE {}", tables.join(", "));
                self.on_connection(async |conn| run(conn, &sql).await).await
            }
            Dialect::MySql => {
                let sql = format!("ANALYZE TABLE {}", tables.join(", "));
                self.on_connection(async |conn| {
                    // ANALYZE TABLE reports problems as rows, not errors.
                    let rows = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                        .fetch_all(&mut *conn)
                        .await?;
                    for row in rows {
                        let kind: String = row.try_get("Msg_type")?;
                        if kind.eq_ignore_ascii_case("error") {
                            let text: String = row.try_get("Msg_text")?;
                            return Err(DbError::internal(format!("ANALYZE TABLE: {text}")));
                        }
                    }
                    Ok(())
                })
                .await?;
                let counts = self.mysql_row_counts().await?;
                let mut analyzed = self.inner.analyzed.lock();
                for (table, rows) in counts {
                    if tables.contains(&table) {
                        analyzed.insert(table, rows);
                    }
                }
                Ok(())
            }
        }
    }

    /// Catalogue tables with rows but without a `sqlite_stat1` row, or
    /// with an index that has none. An index a migration added to an
    /// analyzed table has none, and SQLite then takes it for a selective
    /// one: right after schema version 16 added two,
    /// `disk_format=qcow2&sort_key=size` walked one of them and sorted,
    /// 160 ms at 200,000 images instead of 0.5. (`PRAGMA optimize`
    /// analyzes such a table only once a statement on its own connection
    /// was planned with the table's statistics.)
    async fn sqlite_unanalyzed(&self) -> Result<Vec<&'static str>, DbError> {
        self.on_connection(async |conn| {
            let has_stats: i64 = sqlx::query(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
            )
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
            if has_stats == 0 {
                return Ok(CATALOGUE_TABLES.to_vec());
            }
            let rows = sqlx::query(
                "SELECT DISTINCT tbl FROM sqlite_stat1 s WHERE NOT EXISTS \
                 (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' \
                 AND m.tbl_name = s.tbl AND NOT EXISTS \
                 (SELECT 1 FROM sqlite_stat1 i WHERE i.tbl = m.tbl_name AND i.idx = m.name))",
            )
            .fetch_all(&mut *conn)
            .await?;
            let analyzed = first_texts(&rows)?;
            filled_tables_besides(conn, &analyzed).await
        })
        .await
    }

    async fn postgres_stale(&self) -> Result<Vec<&'static str>, DbError> {
        let sql = format!(
            "SELECT relname::text FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() AND relname IN ('{}') \
             AND (COALESCE(last_analyze, last_autoanalyze) IS NULL \
             OR n_mod_since_analyze > {CHANGED_ROWS} + n_live_tup / 10)",
            CATALOGUE_TABLES.join("', '")
        );
        let rows = self
            .on_connection(async |conn| {
                Ok(sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                    .fetch_all(&mut *conn)
                    .await?)
            })
            .await?;
        let names = first_texts(&rows)?;
        let sketched = self.inner.analyzed.sketched();
        Ok(CATALOGUE_TABLES
            .into_iter()
            .filter(|t| names.iter().any(|n| n == t) || sketched.contains(t))
            .collect())
    }

    async fn mysql_stale(&self) -> Result<Vec<&'static str>, DbError> {
        let counts = self.mysql_row_counts().await?;
        let analyzed = self.inner.analyzed.lock();
        Ok(counts
            .into_iter()
            .filter(|(table, rows)| match analyzed.get(table) {
                None => true,
                Some(then) => (rows - then).abs() > CHANGED_ROWS + then / 10,
            })
            .map(|(table, _)| table)
            .collect())
    }

    /// The server's estimate of each catalogue table's row count.
    async fn mysql_row_counts(&self) -> Result<Vec<(&'static str, i64)>, DbError> {
        let sql = format!(
            "SELECT TABLE_NAME, CAST(COALESCE(TABLE_ROWS, 0) AS SIGNED) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('{}')",
            CATALOGUE_TABLES.join("', '")
        );
        let rows = self
            .on_connection(async |conn| {
                Ok(sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                    .fetch_all(&mut *conn)
                    .await?)
            })
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.try_get(0)?;
            let count: i64 = row.try_get(1)?;
            if let Some(table) = CATALOGUE_TABLES.into_iter().find(|t| *t == name) {
                out.push((table, count));
            }
        }
        Ok(out)
    }
}

impl Analyzed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, i64>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sketched(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        self.sketched.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The catalogue tables not named in `known` that hold rows. An empty
/// table has no statistics even once analyzed (on SQLite and PostgreSQL
/// alike): left in, it would be analyzed again at every refresh.
async fn filled_tables_besides(
    conn: &mut AnyConnection,
    known: &[String],
) -> Result<Vec<&'static str>, DbError> {
    let mut filled = Vec::new();
    for table in CATALOGUE_TABLES {
        if known.iter().any(|k| k == table) {
            continue;
        }
        let first = sqlx::raw_sql(AssertSqlSafe(format!("SELECT 1 FROM {table} LIMIT 1")))
            .fetch_optional(&mut *conn)
            .await?;
        if first.is_some() {
            filled.push(table);
        }
    }
    Ok(filled)
}

/// The first column of each row, as text (a table's name).
fn first_texts(rows: &[sqlx::any::AnyRow]) -> Result<Vec<String>, DbError> {
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?)
}

async fn run(conn: &mut AnyConnection, sql: &str) -> Result<(), DbError> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await?;
    Ok(())
}

/// How long a count the list planner remembers is taken as still true.
pub(crate) const FULL_COUNT_KEPT: std::time::Duration = std::time::Duration::from_secs(5);

/// Counts a list planner has made, by statement, for [`FULL_COUNT_KEPT`]:
/// a list repeated within that time plans without counting them again (a
/// count of 20,000 index entries took 5–8 ms on MariaDB at a million
/// images, most of such a list's time).
///
/// Only counts that choose how a page is read are kept, never one that
/// decides what it holds. Counts of filters are kept where they found any
/// image (`Database::count_filter`): a filter taken to match many is
/// checked on each image along the list's order, and one taken to match
/// few starts the list from its ids, read afresh; each is right for any
/// number of matching images. A filter counted as matching none answers an
/// empty page, so that count is made each time. Other counts of the
/// planner (of a visibility, of the images a project shares) are kept only
/// where they reached their cap. The counts that choose how a tag's run of
/// equal first keys is read (sorted, or walked along the next key's index:
/// see `Database::run_is_walked`) are kept whatever they found, since
/// either way reads the same rows (a tag's 10,000 rows at a million images
/// took 1 ms to count, half of such a page).
pub(crate) struct FullCounts {
    memo: Mutex<Memo>,
}

struct Memo {
    /// When each statement was counted, and what it found.
    counted: HashMap<String, (std::time::Instant, u64)>,
    kept: std::time::Duration,
}

/// Statements remembered at most (a few hundred bytes each).
const FULL_COUNTS_HELD: usize = 512;

impl Default for FullCounts {
    fn default() -> FullCounts {
        FullCounts {
            memo: Mutex::new(Memo {
                counted: HashMap::new(),
                kept: FULL_COUNT_KEPT,
            }),
        }
    }
}

impl FullCounts {
    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        self.memo.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `statement` counted less than the kept time ago.
    pub(crate) fn get(&self, statement: &str) -> Option<u64> {
        let memo = self.memo();
        memo.counted
            .get(statement)
            .filter(|(at, _)| at.elapsed() < memo.kept)
            .map(|(_, rows)| *rows)
    }

    /// Notes that `statement` counted `rows` now. When the memo is full,
    /// stale entries go first, then every entry (a burst of distinct
    /// filters only costs their counts again).
    pub(crate) fn note(&self, statement: String, rows: u64) {
        let mut memo = self.memo();
        if memo.counted.len() >= FULL_COUNTS_HELD && !memo.counted.contains_key(&statement) {
            let kept = memo.kept;
            memo.counted.retain(|_, (at, _)| at.elapsed() < kept);
            if memo.counted.len() >= FULL_COUNTS_HELD {
                memo.counted.clear();
            }
        }
        memo.counted
            .insert(statement, (std::time::Instant::now(), rows));
    }

    /// Forgets every count and keeps the next ones for `kept` (tests).
    #[cfg(feature = "testing")]
    pub(crate) fn reset(&self, kept: std::time::Duration) {
        let mut memo = self.memo();
        memo.counted.clear();
        memo.kept = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_counts_hold_a_bounded_number_of_statements() {
        let counts = FullCounts::default();
        for i in 0..FULL_COUNTS_HELD * 3 + 7 {
            counts.note(format!("SELECT {i}"), i as u64);
            assert_eq!(counts.get(&format!("SELECT {i}")), Some(i as u64));
            assert!(counts.memo().counted.len() <= FULL_COUNTS_HELD);
        }
        assert_eq!(counts.get("SELECT never counted"), None);
    }

    #[test]
    fn a_full_count_is_forgotten_once_its_time_is_up() {
        let counts = FullCounts::default();
        counts.memo().kept = std::time::Duration::from_millis(20);
        counts.note("SELECT 1".into(), 3);
        assert_eq!(counts.get("SELECT 1"), Some(3));
        std::thread::sleep(std::time::Duration::from_millis(40));
        assert_eq!(counts.get("SELECT 1"), None);
    }
}
