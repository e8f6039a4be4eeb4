//! Timestamps as Glance shows and parses them.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub type Timestamp = OffsetDateTime;

/// The current time in UTC, truncated to microseconds so that it survives a
/// round trip through every database glint supports.
pub fn now() -> Timestamp {
    let t = OffsetDateTime::now_utc();
    let micros = t.microsecond();
    t.replace_nanosecond(micros * 1000).unwrap_or(t)
}

/// `2026-11-27T02:15:42Z`, the form Glance puts in every view.
pub fn format_iso(t: Timestamp) -> String {
    match iso_digits(t) {
        Some(text) => text.iter().map(|&b| char::from(b)).collect(),
        None => described_iso(t),
    }
}

/// [`format_iso`]'s text, written digit by digit into a buffer: every
/// view shows two of these per image, and `time`'s formatting walks its
/// description for each. `None` for a year of other than four digits.
pub fn iso_digits(t: Timestamp) -> Option<[u8; 20]> {
    let t = t.to_offset(UtcOffset::UTC);
    let year = u32::try_from(t.year()).ok().filter(|&y| y <= 9999)?;
    let (_, month, day) = t.to_calendar_date();
    let (hour, minute, second) = t.to_hms();
    let mut text = *b"0000-00-00T00:00:00Z";
    let fields = [
        (0, 4, year),
        (5, 2, u32::from(u8::from(month))),
        (8, 2, u32::from(day)),
        (11, 2, u32::from(hour)),
        (14, 2, u32::from(minute)),
        (17, 2, u32::from(second)),
    ];
    for (at, width, mut value) in fields {
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    Some(text)
}

/// [`format_iso`] through `time`'s formatting, for years of other than
/// four digits.
fn described_iso(t: Timestamp) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}

/// Microseconds since the epoch: the dialect-neutral form kept in the database.
pub fn to_micros(t: Timestamp) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

pub fn from_micros(us: i64) -> Timestamp {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Parses the ISO 8601 forms that Glance's list filters accept: a full
/// RFC 3339 time, a time without zone (taken as UTC), with or without
/// seconds, or a bare date.
pub fn parse_iso(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        // `to_offset` panics when the UTC time falls outside the years the
        // type holds (9999-12-31T23:30:00-01:00 is in year 10000).
        return t.checked_to_offset(UtcOffset::UTC);
    }
    let naive_formats = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    ];
    for fmt in naive_formats {
        if let Ok(t) = PrimitiveDateTime::parse(s, &fmt) {
            return Some(t.assume_utc());
        }
    }
    if let Some(stripped) = s.strip_suffix('Z') {
        return parse_iso(stripped);
    }
    let date_fmt = format_description!("[year]-[month]-[day]");
    Date::parse(s, &date_fmt)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_written_digit_by_digit_is_what_time_writes() {
        let mut micros = -62_135_596_800_000_000_i64; // 0001-01-01
        let end = 253_402_300_799_000_000_i64; // 9999-12-31T23:59:59
        // About two thousand instants across the range, at odd steps.
        let step = (end - micros) / 2_011;
        while micros <= end {
            let t = from_micros(micros);
            assert_eq!(format_iso(t), described_iso(t), "{micros}");
            assert!(iso_digits(t).is_some(), "{micros} written digit by digit");
            micros += step;
        }
        for t in [
            from_micros(0),
            from_micros(end),
            from_micros(951_782_400_999_999),
        ] {
            assert_eq!(format_iso(t), described_iso(t));
        }
        assert_eq!(
            format_iso(from_micros(951_782_400_000_000)),
            "2000-02-29T00:00:00Z"
        );
        let offset = OffsetDateTime::UNIX_EPOCH.to_offset(UtcOffset::from_hms(-5, 0, 0).unwrap());
        assert_eq!(format_iso(offset), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_time_whose_utc_is_out_of_range_is_no_time() {
        assert_eq!(parse_iso("9999-12-31T23:30:00-01:00"), None);
        assert!(parse_iso("9999-12-31T23:30:00+01:00").is_some());
    }

    #[test]
    fn formats_like_glance() {
        let t = parse_iso("2026-11-27T02:15:42.123456Z").unwrap();
        assert_eq!(format_iso(t), "2026-11-27T02:15:42Z");
    }

    #[test]
    fn parses_filter_timestamps() {
        for s in [
            "2026-11-27T02:15:42Z",
            "2026-11-27T02:15:42+00:00",
            "2026-11-27T02:15:42",
            "2026-11-27T02:15",
            "2026-11-27",
        ] {
            assert!(parse_iso(s).is_some(), "{s}");
        }
        assert!(parse_iso("yesterday").is_none());
        assert!(parse_iso("2026-13-01").is_none());
    }

    #[test]
    fn micros_round_trip() {
        let t = now();
        assert_eq!(from_micros(to_micros(t)), t);
    }
}
