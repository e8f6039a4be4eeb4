//! Parsing the query string of `GET /v2/images` into a typed list query,
//! with Glance's validation rules and messages.

use crate::error::ModelError;
use crate::member::MemberStatus;
use crate::time::{self, Timestamp};
use crate::visibility::Visibility;

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
                    "Invalid sort key: {s}. It must be one of the following: {}.",
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
            _ => Err(ModelError::invalid(format!("Invalid sort direction: {s}"))),
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

impl ImageListQuery {
    /// Parses query pairs in the order they appeared (keys may repeat).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ImageListQuery, ModelError> {
        let mut q = ImageListQuery::default();
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        let mut new_sort = None;
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => q.limit = Some(parse_limit(value)?),
                "marker" => q.marker = Some(value.clone()),
                "member_status" => q.member_status = parse_member_status(value)?,
                "tag" => q.filters.push(Filter::Tag(value.trim().to_string())),
                "sort" => new_sort = Some(value.clone()),
                "sort_key" => sort_keys.push(SortKey::parse(value.trim())?),
                "sort_dir" => sort_dirs.push(SortDir::parse(value.trim())?),
                "visibility" => q.visibility = Some(parse_visibility(value)?),
                "changes-since" => {
                    return Err(bad(
                        "The \"changes-since\" filter is no longer available on v2.",
                    ));
                }
                "os_hidden" => q.os_hidden = parse_bool_filter("os_hidden", &value.to_lowercase())?,
                "protected" => q.filters.push(Filter::Bool {
                    column: BoolColumn::Protected,
                    value: parse_bool_filter("protected", value)?,
                }),
                _ => q.filters.push(parse_filter(key, value)?),
            }
        }
        q.sort = build_sort(new_sort, sort_keys, sort_dirs)?;
        Ok(q)
    }
}

fn parse_limit(value: &str) -> Result<u64, ModelError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| bad("limit param must be an integer"))?;
    u64::try_from(n).map_err(|_| bad("limit param must be positive"))
}

fn parse_member_status(value: &str) -> Result<MemberStatusFilter, ModelError> {
    if value == "all" {
        return Ok(MemberStatusFilter::All);
    }
    value
        .parse()
        .map(MemberStatusFilter::Only)
        .map_err(|_| bad(format!("Invalid status: {value}")))
}

fn parse_visibility(value: &str) -> Result<VisibilityFilter, ModelError> {
    if value == "all" {
        return Ok(VisibilityFilter::All);
    }
    value
        .parse()
        .map(VisibilityFilter::Only)
        .map_err(|_| bad(format!("Invalid visibility value: {value}")))
}

fn parse_bool_filter(name: &str, value: &str) -> Result<bool, ModelError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!(
            "Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'."
        ))),
    }
}

fn build_sort(
    new_sort: Option<String>,
    mut keys: Vec<SortKey>,
    mut dirs: Vec<SortDir>,
) -> Result<Vec<(SortKey, SortDir)>, ModelError> {
    if let Some(spec) = new_sort {
        if !keys.is_empty() || !dirs.is_empty() {
            return Err(bad("Old and new sorting syntax cannot be combined"));
        }
        for part in spec.trim().split(',') {
            let (key, dir) = part.split_once(':').unwrap_or((part, ""));
            let dir = if dir.is_empty() { "desc" } else { dir };
            keys.push(SortKey::parse(key.trim())?);
            dirs.push(SortDir::parse(dir.trim())?);
        }
    } else if dirs.len() > 1 && dirs.len() != keys.len() {
        return Err(bad(
            "Number of sort dirs does not match the number of sort keys",
        ));
    }
    if keys.is_empty() {
        keys.push(SortKey::CreatedAt);
    }
    let default_dir = if dirs.len() == 1 {
        dirs[0]
    } else {
        SortDir::Desc
    };
    while dirs.len() < keys.len() {
        dirs.push(default_dir);
    }
    let mut sort: Vec<(SortKey, SortDir)> = keys.into_iter().zip(dirs).collect();
    for tie in [SortKey::CreatedAt, SortKey::Id] {
        if !sort.iter().any(|(k, _)| *k == tie) {
            sort.push((tie, default_dir));
        }
    }
    Ok(sort)
}

/// Splits `op:value`, unless the whole expression is an ISO time (whose
/// colons are not an operator).
fn split_op(expr: &str) -> (&str, &str) {
    match expr.split_once(':') {
        Some(_) if time::parse_iso(expr).is_some() => ("eq", expr),
        Some((op, rest)) => (op, rest),
        None => ("eq", expr),
    }
}

