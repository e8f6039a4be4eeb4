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
use sea_query::{Expr, InsertStatement, Query};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::DbError;
use crate::rows::{IMAGE_COLUMNS, LOCATIONS, PROPERTIES, RowRead, TAGS, image_from_row};

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
/// tells a live image's rows from a deleted one's.
pub(crate) fn insert_children(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    children_statements(image, RowTime::Created)
}

/// [`insert_children`] for an image marked deleted: its tag and property
/// rows carry no creation time, which keeps them out of a tag's order and
/// out of the counts a list is planned by.
pub(crate) fn insert_children_unlisted(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    children_statements(image, RowTime::Null)
}

/// [`insert_children`] as schema versions before 11 had them, without the
/// creation time on tag and property rows.
#[cfg(feature = "testing")]
pub(crate) fn insert_children_untimed(image: &Image) -> Result<Vec<InsertStatement>, DbError> {
    children_statements(image, RowTime::NoColumn)
}

/// What a tag or property row says of its image's creation time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowTime {
    Created,
    Null,
    NoColumn,
}

fn children_statements(image: &Image, time: RowTime) -> Result<Vec<InsertStatement>, DbError> {
    let id = || Expr::val(image.id.to_string());
    let created = match time {
        RowTime::Created => Some(to_micros(image.created_at)),
        _ => None,
    };
    let timed = time != RowTime::NoColumn;
    let timed_row = |mut row: Vec<Expr>| {
        if timed {
            row.push(Expr::val(created));
        }
        row
    };
    let properties = image
        .properties
        .iter()
        .map(|(k, v)| timed_row(vec![id(), Expr::val(k.as_str()), Expr::val(v.as_str())]))
        .collect();
    let tags = (0_i32..)
        .zip(&image.tags)
        .map(|(pos, t)| timed_row(vec![id(), Expr::val(t.as_str()), Expr::val(pos)]))
        .collect();
    let columns = |names: &'static [&'static str]| {
        let kept = if timed { names.len() } else { names.len() - 1 };
        &names[..kept]
    };
    let property_columns = columns(&["image_id", "name", "value", "created_at"]);
    let tag_columns = columns(&["image_id", "value", "position", "created_at"]);
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
        multi_row_insert(PROPERTIES, property_columns, properties)?,
        multi_row_insert(TAGS, tag_columns, tags)?,
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
