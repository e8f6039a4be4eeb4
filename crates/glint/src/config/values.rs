//! Conversions from option strings to typed values, following oslo.config's
//! types. Each returns the reason for a rejection; the caller adds the
//! section, option and value to make a `ConfigError`.

use std::num::IntErrorKind;

/// oslo.config's `Boolean` type: case-insensitive true/false, yes/no, on/off, 1/0.
pub(super) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("not a boolean (use true/false, yes/no, on/off or 1/0)".to_owned()),
    }
}

fn parse_integer(value: &str) -> Result<i128, String> {
    value.parse::<i128>().map_err(|error| match error.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "out of range".to_owned(),
        _ => "not an integer".to_owned(),
    })
}

/// An integer option with oslo-style `min`/`max` bounds.
pub(super) fn parse_u64_in(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let number = parse_integer(value)?;
    if number < i128::from(min) {
        return Err(format!("must be at least {min}"));
    }
    if number > i128::from(max) {
        return Err(format!("must be at most {max}"));
    }
    u64::try_from(number).map_err(|_| "out of range".to_owned())
}

/// A non-negative number of seconds, fractions allowed.
pub(super) fn parse_seconds(value: &str) -> Result<std::time::Duration, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| "must be a number of seconds, 0 or more".to_owned())
}

/// A TCP port, as oslo.config's `PortOpt` (0 lets the OS choose).
pub(super) fn parse_port(value: &str) -> Result<u16, String> {
    let port = parse_u64_in(value, 0, u64::from(u16::MAX))?;
    u16::try_from(port).map_err(|_| "out of range".to_owned())
}

/// Glance's count quotas, where any negative value means unlimited.
pub(super) fn parse_quota(value: &str) -> Result<Option<u64>, String> {
    let number = parse_integer(value)?;
    if number < 0 {
        return Ok(None);
    }
    u64::try_from(number)
        .map(Some)
        .map_err(|_| "out of range".to_owned())
}

/// `user_storage_quota`: digits optionally followed by B, KB, MB, GB or TB
/// (case-sensitive, no space, powers of 1024) exactly as Glance's pattern
/// `^(\d+)((K|M|G|T)?B)?$`; zero means no quota.
pub(super) fn parse_storage_quota(value: &str) -> Result<Option<u64>, String> {
    const EXPECTED: &str =
        "expected a non-negative integer optionally followed by B, KB, MB, GB or TB";
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    if digits.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return Err(EXPECTED.to_owned()),
    };
    let bytes = digits
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(factor))
        .ok_or_else(|| "out of range".to_owned())?;
    Ok((bytes > 0).then_some(bytes))
}

/// oslo.config's `ListOpt`: comma-separated, optionally inside `[ ]`, items
/// stripped and unquoted. Empty items are dropped, since an empty format or
/// method name is never meaningful.
pub(super) fn parse_list(value: &str) -> Result<Vec<String>, String> {
    let mut body = value.trim().trim_end_matches(',');
    if let Some(inner) = body.strip_prefix('[') {
        body = inner
            .strip_suffix(']')
            .ok_or_else(|| "list starts with '[' but does not end with ']'".to_owned())?;
    }
    body.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(unquote_item)
        .collect()
}

fn unquote_item(item: &str) -> Result<String, String> {
    for quote in ['"', '\''] {
        if let Some(rest) = item.strip_prefix(quote) {
            return rest
                .strip_suffix(quote)
                .map(str::to_owned)
                .ok_or_else(|| format!("unbalanced quotes in list item {item}"));
        }
    }
    Ok(item.to_owned())
}

