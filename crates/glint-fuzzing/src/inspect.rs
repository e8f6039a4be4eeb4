//! Disk-image inspection, as uploads, staging and conversion run it.

use glint_format::{Inspector, UploadRules, check_upload, inspect as inspect_whole};

const CLAIMS: [&str; 6] = ["raw", "qcow2", "vmdk", "iso", "ami", "vhdx"];

/// Inspection never panics, whatever the bytes and however they are split
/// into chunks; it counts every byte, and its verdict does not depend on
/// where the chunks split. The first byte chooses the split
/// point, the claimed format and the rules; the rest is the image.
pub fn inspect(input: &[u8]) {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let split = if data.is_empty() {
        0
    } else {
        usize::from(control) * 257 % (data.len() + 1)
    };
    let (first, second) = data.split_at(split);
    let mut inspector = Inspector::new();
    inspector.feed(first);
    inspector.feed(second);
    let inspection = inspector.finish();
    assert_eq!(inspection.actual_size, data.len() as u64);
    assert_eq!(inspection, inspect_whole(data), "split at {split}");
    let claimed = CLAIMS[usize::from(control) % CLAIMS.len()];
    let rules = UploadRules {
        require_image_format_match: control & 1 == 0,
        ..UploadRules::default()
    };
    let _ = check_upload(Some(claimed), Some("bare"), &inspection, &rules);
    let _ = inspection.safety.map_err(|err| err.to_string());
}
