//! An image's children (extra properties, tags, locations): how they are
//! written, and how they are read back.
//!
//! They are written twice, in one transaction: as rows of the child tables
//! (what list filters query) and as one JSON document in the image's own
//! row ([`crate::rows::CHILDREN`]), which is what reads use. Rows written
//! before that column existed hold NULL there, and only for those images
//! are the child tables read.
//!
//! Reading the tables is one UNION ALL over the three of them for all
//! requested images, each row `[image_id, kind, position, a, b, c]`. On the
//! SQLite read path those rows are read directly (rows cost next to nothing
//! there). Through sqlx's `Any` driver rows are the expensive unit (each
//! value is copied, servers add per-row protocol work), so there the
//! database folds them into ONE row holding a JSON array (`json_agg`,
//! `JSON_ARRAYAGG`, `json_group_array`).

use std::collections::{BTreeMap, HashMap};

use glint_model::{Image, Location};
use sea_query::{Alias, Expr, ExprTrait, InsertStatement, Query, SelectStatement, UnionType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rows::{IMAGE_COLUMNS, LOCATIONS, PROPERTIES, RowRead, TAGS, image_from_row};
use crate::{DbError, Dialect};

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
/// then the children from the row's copy. `false` when the row has no copy
/// yet (written before the column existed): the children are then left
/// empty, for [`Children`] to fill from the child tables.
pub(crate) fn image_with_children(row: &dyn RowRead) -> Result<(Image, bool), DbError> {
    let mut image = image_from_row(row)?;
    let Some(json) = row.text(IMAGE_COLUMNS.len())? else {
        return Ok((image, false));
    };
    read_document(&mut image, json)?;
    Ok((image, true))
}

/// Splits decoded rows into the images and the ids (canonical text) of
/// those still to be completed from the child tables.
pub(crate) fn without_copies(rows: Vec<(Image, bool)>) -> (Vec<Image>, Vec<String>) {
    let missing = rows
        .iter()
        .filter(|(_, copied)| !copied)
        .map(|(image, _)| image.id.to_string())
        .collect();
    (rows.into_iter().map(|(image, _)| image).collect(), missing)
}

/// Discriminates the branches of the union in [`children_rows`].
const KIND_PROPERTY: i64 = 0;
const KIND_TAG: i64 = 1;
const KIND_LOCATION: i64 = 2;

/// Every property, tag and location of `ids`, one row each:
/// `image_id, kind, position, a, b, c`.
pub(crate) fn children_rows<'a>(ids: impl Iterator<Item = &'a str> + Clone) -> SelectStatement {
    let owned_by = || {
        let column = Expr::col("image_id");
        let mut each = ids.clone();
        match (each.next(), each.next()) {
            (Some(one), None) => column.eq(one),
            _ => column.is_in(ids.clone()),
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
    union
}

/// [`children_rows`] folded into one row with one column: a JSON array (or
/// NULL when there is nothing) of the rows.
pub(crate) fn children_json<'a>(
    dialect: Dialect,
    ids: impl Iterator<Item = &'a str> + Clone,
) -> SelectStatement {
    // Casts: the `Any` driver decodes neither PostgreSQL's json nor MySQL's
    // JSON type, only text.
    let aggregate = match dialect {
        Dialect::Sqlite => "json_group_array(json_array(image_id, k, p, a, b, c))",
        Dialect::Postgres => "CAST(json_agg(json_build_array(image_id, k, p, a, b, c)) AS TEXT)",
        Dialect::MySql => "CAST(JSON_ARRAYAGG(JSON_ARRAY(image_id, k, p, a, b, c)) AS CHAR)",
    };
    Query::select()
        .expr(Expr::cust(aggregate))
        .from_subquery(children_rows(ids), Alias::new("children"))
        .take()
}

/// One child as the JSON document of [`children_json`] encodes it.
type ChildRow = (String, i64, i64, String, Option<String>, Option<String>);

#[derive(Default)]
struct Ordered {
    tags: Vec<(i64, String)>,
    locations: Vec<(i64, Location)>,
}

/// Distributes children over the images they belong to, keeping tags and
/// locations in position order. Feed it rows, then call [`Children::finish`].
pub(crate) struct Children<'a> {
    images: &'a mut [Image],
    /// Image id (canonical text) to its index in `images`.
    index: HashMap<String, usize>,
    ordered: HashMap<usize, Ordered>,
}

impl<'a> Children<'a> {
    pub(crate) fn new(images: &'a mut [Image]) -> Children<'a> {
        let index = images
            .iter()
            .enumerate()
            .map(|(i, image)| (image.id.to_string(), i))
            .collect();
        Children {
            images,
            index,
            ordered: HashMap::new(),
        }
    }

    /// Adds one row of [`children_rows`].
    pub(crate) fn add_row(&mut self, row: &dyn RowRead) -> Result<(), DbError> {
        let text = |i: usize| row.text(i);
        let id = text(0)?.unwrap_or_default();
        let (kind, position) = (row.int(1)?.unwrap_or(-1), row.int(2)?.unwrap_or(0));
        let a = text(3)?.unwrap_or_default().to_owned();
        self.add(id, kind, position, a, text(4)?, text(5)?)
    }

    /// Adds every child of a [`children_json`] document (NULL: none).
    pub(crate) fn add_json(&mut self, json: Option<&str>) -> Result<(), DbError> {
        let Some(json) = json else { return Ok(()) };
        let rows: Vec<ChildRow> =
            serde_json::from_str(json).map_err(|e| internal("bad children document", e))?;
        for (id, kind, position, a, b, c) in rows {
            self.add(&id, kind, position, a, b.as_deref(), c.as_deref())?;
        }
        Ok(())
    }

    fn add(
        &mut self,
        id: &str,
        kind: i64,
        position: i64,
        a: String,
        b: Option<&str>,
        c: Option<&str>,
    ) -> Result<(), DbError> {
        let Some(&i) = self.index.get(id) else {
            return Ok(());
        };
        match kind {
            KIND_PROPERTY => {
                let value = b.unwrap_or_default().to_owned();
                self.images[i].properties.insert(a, value);
            }
            KIND_TAG => self.ordered.entry(i).or_default().tags.push((position, a)),
            KIND_LOCATION => {
                let location = location_from(a, b, c)?;
                let slot = self.ordered.entry(i).or_default();
                slot.locations.push((position, location));
            }
            other => return Err(DbError::internal(format!("unknown child kind {other}"))),
        }
        Ok(())
    }

    pub(crate) fn finish(self) {
        for (i, mut children) in self.ordered {
            children.tags.sort_by_key(|(p, _)| *p);
            children.locations.sort_by_key(|(p, _)| *p);
            self.images[i].tags = children.tags.into_iter().map(|(_, t)| t).collect();
            self.images[i].locations = children.locations.into_iter().map(|(_, l)| l).collect();
        }
    }
}

fn location_from(
    url: String,
    metadata: Option<&str>,
    status: Option<&str>,
) -> Result<Location, DbError> {
    let metadata: Map<String, Value> = match metadata {
        None | Some("") => Map::new(),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| internal("bad location metadata stored", e))?
        }
    };
    Ok(Location {
        url,
        metadata,
        status: status.unwrap_or("active").to_owned(),
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
