//! The byte range a download asks for: the `Range` header, or the request
//! `Content-Range` header that older clients send instead.
//!
//! Pure text in, [`RangeRequest`] out, so that it can be fuzzed (the
//! `range_header` target under `fuzz/`).

use glint_core::RangeRequest;

/// One range and the header that asked for it, which a 416 answer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedRange {
    pub range: RangeRequest,
    /// `"Range"` or `"Content-Range"`.
    pub header: &'static str,
}

/// A `Range` header listing several ranges, which Glance refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("several ranges in one Range header")]
pub struct SeveralRanges;

/// The range asked for by the values of the `Range` and `Content-Range`
/// request headers (`None` for a header not sent); `Range` wins when both
/// are. A value this server cannot use (another unit, bad syntax, a first
/// byte after the last) is `Ok(None)`: the whole image is sent, as RFC
/// 9110 allows. A comma in `Range` is refused before anything else, as
/// Glance does.
///
/// The unit is matched in any case and spaces or tabs may surround the
/// numbers, as webob's parser allows. Numbers are decimal digits of any
/// length: ones beyond `u64` are compared exactly and then read as
/// `u64::MAX`, which lies beyond any image, so that a first byte there is
/// unsatisfiable while a last byte or a suffix there reaches the end.
pub fn parse_range_header(
    range: Option<&str>,
    content_range: Option<&str>,
) -> Result<Option<RequestedRange>, SeveralRanges> {
    if let Some(value) = range {
        if value.contains(',') {
            return Err(SeveralRanges);
        }
        let range = value
            .trim_matches(OWS)
            .split_once('=')
            .filter(|(unit, _)| is_bytes(unit.trim_end_matches(OWS)))
            .and_then(|(_, spec)| parse_spec(spec));
        return Ok(range.map(|range| RequestedRange {
            range,
            header: "Range",
        }));
    }
    let Some(value) = content_range else {
        return Ok(None);
    };
    // `bytes first-last/length`; the length is not checked.
    let range = value
        .trim_matches(OWS)
        .split_once(' ')
        .filter(|(unit, _)| is_bytes(unit))
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(parse_spec);
    Ok(range.map(|range| RequestedRange {
        range,
        header: "Content-Range",
    }))
}

/// The blanks HTTP allows around list items: space and horizontal tab.
const OWS: [char; 2] = [' ', '\t'];

fn is_bytes(unit: &str) -> bool {
    unit.eq_ignore_ascii_case("bytes")
}

/// `first-last`, `first-` or `-suffix`; `None` when it is none of these
/// or `last` comes before `first`.
fn parse_spec(spec: &str) -> Option<RangeRequest> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim_matches(OWS), last.trim_matches(OWS));
    match (first.is_empty(), last.is_empty()) {
        (true, false) => Some(RangeRequest::Suffix(Decimal::parse(last)?.saturated())),
        (false, true) => Some(RangeRequest::From(Decimal::parse(first)?.saturated())),
        (false, false) => {
            let (first, last) = (Decimal::parse(first)?, Decimal::parse(last)?);
            (first <= last).then(|| RangeRequest::FromTo(first.saturated(), last.saturated()))
        }
        (true, true) => None,
    }
}

/// A non-negative integer written in decimal, of any length. The derived
/// order compares the number of significant digits first, then the digits
/// themselves, which is the order of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Decimal<'a> {
    len: usize,
    /// The digits without leading zeros; empty for zero.
    significant: &'a str,
}

