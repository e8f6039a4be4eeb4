//! Image members. Removed members are kept as deleted rows (as Glance
//! does); adding the same project again revives the row.

use glint_model::time::to_micros;
use glint_model::{ImageId, Member};
use sea_query::{Expr, ExprTrait, InsertStatement, Order, Query, SelectStatement, UpdateStatement};
use sqlx::Row;

use crate::rows::{MEMBER_COLUMNS, MEMBERS, flag, int_from_row, member_from_row};
use crate::uploads::lock_image;
use crate::{Database, DbError};

fn count_query(image: ImageId) -> SelectStatement {
    Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(MEMBERS)
        .and_where(Expr::col("image_id").eq(image.to_string()))
        .and_where(Expr::col("deleted").eq(flag(false)))
        .take()
}

fn select_members(image: ImageId) -> SelectStatement {
    Query::select()
        .columns(MEMBER_COLUMNS)
        .from(MEMBERS)
        .and_where(Expr::col("image_id").eq(image.to_string()))
        .and_where(Expr::col("deleted").eq(flag(false)))
        .take()
}

/// Brings a removed member back, as if it were added anew.
fn revive(m: &Member) -> UpdateStatement {
    Query::update()
        .table(MEMBERS)
        .value("status", m.status.as_str())
        .value("created_at", to_micros(m.created_at))
        .value("updated_at", to_micros(m.updated_at))
        .value("deleted", flag(false))
        .and_where(Expr::col("image_id").eq(m.image_id.to_string()))
        .and_where(Expr::col("member").eq(m.member_id.as_str()))
        .take()
}

pub(crate) fn insert(m: &Member) -> Result<InsertStatement, DbError> {
    insert_marked(m, false)
}

/// [`insert`] with the row's `deleted` flag given.
pub(crate) fn insert_marked(m: &Member, deleted: bool) -> Result<InsertStatement, DbError> {
    let mut insert = Query::insert();
    insert
        .into_table(MEMBERS)
        .columns(MEMBER_COLUMNS.iter().copied().chain(["deleted"]))
        .values([
            Expr::val(m.image_id.to_string()),
            Expr::val(m.member_id.as_str()),
            Expr::val(m.status.as_str()),
            Expr::val(to_micros(m.created_at)),
            Expr::val(to_micros(m.updated_at)),
            Expr::val(flag(deleted)),
        ])
        .map_err(|e| DbError::internal(e.to_string()))?;
    Ok(insert)
}

impl Database {
    /// Shares an image with a project. `Duplicate` if the project already
    /// is a member, `NotFound` if the image does not exist,
    /// `TooManyMembers` if the image already has `quota` members. The count
    /// and the insert happen with the image row locked, so members added
    /// at the same time cannot together exceed the quota.
    pub async fn add_member(&self, m: &Member, quota: Option<u64>) -> Result<(), DbError> {
        let dialect = self.dialect();
        let image = m.image_id.to_string();
        let existing = Query::select()
            .column("deleted")
            .from(MEMBERS)
            .and_where(Expr::col("image_id").eq(image.as_str()))
            .and_where(Expr::col("member").eq(m.member_id.as_str()))
            .take();
        let mut tx = self.begin_write().await?;
        if lock_image(&mut tx, dialect, &image).await?.is_none() {
            return Err(DbError::NotFound);
        }
        if let Some(maximum) = quota {
            let count = tx.fetch_all(dialect, &count_query(m.image_id)).await?;
            let count: i64 = match count.first() {
                Some(row) => row.try_get(0)?,
                None => 0,
            };
            let attempted = u64::try_from(count).unwrap_or(0) + 1;
            if attempted > maximum {
                return Err(DbError::TooManyMembers { attempted });
            }
        }
        let found = tx.fetch_all(dialect, &existing).await?;
        let written = match found.first() {
            Some(row) if row.try_get::<i64, _>(0)? == 0 => return Err(DbError::Duplicate),
            Some(_) => tx.execute(dialect, &revive(m)).await?,
            None => tx.execute(dialect, &insert(m)?).await?,
        };
        if written != 1 {
            return Err(DbError::internal("member row was not written"));
        }
        tx.commit().await
    }

    /// The (undeleted) membership of `member` in `image`.
    pub async fn get_member(
        &self,
        image: ImageId,
        member: &str,
    ) -> Result<Option<Member>, DbError> {
        let query = select_members(image)
            .and_where(Expr::col("member").eq(member))
            .take();
        let found = self.read_rows(&query, member_from_row).await?;
        Ok(found.into_iter().next())
    }

    /// The members of an image, oldest first.
    pub async fn list_members(&self, image: ImageId) -> Result<Vec<Member>, DbError> {
        let query = select_members(image)
            .order_by("created_at", Order::Asc)
            .order_by("member", Order::Asc)
            .take();
        self.read_rows(&query, member_from_row).await
    }

    /// Saves a member's status and `updated_at`. `NotFound` if missing.
    pub async fn update_member(&self, m: &Member) -> Result<(), DbError> {
        let update = Query::update()
            .table(MEMBERS)
            .value("status", m.status.as_str())
            .value("updated_at", to_micros(m.updated_at))
            .and_where(Expr::col("image_id").eq(m.image_id.to_string()))
            .and_where(Expr::col("member").eq(m.member_id.as_str()))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        self.write_one(&update).await
    }

    /// Removes a member (soft delete). `NotFound` if missing.
    pub async fn delete_member(&self, image: ImageId, member: &str) -> Result<(), DbError> {
        // `updated_at` dates the removal, for `glint db purge`.
        let update = Query::update()
            .table(MEMBERS)
            .value("deleted", flag(true))
            .value("updated_at", to_micros(glint_model::time::now()))
            .and_where(Expr::col("image_id").eq(image.to_string()))
            .and_where(Expr::col("member").eq(member))
            .and_where(Expr::col("deleted").eq(flag(false)))
            .take();
        self.write_one(&update).await
    }

    /// How many (undeleted) members an image has.
    pub async fn count_members(&self, image: ImageId) -> Result<u64, DbError> {
        let found = self.read_rows(&count_query(image), int_from_row).await?;
        let count = found.into_iter().next().flatten().unwrap_or(0);
        u64::try_from(count).map_err(|e| DbError::internal(e.to_string()))
    }

    /// Runs one UPDATE in a write transaction; `NotFound` if it matched no row.
    async fn write_one(&self, update: &UpdateStatement) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        if tx.execute(self.dialect(), update).await? == 0 {
            return Err(DbError::NotFound);
        }
        tx.commit().await
    }
}
