//! The image list query: Glance's `_image_get_all` visibility rules,
//! filters, sort order and keyset pagination, as one SELECT.

use glint_model::query::{
    BoolColumn, CmpOp, Filter, ImageListQuery, MemberStatusFilter, NumColumn, SortDir, SortKey,
    TextColumn, TimeColumn, VisibilityFilter,
};
use glint_model::time::to_micros;
use glint_model::{Image, Visibility};
use sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement, Value};

use crate::images::select_images;
use crate::rows::{IMAGES, MEMBERS, PROPERTIES, TAGS, flag, int_from_row};
use crate::{Database, DbError, Dialect, Viewer};

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
        let sides = self.side_forms(q).await?;
        if sides.contains(&SideForm::Empty) {
            return Ok(Vec::new());
        }
        self.fetch_images(list_query(self.dialect(), q, &sides, limit, marker, viewer))
            .await
    }

    /// How each tag and property filter of `q` is written (see
    /// [`SideForm`]), from a count of its matching rows through their index
    /// (up to [`FEW_SIDE_ROWS`] on SQLite, up to one elsewhere). A filter
    /// matching nothing answers the list at once: planners estimate an
    /// unknown tag like a common one, and PostgreSQL then walked every
    /// image looking for it. PostgreSQL and MySQL choose between starting
    /// from the matching rows and probing them per image by themselves.
    /// SQLite runs an `IN (SELECT …)` by collecting every matching row
    /// first, however many, so there the count chooses.
    pub(crate) async fn side_forms(&self, q: &ImageListQuery) -> Result<Vec<SideForm>, DbError> {
        let mut forms = Vec::new();
        for filter in &q.filters {
            let side = match filter {
                Filter::Tag(tag) => side_rows(TAGS, [("value", tag.as_str())]),
                Filter::Property { name, value } => side_rows(
                    PROPERTIES,
                    [("name", name.as_str()), ("value", value.as_str())],
                ),
                _ => continue,
            };
            let sqlite = self.dialect() == Dialect::Sqlite;
            let cap = if sqlite { FEW_SIDE_ROWS } else { 1 };
            let mut capped = side;
            capped.limit(cap);
            let count = Query::select()
                .expr(Expr::cust("COUNT(*)"))
                .from_subquery(capped, "side")
                .take();
            let found = self.read_rows(&count, int_from_row).await?;
            let rows = found.into_iter().next().flatten().unwrap_or(0);
            forms.push(match rows {
                0 => SideForm::Empty,
                n if !sqlite || n < cap as i64 => SideForm::Drive,
                _ => SideForm::Probe,
            });
        }
        Ok(forms)
    }
}

/// Below this many matching rows a tag or property filter drives the list
/// on SQLite; from it on, the list walks its index in order and probes.
/// Collecting this many rows, or probing until a page is full when about
/// this many of a million images match, each take milliseconds.
pub(crate) const FEW_SIDE_ROWS: u64 = 5000;

/// How a tag or property filter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SideForm {
    /// `images.id IN (SELECT image_id FROM …)`: uncorrelated, so the
    /// planner can start from the matching rows and look images up by key
    /// (a filter matching nothing is answered from the index alone).
    Drive,
    /// `EXISTS (SELECT 1 FROM … WHERE image_id = images.id AND …)`: probed
    /// per image while the list's index is walked in order, for a filter
    /// that matches many images.
    Probe,
    /// Matches no row: the list is empty without asking further (written
    /// as [`SideForm::Drive`] if asked).
    Empty,
}

fn img(column: &'static str) -> Expr {
    Expr::col((IMAGES, column))
}

pub(crate) fn list_query(
    dialect: Dialect,
    q: &ImageListQuery,
    sides: &[SideForm],
    limit: u64,
    marker: Option<&Image>,
    viewer: &Viewer,
) -> SelectStatement {
    // Deleted covers both deleted and pending_delete images. Literals, not
    // parameters: the partial indexes are for `deleted = 0` (and hidden
    // images), and a planner can only use them when the query says so.
    let mut cond = Cond::all()
        .add(img("deleted").eq(Expr::cust("0")))
        .add(img("status").ne("killed"))
        .add(img("os_hidden").eq(literal_flag(q.os_hidden)))
        .add(visible_to(dialect, q, viewer));
    let mut sides = sides.iter().copied();
    for filter in &q.filters {
        let side = match filter {
            Filter::Tag(_) | Filter::Property { .. } => sides.next().unwrap_or(SideForm::Drive),
            _ => SideForm::Drive,
        };
        cond = cond.add(filter_condition(filter, side));
    }
    let sort = significant_keys(&q.sort);
    if let Some(marker) = marker {
        cond = cond.add(after_marker(sort, marker));
    }
    let mut query = select_images();
    query.cond_where(cond).limit(limit);
    for (key, dir) in sort {
        let order = match dir {
            SortDir::Asc => Order::Asc,
            SortDir::Desc => Order::Desc,
        };
        query.order_by_expr(sort_expr(*key), order);
    }
    query
}

/// The images `viewer` may list with `q`'s `visibility` and
/// `member_status` parameters.
fn visible_to(dialect: Dialect, q: &ImageListQuery, viewer: &Viewer) -> Cond {
    let mut cond = Cond::all();
    if !viewer.is_admin {
        cond = cond.add(unsplit(candidates(q.member_status, viewer)));
        // Of a regular user's candidates, only their own images can be
        // private: said outright, the planner reads the owner's index
        // rather than walking every private image of every project.
        if let (Some(VisibilityFilter::Only(Visibility::Private)), Some(project)) =
            (q.visibility, viewer.project_id.as_deref())
        {
            cond = cond.add(img("owner").eq(project));
        }
    }
    if let Some(visible) = visibility_condition(q.visibility, viewer) {
        // PostgreSQL does not split this OR (one branch is a `<>`), and
        // estimates it better than the opaque form.
        cond = cond.add(match dialect {
            Dialect::Postgres => visible,
            _ => unsplit(visible),
        });
    }
    cond
}

