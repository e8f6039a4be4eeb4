//! Schema migrations: one SQL file per dialect and version under
//! `migrations/`, applied in order at connect time.
//!
//! Applied versions are recorded in `glint_schema_migrations`. The whole run
//! holds a database-wide lock (SQLite: the `BEGIN IMMEDIATE` write lock;
//! PostgreSQL: a transaction-scoped advisory lock; MySQL: `GET_LOCK`), so
//! processes starting together apply each migration exactly once. The
//! statements themselves are idempotent (`IF NOT EXISTS`), because MySQL
//! commits DDL as it goes and a crash may leave a version half applied;
//! MySQL has no `ADD COLUMN IF NOT EXISTS` nor `CREATE INDEX IF NOT
//! EXISTS`, so there a "duplicate column" or "duplicate key name" error
//! counts as the column or index added.

use sea_query::{Expr, Query};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::exec;
use crate::{Database, DbError, Dialect};

/// The table recording applied versions.
pub const MIGRATIONS_TABLE: &str = "glint_schema_migrations";

struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

impl Migration {
    fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
            Dialect::MySql => self.mysql,
        }
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
        mysql: include_str!("../migrations/mysql/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "children copy in the image row",
        sqlite: include_str!("../migrations/sqlite/0002_children_copy.sql"),
        postgres: include_str!("../migrations/postgres/0002_children_copy.sql"),
        mysql: include_str!("../migrations/mysql/0002_children_copy.sql"),
    },
    Migration {
        version: 3,
        description: "children copy of older rows",
        sqlite: include_str!("../migrations/sqlite/0003_children_backfill.sql"),
        postgres: include_str!("../migrations/postgres/0003_children_backfill.sql"),
        mysql: include_str!("../migrations/mysql/0003_children_backfill.sql"),
    },
    Migration {
        version: 4,
        description: "exact text comparison",
        sqlite: include_str!("../migrations/sqlite/0004_exact_text.sql"),
        postgres: include_str!("../migrations/postgres/0004_exact_text.sql"),
        mysql: include_str!("../migrations/mysql/0004_exact_text.sql"),
    },
    Migration {
        version: 5,
        description: "row versions and upload leases",
        sqlite: include_str!("../migrations/sqlite/0005_versions_and_leases.sql"),
        postgres: include_str!("../migrations/postgres/0005_versions_and_leases.sql"),
        mysql: include_str!("../migrations/mysql/0005_versions_and_leases.sql"),
    },
    Migration {
        version: 6,
        description: "job leases",
        sqlite: include_str!("../migrations/sqlite/0006_job_leases.sql"),
        postgres: include_str!("../migrations/postgres/0006_job_leases.sql"),
        mysql: include_str!("../migrations/mysql/0006_job_leases.sql"),
    },
    Migration {
        version: 7,
        description: "image cache records and prefetch queue",
        sqlite: include_str!("../migrations/sqlite/0007_image_cache.sql"),
        postgres: include_str!("../migrations/postgres/0007_image_cache.sql"),
        mysql: include_str!("../migrations/mysql/0007_image_cache.sql"),
    },
    Migration {
        version: 8,
        description: "tasks",
        sqlite: include_str!("../migrations/sqlite/0008_tasks.sql"),
        postgres: include_str!("../migrations/postgres/0008_tasks.sql"),
        mysql: include_str!("../migrations/mysql/0008_tasks.sql"),
    },
    Migration {
        version: 9,
        description: "metadata definitions",
        sqlite: include_str!("../migrations/sqlite/0009_metadefs.sql"),
        postgres: include_str!("../migrations/postgres/0009_metadefs.sql"),
        mysql: include_str!("../migrations/mysql/0009_metadefs.sql"),
    },
    Migration {
        version: 10,
        description: "list indexes",
        sqlite: include_str!("../migrations/sqlite/0010_list_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0010_list_indexes.sql"),
        mysql: include_str!("../migrations/mysql/0010_list_indexes.sql"),
    },
    Migration {
        version: 11,
        description: "tag rows in list order",
        sqlite: include_str!("../migrations/sqlite/0011_tag_order.sql"),
        postgres: include_str!("../migrations/postgres/0011_tag_order.sql"),
        mysql: include_str!("../migrations/mysql/0011_tag_order.sql"),
    },
    Migration {
        version: 12,
        description: "filter and order indexes",
        sqlite: include_str!("../migrations/sqlite/0012_filter_order_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0012_filter_order_indexes.sql"),
        mysql: include_str!("../migrations/mysql/0012_filter_order_indexes.sql"),
    },
    Migration {
        version: 13,
        description: "whole property values indexed",
        sqlite: include_str!("../migrations/sqlite/0013_property_values.sql"),
        postgres: include_str!("../migrations/postgres/0013_property_values.sql"),
        mysql: include_str!("../migrations/mysql/0013_property_values.sql"),
    },
    Migration {
        version: 14,
        description: "more filter and order indexes",
        sqlite: include_str!("../migrations/sqlite/0014_more_filter_order_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0014_more_filter_order_indexes.sql"),
        mysql: include_str!("../migrations/mysql/0014_more_filter_order_indexes.sql"),
    },
    Migration {
        version: 15,
        description: "deleted rows by deletion time",
        sqlite: include_str!("../migrations/sqlite/0015_purgeable_index.sql"),
        postgres: include_str!("../migrations/postgres/0015_purgeable_index.sql"),
        mysql: include_str!("../migrations/mysql/0015_purgeable_index.sql"),
    },
    Migration {
        version: 16,
        description: "a format filter by the other format",
        sqlite: include_str!("../migrations/sqlite/0016_format_pair_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0016_format_pair_indexes.sql"),
        mysql: include_str!("../migrations/mysql/0016_format_pair_indexes.sql"),
    },
    Migration {
        version: 17,
        description: "property rows of live images marked",
        sqlite: include_str!("../migrations/sqlite/0017_property_order.sql"),
        postgres: include_str!("../migrations/postgres/0017_property_order.sql"),
        mysql: include_str!("../migrations/mysql/0017_property_order.sql"),
    },
    Migration {
        version: 18,
        description: "sort keys copied beside tags and properties",
        sqlite: include_str!("../migrations/sqlite/0018_side_sort_keys.sql"),
        postgres: include_str!("../migrations/postgres/0018_side_sort_keys.sql"),
        mysql: include_str!("../migrations/mysql/0018_side_sort_keys.sql"),
    },
    Migration {
        version: 19,
        description: "property rows in name order on MySQL",
        sqlite: include_str!("../migrations/sqlite/0019_property_name_order.sql"),
        postgres: include_str!("../migrations/postgres/0019_property_name_order.sql"),
        mysql: include_str!("../migrations/mysql/0019_property_name_order.sql"),
    },
];

