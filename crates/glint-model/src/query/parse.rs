//! The parsers of single list parameters.

use super::{
    CmpOp, Filter, MemberStatusFilter, NumColumn, SortDir, SortKey, SortParams, TextColumn,
    TimeColumn, VisibilityFilter, bad, too_many,
};
use crate::error::ModelError;
use crate::limits::{self, clip};
use crate::time;

pub(super) fn parse_limit(value: &str) -> Result<u64, ModelError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| bad("limit param must be an integer"))?;
    u64::try_from(n).map_err(|_| bad("limit param must be positive"))
}

pub(super) fn parse_member_status(value: &str) -> Result<MemberStatusFilter, ModelError> {
    if value == "all" {
        return Ok(MemberStatusFilter::All);
    }
    value
        .parse()
        .map(MemberStatusFilter::Only)
        .map_err(|_| bad(format!("Invalid status: {}", clip(value))))
}

pub(super) fn parse_visibility(value: &str) -> Result<VisibilityFilter, ModelError> {
    if value == "all" {
        return Ok(VisibilityFilter::All);
    }
    value
        .parse()
        .map(VisibilityFilter::Only)
        .map_err(|_| bad(format!("Invalid visibility value: {}", clip(value))))
}

pub(super) fn parse_bool_filter(name: &str, value: &str) -> Result<bool, ModelError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!(
            "Invalid value '{}' for '{name}' filter. Valid values are 'true' or 'false'.",
            clip(value)
        ))),
    }
}

/// The sort order: the keys once each (a repeated key cannot change the
/// order), then the `created_at` and `id` tie-breakers.
pub(super) fn build_sort(params: SortParams) -> Result<Vec<(SortKey, SortDir)>, ModelError> {
    let SortParams {
        new_sort,
        mut keys,
        mut dirs,
    } = params;
    if let Some(spec) = new_sort {
        if !keys.is_empty() || !dirs.is_empty() {
            return Err(bad("Old and new sorting syntax cannot be combined"));
        }
        let parts = spec.trim().split(',').count();
        if parts > limits::MAX_SORT_KEYS {
            return Err(too_many("sort keys", parts, limits::MAX_SORT_KEYS));
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
    if keys.len() > limits::MAX_SORT_KEYS {
        return Err(too_many("sort keys", keys.len(), limits::MAX_SORT_KEYS));
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
    let mut sort: Vec<(SortKey, SortDir)> = Vec::with_capacity(SortKey::ALL.len());
    for (key, dir) in keys.into_iter().zip(dirs) {
        if !sort.iter().any(|(k, _)| *k == key) {
            sort.push((key, dir));
        }
    }
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

pub(super) fn parse_filter(key: &str, value: &str) -> Result<Filter, ModelError> {
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
            "Invalid value '{}' for filter '{}'.",
            clip(value),
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
        _ => Err(unknown_operator(op)),
    }
}

fn unknown_operator(op: &str) -> ModelError {
    bad(format!(
        "Unable to filter by unknown operator '{}'.",
        clip(op)
    ))
}

fn parse_time_filter(column: TimeColumn, key: &str, value: &str) -> Result<Filter, ModelError> {
    let (op, rest) = split_op(value);
    let at = time::parse_iso(rest).ok_or_else(|| {
        bad(format!(
            "Bad \"{key}\" query filter format. Use ISO 8601 DateTime notation."
        ))
    })?;
    let op = CmpOp::parse(op).ok_or_else(|| unknown_operator(op))?;
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
    let value = clip(value);
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
