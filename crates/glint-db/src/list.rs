//! The image list query: Glance's `_image_get_all` visibility rules,
//! filters, sort order and keyset pagination, as one SELECT.

use glint_model::Image;
use glint_model::query::{
    BoolColumn, CmpOp, Filter, ImageListQuery, MemberStatusFilter, NumColumn, SortDir, SortKey,
    TextColumn, TimeColumn, VisibilityFilter,
};
use glint_model::time::to_micros;
use sea_query::{Cond, Expr, ExprTrait, Func, Order, Query, SelectStatement, Value};

use crate::images::select_images;
use crate::rows::{IMAGES, MEMBERS, PROPERTIES, TAGS, flag};
use crate::{Database, DbError, Viewer};

impl Database {
    /// One page of the images `viewer` may list, matching `q`, in `q.sort`
    /// order, strictly after `marker` (the last image of the previous page),
    /// with their properties, tags and locations loaded.
    pub async fn list_images(
        &self,
        q: &ImageListQuery,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Vec<Image>, DbError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.fetch_images(list_query(q, limit, marker, viewer))
            .await
    }
}

fn img(column: &'static str) -> Expr {
    Expr::col((IMAGES, column))
}

pub(crate) fn list_query(
    q: &ImageListQuery,
    limit: u64,
    marker: Option<&Image>,
    viewer: &Viewer,
) -> SelectStatement {
    // Deleted covers both deleted and pending_delete images.
    let mut cond = Cond::all()
        .add(img("deleted").eq(flag(false)))
        .add(img("status").ne("killed"))
        .add(img("os_hidden").eq(flag(q.os_hidden)));
    if !viewer.is_admin {
        cond = cond.add(candidates(q.member_status, viewer));
    }
    if let Some(visible) = visibility_condition(q.visibility, viewer) {
        cond = cond.add(visible);
    }
    for filter in &q.filters {
        cond = cond.add(filter_condition(filter));
    }
    if let Some(marker) = marker {
        cond = cond.add(after_marker(&q.sort, marker));
    }
    let mut query = select_images();
    query.cond_where(cond).limit(limit);
    for (key, dir) in &q.sort {
        let order = match dir {
            SortDir::Asc => Order::Asc,
            SortDir::Desc => Order::Desc,
        };
        query.order_by_expr(sort_expr(*key), order);
    }
    query
}

/// What a regular user may see at all: public and community images, their
/// project's images, and shared images their project is a member of (with
/// the requested member status).
fn candidates(member_status: MemberStatusFilter, viewer: &Viewer) -> Cond {
    let mut any = Cond::any().add(img("visibility").is_in(["public", "community"]));
    if let Some(project) = viewer.project_id.as_deref() {
        let mut membership = Query::select()
            .expr(Expr::cust("1"))
            .from(MEMBERS)
            .and_where(Expr::col((MEMBERS, "image_id")).equals((IMAGES, "id")))
            .and_where(Expr::col((MEMBERS, "member")).eq(project))
            .and_where(Expr::col((MEMBERS, "deleted")).eq(flag(false)))
            .take();
        if let MemberStatusFilter::Only(status) = member_status {
            membership.and_where(Expr::col((MEMBERS, "status")).eq(status.as_str()));
        }
        any = any.add(img("owner").eq(project)).add(
            Cond::all()
                .add(img("visibility").eq("shared"))
                .add(Expr::exists(membership)),
        );
    }
    any
}

/// The `visibility` parameter; without one, community images are listed
/// only to their owner (Glance's rule, for admins too).
fn visibility_condition(visibility: Option<VisibilityFilter>, viewer: &Viewer) -> Option<Cond> {
    match visibility {
        Some(VisibilityFilter::Only(v)) => Some(Cond::all().add(img("visibility").eq(v.as_str()))),
        Some(VisibilityFilter::All) => None,
        None => {
            let not_community = img("visibility").ne("community");
            Some(match viewer.project_id.as_deref() {
                Some(project) => Cond::any().add(img("owner").eq(project)).add(not_community),
                None => Cond::all().add(not_community),
            })
        }
    }
}

fn filter_condition(filter: &Filter) -> Cond {
    let cond = Cond::all();
    match filter {
        Filter::Text { column, values } if values.is_empty() => {
            // `IN ()` is not valid SQL; an empty list matches nothing.
            cond.add(Expr::cust("1 = 0"))
        }
        Filter::Text { column, values } => {
            cond.add(img(text_column(*column)).is_in(values.iter().map(String::as_str)))
        }
        Filter::Number { column, op, value } => {
            cond.add(compare(img(num_column(*column)), *op, *value))
        }
        Filter::Bool {
            column: BoolColumn::Protected,
            value,
        } => cond.add(img("protected").eq(flag(*value))),
        Filter::Time { column, op, at } => {
            cond.add(compare(img(time_column(*column)), *op, to_micros(*at)))
        }
        Filter::Property { name, value } => cond.add(Expr::exists(owned_row(
            PROPERTIES,
            [("name", name.as_str()), ("value", value.as_str())],
        ))),
        Filter::Tag(tag) => cond.add(Expr::exists(owned_row(TAGS, [("value", tag.as_str())]))),
    }
}