/// Stands for the server's binary NO PAD collation in MySQL migrations.
const NOPAD_BIN: &str = "{nopad_bin}";

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Where a database's schema stands against this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaState {
    /// The newest version applied; 0 for a database glint never migrated.
    pub current: i64,
    /// The newest version this build knows ([`latest_version`]).
    pub latest: i64,
}

impl SchemaState {
    pub fn is_current(&self) -> bool {
        self.current == self.latest
    }
}

impl Database {
    /// The schema version of the database, read without changing anything.
    pub async fn schema_state(&self) -> Result<SchemaState, DbError> {
        let dialect = self.dialect();
        let exists = match dialect {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            Dialect::MySql => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
        };
        let current = self
            .on_connection(async |conn| {
                let found: i64 = sqlx::query(exists)
                    .bind(MIGRATIONS_TABLE)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                if found == 0 {
                    return Ok(0);
                }
                let applied = applied_versions(conn, dialect).await?;
                Ok(applied.into_iter().max().unwrap_or(0))
            })
            .await?;
        Ok(SchemaState {
            current,
            latest: latest_version(),
        })
    }

    /// Applies every migration this build knows that the database lacks,
    /// under the database-wide migration lock; the state before (as found
    /// once the lock was held, so of concurrent runs only one sees the
    /// older version) and after.
    pub async fn migrate(&self) -> Result<(SchemaState, SchemaState), DbError> {
        let before = migrate(self, latest_version()).await?;
        let before = SchemaState {
            current: before,
            latest: latest_version(),
        };
        Ok((before, self.schema_state().await?))
    }
}

/// Any value works as long as every glint process uses the same one.
const PG_LOCK_KEY: i64 = 0x676c_696e_7400;
/// Prefix of the MySQL lock name; the database name follows, since MySQL
/// locks are server-wide and other databases on the server are unrelated.
const MYSQL_LOCK_NAME: &str = "glint_schema_migrations.";
const MYSQL_LOCK_WAIT_SECS: i64 = 60;

