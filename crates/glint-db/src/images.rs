//! Image rows: create, read, compare-and-set saves, soft delete, counts.

use std::sync::Arc;

use glint_model::time::{Timestamp, to_micros};
use glint_model::{Image, ImageId, ImageStatus};
use rusqlite::Connection;
use sea_query::{
    Expr, ExprTrait, Order, Query, QueryStatementWriter, SelectStatement, Value, Values,
};
use sqlx::Row;

use crate::children::{self, image_with_children};
use crate::exec::{self, WriteTx};
use crate::rows::{
    self, CHILDREN, IMAGE_COLUMNS, IMAGES, LOCATIONS, MEMBERS, PROPERTIES, TAGS, flag, int_from_row,
};
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
    ) -> Result<Option<Image>, DbError> {
        let row = self.row(live);
        let values = row.values(&id.to_string());
        let mut found = sqlite::query(conn, &row.sql, &values, image_with_children)?;
        Ok(found.pop())
    }
}

fn img_id() -> Expr {
    Expr::col((IMAGES, "id"))
}

/// `SELECT <image columns>, children FROM images`, rows to decode with
/// [`image_with_children`].
pub(crate) fn select_images() -> SelectStatement {
    Query::select()
        .columns(IMAGE_COLUMNS.map(|c| (IMAGES, c)))
        .column((IMAGES, CHILDREN))
        .from(IMAGES)
        .take()
}

fn bad_build(e: sea_query::error::Error) -> DbError {
    DbError::internal(format!("building a statement: {e}"))
}

impl Database {
    /// Stores a new image with its properties, tags and locations.
    /// `Duplicate` if the id was ever used, even by a deleted image.
    pub async fn create_image(&self, image: &Image) -> Result<(), DbError> {
        let dialect = self.dialect();
        let mut values = rows::image_values(image)?;
        values.push(Expr::val(flag(false)));
        values.push(Expr::val(children::document(image)?));
        let mut insert = Query::insert();
        insert
            .into_table(IMAGES)
            .columns(IMAGE_COLUMNS.iter().copied().chain(["deleted", CHILDREN]))
            .values(values)
            .map_err(bad_build)?;
        let children = children::insert_children(image)?;
        let mut tx = self.begin_write().await?;
        exec::execute(tx.conn(), dialect, &insert).await?;
        for statement in &children {
            exec::execute(tx.conn(), dialect, statement).await?;
        }
        tx.commit().await
    }

    /// The image, unless it is missing or (soft-)deleted.
    pub async fn get_image(&self, id: ImageId) -> Result<Option<Image>, DbError> {
        self.get_with(true, id).await
    }

    /// The image, deleted or not.
    pub async fn get_image_any(&self, id: ImageId) -> Result<Option<Image>, DbError> {
        self.get_with(false, id).await
    }

    async fn get_with(&self, live: bool, id: ImageId) -> Result<Option<Image>, DbError> {
        let sql = &self.inner.sql;
        if let Some(readers) = self.readers() {
            return readers
                .run_here(|conn| sql.read_image(conn, live, id))
                .await;
        }
        let found = fetch_template(self.pool(), sql.row(live), &id.to_string()).await?;
        found
            .as_ref()
            .map(|row| image_with_children(row))
            .transpose()
    }

    /// Saves every field of `image` if its stored status is still
    /// `expected`; `StatusConflict` otherwise, `NotFound` if it is missing or
    /// deleted.
    pub async fn save_image(&self, image: &Image, expected: ImageStatus) -> Result<(), DbError> {
        let dialect = self.dialect();
        let id = image.id.to_string();
        let values = rows::image_values(image)?;
        let copy = (CHILDREN, Expr::val(children::document(image)?));
        let mut update = Query::update();
        update
            .table(IMAGES)
            .values(IMAGE_COLUMNS.into_iter().zip(values).skip(1).chain([copy]))
            .and_where(Expr::col("id").eq(id.as_str()))
            .and_where(Expr::col("status").eq(expected.as_str()))
            .and_where(Expr::col("deleted").eq(flag(false)));
        let children = children::insert_children(image)?;
        let mut tx = self.begin_write().await?;
        if exec::execute(tx.conn(), dialect, &update).await? == 0 {
            return Err(why_not_updated(&mut tx, dialect, &id).await);
        }
        for table in [PROPERTIES, TAGS, LOCATIONS] {
            let delete = Query::delete()
                .from_table(table)
                .and_where(Expr::col("image_id").eq(id.as_str()))
                .take();
            exec::execute(tx.conn(), dialect, &delete).await?;
        }
        for statement in &children {
            exec::execute(tx.conn(), dialect, statement).await?;
        }
        tx.commit().await
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
            .and_where(Expr::col("id").eq(id.to_string()))
            .and_where(Expr::col("status").eq(from.as_str()))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        let mut tx = self.begin_write().await?;
        let moved = exec::execute(tx.conn(), self.dialect(), &update).await? > 0;
        tx.commit().await?;
        Ok(moved)
    }

