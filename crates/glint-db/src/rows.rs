//! How model types map to rows: column lists, values to write, decoding.

use glint_model::time::{from_micros, to_micros};
use glint_model::{Image, ImageId, Member, MemberStatus};
use sea_query::{Expr, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::DbError;

pub(crate) const IMAGES: &str = "images";
pub(crate) const PROPERTIES: &str = "image_properties";
pub(crate) const TAGS: &str = "image_tags";
pub(crate) const LOCATIONS: &str = "image_locations";
pub(crate) const MEMBERS: &str = "image_members";
pub(crate) const UPLOADS: &str = "image_uploads";
pub(crate) const PROJECT_LOCKS: &str = "project_locks";
pub(crate) const JOBS: &str = "job_leases";

/// The column of `images` holding the copy of an image's children (see
/// [`crate::children`]).
pub(crate) const CHILDREN: &str = "children";
/// The column of `images` counting its saves (see [`crate::Version`]).
pub(crate) const VERSION: &str = "version";

/// Every image query selects these, in this order; decoding reads by position.
pub(crate) const IMAGE_COLUMNS: [&str; 19] = [
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "container_format",
    "disk_format",
    "min_ram",
    "min_disk",
    "created_at",
    "updated_at",
    "deleted_at",
];

pub(crate) const MEMBER_COLUMNS: [&str; 5] =
    ["image_id", "member", "status", "created_at", "updated_at"];

/// Flags are SMALLINT 0/1 on every dialect (the `Any` driver cannot decode
/// MySQL's TINYINT(1) and SQLite's BOOLEAN as the same type).
pub(crate) fn flag(b: bool) -> i16 {
    i16::from(b)
}

fn internal(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::internal(format!("{what}: {e}"))
}

fn size_to_db(size: Option<u64>) -> Result<Option<i64>, DbError> {
    size.map(i64::try_from)
        .transpose()
        .map_err(|e| internal("size out of range", e))
}

fn size_from_db(size: Option<i64>) -> Result<Option<u64>, DbError> {
    size.map(u64::try_from)
        .transpose()
        .map_err(|e| internal("negative size stored", e))
}

/// The values of [`IMAGE_COLUMNS`] for `image`, in the same order.
pub(crate) fn image_values(image: &Image) -> Result<Vec<Expr>, DbError> {
    Ok(vec![
        Expr::val(image.id.to_string()),
        Expr::val(image.name.clone()),
        Expr::val(image.status.as_str()),
        Expr::val(image.visibility.as_str()),
        Expr::val(flag(image.protected)),
        Expr::val(flag(image.os_hidden)),
        Expr::val(image.checksum.clone()),
        Expr::val(image.os_hash_algo.clone()),
        Expr::val(image.os_hash_value.clone()),
        Expr::val(image.owner.clone()),
        Expr::val(size_to_db(image.size)?),
        Expr::val(size_to_db(image.virtual_size)?),
        Expr::val(image.container_format.clone()),
        Expr::val(image.disk_format.clone()),
        Expr::val(image.min_ram),
        Expr::val(image.min_disk),
        Expr::val(to_micros(image.created_at)),
        Expr::val(to_micros(image.updated_at)),
        Expr::val(image.deleted_at.map(to_micros)),
    ])
}

/// The copies of an image's sort keys that its tag and property rows
/// carry (schema version 18), named as the images table's columns that
/// hold them as a list sorts by them (`sort_*`: NULL as '' or -1).
pub(crate) const SORT_COPIES: [&str; 6] = [
    "sort_name",
    "status",
    "sort_container_format",
    "sort_disk_format",
    "sort_size",
    "updated_at",
];

/// The values of [`SORT_COPIES`] for `image`, as the images table's
/// generated columns hold them.
pub(crate) fn sort_copies(image: &Image) -> Result<[Expr; 6], DbError> {
    Ok(sort_copy_values(image)?.map(Expr::val))
}

/// [`sort_copies`] as values, which compare.
pub(crate) fn sort_copy_values(image: &Image) -> Result<[Value; 6], DbError> {
    let text = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
    Ok([
        text(&image.name),
        Value::from(image.status.as_str()),
        text(&image.container_format),
        text(&image.disk_format),
        Value::from(size_to_db(image.size)?.unwrap_or(-1)),
        Value::from(to_micros(image.updated_at)),
    ])
}

/// A result row read by position, whichever driver produced it: the SQLite
/// reader borrows values straight from SQLite, the `Any` driver from its
/// own row. Only the two kinds the schema uses exist: text and integers.
pub(crate) trait RowRead {
    fn text(&self, index: usize) -> Result<Option<&str>, DbError>;
    fn int(&self, index: usize) -> Result<Option<i64>, DbError>;
}

impl RowRead for AnyRow {
    fn text(&self, index: usize) -> Result<Option<&str>, DbError> {
        Ok(self.try_get(index)?)
    }

    fn int(&self, index: usize) -> Result<Option<i64>, DbError> {
        Ok(self.try_get(index)?)
    }
}

fn null(index: usize) -> DbError {
    DbError::internal(format!("unexpected NULL in column {index}"))
}

fn text(row: &dyn RowRead, index: usize) -> Result<&str, DbError> {
    row.text(index)?.ok_or_else(|| null(index))
}

fn opt_text(row: &dyn RowRead, index: usize) -> Result<Option<String>, DbError> {
    Ok(row.text(index)?.map(str::to_owned))
}

fn int(row: &dyn RowRead, index: usize) -> Result<i64, DbError> {
    row.int(index)?.ok_or_else(|| null(index))
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, DbError> {
    s.parse()
        .map_err(|_| DbError::internal(format!("bad {what} stored: {s:?}")))
}

pub(crate) fn parse_id(s: &str) -> Result<ImageId, DbError> {
    ImageId::parse(s).ok_or_else(|| DbError::internal(format!("bad image id stored: {s:?}")))
}

/// Decodes the [`IMAGE_COLUMNS`] of a row; tags, properties and locations
/// are left empty for [`crate::children::Children`].
pub(crate) fn image_from_row(row: &dyn RowRead) -> Result<Image, DbError> {
    Ok(Image {
        id: parse_id(text(row, 0)?)?,
        name: opt_text(row, 1)?,
        status: parse("status", text(row, 2)?)?,
        visibility: parse("visibility", text(row, 3)?)?,
        protected: int(row, 4)? != 0,
        os_hidden: int(row, 5)? != 0,
        checksum: opt_text(row, 6)?,
        os_hash_algo: opt_text(row, 7)?,
        os_hash_value: opt_text(row, 8)?,
        owner: opt_text(row, 9)?,
        size: size_from_db(row.int(10)?)?,
        virtual_size: size_from_db(row.int(11)?)?,
        container_format: opt_text(row, 12)?,
        disk_format: opt_text(row, 13)?,
        min_ram: int(row, 14)?,
        min_disk: int(row, 15)?,
        created_at: from_micros(int(row, 16)?),
        updated_at: from_micros(int(row, 17)?),
        deleted_at: row.int(18)?.map(from_micros),
        tags: Vec::new(),
        properties: Default::default(),
        locations: Vec::new(),
    })
}

/// Decodes the [`MEMBER_COLUMNS`] of a row.
pub(crate) fn member_from_row(row: &dyn RowRead) -> Result<Member, DbError> {
    Ok(Member {
        image_id: parse_id(text(row, 0)?)?,
        member_id: text(row, 1)?.to_owned(),
        status: parse::<MemberStatus>("member status", text(row, 2)?)?,
        created_at: from_micros(int(row, 3)?),
        updated_at: from_micros(int(row, 4)?),
    })
}

/// Decodes a one-column integer row (counts, sums, flags).
pub(crate) fn int_from_row(row: &dyn RowRead) -> Result<Option<i64>, DbError> {
    row.int(0)
}

pub(crate) fn text_from_row(row: &dyn RowRead) -> Result<String, DbError> {
    Ok(row.text(0)?.unwrap_or_default().to_string())
}
