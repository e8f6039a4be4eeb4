//! Image rows: create, read, compare-and-set saves (on the row version),
//! soft delete, counts.

use std::sync::Arc;

use glint_model::time::{Timestamp, to_micros};
use glint_model::{Image, ImageId, ImageStatus};
use rusqlite::Connection;
use sea_query::{
    Expr, ExprTrait, InsertStatement, Order, Query, QueryStatementWriter, SelectStatement,
    UpdateStatement, Value, Values,
};
use sqlx::Row;

use crate::children::{self, image_with_children};
use crate::exec::{self, WriteTx};
use crate::quota::{self, CountLimit, StorageQuota};
use crate::rows::{
    self, CHILDREN, IMAGE_COLUMNS, IMAGES, LOCATIONS, MEMBERS, PROPERTIES, RowRead, TAGS, UPLOADS,
    VERSION, flag, int_from_row,
};
use crate::shown;
use crate::sqlite;
use crate::{Database, DbError, Dialect};

/// Stands for the image id in [`Prepared`] statements until a call binds it.
const ID_SLOT: &str = "\u{0}image-id";

/// A statement rendered once, with the id bound per call.
pub(crate) struct Template {
    sql: Arc<str>,
    values: Values,
}

impl Template {
    fn new<S: QueryStatementWriter>(dialect: Dialect, statement: &S) -> Template {
        let (sql, values) = exec::build(dialect, statement);
        Template {
            sql: sql.into(),
            values,
        }
    }

    fn values(&self, id: &str) -> Values {
        let values = self.values.iter().map(|value| match value {
            Value::String(Some(s)) if s == ID_SLOT => Value::from(id),
            other => other.clone(),
        });
        Values(values.collect())
    }
}

/// The statements of the hottest path (`get_image`), rendered once per
/// database instead of once per call.
pub(crate) struct Prepared {
    /// The image row, children copy included: a show is one statement.
    row_live: Template,
    row_any: Template,
}

impl Prepared {
    pub(crate) fn new(dialect: Dialect) -> Prepared {
        let by_id = || select_images().and_where(img_id().eq(ID_SLOT)).take();
        let live = by_id()
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        Prepared {
            row_live: Template::new(dialect, &live),
            row_any: Template::new(dialect, &by_id()),
        }
    }

    fn row(&self, live: bool) -> &Template {
        if live { &self.row_live } else { &self.row_any }
    }

    /// One image on a SQLite reader.
    fn read_image(
        &self,
        conn: &Connection,
        live: bool,
        id: ImageId,
    ) -> Result<Option<Versioned>, DbError> {
        let row = self.row(live);
        let mut found = sqlite::query(conn, &row.sql, &row.values(&id.to_string()), versioned)?;
        Ok(found.pop())
    }
}

/// How many times an image row was saved: every save compares the version
/// its writer read and bumps it, so a write based on a stale read fails
/// instead of undoing another's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i64);

/// The version read from a row.
pub(crate) fn version_of(stored: i64) -> Version {
    Version(stored)
}

impl Version {
    pub fn get(self) -> i64 {
        self.0
    }

    fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

/// An image as stored, with the version of its row.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub image: Image,
    pub version: Version,
}

/// Decodes a row of [`select_images`] with its version.
pub(crate) fn versioned(row: &dyn RowRead) -> Result<Versioned, DbError> {
    let image = image_with_children(row)?;
    let version = row
        .int(IMAGE_COLUMNS.len() + 1)?
        .ok_or_else(|| DbError::internal("image row without a version"))?;
    Ok(Versioned {
        image,
        version: Version(version),
    })
}

fn img_id() -> Expr {
    Expr::col((IMAGES, "id"))
}

/// `SELECT <image columns>, children, version FROM images`, rows to
/// decode with [`image_with_children`] or [`versioned`].
pub(crate) fn select_images() -> SelectStatement {
    Query::select()
        .columns(IMAGE_COLUMNS.map(|c| (IMAGES, c)))
        .column((IMAGES, CHILDREN))
        .column((IMAGES, VERSION))
        .from(IMAGES)
        .take()
}

fn bad_build(e: sea_query::error::Error) -> DbError {
    DbError::internal(format!("building a statement: {e}"))
}

/// The insert of a new, live image's row (its children copy included).
pub(crate) fn insert_image(image: &Image) -> Result<InsertStatement, DbError> {
    insert_image_marked(image, false)
}

/// [`insert_image`] with the row's `deleted` flag given: set, the row is
/// what [`delete_in`] leaves of an image whose status and times `image`
/// already carries.
pub(crate) fn insert_image_marked(
    image: &Image,
    deleted: bool,
) -> Result<InsertStatement, DbError> {
    let mut values = rows::image_values(image)?;
    values.push(Expr::val(flag(deleted)));
    values.push(Expr::val(children::document(image)?));
    let mut insert = Query::insert();
    insert
        .into_table(IMAGES)
        .columns(IMAGE_COLUMNS.iter().copied().chain(["deleted", CHILDREN]))
        .values(values)
        .map_err(bad_build)?;
    Ok(insert)
}