/// Applies every pending migration up to version `up_to`; returns the
/// newest version applied before. Migrations run without the statement
/// timeout: rebuilding a large table may take long.
pub(crate) async fn migrate(db: &Database, up_to: i64) -> Result<i64, DbError> {
    let dialect = db.dialect();
    match dialect {
        Dialect::Sqlite => {
            let mut tx = db.begin_write().await?;
            let before = apply_pending(tx.conn(), dialect, "", up_to).await?;
            tx.commit().await?;
            Ok(before)
        }
        Dialect::Postgres => {
            let mut tx = db.pool().begin().await?;
            sqlx::raw_sql("SET LOCAL statement_timeout = 0")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            let before = apply_pending(&mut tx, dialect, "", up_to).await?;
            tx.commit().await?;
            Ok(before)
        }
        Dialect::MySql => {
            let mut conn = db.pool().acquire().await?;
            // Its session settings change below: it must not serve anyone
            // else afterwards.
            conn.close_on_drop();
            let (nopad, untimed) = if exec::is_mariadb(&mut conn).await? {
                ("utf8mb4_nopad_bin", "SET SESSION max_statement_time = 0")
            } else {
                ("utf8mb4_0900_bin", "SET SESSION max_execution_time = 0")
            };
            sqlx::raw_sql(untimed).execute(&mut *conn).await?;
            mysql_lock(&mut conn).await?;
            let applied = apply_pending(&mut conn, dialect, nopad, up_to).await;
            let released = sqlx::query("SELECT RELEASE_LOCK(CONCAT(?, DATABASE()))")
                .bind(MYSQL_LOCK_NAME)
                .execute(&mut *conn)
                .await;
            let before = applied?;
            released?;
            Ok(before)
        }
    }
}

async fn mysql_lock(conn: &mut AnyConnection) -> Result<(), DbError> {
    let row = sqlx::query("SELECT GET_LOCK(CONCAT(?, DATABASE()), ?)")
        .bind(MYSQL_LOCK_NAME)
        .bind(MYSQL_LOCK_WAIT_SECS)
        .fetch_one(&mut *conn)
        .await?;
    match row.try_get::<Option<i64>, _>(0)? {
        Some(1) => Ok(()),
        _ => Err(DbError::unavailable(
            "timed out waiting for another process's schema migration",
        )),
    }
}

/// Applies the pending migrations on `conn`; `nopad` is the name of the
/// binary NO PAD collation on a MySQL server.
async fn apply_pending(
    conn: &mut AnyConnection,
    dialect: Dialect,
    nopad: &str,
    up_to: i64,
) -> Result<i64, DbError> {
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (\
         version BIGINT NOT NULL PRIMARY KEY, \
         description VARCHAR(255) NOT NULL, \
         applied_at BIGINT NOT NULL)"
    );
    sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&mut *conn)
        .await?;
    let applied = applied_versions(conn, dialect).await?;
    if let Some(newest) = applied.iter().max().filter(|v| **v > latest_version()) {
        return Err(DbError::internal(format!(
            "the database schema is at version {newest}, newer than this build knows ({})",
            latest_version()
        )));
    }
    let pending = MIGRATIONS
        .iter()
        .filter(|m| m.version <= up_to && !applied.contains(&m.version));
    for migration in pending {
        for statement in statements(migration.sql(dialect)) {
            let statement = statement.replace(NOPAD_BIN, nopad);
            match sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await
            {
                Err(e) if !already_added(dialect, &e) => return Err(e.into()),
                _ => {}
            }
        }
        let mut record = Query::insert();
        record
            .into_table(MIGRATIONS_TABLE)
            .columns(["version", "description", "applied_at"])
            .values([
                Expr::val(migration.version),
                Expr::val(migration.description),
                Expr::val(glint_model::time::to_micros(glint_model::time::now())),
            ])
            .map_err(|e| DbError::internal(e.to_string()))?;
        exec::execute(&mut *conn, dialect, &record).await?;
    }
    Ok(applied.into_iter().max().unwrap_or(0))
}

/// Whether `e` is MySQL refusing an `ADD COLUMN` or `ADD INDEX` because an
/// earlier, interrupted run of the same migration added it already
/// (SQLSTATE 42S21 "duplicate column"; error 1061 "duplicate key name",
/// whose SQLSTATE 42000 is shared with other errors, hence the message).
fn already_added(dialect: Dialect, e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    dialect == Dialect::MySql
        && match db.code().as_deref() {
            Some("42S21") => true,
            Some("42000") => db.message().starts_with("Duplicate key name"),
            _ => false,
        }
}

