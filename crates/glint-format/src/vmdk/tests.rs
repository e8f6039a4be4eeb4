use super::*;
use crate::probe::captured;

const DESCRIPTOR: &str = "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n\
    createType=\"streamOptimized\"\n\nRW 2048 SPARSE \"disk.vmdk\"\n\nddb.adapterType = \"ide\"\n";

fn header_bytes(capacity: u64, gd_offset: u64) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..4].copy_from_slice(SPARSE_MAGIC);
    h[4..8].copy_from_slice(&3u32.to_le_bytes());
    h[12..20].copy_from_slice(&capacity.to_le_bytes());
    h[20..28].copy_from_slice(&128u64.to_le_bytes());
    h[28..36].copy_from_slice(&1u64.to_le_bytes());
    h[36..44].copy_from_slice(&20u64.to_le_bytes());
    h[56..64].copy_from_slice(&gd_offset.to_le_bytes());
    h
}

fn image(gd_offset: u64, descriptor: &str) -> Vec<u8> {
    let mut img = header_bytes(2048, gd_offset);
    img.extend_from_slice(descriptor.as_bytes());
    img.resize(21 * 512 + 4096, 0);
    img
}

fn marker(kind: u32, val: u64) -> Vec<u8> {
    let mut m = vec![0u8; 512];
    m[..8].copy_from_slice(&val.to_le_bytes());
    m[12..16].copy_from_slice(&kind.to_le_bytes());
    m
}

fn with_footer(mut img: Vec<u8>, footer_capacity: u64) -> Vec<u8> {
    img.extend(marker(MARKER_FOOTER, 1));
    img.extend(header_bytes(footer_capacity, 22));
    img.extend(marker(MARKER_EOS, 0));
    img
}

fn verdict(img: &[u8]) -> Finding {
    probe(&captured(img)).unwrap()
}

#[test]
fn sparse_image_is_safe_with_capacity_as_size() {
    let f = verdict(&image(22, DESCRIPTOR));
    assert_eq!(f.virtual_size, Some(2048 * 512));
    assert_eq!(f.safety, Ok(()));
    assert_eq!(f.vmdk_create_type.as_deref(), Some("streamOptimized"));
}

#[test]
fn sparse_image_of_another_create_type_reports_it_and_passes_its_own_checks() {
    let descriptor = DESCRIPTOR.replace("streamOptimized", "vmfsSparse");
    let f = verdict(&image(22, &descriptor));
    assert_eq!(f.vmdk_create_type.as_deref(), Some("vmfsSparse"));
    assert_eq!(f.safety, Ok(()));
    let hinted = descriptor.replace("version=1", "version=1\nparentFileNameHint=\"p.vmdk\"");
    let f = verdict(&image(22, &hinted));
    assert_eq!(f.vmdk_create_type.as_deref(), Some("vmfsSparse"));
    assert_eq!(f.safety, Err(SafetyError::BackingFile));
}

#[test]
fn unreadable_descriptor_reports_no_create_type() {
    let mut img = image(22, DESCRIPTOR);
    img[28..36].copy_from_slice(&0u64.to_le_bytes());
    let f = verdict(&img);
    assert_eq!(f.vmdk_create_type, None);
    assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
}

#[test]
fn stream_optimized_with_matching_footer_is_safe() {
    let f = verdict(&with_footer(image(GD_AT_END, DESCRIPTOR), 2048));
    assert_eq!(f.safety, Ok(()));
}

#[test]
fn stream_optimized_footer_with_other_capacity_is_invalid() {
    let f = verdict(&with_footer(image(GD_AT_END, DESCRIPTOR), 4096));
    assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
}

#[test]
fn stream_optimized_without_footer_is_invalid() {
    let f = verdict(&image(GD_AT_END, DESCRIPTOR));
    assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
}

#[test]
fn descriptor_outside_the_head_is_invalid() {
    let mut img = image(22, DESCRIPTOR);
    img[28..36].copy_from_slice(&100_000u64.to_le_bytes());
    assert!(matches!(verdict(&img).safety, Err(SafetyError::Invalid(_))));
    img[28..36].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(verdict(&img).safety, Err(SafetyError::Invalid(_))));
    img[36..44].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(verdict(&img).safety, Err(SafetyError::Invalid(_))));
}

#[test]
fn missing_embedded_descriptor_is_invalid() {
    let mut img = image(22, DESCRIPTOR);
    img[28..36].copy_from_slice(&0u64.to_le_bytes());
    assert!(matches!(verdict(&img).safety, Err(SafetyError::Invalid(_))));
}

#[test]
fn huge_capacity_has_no_size_rather_than_overflowing() {
    let mut img = image(22, DESCRIPTOR);
    img[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(verdict(&img).virtual_size, None);
}

#[test]
fn descriptor_file_is_refused_even_for_an_allowed_subformat() {
    let f = verdict(DESCRIPTOR.as_bytes());
    assert_eq!(f.format, DetectedFormat::Vmdk);
    assert_eq!(f.virtual_size, Some(2048 * 512));
    assert_eq!(f.safety, Err(SafetyError::VmdkExtent("disk.vmdk".into())));
    assert_eq!(f.vmdk_create_type.as_deref(), Some("streamOptimized"));
}

#[test]
fn descriptor_file_without_the_usual_comment_is_detected() {
    let text =
        "\n# made by hand\n  \nversion=1\ncreateType=\"monolithicFlat\"\nRW 8 FLAT \"x\" 0\n";
    let f = verdict(text.as_bytes());
    assert_eq!(f.safety, Err(SafetyError::VmdkExtent("x".into())));
    assert_eq!(f.vmdk_create_type.as_deref(), Some("monolithicFlat"));
}

#[test]
fn text_that_is_not_a_descriptor_is_not_vmdk() {
    assert!(probe(&captured(b"hello\nversion=1\n")).is_none());
    assert!(probe(&captured(b"# comment only\n")).is_none());
}

#[test]
fn vmdk3_is_refused() {
    let mut img = b"COWD".to_vec();
    img.resize(512, 0);
    img[12..16].copy_from_slice(&8u32.to_le_bytes());
    let f = verdict(&img);
    assert_eq!(f.virtual_size, Some(4096));
    assert!(matches!(f.safety, Err(SafetyError::VmdkSubformat(_))));
}

#[test]
fn truncated_sparse_header_is_invalid() {
    let f = verdict(&header_bytes(2048, 22)[..40]);
    assert!(matches!(f.safety, Err(SafetyError::Invalid(_))));
}