fn parse_filter(key: &str, value: &str) -> Result<Filter, ModelError> {
    let text = |column| parse_text_filter(column, value);
    match key {
        "name" => text(TextColumn::Name),
        "id" => text(TextColumn::Id),
        "status" => text(TextColumn::Status),
        "container_format" => text(TextColumn::ContainerFormat),
        "disk_format" => text(TextColumn::DiskFormat),
        "owner" => Ok(eq_text(TextColumn::Owner, value)),
        "checksum" => Ok(eq_text(TextColumn::Checksum, value)),
        "os_hash_algo" => Ok(eq_text(TextColumn::OsHashAlgo, value)),
        "os_hash_value" => Ok(eq_text(TextColumn::OsHashValue, value)),
        "created_at" => parse_time_filter(TimeColumn::CreatedAt, key, value),
        "updated_at" => parse_time_filter(TimeColumn::UpdatedAt, key, value),
        "size" => number(NumColumn::Size, CmpOp::Eq, value),
        "virtual_size" => number(NumColumn::VirtualSize, CmpOp::Eq, value),
        "min_ram" => number(NumColumn::MinRam, CmpOp::Eq, value),
        "min_disk" => number(NumColumn::MinDisk, CmpOp::Eq, value),
        _ => {
            if let Some(col) = key.strip_suffix("_min").and_then(num_column) {
                return range(col, CmpOp::Gte, value);
            }
            if let Some(col) = key.strip_suffix("_max").and_then(num_column) {
                return range(col, CmpOp::Lte, value);
            }
            Ok(Filter::Property {
                name: key.to_string(),
                value: value.to_string(),
            })
        }
    }
}

fn eq_text(column: TextColumn, value: &str) -> Filter {
    Filter::Text {
        column,
        values: vec![value.to_string()],
    }
}

fn num_column(name: &str) -> Option<NumColumn> {
    match name {
        "size" => Some(NumColumn::Size),
        "virtual_size" => Some(NumColumn::VirtualSize),
        "min_ram" => Some(NumColumn::MinRam),
        "min_disk" => Some(NumColumn::MinDisk),
        _ => None,
    }
}

fn number(column: NumColumn, op: CmpOp, value: &str) -> Result<Filter, ModelError> {
    let value = value.trim().parse().map_err(|_| {
        bad(format!(
            "Invalid value '{value}' for filter '{}'.",
            num_name(column)
        ))
    })?;
    Ok(Filter::Number { column, op, value })
}

fn num_name(column: NumColumn) -> &'static str {
    match column {
        NumColumn::Size => "size",
        NumColumn::VirtualSize => "virtual_size",
        NumColumn::MinRam => "min_ram",
        NumColumn::MinDisk => "min_disk",
    }
}

fn range(column: NumColumn, op: CmpOp, value: &str) -> Result<Filter, ModelError> {
    let value = value
        .trim()
        .parse()
        .map_err(|_| bad("Unable to filter on a range with a non-numeric value."))?;
    Ok(Filter::Number { column, op, value })
}

fn parse_text_filter(column: TextColumn, value: &str) -> Result<Filter, ModelError> {
    let (op, rest) = split_op(value);
    match op {
        "in" => Ok(Filter::Text {
            column,
            values: split_quoted_list(rest)?,
        }),
        "eq" => Ok(eq_text(column, rest)),
        _ => Err(bad(format!("Unable to filter by unknown operator '{op}'."))),
    }
}

fn parse_time_filter(column: TimeColumn, key: &str, value: &str) -> Result<Filter, ModelError> {
    let (op, rest) = split_op(value);
    let at = time::parse_iso(rest).ok_or_else(|| {
        bad(format!(
            "Bad \"{key}\" query filter format. Use ISO 8601 DateTime notation."
        ))
    })?;
    let op = CmpOp::parse(op)
        .ok_or_else(|| bad(format!("Unable to filter by unknown operator '{op}'.")))?;
    Ok(Filter::Time { column, op, at })
}

/// Splits the value of an `in:` filter: commas separate items, and an item
/// holding a comma is written in double quotes (`in:"a, b",c`).
pub fn split_quoted_list(value: &str) -> Result<Vec<String>, ModelError> {
    validate_quotes(value)?;
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' {
            let mut item = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    item.push(chars[i]);
                    i += 1;
                }
                item.push(chars[i]);
                i += 1;
            }
            out.push(item);
            i += 1;
            if chars.get(i) == Some(&',') {
                i += 1;
            }
        } else if chars[i] == ',' {
            out.push(String::new());
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
            if i < chars.len() {
                i += 1;
            }
        }
    }
    Ok(out)
}

