//! Bounds-checked readers over captured image bytes: every lookup returns `None`
//! rather than panicking, because all offsets come from untrusted headers.

pub(crate) fn array<const N: usize>(buf: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    buf.get(offset..end)?.try_into().ok()
}

pub(crate) fn u16_le(buf: &[u8], offset: usize) -> Option<u16> {
    array(buf, offset).map(u16::from_le_bytes)
}

pub(crate) fn u16_be(buf: &[u8], offset: usize) -> Option<u16> {
    array(buf, offset).map(u16::from_be_bytes)
}

pub(crate) fn u32_le(buf: &[u8], offset: usize) -> Option<u32> {
    array(buf, offset).map(u32::from_le_bytes)
}

pub(crate) fn u32_be(buf: &[u8], offset: usize) -> Option<u32> {
    array(buf, offset).map(u32::from_be_bytes)
}

pub(crate) fn u64_le(buf: &[u8], offset: usize) -> Option<u64> {
    array(buf, offset).map(u64::from_le_bytes)
}

pub(crate) fn u64_be(buf: &[u8], offset: usize) -> Option<u64> {
    array(buf, offset).map(u64::from_be_bytes)
}

/// True when `pattern` occurs in `buf` starting exactly at `offset`.
pub(crate) fn has_at(buf: &[u8], offset: usize, pattern: &[u8]) -> bool {
    offset
        .checked_add(pattern.len())
        .and_then(|end| buf.get(offset..end))
        == Some(pattern)
}

/// `buf[offset..offset + len]`, or `None` when any part lies outside `buf`.
pub(crate) fn slice(buf: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    buf.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_return_none() {
        let buf = [1u8, 2, 3];
        assert_eq!(u16_le(&buf, 1), Some(0x0302));
        assert_eq!(u16_be(&buf, 2), None);
        assert_eq!(u64_le(&buf, usize::MAX), None);
        assert!(!has_at(&buf, usize::MAX, b"x"));
        assert_eq!(slice(&buf, u64::MAX, 1), None);
        assert_eq!(slice(&buf, 1, 2), Some(&buf[1..3]));
    }
}
