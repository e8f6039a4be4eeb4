//! How model types map to rows: column lists, values to write, decoding.

use glint_model::time::{from_micros, to_micros};
use glint_model::{Image, ImageId, Member, MemberStatus};
use sea_query::Expr;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::DbError;

pub(crate) const IMAGES: &str = "images";
pub(crate) const PROPERTIES: &str = "image_properties";
pub(crate) const TAGS: &str = "image_tags";
pub(crate) const LOCATIONS: &str = "image_locations";
pub(crate) const MEMBERS: &str = "image_members";

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

fn get<'r, T>(row: &'r AnyRow, index: usize) -> Result<T, DbError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(index).map_err(DbError::from)
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, DbError> {
    s.parse()
        .map_err(|_| DbError::internal(format!("bad {what} stored: {s:?}")))
}

pub(crate) fn parse_id(s: &str) -> Result<ImageId, DbError> {
    ImageId::parse(s).ok_or_else(|| DbError::internal(format!("bad image id stored: {s:?}")))
}

/// Decodes the [`IMAGE_COLUMNS`] of a row; tags, properties and locations
/// are left empty for [`crate::children::attach_children`].
pub(crate) fn image_from_row(row: &AnyRow) -> Result<Image, DbError> {
    Ok(Image {
        id: parse_id(&get::<String>(row, 0)?)?,
        name: get(row, 1)?,
        status: parse("status", &get::<String>(row, 2)?)?,
        visibility: parse("visibility", &get::<String>(row, 3)?)?,
        protected: get::<i64>(row, 4)? != 0,
        os_hidden: get::<i64>(row, 5)? != 0,
        checksum: get(row, 6)?,
        os_hash_algo: get(row, 7)?,
        os_hash_value: get(row, 8)?,
        owner: get(row, 9)?,
        size: size_from_db(get(row, 10)?)?,
        virtual_size: size_from_db(get(row, 11)?)?,
        container_format: get(row, 12)?,
        disk_format: get(row, 13)?,
        min_ram: get(row, 14)?,
        min_disk: get(row, 15)?,
        created_at: from_micros(get(row, 16)?),
        updated_at: from_micros(get(row, 17)?),
        deleted_at: get::<Option<i64>>(row, 18)?.map(from_micros),
        tags: Vec::new(),
        properties: Default::default(),
        locations: Vec::new(),
    })
}

/// Decodes the [`MEMBER_COLUMNS`] of a row.
pub(crate) fn member_from_row(row: &AnyRow) -> Result<Member, DbError> {
    let status: String = get(row, 2)?;
    Ok(Member {
        image_id: parse_id(&get::<String>(row, 0)?)?,
        member_id: get(row, 1)?,
        status: parse::<MemberStatus>("member status", &status)?,
        created_at: from_micros(get(row, 3)?),
        updated_at: from_micros(get(row, 4)?),
    })
}