fn validate_quotes(value: &str) -> Result<(), ModelError> {
    let chars: Vec<char> = value.chars().collect();
    let mut open = true;
    for (i, c) in chars.iter().enumerate() {
        if *c != '"' || (i > 0 && chars[i - 1] == '\\') {
            continue;
        }
        if open {
            if i > 0 && chars[i - 1] != ',' {
                return Err(bad(format!(
                    "Invalid filter value {value}. There is no comma before opening quotation mark."
                )));
            }
        } else if i + 1 != chars.len() && chars[i + 1] != ',' {
            return Err(bad(format!(
                "Invalid filter value {value}. There is no comma after closing quotation mark."
            )));
        }
        open = !open;
    }
    if !open {
        return Err(bad(format!(
            "Invalid filter value {value}. The quote is not closed."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<ImageListQuery, ModelError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ImageListQuery::from_pairs(&owned)
    }

    #[test]
    fn default_sort_is_created_at_desc_then_id() {
        let query = q(&[]).unwrap();
        assert_eq!(
            query.sort,
            vec![
                (SortKey::CreatedAt, SortDir::Desc),
                (SortKey::Id, SortDir::Desc)
            ]
        );
        assert_eq!(
            query.member_status,
            MemberStatusFilter::Only(MemberStatus::Accepted)
        );
    }

    #[test]
    fn new_sort_syntax_defaults_to_desc() {
        let query = q(&[("sort", "name:asc,size")]).unwrap();
        assert_eq!(query.sort[0], (SortKey::Name, SortDir::Asc));
        assert_eq!(query.sort[1], (SortKey::Size, SortDir::Desc));
    }

    #[test]
    fn one_classic_sort_dir_applies_to_every_key() {
        let query = q(&[
            ("sort_key", "name"),
            ("sort_key", "size"),
            ("sort_dir", "asc"),
        ])
        .unwrap();
        assert!(query.sort.iter().all(|(_, d)| *d == SortDir::Asc));
        assert_eq!(query.sort.len(), 4);
    }

    #[test]
    fn bad_list_parameters_are_rejected_with_glance_messages() {
        let msg = |p: &[(&str, &str)]| q(p).unwrap_err().to_string();
        assert_eq!(msg(&[("limit", "-1")]), "limit param must be positive");
        assert_eq!(msg(&[("limit", "x")]), "limit param must be an integer");
        assert_eq!(
            msg(&[("sort_key", "nope")]),
            "Invalid sort key: nope. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."
        );
        assert_eq!(
            msg(&[("sort", "name"), ("sort_dir", "asc")]),
            "Old and new sorting syntax cannot be combined"
        );
        assert_eq!(
            msg(&[
                ("sort_key", "name"),
                ("sort_dir", "asc"),
                ("sort_dir", "desc"),
                ("sort_key", "id"),
                ("sort_dir", "asc")
            ]),
            "Number of sort dirs does not match the number of sort keys"
        );
        assert!(msg(&[("os_hidden", "maybe")]).contains("Valid values are 'true' or 'false'"));
        assert!(msg(&[("protected", "True")]).contains("Valid values"));
        assert_eq!(
            msg(&[("visibility", "everyone")]),
            "Invalid visibility value: everyone"
        );
        assert_eq!(msg(&[("member_status", "x")]), "Invalid status: x");
        assert!(
            msg(&[("created_at", "gt:yesterday")]).starts_with("Bad \"created_at\" query filter")
        );
        assert_eq!(
            msg(&[("name", "gt:a")]),
            "Unable to filter by unknown operator 'gt'."
        );
        assert_eq!(
            msg(&[("size_min", "big")]),
            "Unable to filter on a range with a non-numeric value."
        );
        assert!(msg(&[("changes-since", "2020-01-01")]).contains("no longer available"));
    }

    #[test]
    fn in_operator_splits_quoted_values() {
        let query = q(&[("name", "in:\"glass, darkly\",share me")]).unwrap();
        assert_eq!(
            query.filters,
            vec![Filter::Text {
                column: TextColumn::Name,
                values: vec!["glass, darkly".into(), "share me".into()]
            }]
        );
        assert!(q(&[("name", "in:\"open")]).is_err());
        assert!(q(&[("name", "in:a\"b\"")]).is_err());
    }

    #[test]
    fn bare_iso_time_is_an_equality() {
        let query = q(&[("created_at", "2026-11-27T02:15:42Z")]).unwrap();
        assert!(matches!(
            query.filters[0],
            Filter::Time { op: CmpOp::Eq, .. }
        ));
        let query = q(&[("updated_at", "lte:2026-11-27T02:15:42Z")]).unwrap();
        assert!(matches!(
            query.filters[0],
            Filter::Time { op: CmpOp::Lte, .. }
        ));
    }

    #[test]
    fn unknown_keys_become_property_filters() {
        let query = q(&[("os_distro", "cirros"), ("tag", "a"), ("tag", "b")]).unwrap();
        assert_eq!(query.filters.len(), 3);
        assert!(matches!(&query.filters[0], Filter::Property { name, .. } if name == "os_distro"));
    }

    #[test]
    fn size_range_filters() {
        let query = q(&[("size_min", "10"), ("size_max", "20")]).unwrap();
        assert_eq!(
            query.filters[0],
            Filter::Number {
                column: NumColumn::Size,
                op: CmpOp::Gte,
                value: 10
            }
        );
    }
}
