//! Microsoft Virtual PC (qemu's "vpc"). Dynamic and differencing images start with
//! a copy of the footer; fixed images only have it at the end, and qemu probes those
//! as raw, so only the copy at offset 0 is recognised here too.

use crate::DetectedFormat;
use crate::bytes::{has_at, u64_be};
use crate::probe::{Captured, Finding};

const COOKIE: &[u8] = b"conectix";
const CURRENT_SIZE_OFFSET: usize = 48;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    has_at(img.head, 0, COOKIE).then(|| {
        Finding::new(
            DetectedFormat::Vhd,
            u64_be(img.head, CURRENT_SIZE_OFFSET),
            Ok(()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    #[test]
    fn size_is_the_current_size_field() {
        let mut h = vec![0u8; 512];
        h[..8].copy_from_slice(COOKIE);
        h[40..48].copy_from_slice(&1u64.to_be_bytes());
        h[48..56].copy_from_slice(&10_514_432u64.to_be_bytes());
        let f = probe(&captured(&h)).unwrap();
        assert_eq!(f.virtual_size, Some(10_514_432));
        assert_eq!(f.safety, Ok(()));
    }

    #[test]
    fn truncated_footer_has_no_size() {
        assert_eq!(probe(&captured(COOKIE)).unwrap().virtual_size, None);
    }
}
