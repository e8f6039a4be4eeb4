//! An image's children (extra properties, tags, locations): how they are
//! written, and how they are read back.
//!
//! They are written twice, in one transaction: as rows of the child tables
//! (what list filters query) and as one JSON document in the image's own
//! row ([`crate::rows::CHILDREN`]), which is what every read uses. Rows
//! written before that column existed were given their copy by a migration
//! (schema version 3), so there is one read path.

use std::collections::BTreeMap;

use glint_model::time::to_micros;
use glint_model::{Image, Location};
use sea_query::{Expr, ExprTrait, InsertStatement, Query};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::DbError;
use crate::rows::{
    IMAGE_COLUMNS, LOCATIONS, PROPERTIES, RowRead, SORT_COPIES, TAGS, image_from_row, sort_copies,
};

fn internal(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::internal(format!("{what}: {e}"))
}

/// The children document of an image row, as written:
/// `{"properties": {…}, "tags": […], "locations": [{"url", "metadata",
/// "status"}, …]}`, empty members left out.
#[derive(Serialize)]
struct DocumentOut<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    properties: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<LocationOut<'a>>,
}

#[derive(Serialize)]
struct LocationOut<'a> {
    url: &'a str,
    metadata: &'a Map<String, Value>,
    status: &'a str,
}

/// The children document as read back.
#[derive(Deserialize)]
struct DocumentIn {
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    locations: Vec<LocationIn>,
}

#[derive(Deserialize)]
struct LocationIn {
    url: String,
    metadata: Map<String, Value>,
    status: String,
}

/// The copy of `image`'s children for its row.
pub(crate) fn document(image: &Image) -> Result<String, DbError> {
    let locations = image.locations.iter().map(|l| LocationOut {
        url: &l.url,
        metadata: &l.metadata,
        status: &l.status,
    });
    let document = DocumentOut {
        properties: &image.properties,
        tags: &image.tags,
        locations: locations.collect(),
    };
    serde_json::to_string(&document).map_err(|e| internal("encoding the children document", e))
}

fn read_document(image: &mut Image, json: &str) -> Result<(), DbError> {
    let document: DocumentIn =
        serde_json::from_str(json).map_err(|e| internal("bad children document stored", e))?;
    image.properties = document.properties;
    image.tags = document.tags;
    image.locations = (document.locations.into_iter())
        .map(|l| Location {
            url: l.url,
            metadata: l.metadata,
            status: l.status,
        })
        .collect();
    Ok(())
}

/// Decodes a row of [`crate::images::select_images`]: the image columns,
/// then the children from the row's copy.
pub(crate) fn image_with_children(row: &dyn RowRead) -> Result<Image, DbError> {
    let mut image = image_from_row(row)?;
    // Every writer stores the copy, and the migration to schema version 3
    // filled it in older rows: a row without one was written by a glint
    // older than the schema, which must not run against it.
    let json = row.text(IMAGE_COLUMNS.len())?.ok_or_else(|| {
        DbError::internal(format!(
            "image {} has no children copy (written by an older glint?)",
            image.id
        ))
    })?;
    read_document(&mut image, json)?;
    Ok(image)
}

/// Inserts for the properties, tags and locations of a live `image` (none
/// for an empty collection), one multi-row statement per table. Tag rows
/// (schema version 11) and property rows (version 17) carry the image's
/// creation time: it orders a tag's index as the list is ordered, and it
/// tells a live image's rows from a deleted one's. They also carry copies
/// of the image's other sort keys (version 18, [`SORT_COPIES`]), which
/// order the indexes a list by those keys reads.
pub(crate) fn insert_children(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    children_statements(image, RowTime::Created)
}

/// [`insert_children`] for an image marked deleted: its tag and property
/// rows carry no creation time and no sort keys, which keeps them out of
/// the indexes that order a list and out of the counts it is planned by.
pub(crate) fn insert_children_unlisted(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    children_statements(image, RowTime::Null)
}

/// [`insert_children`] as schema versions before 11 had them, without the
/// creation time and sort keys on tag and property rows.
#[cfg(feature = "testing")]
pub(crate) fn insert_children_untimed(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    children_statements(image, RowTime::NoColumn)
}

/// What a tag or property row says of its image: its creation time and
/// sort keys, none (deleted), or nothing, lacking the columns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowTime {
    Created,
    Null,
    NoColumn,
}

/// The columns a tag or property row has beside its own (`image_id`
/// and the tag or the property's name and value, and a tag's position).
const ORDER_COLUMNS: [&str; 7] = [
    "created_at",
    SORT_COPIES[0],
    SORT_COPIES[1],
    SORT_COPIES[2],
    SORT_COPIES[3],
    SORT_COPIES[4],
    SORT_COPIES[5],
];

fn children_statements(image: &Image, time: RowTime) -> Result<Vec<InsertStatement>, DbError> {
    let id = || Expr::val(image.id.to_string());
    let order: Vec<Expr> = match time {
        RowTime::Created => std::iter::once(Expr::val(to_micros(image.created_at)))
            .chain(sort_copies(image)?)
            .collect(),
        // (A literal NULL: the columns are of several types.)
        RowTime::Null => ORDER_COLUMNS.iter().map(|_| Expr::cust("NULL")).collect(),
        RowTime::NoColumn => Vec::new(),
    };
    let ordered_row = |mut row: Vec<Expr>| {
        row.extend(order.iter().cloned());
        row
    };
    let properties = image
        .properties
        .iter()
        .map(|(k, v)| ordered_row(vec![id(), Expr::val(k.as_str()), Expr::val(v.as_str())]))
        .collect();
    let tags = (0_i32..)
        .zip(&image.tags)
        .map(|(pos, t)| ordered_row(vec![id(), Expr::val(t.as_str()), Expr::val(pos)]))
        .collect();
    let columns = |own: &[&'static str]| {
        let mut names = own.to_vec();
        if time != RowTime::NoColumn {
            names.extend(ORDER_COLUMNS);
        }
        names
    };
    let property_columns = columns(&["image_id", "name", "value"]);
    let tag_columns = columns(&["image_id", "value", "position"]);
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
        multi_row_insert(PROPERTIES, &property_columns, properties)?,
        multi_row_insert(TAGS, &tag_columns, tags)?,
        multi_row_insert(
            LOCATIONS,
            &["image_id", "position", "url", "metadata", "status"],
            locations,
        )?,
    ];
    Ok(inserts.into_iter().flatten().collect())
}

/// Updates that keep the sort keys copied on a live image's tag and
/// property rows in step after its row changed `status` and `updated_at`
/// alone (see [`insert_children`]).
pub(crate) fn status_copies(
    id: &str,
    status: &str,
    updated_at: i64,
) -> [sea_query::UpdateStatement; 2] {
    [TAGS, PROPERTIES].map(|table| {
        Query::update()
            .table(table)
            .value("status", status)
            .value("updated_at", updated_at)
            .and_where(Expr::col("image_id").eq(id))
            .and_where(Expr::col("created_at").is_not_null())
            .take()
    })
}

/// Updates that take a deleted image's tag and property rows out of the
/// list's order and counts: no creation time, no sort keys.
pub(crate) fn unlist(id: &str) -> [sea_query::UpdateStatement; 2] {
    [TAGS, PROPERTIES].map(|table| {
        let mut update = Query::update();
        update.table(table);
        for column in ORDER_COLUMNS {
            update.value(column, Expr::cust("NULL"));
        }
        update.and_where(Expr::col("image_id").eq(id)).take()
    })
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
