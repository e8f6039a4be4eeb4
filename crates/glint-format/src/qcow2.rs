//! QEMU copy-on-write, versions 2 and 3. All header fields are big-endian.

use crate::bytes::{has_at, u32_be, u64_be};
use crate::probe::{Captured, Finding};
use crate::{DetectedFormat, SafetyError};

const MAGIC: &[u8] = b"QFI\xfb";
const V2_HEADER_LEN: usize = 72;
const V3_HEADER_LEN: usize = 104;
const BACKING_FILE_OFFSET: usize = 8;
const SIZE_OFFSET: usize = 24;
const INCOMPATIBLE_FEATURES_OFFSET: usize = 72;
/// With this bit set the guest data lives in another host file, which the image
/// names: reading the image would read that file (CVE-2024-32498).
const INCOMPATIBLE_DATA_FILE: u64 = 1 << 2;
/// Dirty, corrupt, external data file, compression type, extended L2 entries.
const INCOMPATIBLE_KNOWN: u64 = 0b1_1111;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    if !has_at(img.head, 0, MAGIC) {
        return None;
    }
    Some(Finding::new(
        DetectedFormat::Qcow2,
        u64_be(img.head, SIZE_OFFSET),
        check(img.head),
    ))
}

fn check(head: &[u8]) -> Result<(), SafetyError> {
    let truncated = || SafetyError::Invalid("truncated qcow2 header".into());
    if head.len() < V2_HEADER_LEN {
        return Err(truncated());
    }
    let version = u32_be(head, 4).ok_or_else(truncated)?;
    if u64_be(head, BACKING_FILE_OFFSET).ok_or_else(truncated)? != 0 {
        return Err(SafetyError::BackingFile);
    }
    match version {
        2 => Ok(()),
        3 => {
            if head.len() < V3_HEADER_LEN {
                return Err(truncated());
            }
            let incompatible = u64_be(head, INCOMPATIBLE_FEATURES_OFFSET).ok_or_else(truncated)?;
            if incompatible & INCOMPATIBLE_DATA_FILE != 0 {
                Err(SafetyError::DataFile)
            } else if incompatible & !INCOMPATIBLE_KNOWN != 0 {
                Err(SafetyError::UnknownFeatures)
            } else {
                Ok(())
            }
        }
        _ => Err(SafetyError::UnknownFeatures),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    fn header(version: u32, backing: u64, incompatible: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(MAGIC);
        h[4..8].copy_from_slice(&version.to_be_bytes());
        h[8..16].copy_from_slice(&backing.to_be_bytes());
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        h[72..80].copy_from_slice(&incompatible.to_be_bytes());
        h
    }

    fn verdict(h: &[u8]) -> Finding {
        probe(&captured(h)).unwrap()
    }

    #[test]
    fn plain_v3_is_safe_with_size_from_header() {
        let f = verdict(&header(3, 0, 0));
        assert_eq!(f.virtual_size, Some(1 << 30));
        assert_eq!(f.safety, Ok(()));
    }

    #[test]
    fn dirty_and_compression_bits_are_known_features() {
        assert_eq!(verdict(&header(3, 0, 0b11011)).safety, Ok(()));
    }

    #[test]
    fn backing_file_offset_is_unsafe() {
        assert_eq!(
            verdict(&header(3, 0x200, 0)).safety,
            Err(SafetyError::BackingFile)
        );
    }

    #[test]
    fn data_file_bit_is_unsafe() {
        assert_eq!(
            verdict(&header(3, 0, 1 << 2)).safety,
            Err(SafetyError::DataFile)
        );
    }

    #[test]
    fn unknown_incompatible_bit_is_unsafe() {
        let f = verdict(&header(3, 0, 1 << 5));
        assert_eq!(f.safety, Err(SafetyError::UnknownFeatures));
    }

    #[test]
    fn v2_ignores_the_v3_feature_field() {
        assert_eq!(verdict(&header(2, 0, u64::MAX)).safety, Ok(()));
    }

    #[test]
    fn unsupported_version_is_unsafe() {
        assert_eq!(
            verdict(&header(4, 0, 0)).safety,
            Err(SafetyError::UnknownFeatures)
        );
        assert_eq!(
            verdict(&header(1, 0, 0)).safety,
            Err(SafetyError::UnknownFeatures)
        );
    }

    #[test]
    fn truncated_header_is_invalid_not_raw() {
        let f = verdict(&header(3, 0, 0)[..40]);
        assert_eq!(f.format, DetectedFormat::Qcow2);
        assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
    }

    #[test]
    fn other_magic_is_not_qcow2() {
        assert!(probe(&captured(b"QFI\xfa")).is_none());
    }
}
