//! QEMU enhanced disk. Glance bans it outright: qemu has deprecated it, and it
//! supports backing files that would be opened on the host.

use crate::bytes::{has_at, u64_le};
use crate::probe::{Captured, Finding};
use crate::{DetectedFormat, SafetyError};

const MAGIC: &[u8] = b"QED\0";
const IMAGE_SIZE_OFFSET: usize = 48;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    has_at(img.head, 0, MAGIC).then(|| {
        Finding::new(
            DetectedFormat::Qed,
            u64_le(img.head, IMAGE_SIZE_OFFSET),
            Err(SafetyError::QedBanned),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    #[test]
    fn qed_is_always_banned() {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(MAGIC);
        h[48..56].copy_from_slice(&4096u64.to_le_bytes());
        let f = probe(&captured(&h)).unwrap();
        assert_eq!(f.virtual_size, Some(4096));
        assert_eq!(f.safety, Err(SafetyError::QedBanned));
    }
}