/// oslo.config's `$name` / `${name}` substitution: `$$` (or `\$`) is a
/// literal dollar, a `$` not followed by a name is kept as written, and a
/// name `lookup` cannot resolve is an error.
pub(super) fn substitute(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let value = value.replace("\\$", "$$");
    let mut out = String::with_capacity(value.len());
    let mut rest = value.as_str();
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some((name, tail)) = placeholder(after) else {
            out.push('$');
            rest = after;
            continue;
        };
        let replacement =
            lookup(name).ok_or_else(|| format!("unknown substitution reference ${name}"))?;
        out.push_str(&replacement);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// Splits the name of a `$name` or `${name}` placeholder from the text
/// after it; names follow oslo's pattern `[_a-z][._a-z0-9]*`, ignoring case.
fn placeholder(after_dollar: &str) -> Option<(&str, &str)> {
    if let Some(braced) = after_dollar.strip_prefix('{') {
        let end = braced.find('}')?;
        let name = &braced[..end];
        return (identifier_len(name) == name.len() && !name.is_empty())
            .then(|| (name, &braced[end + 1..]));
    }
    let len = identifier_len(after_dollar);
    (len > 0).then(|| after_dollar.split_at(len))
}

fn identifier_len(text: &str) -> usize {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, first)) if first.is_ascii_alphabetic() || first == '_' => {}
        _ => return 0,
    }
    chars
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map_or(text.len(), |(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_oslo_spellings_in_any_case() {
        for yes in ["true", "TRUE", "Yes", "on", "1"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["false", "False", "NO", "off", "0"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        assert!(parse_bool("maybe").is_err());
        assert!(parse_bool("").is_err());
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(parse_u64_in("+25", 1, 100), Ok(25));
        assert_eq!(
            parse_u64_in("0", 1, 100),
            Err("must be at least 1".to_owned())
        );
        assert_eq!(
            parse_u64_in("-3", 1, 100),
            Err("must be at least 1".to_owned())
        );
        assert_eq!(
            parse_u64_in("101", 1, 100),
            Err("must be at most 100".to_owned())
        );
        assert_eq!(
            parse_u64_in("abc", 1, 100),
            Err("not an integer".to_owned())
        );
        assert_eq!(
            parse_u64_in("1.5", 1, 100),
            Err("not an integer".to_owned())
        );
        let huge = "9".repeat(50);
        assert_eq!(parse_u64_in(&huge, 1, 100), Err("out of range".to_owned()));
    }

    #[test]
    fn ports_must_fit_in_sixteen_bits() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert!(parse_port("65536").is_err());
    }

    #[test]
    fn negative_quota_means_unlimited() {
        assert_eq!(parse_quota("-1"), Ok(None));
        assert_eq!(parse_quota("0"), Ok(Some(0)));
        assert_eq!(parse_quota("128"), Ok(Some(128)));
        assert!(parse_quota("many").is_err());
    }

    #[test]
    fn storage_quota_units_are_powers_of_1024() {
        assert_eq!(parse_storage_quota("0"), Ok(None));
        assert_eq!(parse_storage_quota("0GB"), Ok(None));
        assert_eq!(parse_storage_quota("512"), Ok(Some(512)));
        assert_eq!(parse_storage_quota("512B"), Ok(Some(512)));
        assert_eq!(parse_storage_quota("2KB"), Ok(Some(2048)));
        assert_eq!(parse_storage_quota("3MB"), Ok(Some(3 << 20)));
        assert_eq!(parse_storage_quota("5GB"), Ok(Some(5 << 30)));
        assert_eq!(parse_storage_quota("1TB"), Ok(Some(1 << 40)));
    }

    #[test]
    fn storage_quota_rejects_what_glance_rejects() {
        for bad in ["", "5 GB", "5gb", "5G", "-1", "GB", "1.5GB", "5PB"] {
            assert!(parse_storage_quota(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_storage_quota("99999999999TB"),
            Err("out of range".to_owned())
        );
    }

    #[test]
    fn lists_split_on_commas_with_optional_brackets_and_quotes() {
        assert_eq!(
            parse_list("a, b ,c"),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            parse_list("[a,'b', \"c\"]"),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(parse_list("a,,b,"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(parse_list("[]"), Ok(vec![]));
        assert_eq!(parse_list(""), Ok(vec![]));
        assert!(parse_list("[a,b").is_err());
        assert!(parse_list("'a").is_err());
    }

    fn lookup(name: &str) -> Option<String> {
        match name {
            "state_path" => Some("/var/lib/glint".to_owned()),
            "glint.data_dir" => Some("/data".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn substitution_replaces_plain_and_braced_references() {
        assert_eq!(
            substitute("$state_path/images", lookup),
            Ok("/var/lib/glint/images".into())
        );
        assert_eq!(
            substitute("${state_path}x", lookup),
            Ok("/var/lib/glintx".into())
        );
        assert_eq!(
            substitute("${glint.data_dir}/db", lookup),
            Ok("/data/db".into())
        );
    }

    #[test]
    fn substitution_escapes_and_leaves_invalid_placeholders() {
        assert_eq!(substitute("pa$$word", lookup), Ok("pa$word".into()));
        assert_eq!(substitute("pa\\$word", lookup), Ok("pa$word".into()));
        assert_eq!(
            substitute("cost: 5$ ${ $1 end$", lookup),
            Ok("cost: 5$ ${ $1 end$".into())
        );
    }

    #[test]
    fn substitution_of_an_unknown_name_is_an_error() {
        assert_eq!(
            substitute("mysql://u:pa$word@h/db", lookup),
            Err("unknown substitution reference $word".to_owned())
        );
    }
}
