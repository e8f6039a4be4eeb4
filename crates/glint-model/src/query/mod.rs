//! Parsing the query string of `GET /v2/images` into a typed list query,
//! with Glance's validation rules and messages, within the bounds of
//! [`crate::limits`].

mod parse;

use crate::error::ModelError;
use crate::limits::{self, clip};
use crate::member::MemberStatus;
use crate::time::Timestamp;
use crate::visibility::Visibility;

pub use parse::split_quoted_list;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Status,
    ContainerFormat,
    DiskFormat,
    Size,
    Id,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::Name,
        SortKey::Status,
        SortKey::ContainerFormat,
        SortKey::DiskFormat,
        SortKey::Size,
        SortKey::Id,
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::ContainerFormat => "container_format",
            SortKey::DiskFormat => "disk_format",
            SortKey::Size => "size",
            SortKey::Id => "id",
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
        }
    }

    fn parse(s: &str) -> Result<SortKey, ModelError> {
        SortKey::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
                ModelError::invalid(format!(
                    "Invalid sort key: {}. It must be one of the following: {}.",
                    clip(s),
                    names.join(", ")
                ))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    fn parse(s: &str) -> Result<SortDir, ModelError> {
        match s {
            "asc" => Ok(SortDir::Asc),
            "desc" => Ok(SortDir::Desc),
            _ => Err(ModelError::invalid(format!(
                "Invalid sort direction: {}",
                clip(s)
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumn {
    Name,
    Id,
    Status,
    ContainerFormat,
    DiskFormat,
    Owner,
    Checksum,
    OsHashAlgo,
    OsHashValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumColumn {
    Size,
    VirtualSize,
    MinRam,
    MinDisk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolColumn {
    Protected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeColumn {
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Neq,
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Gte,
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Lte,
            _ => return None,
        })
    }
}

/// One condition every listed image must meet.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The column equals one of the values (plain equality is a one-element list).
    Text {
        column: TextColumn,
        values: Vec<String>,
    },
    Number {
        column: NumColumn,
        op: CmpOp,
        value: i64,
    },
    Bool {
        column: BoolColumn,
        value: bool,
    },
    Time {
        column: TimeColumn,
        op: CmpOp,
        at: Timestamp,
    },
    /// An additional property equals a value.
    Property {
        name: String,
        value: String,
    },
    /// The image carries this tag.
    Tag(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityFilter {
    Only(Visibility),
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatusFilter {
    Only(MemberStatus),
    All,
}

/// A validated image list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageListQuery {
    pub limit: Option<u64>,
    pub marker: Option<String>,
    /// Sort keys with their directions, tie-breakers (`created_at`, `id`)
    /// already appended.
    pub sort: Vec<(SortKey, SortDir)>,
    pub visibility: Option<VisibilityFilter>,
    pub member_status: MemberStatusFilter,
    pub os_hidden: bool,
    pub filters: Vec<Filter>,
}

impl Default for ImageListQuery {
    fn default() -> Self {
        ImageListQuery {
            limit: None,
            marker: None,
            sort: vec![
                (SortKey::CreatedAt, SortDir::Desc),
                (SortKey::Id, SortDir::Desc),
            ],
            visibility: None,
            member_status: MemberStatusFilter::Only(MemberStatus::Accepted),
            os_hidden: false,
            filters: Vec::new(),
        }
    }
}

fn bad(msg: impl Into<String>) -> ModelError {
    ModelError::invalid(msg)
}

fn too_many(what: &str, given: usize, maximum: usize) -> ModelError {
    bad(format!(
        "Too many {what} in one request: {given}; at most {maximum} are allowed."
    ))
}

/// The `sort`, `sort_key` and `sort_dir` parameters as sent.
#[derive(Default)]
struct SortParams {
    new_sort: Option<String>,
    keys: Vec<SortKey>,
    dirs: Vec<SortDir>,
}

impl ImageListQuery {
    /// Parses query pairs in the order they appeared (keys may repeat, and
    /// every filter applies).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ImageListQuery, ModelError> {
        check_parameters(pairs)?;
        let mut q = ImageListQuery::default();
        let mut sort = SortParams::default();
        for (key, value) in pairs {
            q.take(key, value, &mut sort)?;
        }
        q.sort = parse::build_sort(sort)?;
        check_filters(&q.filters)?;
        Ok(q)
    }

    fn take(&mut self, key: &str, value: &str, sort: &mut SortParams) -> Result<(), ModelError> {
        match key {
            "limit" => self.limit = Some(parse::parse_limit(value)?),
            "marker" => self.marker = Some(value.to_string()),
            "member_status" => self.member_status = parse::parse_member_status(value)?,
            "tag" => self.filters.push(Filter::Tag(value.trim().to_string())),
            "sort" => sort.new_sort = Some(value.to_string()),
            "sort_key" => sort.keys.push(SortKey::parse(value.trim())?),
            "sort_dir" => sort.dirs.push(SortDir::parse(value.trim())?),
            "visibility" => self.visibility = Some(parse::parse_visibility(value)?),
            "changes-since" => {
                return Err(bad(
                    "The \"changes-since\" filter is no longer available on v2.",
                ));
            }
            "os_hidden" => {
                self.os_hidden = parse::parse_bool_filter("os_hidden", &value.to_lowercase())?
            }
            "protected" => self.filters.push(Filter::Bool {
                column: BoolColumn::Protected,
                value: parse::parse_bool_filter("protected", value)?,
            }),
            _ => self.filters.push(parse::parse_filter(key, value)?),
        }
        Ok(())
    }
}

/// Bounds the request as a whole before any parameter is parsed. NUL is
/// refused everywhere (PostgreSQL cannot compare text with it), so that a
/// filter answers the same on every database.
fn check_parameters(pairs: &[(String, String)]) -> Result<(), ModelError> {
    if pairs.len() > limits::MAX_QUERY_PARAMETERS {
        return Err(too_many(
            "query parameters",
            pairs.len(),
            limits::MAX_QUERY_PARAMETERS,
        ));
    }
    if pairs
        .iter()
        .any(|(k, v)| limits::has_nul(k) || limits::has_nul(v))
    {
        return Err(bad("Query parameters may not contain NUL characters."));
    }
    Ok(())
}

/// Each tag or property filter is one more semi-join, and each value one
/// more bound parameter of the statement.
fn check_filters(filters: &[Filter]) -> Result<(), ModelError> {
    let joined = filters
        .iter()
        .filter(|f| matches!(f, Filter::Tag(_) | Filter::Property { .. }))
        .count();
    if joined > limits::MAX_TAG_AND_PROPERTY_FILTERS {
        return Err(too_many(
            "tag and property filters",
            joined,
            limits::MAX_TAG_AND_PROPERTY_FILTERS,
        ));
    }
    let values: usize = filters
        .iter()
        .map(|f| match f {
            Filter::Text { values, .. } => values.len(),
            _ => 1,
        })
        .sum();
    if values > limits::MAX_FILTER_VALUES {
        return Err(too_many("filter values", values, limits::MAX_FILTER_VALUES));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
