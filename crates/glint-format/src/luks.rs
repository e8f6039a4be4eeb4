//! LUKS encrypted volumes. Only version 1 is accepted, as in Glance.

use crate::bytes::{has_at, u16_be, u32_be};
use crate::probe::{Captured, Finding};
use crate::{DetectedFormat, SafetyError};

const MAGIC: &[u8] = b"LUKS\xba\xbe";
const VERSION_OFFSET: usize = 6;
/// Start of the encrypted payload, in 512-byte sectors.
const PAYLOAD_OFFSET: usize = 104;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    if !has_at(img.head, 0, MAGIC) {
        return None;
    }
    let finding = |virtual_size, safety| Finding::new(DetectedFormat::Luks, virtual_size, safety);
    let invalid = |why: String| finding(None, Err(SafetyError::Invalid(why)));
    match u16_be(img.head, VERSION_OFFSET) {
        Some(1) => {}
        Some(version) => return Some(invalid(format!("unsupported LUKS version {version}"))),
        None => return Some(invalid("truncated LUKS header".into())),
    }
    let Some(payload_sectors) = u32_be(img.head, PAYLOAD_OFFSET) else {
        return Some(invalid("truncated LUKS header".into()));
    };
    // The disk is what follows the key material, as qemu reports it.
    match img.size.checked_sub(u64::from(payload_sectors) * 512) {
        Some(virtual_size) => Some(finding(Some(virtual_size), Ok(()))),
        None => Some(invalid(
            "LUKS payload starts beyond the end of the image".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    fn header(version: u16, payload_sectors: u32) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..6].copy_from_slice(MAGIC);
        h[6..8].copy_from_slice(&version.to_be_bytes());
        h[104..108].copy_from_slice(&payload_sectors.to_be_bytes());
        h
    }

    #[test]
    fn v1_size_excludes_the_key_material() {
        let f = probe(&captured(&header(1, 4))).unwrap();
        assert_eq!(f.virtual_size, Some(4096 - 2048));
        assert_eq!(f.safety, Ok(()));
    }

    #[test]
    fn v2_is_refused() {
        let f = probe(&captured(&header(2, 4))).unwrap();
        assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
    }

    #[test]
    fn payload_past_the_end_is_invalid() {
        let f = probe(&captured(&header(1, 9))).unwrap();
        assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
    }
}