/// The sort keys up to the first unique one (`id`): keys after it never
/// decide an order, and leaving them out lets the primary key serve
/// `sort_key=id`.
fn significant_keys(sort: &[(SortKey, SortDir)]) -> &[(SortKey, SortDir)] {
    match sort.iter().position(|(key, _)| *key == SortKey::Id) {
        Some(i) => &sort[..=i],
        None => sort,
    }
}

/// A flag as a literal rather than a parameter, for partial indexes.
fn literal_flag(value: bool) -> Expr {
    Expr::cust(if value { "1" } else { "0" })
}

/// `cond` as one opaque term (`CASE WHEN cond THEN 1 ELSE 0 END > 0`):
/// planners split an OR of indexed terms into one index lookup per branch
/// and then sort everything the branches found, which for a regular user
/// means every public image. Unsplit, the visibility rules filter a walk
/// of the index in list order, and a page stops after its rows. (`> 0`
/// rather than `= 1`: PostgreSQL guesses a third of the rows pass an
/// inequality it cannot estimate, a two-hundredth an equality, and would
/// then sort the few it expects rather than walk.)
fn unsplit(cond: Cond) -> Cond {
    let case: Expr = Expr::case(cond, Expr::cust("1"))
        .finally(Expr::cust("0"))
        .into();
    Cond::all().add(case.gt(Expr::cust("0")))
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

fn filter_condition(filter: &Filter, side: SideForm) -> Cond {
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
        } => cond.add(img("protected").eq(literal_flag(*value))),
        Filter::Time { column, op, at } => {
            cond.add(compare(img(time_column(*column)), *op, to_micros(*at)))
        }
        Filter::Property { name, value } => cond.add(side_condition(
            side,
            PROPERTIES,
            side_rows(
                PROPERTIES,
                [("name", name.as_str()), ("value", value.as_str())],
            ),
        )),
        Filter::Tag(tag) => cond.add(side_condition(
            side,
            TAGS,
            side_rows(TAGS, [("value", tag.as_str())]),
        )),
    }
}

/// The filter on `rows` of `table` (a [`side_rows`] query), written as
/// `side` says.
fn side_condition(side: SideForm, table: &'static str, mut rows: SelectStatement) -> Expr {
    match side {
        SideForm::Drive | SideForm::Empty => img("id").in_subquery(rows),
        SideForm::Probe => {
            rows.and_where(Expr::col((table, "image_id")).equals((IMAGES, "id")));
            Expr::exists(rows)
        }
    }
}

/// `SELECT image_id FROM <table> WHERE …`: the rows of a tag or property
/// filter.
fn side_rows<const N: usize>(
    table: &'static str,
    equal: [(&'static str, &str); N],
) -> SelectStatement {
    let mut query = Query::select()
        .column((table, "image_id"))
        .from(table)
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
/// text, -1 for sizes), identically on every dialect: the generated
/// `sort_*` columns hold those values (and are indexed). The keyset
/// condition uses the same columns, so pages join up exactly.
fn sort_expr(key: SortKey) -> Expr {
    match key {
        SortKey::Name => img("sort_name"),
        SortKey::ContainerFormat => img("sort_container_format"),
        SortKey::DiskFormat => img("sort_disk_format"),
        SortKey::Size => img("sort_size"),
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
    use crate::exec;
    use sqlx::{AssertSqlSafe, Row};

    /// The default order must be served by walking the
    /// partial (created_at, id) index of live images, never by sorting every visible row.
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
                let query = list_query(
                    Dialect::Sqlite,
                    &ImageListQuery::default(),
                    &[],
                    100,
                    marker,
                    viewer,
                );
                let (sql, args) = exec::render(Dialect::Sqlite, &query).unwrap();
                let rows =
                    sqlx::query_with(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")), args)
                        .fetch_all(db.pool())
                        .await
                        .unwrap();
                let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
                let text = plan.join("\n");
                assert!(text.contains("ix_images_live_created"), "{text}");
                assert!(!text.contains("TEMP B-TREE"), "{text}");
                // After a marker the scan starts at the marker.
                assert_eq!(marker.is_some(), text.contains("created_at<"), "{text}");
            }
        }
    }

    /// A tag matching many images is probed per image while the list's
    /// index is walked in order: no collecting of every matching row, no
    /// sort.
    #[tokio::test]
    async fn a_tag_matching_many_images_is_probed_along_the_list_order() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let q = ImageListQuery::from_pairs(&[("tag".to_string(), "common".to_string())]).unwrap();
        let admin = Viewer {
            project_id: None,
            is_admin: true,
        };
        let query = list_query(Dialect::Sqlite, &q, &[SideForm::Probe], 100, None, &admin);
        let (sql, args) = exec::render(Dialect::Sqlite, &query).unwrap();
        let rows = sqlx::query_with(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")), args)
            .fetch_all(db.pool())
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
        let text = plan.join("\n");
        assert!(text.contains("ix_images_live_created"), "{text}");
        assert!(
            text.contains(
                "SEARCH image_tags EXISTS USING COVERING INDEX sqlite_autoindex_image_tags_1"
            ),
            "{text}"
        );
        assert!(!text.contains("TEMP B-TREE"), "{text}");
    }
}