impl Database {
    /// Stores a new image with its properties, tags and locations.
    /// `Duplicate` if the id was ever used, even by a deleted image.
    pub async fn create_image(&self, image: &Image) -> Result<(), DbError> {
        self.create_image_counted(image, None).await
    }

    /// [`Database::create_image`], refusing with `CountLimitExceeded` when
    /// `limit` does not allow its project one more image; the count and the
    /// insert happen under the project's quota lock, so images created at
    /// the same time cannot together exceed it.
    pub async fn create_image_counted(
        &self,
        image: &Image,
        limit: Option<&CountLimit<'_>>,
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let insert = insert_image(image)?;
        let children = children::insert_children(image)?;
        if let Some(limit) = limit {
            self.prepare_quota_lock(limit.project).await?;
        }
        let mut tx = self.begin_write().await?;
        if let Some(limit) = limit {
            quota::lock(&mut tx, dialect, limit.project).await?;
            quota::check_image_count(&mut tx, dialect, limit).await?;
        }
        tx.execute(dialect, &insert).await?;
        for statement in &children {
            tx.execute(dialect, statement).await?;
        }
        tx.commit().await
    }

    /// The image, unless it is missing or (soft-)deleted.
    pub async fn get_image(&self, id: ImageId) -> Result<Option<Image>, DbError> {
        Ok(self.get_with(true, id).await?.map(|v| v.image))
    }

    /// The image, deleted or not.
    pub async fn get_image_any(&self, id: ImageId) -> Result<Option<Image>, DbError> {
        Ok(self.get_with(false, id).await?.map(|v| v.image))
    }

    /// The image with the version of its row, for a change to save with
    /// [`Database::save_image`]; `None` if it is missing or deleted.
    pub async fn get_image_versioned(&self, id: ImageId) -> Result<Option<Versioned>, DbError> {
        self.get_with(true, id).await
    }

    /// The image with the version of its row, deleted or not.
    pub async fn get_image_any_versioned(&self, id: ImageId) -> Result<Option<Versioned>, DbError> {
        self.get_with(false, id).await
    }

    async fn get_with(&self, live: bool, id: ImageId) -> Result<Option<Versioned>, DbError> {
        let sql = &self.inner.sql;
        if let Some(reads) = self.reads() {
            // A live image is first looked for among those read while the
            // file is unchanged (see `shown`).
            let shown = self.shown().filter(|_| live);
            let mark = shown.and_then(|shown| Some((shown, shown.mark()?)));
            if let Some((shown, mark)) = &mark
                && let Some(kept) = shown.get(mark, id)
            {
                return Ok(Some(kept));
            }
            let found = reads
                .run_here(|conn| sql.read_image(conn, live, id))
                .await?;
            if let (Some((shown, before)), Some(read)) = (mark, &found) {
                shown.keep(before, id, read, shown::weight(&read.image));
            }
            return Ok(found);
        }
        let id = id.to_string();
        let found = self
            .on_connection(async |conn| fetch_template(conn, sql.row(live), &id).await)
            .await?;
        found.as_ref().map(|row| versioned(row)).transpose()
    }