    /// Soft-deletes an image still in `from`: its status becomes `to`
    /// (`deleted` or `pending_delete`), it is marked deleted, and so are its
    /// members. Returns whether it was deleted. The row stays, so the id is
    /// never reused.
    pub async fn delete_image(
        &self,
        id: ImageId,
        from: ImageStatus,
        to: ImageStatus,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let dialect = self.dialect();
        let id = id.to_string();
        let now = to_micros(now);
        let update = Query::update()
            .table(IMAGES)
            .value("status", to.as_str())
            .value("deleted", flag(true))
            .value("deleted_at", now)
            .value("updated_at", now)
            .and_where(Expr::col("id").eq(id.as_str()))
            .and_where(Expr::col("status").eq(from.as_str()))
            .take();
        let members = Query::update()
            .table(MEMBERS)
            .value("deleted", flag(true))
            .value("updated_at", now)
            .and_where(Expr::col("image_id").eq(id.as_str()))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        let mut tx = self.begin_write().await?;
        if exec::execute(tx.conn(), dialect, &update).await? == 0 {
            return Ok(false);
        }
        exec::execute(tx.conn(), dialect, &members).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Live images in `status`, oldest first, for start-up reconciliation.
    /// For `PendingDelete` these are the soft-deleted images awaiting the
    /// scrubber.
    pub async fn images_with_status(&self, status: ImageStatus) -> Result<Vec<Image>, DbError> {
        let mut query = select_images()
            .and_where(Expr::col("status").eq(status.as_str()))
            .order_by("created_at", Order::Asc)
            .order_by("id", Order::Asc)
            .take();
        if status != ImageStatus::PendingDelete {
            query.and_where(Expr::col("deleted").eq(flag(false)));
        }
        self.fetch_images(query).await
    }

    /// How many live images `owner` has.
    pub async fn count_images_owned(&self, owner: &str) -> Result<u64, DbError> {
        self.owned_aggregate(owner, "COUNT(*)").await
    }

    /// The total size of `owner`'s live images (images without data count 0).
    pub async fn sum_image_sizes_owned(&self, owner: &str) -> Result<u64, DbError> {
        // SUM yields NUMERIC/DECIMAL on PostgreSQL and MySQL, which the Any
        // driver cannot decode: cast it back to a 64-bit integer.
        let int = match self.dialect() {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "BIGINT",
            Dialect::MySql => "SIGNED",
        };
        self.owned_aggregate(owner, &format!("CAST(COALESCE(SUM(size), 0) AS {int})"))
            .await
    }

    async fn owned_aggregate(&self, owner: &str, aggregate: &str) -> Result<u64, DbError> {
        let query = Query::select()
            .expr(Expr::cust(aggregate.to_string()))
            .from(IMAGES)
            .and_where(Expr::col("owner").eq(owner))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        let found = self.read_rows(&query, int_from_row).await?;
        let total = found.into_iter().next().flatten().unwrap_or(0);
        u64::try_from(total).map_err(|e| DbError::internal(e.to_string()))
    }
}

/// Runs a [`Template`] through sqlx with `id` bound; its one row, if any.
async fn fetch_template(
    pool: &sqlx::AnyPool,
    template: &Template,
    id: &str,
) -> Result<Option<sqlx::any::AnyRow>, DbError> {
    let args = exec::bind(template.values(id))?;
    let statement = sqlx::query_with(sqlx::AssertSqlSafe(Arc::clone(&template.sql)), args);
    Ok(statement.fetch_optional(pool).await?)
}

/// After a compare-and-set matched nothing: was the image gone, or in
/// another status?
async fn why_not_updated(tx: &mut WriteTx<'_>, dialect: Dialect, id: &str) -> DbError {
    let query = Query::select()
        .column("deleted")
        .from(IMAGES)
        .and_where(Expr::col("id").eq(id))
        .take();
    match exec::fetch_all(tx.conn(), dialect, &query).await {
        Ok(found) => match found.first().map(|r| r.try_get::<i64, _>(0)) {
            Some(Ok(0)) => DbError::StatusConflict,
            Some(Err(e)) => e.into(),
            _ => DbError::NotFound,
        },
        Err(e) => e,
    }
}
