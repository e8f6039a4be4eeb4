//! Test support (feature `testing`): throw-away databases on a PostgreSQL
//! or MySQL/MariaDB server, for test suites that run on every backend,
//! databases in the state older versions of glint left them in, and
//! statements of the test's choosing.

use glint_model::query::ImageListQuery;
use glint_model::time::Timestamp;
use glint_model::{Image, ImageId, ImageStatus};
use sea_query::{Expr, ExprTrait, Query};
use sqlx::{AnyConnection, AssertSqlSafe, Column, Connection, Row};

use crate::rows::{self, CHILDREN, IMAGE_COLUMNS, IMAGES, flag};
use crate::{Database, DbError, Dialect, Viewer, children, exec};

/// Opens `url` with its schema migrated up to `version` only, as a glint
/// of that schema version would have left it.
pub async fn connect_at_version(url: &str, version: i64) -> Result<Database, DbError> {
    Database::connect_up_to(url, &crate::ConnectOptions::default(), version).await
}

/// Stores `image` as schema version 1 did: the image row and the rows of
/// the child tables, no children copy. `db` must be at version 1.
pub async fn create_image_v1(db: &Database, image: &Image) -> Result<(), DbError> {
    let mut values = rows::image_values(image)?;
    values.push(Expr::val(flag(false)));
    let mut insert = Query::insert();
    insert
        .into_table(IMAGES)
        .columns(IMAGE_COLUMNS.iter().copied().chain(["deleted"]))
        .values(values)
        .map_err(|e| DbError::internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    exec::execute(tx.conn(), db.dialect(), &insert).await?;
    for statement in children::insert_children_untimed(image)? {
        exec::execute(tx.conn(), db.dialect(), &statement).await?;
    }
    tx.commit().await
}

/// Runs `sql` (written for the dialect of `db`) with `params` bound as
/// text, through the same driver and error mapping as every query: a way
/// to reach database errors and slow statements on purpose.
pub async fn run_statement(db: &Database, sql: &str, params: &[&str]) -> Result<(), DbError> {
    let mut query = sqlx::query(AssertSqlSafe(sql.to_string()));
    for param in params {
        query = query.bind(param.to_string());
    }
    query.fetch_all(db.pool()).await?;
    Ok(())
}

/// The children copy stored in `id`'s row, if the row has one.
pub async fn children_copy(db: &Database, id: ImageId) -> Result<Option<String>, DbError> {
    let query = Query::select()
        .column(CHILDREN)
        .from(IMAGES)
        .and_where(Expr::col("id").eq(id.to_string()))
        .take();
    let found = exec::fetch_all(db.pool(), db.dialect(), &query).await?;
    match found.first() {
        Some(row) => Ok(rows::RowRead::text(row, 0)?.map(str::to_owned)),
        None => Ok(None),
    }
}

/// Creates a database named `<prefix>_<random>` on the server of
/// `admin_url`; returns its URL and its name (for [`drop_database`]).
pub async fn create_database(admin_url: &str, prefix: &str) -> (String, String) {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    admin(admin_url, &format!("CREATE DATABASE {name}")).await;
    (with_database(admin_url, &name), name)
}

/// Drops a database made by [`create_database`], closing the sessions
/// still open on it first. A test drops its database while its app's pool
/// may hold a session in the middle of a transaction that will never end
/// (a worker's, on the runtime that is now waiting for the drop):
/// PostgreSQL's `WITH (FORCE)` ends such sessions; on MySQL/MariaDB they are
/// killed, or the drop waited for their metadata locks forever.
pub async fn drop_database(admin_url: &str, name: &str, postgres: bool) {
    if postgres {
        admin(
            admin_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        return;
    }
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(admin_url)
        .await
        .expect("admin connection");
    let sessions = sqlx::query(AssertSqlSafe(format!(
        "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE DB = '{name}'"
    )))
    .fetch_all(&mut conn)
    .await
    .expect("sessions of the database");
    for session in sessions {
        let id: i64 = session.try_get(0).expect("session id");
        // (It may have ended meanwhile.)
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("KILL {id}")))
            .execute(&mut conn)
            .await;
    }
    let drop = format!("DROP DATABASE IF EXISTS {name}");
    sqlx::raw_sql(AssertSqlSafe(drop.clone()))
        .execute(&mut conn)
        .await
        .expect(&drop);
    let _ = conn.close().await;
}

