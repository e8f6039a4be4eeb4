//! Purging what deleted images leave in the database (`glint db purge`).
//!
//! A delete keeps the image row, marked deleted, with its child rows; so
//! does a member removal. Purging removes, batch by batch, the child rows
//! of images deleted before a cutoff (and the emptied copy of them in the
//! row), and member rows removed before it. The image rows themselves stay
//! unless asked for: while a row exists its id cannot be taken again by a
//! new image, which would let someone slip other data under an id that
//! instances and snapshots still name (OSSN-0075). Images waiting for the
//! scrubber (`pending_delete`) are never touched: their locations are still
//! needed.

use glint_model::ImageStatus;
use glint_model::time::{Timestamp, to_micros};
use sea_query::extension::mysql::{IndexHintScope, MySqlSelectStatementExt};
use sea_query::{Expr, ExprTrait, Order, Query};

use crate::exec::WriteTx;
use crate::list::{Kind, unindexed};
use crate::rows::{CHILDREN, IMAGES, LOCATIONS, MEMBERS, PROPERTIES, TAGS, UPLOADS, flag};
use crate::{Database, DbError, Dialect};

/// Images handled per transaction: large enough to purge millions of rows
/// in minutes, small enough that each transaction holds its locks briefly.
pub const PURGE_BATCH: u64 = 500;

/// The children copy of a purged image row: no properties, tags or
/// locations (every field of the document has a default).
const PURGED_CHILDREN: &str = "{}";

/// What to purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Rows deleted before this moment are purged.
    pub deleted_before: Timestamp,
    /// Most images (and, separately, images with removed members) handled
    /// in this run; `None` for all.
    pub max_images: Option<u64>,
    /// Whether the image rows go too, making their ids reusable.
    pub image_rows: bool,
}

/// How many rows a purge deleted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Image rows deleted (with `image_rows`), or emptied of their
    /// children copy (without).
    pub images: u64,
    pub properties: u64,
    pub tags: u64,
    pub locations: u64,
    pub members: u64,
    pub uploads: u64,
}

impl PurgeCounts {
    /// `(table, rows)` in the order the tables were purged.
    pub fn per_table(&self) -> [(&'static str, u64); 6] {
        [
            (PROPERTIES, self.properties),
            (TAGS, self.tags),
            (LOCATIONS, self.locations),
            (MEMBERS, self.members),
            (UPLOADS, self.uploads),
            (IMAGES, self.images),
        ]
    }

    fn add(&mut self, other: PurgeCounts) {
        self.images += other.images;
        self.properties += other.properties;
        self.tags += other.tags;
        self.locations += other.locations;
        self.members += other.members;
        self.uploads += other.uploads;
    }
}

impl Database {
    /// Purges as `request` says, in transactions of [`PURGE_BATCH`]
    /// images, and returns the rows deleted per table.
    pub async fn purge_deleted(&self, request: &PurgeRequest) -> Result<PurgeCounts, DbError> {
        let mut total = PurgeCounts::default();
        let mut left = request.max_images;
        while let Some(batch) = next_batch(left) {
            let (images, counts) = self.purge_image_batch(request, batch).await?;
            total.add(counts);
            left = left.map(|l| l - images);
            if images < batch {
                break;
            }
        }
        let mut left = request.max_images;
        while let Some(batch) = next_batch(left) {
            let (images, rows) = self.purge_member_batch(request, batch).await?;
            total.members += rows;
            left = left.map(|l| l - images);
            if images < batch {
                break;
            }
        }
        Ok(total)
    }

