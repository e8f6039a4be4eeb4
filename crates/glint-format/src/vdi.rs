//! VirtualBox disk image.

use crate::DetectedFormat;
use crate::bytes::{u32_le, u64_le};
use crate::probe::{Captured, Finding};

const SIGNATURE_OFFSET: usize = 0x40;
const SIGNATURE: u32 = 0xbeda_107f;
const DISK_SIZE_OFFSET: usize = 0x170;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    (u32_le(img.head, SIGNATURE_OFFSET) == Some(SIGNATURE)).then(|| {
        Finding::new(
            DetectedFormat::Vdi,
            u64_le(img.head, DISK_SIZE_OFFSET),
            Ok(()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    #[test]
    fn signature_and_size_are_little_endian() {
        let mut h = vec![0u8; 512];
        h[0x40..0x44].copy_from_slice(&[0x7f, 0x10, 0xda, 0xbe]);
        h[0x170..0x178].copy_from_slice(&(10u64 << 20).to_le_bytes());
        let f = probe(&captured(&h)).unwrap();
        assert_eq!(f.virtual_size, Some(10 << 20));
        assert!(probe(&captured(&h[..0x43])).is_none());
    }
}
