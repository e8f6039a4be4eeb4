//! Microsoft Hyper-V VHDX. The virtual size is not at a fixed offset: the region
//! table locates the metadata region, whose table locates the size item. Only what
//! the inspector buffered is searched, so an image placing its metadata beyond the
//! head is still detected, just without a virtual size.

use crate::DetectedFormat;
use crate::bytes::{has_at, slice, u16_le, u32_le, u64_le};
use crate::probe::{Captured, Finding};

pub(crate) const SIGNATURE: &[u8] = b"vhdxfile";

/// The header section keeps two copies of the region table.
const REGION_TABLES: [u64; 2] = [192 * 1024, 256 * 1024];
const REGION_SIGNATURE: &[u8] = b"regi";
const REGION_HEADER_LEN: u64 = 16;
const METADATA_SIGNATURE: &[u8] = b"metadata";
const METADATA_HEADER_LEN: u64 = 32;
const ENTRY_LEN: u64 = 32;
/// Both tables are 64 KiB, which bounds their entry counts.
const MAX_ENTRIES: u64 = 2047;

/// GUIDs as stored on disk: the first three fields little-endian.
const METADATA_REGION: [u8; 16] = guid(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    *b"\xb8\xfe\x57\x5f\x05\x0f\x88\x6e",
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    *b"\xb2\x11\x5d\xbe\xd8\x3b\xf4\xb8",
);

const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    has_at(img.head, 0, SIGNATURE)
        .then(|| Finding::new(DetectedFormat::Vhdx, virtual_size(img.head), Ok(())))
}

fn virtual_size(head: &[u8]) -> Option<u64> {
    let metadata = REGION_TABLES
        .iter()
        .find_map(|&table| metadata_region(head, table))?;
    let item = metadata_item(head, metadata, &VIRTUAL_DISK_SIZE)?;
    let offset = usize::try_from(item).ok()?;
    u64_le(head, offset)
}

/// Offset of the metadata region according to the region table at `table`.
fn metadata_region(head: &[u8], table: u64) -> Option<u64> {
    let header = slice(head, table, REGION_HEADER_LEN)?;
    if !header.starts_with(REGION_SIGNATURE) {
        return None;
    }
    let count = u64::from(u32_le(header, 8)?).min(MAX_ENTRIES);
    (0..count).find_map(|i| {
        let entry = slice(head, table + REGION_HEADER_LEN + i * ENTRY_LEN, ENTRY_LEN)?;
        entry
            .starts_with(&METADATA_REGION)
            .then(|| u64_le(entry, 16))
            .flatten()
    })
}

/// Absolute offset of the metadata item `id` in the metadata region at `region`.
fn metadata_item(head: &[u8], region: u64, id: &[u8; 16]) -> Option<u64> {
    let header = slice(head, region, METADATA_HEADER_LEN)?;
    if !header.starts_with(METADATA_SIGNATURE) {
        return None;
    }
    let count = u64::from(u16_le(header, 10)?).min(MAX_ENTRIES);
    (0..count).find_map(|i| {
        let at = region.checked_add(METADATA_HEADER_LEN + i * ENTRY_LEN)?;
        let entry = slice(head, at, ENTRY_LEN)?;
        if !entry.starts_with(id) {
            return None;
        }
        region.checked_add(u64::from(u32_le(entry, 16)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    const METADATA_AT: usize = 320 * 1024;

    fn image(region_table: usize) -> Vec<u8> {
        let mut img = vec![0u8; 400 * 1024];
        img[..8].copy_from_slice(SIGNATURE);
        let t = region_table;
        img[t..t + 4].copy_from_slice(REGION_SIGNATURE);
        img[t + 8..t + 12].copy_from_slice(&2u32.to_le_bytes());
        // A first entry that is not the metadata region must be skipped.
        img[t + 16..t + 32].copy_from_slice(&[0xaa; 16]);
        img[t + 48..t + 64].copy_from_slice(&METADATA_REGION);
        img[t + 64..t + 72].copy_from_slice(&(METADATA_AT as u64).to_le_bytes());
        let m = METADATA_AT;
        img[m..m + 8].copy_from_slice(METADATA_SIGNATURE);
        img[m + 10..m + 12].copy_from_slice(&1u16.to_le_bytes());
        img[m + 32..m + 48].copy_from_slice(&VIRTUAL_DISK_SIZE);
        img[m + 48..m + 52].copy_from_slice(&0x1000u32.to_le_bytes());
        img[m + 0x1000..m + 0x1008].copy_from_slice(&(5u64 << 30).to_le_bytes());
        img
    }

    #[test]
    fn guid_layout_matches_the_on_disk_bytes() {
        assert_eq!(
            METADATA_REGION,
            *b"\x06\xa2\x7c\x8b\x90\x47\x9a\x4b\xb8\xfe\x57\x5f\x05\x0f\x88\x6e"
        );
    }

    #[test]
    fn size_is_found_through_the_region_table() {
        let img = image(192 * 1024);
        let f = probe(&captured(&img)).unwrap();
        assert_eq!(f.virtual_size, Some(5 << 30));
        assert_eq!(f.safety, Ok(()));
    }

    #[test]
    fn backup_region_table_is_used_when_the_first_is_damaged() {
        let img = image(256 * 1024);
        assert_eq!(virtual_size(&img), Some(5 << 30));
    }

    #[test]
    fn metadata_beyond_the_buffer_gives_no_size() {
        let img = image(192 * 1024);
        assert_eq!(virtual_size(&img[..METADATA_AT + 40]), None);
    }
}
