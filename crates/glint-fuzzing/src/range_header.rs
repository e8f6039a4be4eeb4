//! The `Range` / `Content-Range` parser of downloads never panics, gives a
//! range it can print back and read again unchanged, never a first byte
//! after the last, and reads well-formed values of any length as the
//! numbers they write.

use arbitrary::{Result, Unstructured};
use glint_api::v2::range::{RequestedRange, SeveralRanges, parse_range_header};
use glint_core::RangeRequest;

pub fn range_header(input: &[u8]) {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    match mode % 3 {
        0 => any_text(rest),
        1 => {
            let _ = well_formed(&mut Unstructured::new(rest));
        }
        _ => {
            // Both headers at once: `Range` must win whatever it holds.
            let (range, legacy) = rest.split_at(rest.len() / 2);
            let (range, legacy) = (
                String::from_utf8_lossy(range),
                String::from_utf8_lossy(legacy),
            );
            let both = parse_range_header(Some(&range), Some(&legacy));
            assert_eq!(both, parse_range_header(Some(&range), None));
        }
    }
}

fn any_text(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let parsed = parse_range_header(Some(text), None);
    assert_eq!(parsed == Err(SeveralRanges), text.contains(','), "{text:?}");
    if let Ok(Some(found)) = parsed {
        check(found, "Range");
    }
    if let Ok(Some(found)) = parse_range_header(None, Some(text)) {
        check(found, "Content-Range");
    }
}

/// Properties of every range the parser gives.
fn check(found: RequestedRange, header: &str) {
    assert_eq!(found.header, header);
    if let RangeRequest::FromTo(first, last) = found.range {
        assert!(first <= last, "{found:?}");
    }
    let canonical = match found.range {
        RangeRequest::FromTo(first, last) => format!("bytes={first}-{last}"),
        RangeRequest::From(first) => format!("bytes={first}-"),
        RangeRequest::Suffix(length) => format!("bytes=-{length}"),
    };
    let again = parse_range_header(Some(&canonical), None);
    assert_eq!(
        again.map(|r| r.map(|r| r.range)),
        Ok(Some(found.range)),
        "{canonical}"
    );
    for size in [0, 1, 2, 1000, u64::MAX - 1, u64::MAX] {
        if let Some(r) = found.range.resolve(size) {
            assert!(
                r.start <= r.end && r.end < size,
                "{found:?} of {size}: {r:?}"
            );
        }
    }
}

/// A `Range` value built from numbers, with leading zeros, blanks and
/// the unit's case chosen by the input: it must read as those numbers,
/// saturated at `u64::MAX`.
fn well_formed(u: &mut Unstructured<'_>) -> Result<()> {
    let (first, last): (u128, u128) = (u.arbitrary()?, u.arbitrary()?);
    let form = u.int_in_range(0..=2)?;
    let unit = *u.choose(&["bytes", "Bytes", "BYTES", "bYtEs"])?;
    let mut blank = || -> Result<&'static str> { u.choose(&["", " ", "\t", "  "]).copied() };
    let (b1, b2, b3, b4) = (blank()?, blank()?, blank()?, blank()?);
    let zeros = "0".repeat(usize::from(u.int_in_range(0u8..=30)?));
    let number = |n: u128| format!("{zeros}{n}");
    let spec = match form {
        0 => format!("{}{b3}-{b4}{}", number(first), number(last)),
        1 => format!("{}{b3}-", number(first)),
        _ => format!("-{b4}{}", number(last)),
    };
    let text = format!("{b1}{unit}{b2}={spec}{b1}");
    let saturate = |n: u128| u64::try_from(n).unwrap_or(u64::MAX);
    let expected = match form {
        0 if first > last => None,
        0 => Some(RangeRequest::FromTo(saturate(first), saturate(last))),
        1 => Some(RangeRequest::From(saturate(first))),
        _ => Some(RangeRequest::Suffix(saturate(last))),
    };
    let parsed = parse_range_header(Some(&text), None).map(|r| r.map(|r| r.range));
    assert_eq!(parsed, Ok(expected), "{text:?}");
    Ok(())
}