    /// Purges up to `batch` deleted images; how many, and the rows deleted.
    async fn purge_image_batch(
        &self,
        request: &PurgeRequest,
        batch: u64,
    ) -> Result<(u64, PurgeCounts), DbError> {
        let dialect = self.dialect();
        let select = purge_select(dialect, request, batch);
        let mut tx = self.begin_write().await?;
        let ids = ids_of(&mut tx, dialect, &select).await?;
        if ids.is_empty() {
            return Ok((0, PurgeCounts::default()));
        }
        let of_batch = || Expr::col("image_id").is_in(ids.iter().map(String::as_str));
        let mut counts = PurgeCounts {
            properties: delete_where(&mut tx, dialect, PROPERTIES, of_batch()).await?,
            tags: delete_where(&mut tx, dialect, TAGS, of_batch()).await?,
            locations: delete_where(&mut tx, dialect, LOCATIONS, of_batch()).await?,
            members: delete_where(&mut tx, dialect, MEMBERS, of_batch()).await?,
            uploads: delete_where(&mut tx, dialect, UPLOADS, of_batch()).await?,
            images: 0,
        };
        let rows = Expr::col("id").is_in(ids.iter().map(String::as_str));
        counts.images = if request.image_rows {
            delete_where(&mut tx, dialect, IMAGES, rows).await?
        } else {
            let empty = Query::update()
                .table(IMAGES)
                .value(CHILDREN, PURGED_CHILDREN)
                .and_where(rows)
                .take();
            tx.execute(dialect, &empty).await?
        };
        tx.commit().await?;
        Ok((ids.len() as u64, counts))
    }

    /// Deletes the member rows removed before the cutoff, for up to
    /// `batch` images; how many images, and the rows deleted.
    async fn purge_member_batch(
        &self,
        request: &PurgeRequest,
        batch: u64,
    ) -> Result<(u64, u64), DbError> {
        let dialect = self.dialect();
        let removed = || {
            Expr::col("deleted")
                .eq(flag(true))
                .and(Expr::col("updated_at").lt(to_micros(request.deleted_before)))
        };
        let select = Query::select()
            .distinct()
            .column("image_id")
            .from(MEMBERS)
            .and_where(removed())
            .order_by("image_id", Order::Asc)
            .limit(batch)
            .take();
        let mut tx = self.begin_write().await?;
        let ids = ids_of(&mut tx, dialect, &select).await?;
        if ids.is_empty() {
            return Ok((0, 0));
        }
        let rows = removed().and(Expr::col("image_id").is_in(ids.iter().map(String::as_str)));
        let deleted = delete_where(&mut tx, dialect, MEMBERS, rows).await?;
        tx.commit().await?;
        Ok((ids.len() as u64, deleted))
    }
}

/// The size of the next batch when `left` images may still be handled
/// (`None`: no limit); `None` when done.
fn next_batch(left: Option<u64>) -> Option<u64> {
    match left {
        Some(0) => None,
        Some(left) => Some(Ord::min(left, PURGE_BATCH)),
        None => Some(PURGE_BATCH),
    }
}

async fn ids_of(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    select: &sea_query::SelectStatement,
) -> Result<Vec<String>, DbError> {
    let rows = tx.fetch_all(dialect, select).await?;
    rows.iter()
        .map(|row| {
            crate::rows::RowRead::text(row, 0)?
                .map(str::to_owned)
                .ok_or_else(|| DbError::internal("an image id is NULL"))
        })
        .collect()
}

async fn delete_where(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    table: &'static str,
    condition: Expr,
) -> Result<u64, DbError> {
    let delete = Query::delete()
        .from_table(table)
        .and_where(condition)
        .take();
    tx.execute(dialect, &delete).await
}

/// The ids of up to `batch` images `request` purges, oldest deletion
/// first.
pub(crate) fn purge_select(
    dialect: Dialect,
    request: &PurgeRequest,
    batch: u64,
) -> sea_query::SelectStatement {
    // The status as an expression no index serves: SQLite, its statistics
    // telling it that few rows are deleted, read them all through the
    // status index and sorted them for each batch, rather than walk the
    // deleted rows' own index in order.
    let status = unindexed(dialect, "status", Kind::Text);
    let mut select = Query::select();
    select
        .column("id")
        .from(IMAGES)
        // A literal: the partial index of deleted rows is for `deleted = 1`.
        .and_where(Expr::col("deleted").eq(Expr::cust("1")))
        .and_where(status.eq(ImageStatus::Deleted.as_str()))
        .and_where(Expr::col("deleted_at").lt(to_micros(request.deleted_before)))
        .order_by("deleted_at", Order::Asc)
        .order_by("id", Order::Asc)
        .limit(batch);
    if dialect == Dialect::MySql {
        // (MariaDB otherwise read every deleted row through the
        // status index and sorted them.)
        select.force_index("ix_images_purgeable", IndexHintScope::All);
    }
    if !request.image_rows {
        select.and_where(Expr::col(CHILDREN).ne(PURGED_CHILDREN));
    }
    select
}