async fn admin(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.expect("admin connection");
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .expect(sql);
    let _ = conn.close().await;
}

/// `scheme://auth@host:port/<name>?params` from the admin URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// The plan the database makes for the list query [`Database::list_images`]
/// would run with these arguments, one line per plan step: SQLite's
/// `EXPLAIN QUERY PLAN` details (on a read connection, set up as the list
/// path's are), PostgreSQL's `EXPLAIN` text, and on MySQL/MariaDB one line
/// per `EXPLAIN` row: `table=… type=… key=… extra=…`.
pub async fn explain_list(
    db: &Database,
    q: &ImageListQuery,
    limit: u64,
    marker: Option<&Image>,
    viewer: &Viewer,
) -> Result<Vec<String>, DbError> {
    let dialect = db.dialect();
    let plan = db.list_plan(q, viewer).await?;
    let query = match db
        .sort_bounded_query(q, &plan, limit, marker, viewer)
        .await?
    {
        Some(query) => query,
        None => crate::list::list_query(dialect, q, &plan, limit, marker, viewer),
    };
    explain(db, &query).await
}

/// The plan of the statement that reads up to `limit` rows of the run of
/// images whose first sort key is `first` (a text key: a status, a
/// format, a name), where a tag or property leads the list of `q` (`None`
/// where none does), as [`explain_list`] gives it.
pub async fn explain_run(
    db: &Database,
    q: &ImageListQuery,
    first: &str,
    limit: u64,
    viewer: &Viewer,
) -> Result<Option<Vec<String>>, DbError> {
    let plan = db.list_plan(q, viewer).await?;
    let Some((filter, _)) = crate::list::leading_filter(db.dialect(), q, &plan) else {
        return Ok(None);
    };
    let value = sea_query::Value::from(first.to_owned());
    match db
        .run_query(q, &plan, filter, value, limit, None, viewer)
        .await?
    {
        Some(query) => explain(db, &query).await.map(Some),
        None => Ok(None),
    }
}

/// The plan of the statement `glint db purge` and `purge-images-table`
/// read a batch of deleted images' ids with (images deleted before now),
/// as [`explain_list`] gives it.
pub async fn explain_purge(db: &Database) -> Result<Vec<String>, DbError> {
    let request = crate::PurgeRequest {
        deleted_before: glint_model::time::now(),
        max_images: None,
        image_rows: true,
    };
    explain(db, &crate::purge::purge_select(db.dialect(), &request, 500)).await
}

/// `query`'s plan, one line per step (see [`explain_list`]).
async fn explain(
    db: &Database,
    query: &sea_query::SelectStatement,
) -> Result<Vec<String>, DbError> {
    let dialect = db.dialect();
    if let Some(readers) = db.readers() {
        let (sql, values) = exec::build(Dialect::Sqlite, query);
        let sql = format!("EXPLAIN QUERY PLAN {sql}");
        return readers
            .run(move |conn| {
                crate::sqlite::query(conn, &sql, &values, |row| {
                    Ok(row.text(3)?.unwrap_or_default().to_string())
                })
            })
            .await;
    }
    let (sql, args) = exec::render(dialect, query)?;
    let rows = sqlx::query_with(AssertSqlSafe(format!("EXPLAIN {sql}")), args)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| match dialect {
            Dialect::MySql => {
                let text = |name: &str| -> Result<String, DbError> {
                    Ok(row.try_get::<Option<String>, _>(name)?.unwrap_or_default())
                };
                Ok(format!(
                    "table={} type={} key={} extra={}",
                    text("table")?,
                    text("type")?,
                    text("key")?,
                    text("Extra")?
                ))
            }
            _ => Ok(row.try_get::<String, _>(0)?),
        })
        .collect()
}

/// Lowers the count of matching rows from which a list filter is checked
/// along the list's order instead of starting it, so that a catalogue of a
/// few thousand images shows the plans a million would get.
pub fn set_few_rows(db: &Database, rows: u64) {
    db.set_few_rows(rows);
}