impl<'a> Decimal<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let significant = text.trim_start_matches('0');
        Some(Decimal {
            len: significant.len(),
            significant,
        })
    }

    /// The value, or `u64::MAX` when it does not fit.
    fn saturated(self) -> u64 {
        if self.significant.is_empty() {
            return 0;
        }
        self.significant.parse().unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = u64::MAX;

    fn range(value: &str) -> Option<RangeRequest> {
        parse_range_header(Some(value), None)
            .expect("a single range")
            .map(|r| r.range)
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(range("bytes=0-9"), Some(RangeRequest::FromTo(0, 9)));
        assert_eq!(range("bytes=5-"), Some(RangeRequest::From(5)));
        assert_eq!(range("bytes=-5"), Some(RangeRequest::Suffix(5)));
        assert_eq!(range("bytes=7-7"), Some(RangeRequest::FromTo(7, 7)));
    }

    #[test]
    fn numbers_too_large_for_u64_saturate_after_an_exact_comparison() {
        assert_eq!(
            range("bytes=18446744073709551615-"),
            Some(RangeRequest::From(MAX))
        );
        assert_eq!(
            range("bytes=18446744073709551616-"),
            Some(RangeRequest::From(MAX))
        );
        assert_eq!(
            range("bytes=0-99999999999999999999999"),
            Some(RangeRequest::FromTo(0, MAX))
        );
        assert_eq!(
            range("bytes=18446744073709551616-18446744073709551617"),
            Some(RangeRequest::FromTo(MAX, MAX))
        );
        assert_eq!(
            range("bytes=18446744073709551617-18446744073709551616"),
            None
        );
        assert_eq!(
            range("bytes=100000000000000000000-99999999999999999999"),
            None
        );
        assert_eq!(range("bytes=10-9"), None);
    }

    #[test]
    fn leading_zeros_do_not_change_the_value() {
        assert_eq!(
            range("bytes=0000000000000000000000000010-011"),
            Some(RangeRequest::FromTo(10, 11))
        );
        assert_eq!(range("bytes=000-0"), Some(RangeRequest::FromTo(0, 0)));
        assert_eq!(range("bytes=0002-00000000000000000000001"), None);
    }

    #[test]
    fn a_zero_suffix_is_kept_for_the_store_to_refuse() {
        assert_eq!(range("bytes=-0"), Some(RangeRequest::Suffix(0)));
        assert_eq!(range("bytes=-0000"), Some(RangeRequest::Suffix(0)));
    }

    #[test]
    fn a_huge_suffix_saturates() {
        assert_eq!(
            range("bytes=-99999999999999999999999999999999999999999"),
            Some(RangeRequest::Suffix(MAX))
        );
    }

    #[test]
    fn blanks_around_the_numbers_and_the_unit_in_any_case() {
        for value in [
            " bytes = 1 - 2 ",
            "bytes=\t1\t-\t2",
            "Bytes=1-2",
            "BYTES =1-2",
        ] {
            assert_eq!(range(value), Some(RangeRequest::FromTo(1, 2)), "{value:?}");
        }
    }

    #[test]
    fn unusable_values_are_ignored() {
        for value in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "=0-1",
            "items=0-1",
            "bytes=1 2-3",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=0x1-",
            "bytes=--1",
            "bytes=\u{663}-",
            "bytes=\u{3000}1-2",
            "bytes\u{3000}=1-2",
            "bytesx=1-2",
        ] {
            assert_eq!(range(value), None, "{value:?}");
        }
    }

    #[test]
    fn a_comma_is_several_ranges_whatever_else_is_there() {
        for value in ["bytes=0-1,2-3", "bytes=0-1,", "items=,", ","] {
            assert_eq!(
                parse_range_header(Some(value), None),
                Err(SeveralRanges),
                "{value:?}"
            );
        }
    }

    #[test]
    fn legacy_content_range_is_read_when_range_is_absent() {
        let legacy = |v| parse_range_header(None, Some(v)).unwrap();
        assert_eq!(
            legacy("bytes 2-5/10"),
            Some(RequestedRange {
                range: RangeRequest::FromTo(2, 5),
                header: "Content-Range",
            })
        );
        assert_eq!(
            legacy("bytes 2-99999999999999999999/*").map(|r| r.range),
            Some(RangeRequest::FromTo(2, MAX))
        );
        assert_eq!(legacy("bytes 5-2/*"), None);
        assert_eq!(legacy("items 0-1/10"), None);
        assert_eq!(legacy("bytes=0-1"), None);
        let both = parse_range_header(Some("bytes=1-1"), Some("bytes 2-2/*")).unwrap();
        assert_eq!(both.map(|r| r.header), Some("Range"));
        assert_eq!(parse_range_header(None, None), Ok(None));
    }
}
