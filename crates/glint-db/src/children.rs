//! An image's children (extra properties, tags, locations): how they are
//! written, and how they are read back for many images at once.
//!
//! Reading returns every child of every requested image as ONE row holding
//! a JSON array, built by the database (`json_group_array`, `json_agg`,
//! `JSON_ARRAYAGG`). Rows are the expensive unit here (sqlx hands SQLite
//! rows over one by one from its worker thread, the `Any` driver copies each
//! value, servers add per-row protocol work), and a page of 100 images has
//! hundreds of children.

use std::collections::HashMap;

use glint_model::{Image, Location};
use sea_query::{Alias, Expr, ExprTrait, InsertStatement, Query, SelectStatement, UnionType};
use serde_json::{Map, Value};

use crate::rows::{LOCATIONS, PROPERTIES, TAGS};
use crate::{DbError, Dialect};

fn internal(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::internal(format!("{what}: {e}"))
}

/// Discriminates the branches of the union in [`children_query`].
const KIND_PROPERTY: i64 = 0;
const KIND_TAG: i64 = 1;
const KIND_LOCATION: i64 = 2;

/// One query returning one row with one column: a JSON array (or NULL when
/// there is nothing) of `[image_id, kind, position, a, b, c]` for every
/// property, tag and location of `ids`.
pub(crate) fn children_query(dialect: Dialect, ids: &[String]) -> SelectStatement {
    let owned_by = || {
        let column = Expr::col("image_id");
        match ids {
            [one] => column.eq(one.as_str()),
            many => column.is_in(many.iter().map(String::as_str)),
        }
    };
    let mut union = Query::select()
        .column("image_id")
        .expr_as(Expr::cust(KIND_PROPERTY.to_string()), "k")
        .expr_as(Expr::cust("0"), "p")
        .expr_as(Expr::col("name"), "a")
        .expr_as(Expr::col("value"), "b")
        .expr_as(Expr::cust("NULL"), "c")
        .from(PROPERTIES)
        .and_where(owned_by())
        .take();
    let tags = Query::select()
        .column("image_id")
        .expr(Expr::cust(KIND_TAG.to_string()))
        .columns(["position", "value"])
        .expr(Expr::cust("NULL"))
        .expr(Expr::cust("NULL"))
        .from(TAGS)
        .and_where(owned_by())
        .take();
    let locations = Query::select()
        .column("image_id")
        .expr(Expr::cust(KIND_LOCATION.to_string()))
        .columns(["position", "url", "metadata", "status"])
        .from(LOCATIONS)
        .and_where(owned_by())
        .take();
    union
        .union(UnionType::All, tags)
        .union(UnionType::All, locations);
    // Casts: the `Any` driver decodes neither PostgreSQL's json nor MySQL's
    // JSON type, only text.
    let aggregate = match dialect {
        Dialect::Sqlite => "json_group_array(json_array(image_id, k, p, a, b, c))",
        Dialect::Postgres => "CAST(json_agg(json_build_array(image_id, k, p, a, b, c)) AS TEXT)",
        Dialect::MySql => "CAST(JSON_ARRAYAGG(JSON_ARRAY(image_id, k, p, a, b, c)) AS CHAR)",
    };
    Query::select()
        .expr(Expr::cust(aggregate))
        .from_subquery(union, Alias::new("children"))
        .take()
}

/// One child as the database encodes it.
type ChildRow = (String, i64, i64, String, Option<String>, Option<String>);

#[derive(Default)]
struct Ordered {
    tags: Vec<(i64, String)>,
    locations: Vec<(i64, Location)>,
}

/// Distributes the result of [`children_query`] over `images`, keeping tags
/// and locations in position order.
pub(crate) fn attach_children(images: &mut [Image], json: Option<&str>) -> Result<(), DbError> {
    let Some(json) = json else { return Ok(()) };
    let children: Vec<ChildRow> =
        serde_json::from_str(json).map_err(|e| internal("bad children document", e))?;
    let index: HashMap<String, usize> = images
        .iter()
        .enumerate()
        .map(|(i, image)| (image.id.to_string(), i))
        .collect();
    let mut ordered: HashMap<usize, Ordered> = HashMap::new();
    for (id, kind, position, a, b, c) in children {
        let Some(&i) = index.get(&id) else { continue };
        match kind {
            KIND_PROPERTY => {
                images[i].properties.insert(a, b.unwrap_or_default());
            }
            KIND_TAG => ordered.entry(i).or_default().tags.push((position, a)),
            KIND_LOCATION => {
                let location = location_from(a, b, c)?;
                let slot = ordered.entry(i).or_default();
                slot.locations.push((position, location));
            }
            other => return Err(DbError::internal(format!("unknown child kind {other}"))),
        }
    }
    for (i, mut children) in ordered {
        children.tags.sort_by_key(|(p, _)| *p);
        children.locations.sort_by_key(|(p, _)| *p);
        images[i].tags = children.tags.into_iter().map(|(_, t)| t).collect();
        images[i].locations = children.locations.into_iter().map(|(_, l)| l).collect();
    }
    Ok(())
}

fn location_from(
    url: String,
    metadata: Option<String>,
    status: Option<String>,
) -> Result<Location, DbError> {
    let metadata: Map<String, Value> = match metadata.as_deref() {
        None | Some("") => Map::new(),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| internal("bad location metadata stored", e))?
        }
    };
    Ok(Location {
        url,
        metadata,
        status: status.unwrap_or_else(|| "active".into()),
    })
}

/// Inserts for the properties, tags and locations of `image` (none for an
/// empty collection), one multi-row statement per table.
pub(crate) fn insert_children(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    let id = || Expr::val(image.id.to_string());
    let properties = image
        .properties
        .iter()
        .map(|(k, v)| vec![id(), Expr::val(k.as_str()), Expr::val(v.as_str())])
        .collect();
    let tags = (0_i32..)
        .zip(&image.tags)
        .map(|(pos, t)| vec![id(), Expr::val(t.as_str()), Expr::val(pos)])
        .collect();
    let mut locations = Vec::new();
    for (pos, location) in (0_i32..).zip(&image.locations) {
        let metadata = serde_json::to_string(&location.metadata)
            .map_err(|e| internal("encoding location metadata", e))?;
        locations.push(vec![
            id(),
            Expr::val(pos),
            Expr::val(location.url.as_str()),
            Expr::val(metadata),
            Expr::val(location.status.as_str()),
        ]);
    }
    let inserts = [
        multi_row_insert(PROPERTIES, &["image_id", "name", "value"], properties)?,
        multi_row_insert(TAGS, &["image_id", "value", "position"], tags)?,
        multi_row_insert(
            LOCATIONS,
            &["image_id", "position", "url", "metadata", "status"],
            locations,
        )?,
    ];
    Ok(inserts.into_iter().flatten().collect())
}

fn multi_row_insert(
    table: &'static str,
    columns: &[&'static str],
    rows: Vec<Vec<Expr>>,
) -> Result<Option<InsertStatement>, DbError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let mut insert = Query::insert();
    insert.into_table(table).columns(columns.iter().copied());
    for row in rows {
        insert
            .values(row)
            .map_err(|e| internal("building an insert", e))?;
    }
    Ok(Some(insert))
}