/// Forgets the filter counts the list planner remembers as having reached
/// their cap, and remembers the next ones for `kept`.
pub fn set_full_count_kept(db: &Database, kept: std::time::Duration) {
    db.set_full_count_kept(kept);
}

/// How the list planner writes each filter of `q` for `viewer`, in the
/// order of `q.filters` (`Drive`, `Probe`, `Empty`, `Leads`, `Listed`; see
/// the list module), then the `visibility` parameter's form.
pub async fn filter_forms(
    db: &Database,
    q: &ImageListQuery,
    viewer: &Viewer,
) -> Result<Vec<String>, DbError> {
    let plan = db.list_plan(q, viewer).await?;
    let mut forms: Vec<String> = plan.filters.iter().map(|f| format!("{f:?}")).collect();
    forms.push(format!("{:?}", plan.visibility));
    Ok(forms)
}

/// The integer the first column of the first row of `sql` holds (written
/// for the dialect of `db`), read through the write pool.
pub async fn scalar(db: &Database, sql: &str) -> Result<i64, DbError> {
    let row = sqlx::query(AssertSqlSafe(sql.to_string()))
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// A handle whose reads all go to one connection, as a list page's do
/// (see [`Database::holding_a_connection`]).
pub async fn holding_a_connection(db: &Database) -> Result<Database, DbError> {
    db.holding_a_connection().await
}

/// [`scalar`] on PostgreSQL or MySQL/MariaDB, run as every read outside a
/// transaction is: on the connection `db` holds, if it holds one, within
/// the answer deadline.
pub async fn scalar_read(db: &Database, sql: &str) -> Result<i64, DbError> {
    db.on_connection(async |conn| {
        let row = sqlx::query(AssertSqlSafe(sql.to_string()))
            .fetch_one(conn)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    })
    .await
}

/// The plans PostgreSQL made for glint's prepared queries without their
/// values (`pg_prepared_statements.generic_plans`), summed over every open
/// connection of the pool. Only queries (`SELECT`) with parameters are
/// counted: one without has only the one plan.
pub async fn postgres_plans_made_without_values(db: &Database) -> Result<i64, DbError> {
    let sql = "SELECT coalesce(sum(generic_plans), 0)::bigint FROM pg_prepared_statements \
               WHERE cardinality(parameter_types) > 0 AND statement LIKE 'SELECT %'";
    let pool = db.pool();
    // Each connection held until the end, so that every one is asked once.
    let mut held = Vec::new();
    let mut plans = 0;
    for _ in 0..pool.size() {
        let mut conn = pool.acquire().await?;
        let row = sqlx::query(sql).fetch_one(&mut *conn).await?;
        plans += row.try_get::<i64, _>(0)?;
        held.push(conn);
    }
    Ok(plans)
}

/// The integer the first column of the first row of `sql` (SQLite)
/// holds, read on the SQLite readers on the blocking pool, as list pages
/// are: a way to reach their time limit and their cancellation.
pub async fn read_scalar(db: &Database, sql: &str) -> Result<i64, DbError> {
    let readers = db
        .readers()
        .ok_or_else(|| DbError::internal("not a SQLite file"))?;
    let sql = sql.to_string();
    let found = readers
        .run(move |conn| {
            crate::sqlite::query(conn, &sql, &sea_query::Values(Vec::new()), |row| {
                Ok(row.int(0)?.unwrap_or_default())
            })
        })
        .await?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| DbError::internal("no row"))
}

