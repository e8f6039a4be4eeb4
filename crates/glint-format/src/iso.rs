//! ISO 9660 and UDF optical-disc images. Both start their volume descriptors at
//! sector 16 (2 KiB sectors), after a system area that hybrid images use for an MBR.

use crate::DetectedFormat;
use crate::bytes::{u16_le, u32_le};
use crate::probe::{Captured, Finding};

const SECTOR: usize = 2048;
const FIRST_DESCRIPTOR: usize = 16 * SECTOR;
/// The volume recognition sequence is short; this bounds the scan to the base head.
const MAX_DESCRIPTORS: usize = 16;
const ISO9660: &[u8] = b"CD001";
const UDF: [&[u8]; 2] = [b"NSR02", b"NSR03"];
/// Other identifiers that may appear in a UDF volume recognition sequence.
const RECOGNISED: [&[u8]; 4] = [b"BEA01", b"TEA01", b"BOOT2", b"CDW02"];
const PRIMARY_VOLUME_DESCRIPTOR: u8 = 1;
const VOLUME_SPACE_SIZE: usize = 80;
const LOGICAL_BLOCK_SIZE: usize = 128;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    let descriptors = descriptors(img.head);
    let first_is_volume = descriptors
        .first()
        .is_some_and(|d| is_volume_id(identifier(d)));
    let has_udf = descriptors.iter().any(|d| UDF.contains(&identifier(d)));
    if !first_is_volume && !has_udf {
        return None;
    }
    let virtual_size = descriptors
        .iter()
        .find(|d| d.first() == Some(&PRIMARY_VOLUME_DESCRIPTOR) && identifier(d) == ISO9660)
        .and_then(|pvd| primary_volume_size(pvd))
        // UDF-only discs keep their size elsewhere; the disc is the whole file.
        .unwrap_or(img.size);
    Some(Finding::new(
        DetectedFormat::Iso,
        Some(virtual_size),
        Ok(()),
    ))
}

/// The volume descriptors present in `head`, up to the first unrecognised one.
fn descriptors(head: &[u8]) -> Vec<&[u8]> {
    (0..MAX_DESCRIPTORS)
        .map_while(|i| {
            let start = FIRST_DESCRIPTOR + i * SECTOR;
            let descriptor = head.get(start..start + SECTOR)?;
            let id = identifier(descriptor);
            (is_volume_id(id) || RECOGNISED.contains(&id)).then_some(descriptor)
        })
        .collect()
}

fn identifier(descriptor: &[u8]) -> &[u8] {
    descriptor.get(1..6).unwrap_or_default()
}

fn is_volume_id(id: &[u8]) -> bool {
    id == ISO9660 || UDF.contains(&id)
}

fn primary_volume_size(pvd: &[u8]) -> Option<u64> {
    let blocks = u64::from(u32_le(pvd, VOLUME_SPACE_SIZE)?);
    let block_size = u64::from(u16_le(pvd, LOGICAL_BLOCK_SIZE)?);
    let size = blocks * block_size;
    (size != 0).then_some(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    fn descriptor(img: &mut [u8], index: usize, kind: u8, id: &[u8]) -> usize {
        let at = FIRST_DESCRIPTOR + index * SECTOR;
        img[at] = kind;
        img[at + 1..at + 6].copy_from_slice(id);
        at
    }

    #[test]
    fn iso9660_size_comes_from_the_primary_descriptor() {
        let mut img = vec![0u8; 64 * 1024];
        let pvd = descriptor(&mut img, 0, 1, ISO9660);
        img[pvd + 80..pvd + 84].copy_from_slice(&100u32.to_le_bytes());
        img[pvd + 128..pvd + 130].copy_from_slice(&2048u16.to_le_bytes());
        descriptor(&mut img, 1, 255, ISO9660);
        let f = probe(&captured(&img)).unwrap();
        assert_eq!(f.virtual_size, Some(100 * 2048));
    }

    #[test]
    fn udf_after_bea01_is_detected_with_file_size() {
        let mut img = vec![0u8; 64 * 1024];
        descriptor(&mut img, 0, 0, b"BEA01");
        descriptor(&mut img, 1, 0, b"NSR03");
        descriptor(&mut img, 2, 0, b"TEA01");
        let f = probe(&captured(&img)).unwrap();
        assert_eq!(f.virtual_size, Some(64 * 1024));
    }

    #[test]
    fn bea01_alone_is_not_a_disc() {
        let mut img = vec![0u8; 64 * 1024];
        descriptor(&mut img, 0, 0, b"BEA01");
        assert!(probe(&captured(&img)).is_none());
    }

    #[test]
    fn truncated_descriptor_is_not_a_disc() {
        let mut img = vec![0u8; 64 * 1024];
        descriptor(&mut img, 0, 1, ISO9660);
        assert!(probe(&captured(&img[..FIRST_DESCRIPTOR + 100])).is_none());
    }
}