    /// Saves every field of `image` if its row is still at version
    /// `expected`, and returns the new version. `Conflict` if the image
    /// changed meanwhile, `NotFound` if it is missing or deleted.
    pub async fn save_image(&self, image: &Image, expected: Version) -> Result<Version, DbError> {
        let mut tx = self.begin_write().await?;
        let version = save_in(&mut tx, self.dialect(), image, expected).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// [`Database::save_image`] for a change that adds to the data the
    /// image holds (locations): under the project's quota lock, the image's
    /// data once saved (`quota.size`) must fit what the quota leaves beside
    /// the project's other images, else `StorageQuotaExceeded`.
    pub async fn save_image_within(
        &self,
        image: &Image,
        expected: Version,
        quota: &StorageQuota<'_>,
    ) -> Result<Version, DbError> {
        let dialect = self.dialect();
        let id = image.id.to_string();
        self.prepare_quota_lock(quota.project).await?;
        let mut tx = self.begin_write().await?;
        quota::lock(&mut tx, dialect, quota.project).await?;
        quota::check(&mut tx, dialect, &id, quota, glint_model::time::now()).await?;
        let version = save_in(&mut tx, dialect, image, expected).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Moves a live image from `from` to `to` (and stamps `updated_at`) if
    /// it is still in `from`. Returns whether it moved.
    pub async fn set_status(
        &self,
        id: ImageId,
        from: ImageStatus,
        to: ImageStatus,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let update = Query::update()
            .table(IMAGES)
            .value("status", to.as_str())
            .value("updated_at", to_micros(now))
            .value(VERSION, bumped())
            .and_where(Expr::col("id").eq(id.to_string()))
            .and_where(Expr::col("status").eq(from.as_str()))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        let moved = tx.execute(dialect, &update).await? > 0;
        if moved {
            let id = id.to_string();
            for copies in children::status_copies(&id, to.as_str(), to_micros(now)) {
                tx.execute(dialect, &copies).await?;
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Soft-deletes an image still at version `expected`: its status
    /// becomes `to` (`deleted` or `pending_delete`), it is marked deleted,
    /// and so are its members, its tag and property rows lose their creation
    /// time and sort keys; an upload lease on it is dropped (the upload
    /// then fails at its end). `Conflict` if it changed meanwhile. The row
    /// stays, so the id is never reused. A `pending_delete` image (already
    /// marked deleted) is moved on to `deleted` the same way.
    pub async fn delete_image(
        &self,
        id: ImageId,
        expected: Version,
        to: ImageStatus,
        now: Timestamp,
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        delete_in(&mut tx, self.dialect(), id, expected, to, now).await?;
        tx.commit().await
    }

    /// Live images in `status`, oldest first, with their versions. For
    /// `PendingDelete` these are the soft-deleted images awaiting the
    /// scrubber.
    pub async fn images_with_status(&self, status: ImageStatus) -> Result<Vec<Versioned>, DbError> {
        let mut query = select_images()
            .and_where(Expr::col("status").eq(status.as_str()))
            .order_by("created_at", Order::Asc)
            .order_by("id", Order::Asc)
            .take();
        if status != ImageStatus::PendingDelete {
            query.and_where(Expr::col("deleted").eq(flag(false)));
        }
        self.fetch_versioned(query).await
    }

    /// How many live images `owner` has.
    pub async fn count_images_owned(&self, owner: &str) -> Result<u64, DbError> {
        let query = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(IMAGES)
            .and_where(Expr::col("owner").eq(owner))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        let found = self.read_rows(&query, int_from_row).await?;
        let total = found.into_iter().next().flatten().unwrap_or(0);
        u64::try_from(total).map_err(|e| DbError::internal(e.to_string()))
    }
}

/// `version + 1`, the new version of a row being saved.
fn bumped() -> Expr {
    Expr::col(VERSION).add(1)
}

/// Saves every field of `image` inside `tx` if its row is still at version
/// `expected`: the row, its children copy and its child rows. The child
/// rows are brought from what they were at `expected` (read first, in the
/// same transaction) to what `image` needs, writing only what differs
/// ([`children::changes`]).
pub(crate) async fn save_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    image: &Image,
    expected: Version,
) -> Result<Version, DbError> {
    let id = image.id.to_string();
    let read = select_images()
        .and_where(img_id().eq(id.as_str()))
        .and_where(Expr::col("deleted").eq(flag(false)))
        .take();
    let found = tx.fetch_all(dialect, &read).await?;
    let before = found.first().map(|row| versioned(row)).transpose()?;
    let Some(before) = before.filter(|v| v.version == expected) else {
        return Err(why_not_updated(tx, dialect, &id).await);
    };
    let mut update = update_row(image, expected)?;
    update.and_where(Expr::col("deleted").eq(flag(false)));
    if tx.execute(dialect, &update).await? == 0 {
        return Err(why_not_updated(tx, dialect, &id).await);
    }
    // The row was at `expected` when read and when updated: what was read
    // is what its child rows hold (every change to them bumps the version).
    let changes = children::changes(&before.image, image)?;
    for delete in &changes.deletes {
        tx.execute(dialect, delete).await?;
    }
    for update in &changes.updates {
        tx.execute(dialect, update).await?;
    }
    for insert in &changes.inserts {
        tx.execute(dialect, insert).await?;
    }
    Ok(expected.next())
}

/// Saves every field of a soft-deleted image (or of one being restored)
/// inside `tx` if its row is still at version `expected`, leaving its
/// `deleted` flag at `deleted`. `Conflict` if the row moved on,
/// `NotFound` if there is none.
pub(crate) async fn save_any_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    image: &Image,
    expected: Version,
    deleted: bool,
) -> Result<Version, DbError> {
    let mut update = update_row(image, expected)?;
    update.value("deleted", flag(deleted));
    if tx.execute(dialect, &update).await? == 0 {
        let id = image.id.to_string();
        return Err(match exists(tx, dialect, &id).await? {
            true => DbError::Conflict,
            false => DbError::NotFound,
        });
    }
    replace_children(tx, dialect, image, !deleted).await?;
    Ok(expected.next())
}

/// `UPDATE images SET <every field>, children, version + 1 WHERE id AND
/// version` for `image` read at `expected`.
fn update_row(image: &Image, expected: Version) -> Result<UpdateStatement, DbError> {
    let values = rows::image_values(image)?;
    let copy = (CHILDREN, Expr::val(children::document(image)?));
    Ok(Query::update()
        .table(IMAGES)
        .values(IMAGE_COLUMNS.into_iter().zip(values).skip(1).chain([copy]))
        .value(VERSION, bumped())
        .and_where(Expr::col("id").eq(image.id.to_string()))
        .and_where(Expr::col(VERSION).eq(expected.0))
        .take())
}

/// Rewrites the child rows of `image` (properties, tags, locations), as
/// those of a live image or of one marked deleted.
pub(crate) async fn replace_children(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    image: &Image,
    live: bool,
) -> Result<(), DbError> {
    let id = image.id.to_string();
    let children = match live {
        true => children::insert_children(image)?,
        false => children::insert_children_unlisted(image)?,
    };
    for table in [PROPERTIES, TAGS, LOCATIONS] {
        let delete = Query::delete()
            .from_table(table)
            .and_where(Expr::col("image_id").eq(id.as_str()))
            .take();
        tx.execute(dialect, &delete).await?;
    }
    for statement in &children {
        tx.execute(dialect, statement).await?;
    }
    Ok(())
}

/// Runs a [`Template`] through sqlx with `id` bound; its one row, if any.
async fn fetch_template(
    conn: &mut sqlx::AnyConnection,
    template: &Template,
    id: &str,
) -> Result<Option<sqlx::any::AnyRow>, DbError> {
    let args = exec::bind(template.values(id))?;
    let statement = sqlx::query_with(sqlx::AssertSqlSafe(Arc::clone(&template.sql)), args);
    Ok(statement.fetch_optional(conn).await?)
}

/// Whether a row with this id exists, deleted or not.
async fn exists(tx: &mut WriteTx<'_>, dialect: Dialect, id: &str) -> Result<bool, DbError> {
    let query = Query::select()
        .expr(Expr::cust("1"))
        .from(IMAGES)
        .and_where(Expr::col("id").eq(id))
        .take();
    Ok(!tx.fetch_all(dialect, &query).await?.is_empty())
}

/// Marks image `id` (at `expected`) deleted in `tx`, with its memberships,
/// takes its tags and properties out of the list, and drops its upload
/// lease: what [`Database::delete_image`] commits, for callers that delete
/// many images in one transaction.
pub(crate) async fn delete_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    id: ImageId,
    expected: Version,
    to: ImageStatus,
    now: Timestamp,
) -> Result<(), DbError> {
    let id = id.to_string();
    let now = to_micros(now);
    let update = Query::update()
        .table(IMAGES)
        .value("status", to.as_str())
        .value("deleted", flag(true))
        .value("deleted_at", now)
        .value("updated_at", now)
        .value(VERSION, bumped())
        .and_where(Expr::col("id").eq(id.as_str()))
        .and_where(Expr::col(VERSION).eq(expected.0))
        .take();
    let members = Query::update()
        .table(MEMBERS)
        .value("deleted", flag(true))
        .value("updated_at", now)
        .and_where(Expr::col("image_id").eq(id.as_str()))
        .and_where(Expr::col("deleted").eq(flag(false)))
        .take();
    if tx.execute(dialect, &update).await? == 0 {
        return Err(match why_not_updated(tx, dialect, &id).await {
            DbError::NotFound if exists(tx, dialect, &id).await? => DbError::Conflict,
            other => other,
        });
    }
    tx.execute(dialect, &members).await?;
    // Its tags and properties leave the orders their indexes give the
    // list, and the counts a list is planned by.
    for unlisted in children::unlist(&id) {
        tx.execute(dialect, &unlisted).await?;
    }
    let lease = Query::delete()
        .from_table(UPLOADS)
        .and_where(Expr::col("image_id").eq(id.as_str()))
        .take();
    tx.execute(dialect, &lease).await?;
    Ok(())
}

/// After a compare-and-set matched nothing: was the image gone, or changed?
pub(crate) async fn why_not_updated(tx: &mut WriteTx<'_>, dialect: Dialect, id: &str) -> DbError {
    let query = Query::select()
        .column("deleted")
        .from(IMAGES)
        .and_where(Expr::col("id").eq(id))
        .take();
    match tx.fetch_all(dialect, &query).await {
        Ok(found) => match found.first().map(|r| r.try_get::<i64, _>(0)) {
            Some(Ok(0)) => DbError::Conflict,
            Some(Err(e)) => e.into(),
            _ => DbError::NotFound,
        },
        Err(e) => e,
    }
}