/// Stores `images` and `members` in one transaction: catalogues of
/// thousands of images for tests, in a moment. A live image's rows are
/// those [`Database::create_image`] writes; an image that carries a
/// deletion time (status `deleted` or `pending_delete`, `updated_at` its
/// deletion) is stored as [`Database::delete_image`] leaves one, its
/// memberships marked deleted then too, without the update of every
/// index that deleting a stored row costs.
pub async fn load_catalogue(
    db: &Database,
    images: &[Image],
    members: &[glint_model::Member],
) -> Result<(), DbError> {
    let dialect = db.dialect();
    let mut deleted_at = std::collections::HashMap::new();
    let mut tx = db.begin_write().await?;
    for image in images {
        let deleted = image.deleted_at.is_some();
        tx.execute(
            dialect,
            &crate::images::insert_image_marked(image, deleted)?,
        )
        .await?;
        let children = match image.deleted_at {
            Some(at) => {
                deleted_at.insert(image.id, at);
                children::insert_children_unlisted(image)?
            }
            None => children::insert_children(image)?,
        };
        for statement in children {
            tx.execute(dialect, &statement).await?;
        }
    }
    for member in members {
        let insert = match deleted_at.get(&member.image_id) {
            Some(at) => {
                let mut gone = member.clone();
                gone.updated_at = *at;
                crate::members::insert_marked(&gone, true)?
            }
            None => crate::members::insert(member)?,
        };
        tx.execute(dialect, &insert).await?;
    }
    tx.commit().await
}

/// Deletes images stored by [`load_catalogue`] as the API deletes one
/// (status `deleted`, deleted at `at`): the statements of
/// [`Database::delete_image`], all in one transaction.
pub async fn delete_loaded(db: &Database, images: &[(ImageId, Timestamp)]) -> Result<(), DbError> {
    let mut versions = Vec::with_capacity(images.len());
    for (id, _) in images {
        let Some(found) = db.get_image_versioned(*id).await? else {
            return Err(DbError::internal(format!(
                "image {id} is not there to delete"
            )));
        };
        versions.push(found.version);
    }
    let dialect = db.dialect();
    let mut tx = db.begin_write().await?;
    for ((id, at), version) in images.iter().zip(versions) {
        crate::images::delete_in(&mut tx, dialect, *id, version, ImageStatus::Deleted, *at).await?;
    }
    tx.commit().await
}

/// Rewrites every tag, property and location row of the live image `id`
/// from its row as read, deleting them all and inserting them afresh, as
/// saves did before they wrote only what changed: what a save leaves
/// must be what this leaves.
pub async fn rewrite_children(db: &Database, id: ImageId) -> Result<(), DbError> {
    let Some(found) = db.get_image_versioned(id).await? else {
        return Err(DbError::internal(format!("image {id} is not there")));
    };
    let mut tx = db.begin_write().await?;
    crate::images::replace_children(&mut tx, db.dialect(), &found.image, true).await?;
    tx.commit().await
}

/// How many shows a SQLite database answered from the images it kept
/// between reads (see `shown` in this crate); 0 elsewhere.
pub fn shown_hits(db: &Database) -> u64 {
    db.shown().map_or(0, |shown| shown.hits())
}

/// Every row the catalogue holds for image `id` (its image row and the
/// rows of its tags, properties, members and locations), one line each,
/// `table: column=value …` with columns in name order, lines sorted;
/// the image row's `version` (a count of its saves) left out. For
/// comparing how two ways of storing an image left the database.
pub async fn image_rows(db: &Database, id: ImageId) -> Result<Vec<String>, DbError> {
    let tables = [
        ("images", "id"),
        ("image_tags", "image_id"),
        ("image_properties", "image_id"),
        ("image_members", "image_id"),
        ("image_locations", "image_id"),
    ];
    let mut out = Vec::new();
    for (table, key) in tables {
        let sql = format!("SELECT * FROM {table} WHERE {key} = ?");
        let sql = match db.dialect() {
            Dialect::Postgres => sql.replace('?', "$1"),
            _ => sql,
        };
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(db.pool())
            .await?;
        for row in rows {
            let mut columns: Vec<String> = Vec::new();
            for (i, column) in row.columns().iter().enumerate() {
                let name = column.name();
                if table == "images" && name == "version" {
                    continue;
                }
                columns.push(format!("{name}={}", any_value(&row, i)));
            }
            columns.sort();
            out.push(format!("{table}: {}", columns.join(" ")));
        }
    }
    out.sort();
    Ok(out)
}

/// A column of any type as text.
fn any_value(row: &sqlx::any::AnyRow, i: usize) -> String {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return format!("{v:?}");
    }
    match row.try_get::<Option<Vec<u8>>, _>(i) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("<{e}>"),
    }
}