/// `SELECT 1 FROM <table> WHERE <table>.image_id = images.id AND …`.
fn owned_row<const N: usize>(
    table: &'static str,
    equal: [(&'static str, &str); N],
) -> SelectStatement {
    let mut query = Query::select()
        .expr(Expr::cust("1"))
        .from(table)
        .and_where(Expr::col((table, "image_id")).equals((IMAGES, "id")))
        .take();
    for (column, value) in equal {
        query.and_where(Expr::col((table, column)).eq(value));
    }
    query
}

fn compare(column: Expr, op: CmpOp, value: i64) -> Expr {
    match op {
        CmpOp::Eq => column.eq(value),
        CmpOp::Neq => column.ne(value),
        CmpOp::Gt => column.gt(value),
        CmpOp::Gte => column.gte(value),
        CmpOp::Lt => column.lt(value),
        CmpOp::Lte => column.lte(value),
    }
}

fn text_column(column: TextColumn) -> &'static str {
    match column {
        TextColumn::Name => "name",
        TextColumn::Id => "id",
        TextColumn::Status => "status",
        TextColumn::ContainerFormat => "container_format",
        TextColumn::DiskFormat => "disk_format",
        TextColumn::Owner => "owner",
        TextColumn::Checksum => "checksum",
        TextColumn::OsHashAlgo => "os_hash_algo",
        TextColumn::OsHashValue => "os_hash_value",
    }
}

fn num_column(column: NumColumn) -> &'static str {
    match column {
        NumColumn::Size => "size",
        NumColumn::VirtualSize => "virtual_size",
        NumColumn::MinRam => "min_ram",
        NumColumn::MinDisk => "min_disk",
    }
}

fn time_column(column: TimeColumn) -> &'static str {
    match column {
        TimeColumn::CreatedAt => "created_at",
        TimeColumn::UpdatedAt => "updated_at",
    }
}

/// Nullable sort columns sort as if NULL were below every value ('' for
/// text, -1 for sizes), identically on every dialect; the keyset condition
/// uses the same expressions, so pages join up exactly.
fn sort_expr(key: SortKey) -> Expr {
    let or_else = |column: &'static str, fallback: &'static str| -> Expr {
        Func::coalesce([img(column), Expr::cust(fallback)]).into()
    };
    match key {
        SortKey::Name => or_else("name", "''"),
        SortKey::ContainerFormat => or_else("container_format", "''"),
        SortKey::DiskFormat => or_else("disk_format", "''"),
        SortKey::Size => or_else("size", "-1"),
        SortKey::Status => img("status"),
        SortKey::Id => img("id"),
        SortKey::CreatedAt => img("created_at"),
        SortKey::UpdatedAt => img("updated_at"),
    }
}

/// The marker's value of a sort expression.
fn marker_value(key: SortKey, marker: &Image) -> Value {
    let text = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
    match key {
        SortKey::Name => text(&marker.name),
        SortKey::ContainerFormat => text(&marker.container_format),
        SortKey::DiskFormat => text(&marker.disk_format),
        SortKey::Size => Value::from(
            marker
                .size
                .and_then(|s| i64::try_from(s).ok())
                .unwrap_or(-1),
        ),
        SortKey::Status => Value::from(marker.status.as_str()),
        SortKey::Id => Value::from(marker.id.to_string()),
        SortKey::CreatedAt => Value::from(to_micros(marker.created_at)),
        SortKey::UpdatedAt => Value::from(to_micros(marker.updated_at)),
    }
}

/// Rows strictly after the marker in sort order:
/// `(k1 > m1) OR (k1 = m1 AND k2 > m2) OR …` (`<` for descending keys),
/// plus the implied bound `k1 >= m1` on its own, which lets the database
/// start its index scan at the marker instead of filtering from the top.
fn after_marker(sort: &[(SortKey, SortDir)], marker: &Image) -> Cond {
    let mut any = Cond::any();
    for (i, (key, dir)) in sort.iter().enumerate() {
        let mut all = Cond::all();
        for (earlier, _) in &sort[..i] {
            all = all.add(sort_expr(*earlier).eq(Expr::val(marker_value(*earlier, marker))));
        }
        let value = Expr::val(marker_value(*key, marker));
        all = all.add(match dir {
            SortDir::Asc => sort_expr(*key).gt(value),
            SortDir::Desc => sort_expr(*key).lt(value),
        });
        any = any.add(all);
    }
    let mut cond = Cond::all();
    if let Some((key, dir)) = sort.first() {
        let value = Expr::val(marker_value(*key, marker));
        cond = cond.add(match dir {
            SortDir::Asc => sort_expr(*key).gte(value),
            SortDir::Desc => sort_expr(*key).lte(value),
        });
    }
    cond.add(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dialect;
    use crate::exec;
    use sqlx::{AssertSqlSafe, Row};

    /// The default order must be served by walking the
    /// (deleted, created_at, id) index, never by sorting every visible row.
    #[tokio::test]
    async fn default_order_walks_the_created_at_index_on_sqlite() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let marker = crate::tests::sample_image();
        let viewers = [
            Viewer {
                project_id: None,
                is_admin: true,
            },
            Viewer {
                project_id: Some("p".into()),
                is_admin: false,
            },
        ];
        for viewer in &viewers {
            for marker in [None, Some(&marker)] {
                let query = list_query(&ImageListQuery::default(), 100, marker, viewer);
                let (sql, args) = exec::render(Dialect::Sqlite, &query).unwrap();
                let rows =
                    sqlx::query_with(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")), args)
                        .fetch_all(db.pool())
                        .await
                        .unwrap();
                let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
                let text = plan.join("\n");
                assert!(text.contains("ix_images_deleted_created_id"), "{text}");
                assert!(!text.contains("TEMP B-TREE"), "{text}");
                // After a marker the scan starts at the marker.
                assert_eq!(marker.is_some(), text.contains("created_at<"), "{text}");
            }
        }
    }
}