async fn applied_versions(conn: &mut AnyConnection, dialect: Dialect) -> Result<Vec<i64>, DbError> {
    let query = Query::select()
        .column("version")
        .from(MIGRATIONS_TABLE)
        .take();
    let rows = exec::fetch_all(&mut *conn, dialect, &query).await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0).map_err(DbError::from))
        .collect()
}

/// Splits a migration file into statements: `--` comment lines are dropped
/// and statements end with `;` (none of ours contains one elsewhere).
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_statements() {
        for migration in MIGRATIONS {
            for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
                let parts = statements(migration.sql(dialect));
                let kinds: &[&str] = match migration.version {
                    1 => &["CREATE"],
                    2 => &["ALTER TABLE images ADD COLUMN"],
                    3 => &["UPDATE images SET children"],
                    4 => &["ALTER TABLE"],
                    5 => &["ALTER TABLE images ADD COLUMN", "CREATE"],
                    6 => &["CREATE TABLE IF NOT EXISTS job_leases"],
                    10 => &["ALTER TABLE", "CREATE INDEX", "DROP INDEX"],
                    11 => &[
                        "ALTER TABLE image_tags",
                        "UPDATE image_tags",
                        "CREATE INDEX",
                        "DROP INDEX",
                        "ALTER TABLE images",
                    ],
                    12 | 14 | 16 => &["CREATE INDEX", "ALTER TABLE images"],
                    13 => &["ALTER TABLE image_properties"],
                    15 => &["ALTER TABLE images ADD INDEX ix_images_purgeable"],
                    17 => &[
                        "ALTER TABLE image_properties",
                        "UPDATE image_properties",
                        "CREATE INDEX",
                        "DROP INDEX",
                    ],
                    18 => &[
                        "ALTER TABLE image_tags",
                        "ALTER TABLE image_properties",
                        "UPDATE image_tags",
                        "UPDATE image_properties",
                        "CREATE INDEX",
                    ],
                    19 => &["ALTER TABLE image_properties"],
                    _ => &["CREATE"],
                };
                assert!(
                    parts.iter().all(|s| kinds.iter().any(|k| s.starts_with(k))),
                    "{dialect:?} {}",
                    migration.version
                );
                let expected = match (migration.version, dialect) {
                    (1, _) => parts.len().max(5),
                    (4, Dialect::MySql) => 5,
                    (4, _) => 0,
                    (5, Dialect::MySql) => 3,
                    (5, _) => 4,
                    (7, Dialect::MySql) => 3,
                    (7, _) => 4,
                    (8, Dialect::MySql) => 1,
                    (8, _) => 4,
                    (9, Dialect::MySql) => 4,
                    (9, _) => 8,
                    (10, Dialect::MySql) => 3,
                    (10, _) => 19,
                    (11, Dialect::MySql) => 4,
                    (11, _) => 4,
                    (12, Dialect::MySql) => 1,
                    (12, _) => 3,
                    (13, Dialect::MySql) => 1,
                    (13, _) => 0,
                    (14, Dialect::MySql) => 1,
                    (14, _) => 3,
                    (15, Dialect::MySql) => 1,
                    (15, _) => 0,
                    (16, Dialect::MySql) => 1,
                    (16, _) => 2,
                    (17, Dialect::Sqlite) => 4,
                    (17, Dialect::MySql) => 3,
                    (17, Dialect::Postgres) => 3,
                    (18, Dialect::Sqlite) => 26,
                    (18, Dialect::MySql) => 6,
                    (18, Dialect::Postgres) => 16,
                    (19, Dialect::Sqlite | Dialect::Postgres) => 0,
                    _ => 1,
                };
                assert_eq!(parts.len(), expected, "{dialect:?} {}", migration.version);
            }
        }
    }

    #[test]
    fn only_mysql_migrations_name_the_nopad_collation() {
        for migration in MIGRATIONS {
            assert!(!migration.sqlite.contains(NOPAD_BIN));
            assert!(!migration.postgres.contains(NOPAD_BIN));
        }
        assert!(MIGRATIONS[3].mysql.contains(NOPAD_BIN));
    }

    /// Versions only grow; a number may be missing while the branch that
    /// holds its migration has not been merged yet.
    #[test]
    fn versions_are_numbered_one_by_one_from_1() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, expected);
    }
}
