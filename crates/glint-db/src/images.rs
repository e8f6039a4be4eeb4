//! Image rows: create, read, compare-and-set saves, soft delete, counts.

use std::sync::Arc;

use glint_model::time::{Timestamp, to_micros};
use glint_model::{Image, ImageId, ImageStatus};
use sea_query::{
    Expr, ExprTrait, Order, Query, QueryStatementWriter, SelectStatement, Value, Values,
};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::children;
use crate::exec::{self, WriteTx};
use crate::rows::{
    self, IMAGE_COLUMNS, IMAGES, LOCATIONS, MEMBERS, PROPERTIES, TAGS, flag, image_from_row,
};
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

    fn args(&self, id: &str) -> Result<AnyArguments, DbError> {
        let values = self.values.iter().map(|value| match value {
            Value::String(Some(s)) if s == ID_SLOT => Value::from(id),
            other => other.clone(),
        });
        exec::bind(Values(values.collect()))
    }

    async fn fetch_all(&self, conn: &mut AnyConnection, id: &str) -> Result<Vec<AnyRow>, DbError> {
        let args = self.args(id)?;
        let sql = AssertSqlSafe(Arc::clone(&self.sql));
        Ok(sqlx::query_with(sql, args).fetch_all(conn).await?)
    }
}

/// The statements of the hottest path (`get_image`), rendered once per
/// database instead of once per call. Each is ONE statement returning one
/// row: the image columns, then its children as a JSON array (a scalar
/// subquery), so a show costs a single round trip.
pub(crate) struct Prepared {
    get_live: Template,
    get_any: Template,
}

impl Prepared {
    pub(crate) fn new(dialect: Dialect) -> Prepared {
        let children = children::children_query(dialect, &[ID_SLOT.to_string()]);
        let by_id = || {
            select_images()
                .expr(Expr::from(children.clone()))
                .and_where(img_id().eq(ID_SLOT))
                .take()
        };
        let live = by_id()
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        Prepared {
            get_live: Template::new(dialect, &live),
            get_any: Template::new(dialect, &by_id()),
        }
    }
}

fn img_id() -> Expr {
    Expr::col((IMAGES, "id"))
}

/// `SELECT <image columns> FROM images`.
pub(crate) fn select_images() -> SelectStatement {
    Query::select()
        .columns(IMAGE_COLUMNS.map(|c| (IMAGES, c)))
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
        let mut insert = Query::insert();
        insert
            .into_table(IMAGES)
            .columns(IMAGE_COLUMNS.iter().copied().chain(["deleted"]))
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
        self.get_with(&self.inner.sql.get_live, id).await
    }

    /// The image, deleted or not.
    pub async fn get_image_any(&self, id: ImageId) -> Result<Option<Image>, DbError> {
        self.get_with(&self.inner.sql.get_any, id).await
    }

    async fn get_with(&self, statement: &Template, id: ImageId) -> Result<Option<Image>, DbError> {
        let id = id.to_string();
        let mut conn = self.pool().acquire().await?;
        let found = statement.fetch_all(&mut conn, &id).await?;
        let Some(row) = found.first() else {
            return Ok(None);
        };
        let mut images = [image_from_row(row)?];
        let children: Option<String> = row.try_get(IMAGE_COLUMNS.len())?;
        children::attach_children(&mut images, children.as_deref())?;
        let [image] = images;
        Ok(Some(image))
    }

    /// Runs an image query and loads the children of every row it returns,
    /// in two statements whatever the number of rows.
    pub(crate) async fn fetch_images(
        &self,
        conn: &mut AnyConnection,
        query: &SelectStatement,
    ) -> Result<Vec<Image>, DbError> {
        let found: Vec<AnyRow> = exec::fetch_all(&mut *conn, self.dialect(), query).await?;
        let mut images = found
            .iter()
            .map(image_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if images.is_empty() {
            return Ok(images);
        }
        let ids: Vec<String> = images.iter().map(|i| i.id.to_string()).collect();
        let children = children::children_query(self.dialect(), &ids);
        let found = exec::fetch_all(&mut *conn, self.dialect(), &children).await?;
        children::attach_children(&mut images, json_of(&found)?.as_deref())?;
        Ok(images)
    }

    /// Saves every field of `image` if its stored status is still
    /// `expected`; `StatusConflict` otherwise, `NotFound` if it is missing or
    /// deleted.
    pub async fn save_image(&self, image: &Image, expected: ImageStatus) -> Result<(), DbError> {
        let dialect = self.dialect();
        let id = image.id.to_string();
        let values = rows::image_values(image)?;
        let mut update = Query::update();
        update
            .table(IMAGES)
            .values(IMAGE_COLUMNS.into_iter().zip(values).skip(1))
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
        let mut conn = self.pool().acquire().await?;
        self.fetch_images(&mut conn, &query).await
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
        let found = exec::fetch_all(self.pool(), self.dialect(), &query).await?;
        let total: Option<i64> = match found.first() {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        u64::try_from(total.unwrap_or(0)).map_err(|e| DbError::internal(e.to_string()))
    }
}

/// The one text column of an aggregate query's one row.
fn json_of(found: &[AnyRow]) -> Result<Option<String>, DbError> {
    match found.first() {
        Some(row) => Ok(row.try_get(0)?),
        None => Ok(None),
    }
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
