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
use sea_query::{
    DeleteStatement, Expr, ExprTrait, InsertStatement, Query, UpdateStatement, Value as SqlValue,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::DbError;
use crate::rows::{
    IMAGE_COLUMNS, LOCATIONS, PROPERTIES, RowRead, SORT_COPIES, TAGS, image_from_row, sort_copies,
    sort_copy_values,
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
    #[cfg(feature = "testing")]
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
    let order: Vec<Expr> = match time {
        RowTime::Created => order_values(image)?,
        // (A literal NULL: the columns are of several types.)
        RowTime::Null => ORDER_COLUMNS.iter().map(|_| Expr::cust("NULL")).collect(),
        #[cfg(feature = "testing")]
        RowTime::NoColumn => Vec::new(),
    };
    let id = image.id.to_string();
    let properties = image.properties.iter().map(property_row);
    let tags = (0_i32..).zip(&image.tags).map(tag_row);
    let inserts = [
        insert_side_rows(PROPERTIES, ["name", "value"], &id, properties, &order)?,
        insert_side_rows(TAGS, ["value", "position"], &id, tags, &order)?,
        insert_locations(&id, &image.locations)?,
    ];
    Ok(inserts.into_iter().flatten().collect())
}

/// What the tag and property rows of a live image carry of it
/// ([`ORDER_COLUMNS`]): its creation time and sort keys.
fn order_values(image: &Image) -> Result<Vec<Expr>, DbError> {
    Ok(std::iter::once(Expr::val(to_micros(image.created_at)))
        .chain(sort_copies(image)?)
        .collect())
}

/// The columns of a tag or property row: its own, then [`ORDER_COLUMNS`]
/// when `order` gives their values.
fn side_columns(own: [&'static str; 3], order: &[Expr]) -> Vec<&'static str> {
    let mut names = own.to_vec();
    if !order.is_empty() {
        names.extend(ORDER_COLUMNS);
    }
    names
}

/// A multi-row insert of tag or property rows of image `id`: each row's
/// own two values (a tag and its position in the list, a property's name
/// and value) in the columns `own`, then `order`'s.
fn insert_side_rows(
    table: &'static str,
    own: [&'static str; 2],
    id: &str,
    rows: impl Iterator<Item = [Expr; 2]>,
    order: &[Expr],
) -> Result<Option<InsertStatement>, DbError> {
    let rows = rows.map(|[first, second]| {
        let row = [Expr::val(id), first, second].into_iter();
        row.chain(order.iter().cloned()).collect()
    });
    let columns = side_columns(["image_id", own[0], own[1]], order);
    multi_row_insert(table, &columns, rows.collect())
}

fn property_row((name, value): (&String, &String)) -> [Expr; 2] {
    [Expr::val(name.as_str()), Expr::val(value.as_str())]
}

fn tag_row((position, tag): (i32, &String)) -> [Expr; 2] {
    [Expr::val(tag.as_str()), Expr::val(position)]
}

fn insert_locations(id: &str, locations: &[Location]) -> Result<Option<InsertStatement>, DbError> {
    let mut rows = Vec::new();
    for (position, location) in (0_i32..).zip(locations) {
        let metadata = serde_json::to_string(&location.metadata)
            .map_err(|e| internal("encoding location metadata", e))?;
        rows.push(vec![
            Expr::val(id),
            Expr::val(position),
            Expr::val(location.url.as_str()),
            Expr::val(metadata),
            Expr::val(location.status.as_str()),
        ]);
    }
    let columns = ["image_id", "position", "url", "metadata", "status"];
    multi_row_insert(LOCATIONS, &columns, rows)
}

/// The statements that take a live image's tag, property and location
/// rows from what they are for `old` (the image as its row was read in
/// the saving transaction) to what [`insert_children`] writes for `new`,
/// run in this order: deletes, updates, inserts.
#[derive(Default)]
pub(crate) struct ChildChanges {
    pub(crate) deletes: Vec<DeleteStatement>,
    pub(crate) updates: Vec<UpdateStatement>,
    pub(crate) inserts: Vec<InsertStatement>,
}

/// [`ChildChanges`] from `old` to `new`, both live. Only rows and columns
/// that differ are written: every row written is a row in each of its
/// table's indexes (nine on a property row, eight on a tag row), and most
/// saves change only the update time and perhaps one property, which a
/// rewrite of every row paid for in every index. A property whose value
/// changed is updated in place; a tag that moved in the list gets its new
/// position; the sort keys copied on the rows are updated together, and
/// only those that changed; the locations (no copies, few rows) are
/// rewritten when any differs.
pub(crate) fn changes(old: &Image, new: &Image) -> Result<ChildChanges, DbError> {
    let id = new.id.to_string();
    let mut out = ChildChanges::default();
    let of_image = |table: &'static str| Expr::col((table, "image_id")).eq(id.as_str());

    // Rows that go.
    let gone_properties: Vec<&str> = (old.properties.keys())
        .filter(|name| !new.properties.contains_key(*name))
        .map(String::as_str)
        .collect();
    let gone_tags: Vec<&str> = (old.tags.iter())
        .filter(|tag| !new.tags.contains(tag))
        .map(String::as_str)
        .collect();
    for (table, column, gone) in [
        (PROPERTIES, "name", gone_properties),
        (TAGS, "value", gone_tags),
    ] {
        if !gone.is_empty() {
            out.deletes.push(
                Query::delete()
                    .from_table(table)
                    .and_where(of_image(table))
                    .and_where(Expr::col(column).is_in(gone))
                    .take(),
            );
        }
    }
    let locations_differ = old.locations != new.locations;
    if locations_differ && !old.locations.is_empty() {
        out.deletes.push(
            Query::delete()
                .from_table(LOCATIONS)
                .and_where(of_image(LOCATIONS))
                .take(),
        );
    }

    // The copies of the image's sort keys on the rows that stay (an
    // image's creation time never changes).
    let (before, after) = (sort_copy_values(old)?, sort_copy_values(new)?);
    let changed: Vec<(&str, SqlValue)> = (SORT_COPIES.into_iter().zip(before).zip(after))
        .filter(|((_, b), a)| b != a)
        .map(|((column, _), a)| (column, a))
        .collect();
    let kept_properties = old
        .properties
        .keys()
        .any(|k| new.properties.contains_key(k));
    let kept_tags = old.tags.iter().any(|t| new.tags.contains(t));
    for (table, kept) in [(PROPERTIES, kept_properties), (TAGS, kept_tags)] {
        if kept && !changed.is_empty() {
            let mut update = Query::update();
            update.table(table).and_where(of_image(table));
            for (column, value) in &changed {
                update.value(*column, value.clone());
            }
            out.updates.push(update);
        }
    }

    // Rows that stay but hold something else: a property's value, a
    // tag's position in the list.
    for (name, value) in &new.properties {
        if old.properties.get(name).is_some_and(|was| was != value) {
            out.updates.push(
                Query::update()
                    .table(PROPERTIES)
                    .value("value", value.as_str())
                    .and_where(of_image(PROPERTIES))
                    .and_where(Expr::col("name").eq(name.as_str()))
                    .take(),
            );
        }
    }
    for (position, tag) in (0_i32..).zip(&new.tags) {
        let was = (0_i32..).zip(&old.tags).find(|(_, t)| *t == tag);
        if was.is_some_and(|(at, _)| at != position) {
            out.updates.push(
                Query::update()
                    .table(TAGS)
                    .value("position", position)
                    .and_where(of_image(TAGS))
                    .and_where(Expr::col("value").eq(tag.as_str()))
                    .take(),
            );
        }
    }

    // Rows that come.
    let order = order_values(new)?;
    let new_properties = (new.properties.iter())
        .filter(|(name, _)| !old.properties.contains_key(*name))
        .map(property_row);
    let new_tags = ((0_i32..).zip(&new.tags))
        .filter(|(_, tag)| !old.tags.contains(tag))
        .map(tag_row);
    let locations = match locations_differ {
        true => insert_locations(&id, &new.locations)?,
        false => None,
    };
    let inserts = [
        insert_side_rows(PROPERTIES, ["name", "value"], &id, new_properties, &order)?,
        insert_side_rows(TAGS, ["value", "position"], &id, new_tags, &order)?,
        locations,
    ];
    out.inserts.extend(inserts.into_iter().flatten());
    Ok(out)
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
