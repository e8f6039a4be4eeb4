//! Images qemu cannot build (ISO, partitioned disks) or that no tool should build
//! (polyglots), assembled byte by byte.

mod common;

use common::{inspect_every_way, pattern, rules};
use glint_format::{DetectedFormat, FormatError, SafetyError, check_upload};

const ISO_SECTOR: usize = 2048;

/// An ISO 9660 image: primary volume descriptor at sector 16, terminator at 17.
fn iso(blocks: u32) -> Vec<u8> {
    let mut img = vec![0u8; blocks as usize * ISO_SECTOR];
    let pvd = 16 * ISO_SECTOR;
    img[pvd] = 1;
    img[pvd + 1..pvd + 6].copy_from_slice(b"CD001");
    img[pvd + 6] = 1;
    img[pvd + 80..pvd + 84].copy_from_slice(&blocks.to_le_bytes());
    img[pvd + 84..pvd + 88].copy_from_slice(&blocks.to_be_bytes());
    img[pvd + 128..pvd + 130].copy_from_slice(&(ISO_SECTOR as u16).to_le_bytes());
    img[pvd + 130..pvd + 132].copy_from_slice(&(ISO_SECTOR as u16).to_be_bytes());
    let end = 17 * ISO_SECTOR;
    img[end] = 255;
    img[end + 1..end + 6].copy_from_slice(b"CD001");
    img
}

/// Writes MBR partition entry `index` into the first sector.
fn partition(img: &mut [u8], index: usize, kind: u8, start_chs: [u8; 3], start_lba: u32) {
    let e = 446 + index * 16;
    img[e + 1..e + 4].copy_from_slice(&start_chs);
    img[e + 4] = kind;
    img[e + 8..e + 12].copy_from_slice(&start_lba.to_le_bytes());
    img[510..512].copy_from_slice(b"\x55\xaa");
}

/// A GPT disk: protective MBR then the "EFI PART" header at LBA 1.
fn gpt_disk(len: usize) -> Vec<u8> {
    let mut img = pattern(len);
    img[..512].fill(0);
    partition(&mut img, 0, 0xee, [0, 2, 0], 1);
    img[512..520].copy_from_slice(b"EFI PART");
    img
}

#[test]
fn iso_is_detected_with_block_count_times_block_size() {
    let inspection = inspect_every_way(&iso(100));
    assert_eq!(inspection.format, DetectedFormat::Iso);
    assert_eq!(inspection.virtual_size, Some(100 * ISO_SECTOR as u64));
    assert_eq!(inspection.safety, Ok(()));
    assert_eq!(
        check_upload(Some("iso"), Some("bare"), &inspection, &rules(true)),
        Ok(Some(100 * ISO_SECTOR as u64))
    );
}

#[test]
fn iso_with_hybrid_mbr_is_iso() {
    let mut img = iso(64);
    img[0] = 0x33;
    partition(&mut img, 0, 0x17, [0, 1, 0], 0);
    img[446] = 0x80;
    let inspection = inspect_every_way(&img);
    assert_eq!(inspection.format, DetectedFormat::Iso);
    assert_eq!(inspection.safety, Ok(()));
}

#[test]
fn iso_claimed_as_raw_is_stored_with_actual_size() {
    let inspection = inspect_every_way(&iso(40));
    assert_eq!(
        check_upload(Some("raw"), Some("bare"), &inspection, &rules(true)),
        Ok(Some(40 * ISO_SECTOR as u64))
    );
}

#[test]
fn gpt_disk_counts_as_raw() {
    let img = gpt_disk(1 << 20);
    let inspection = inspect_every_way(&img);
    assert_eq!(inspection.format, DetectedFormat::Gpt);
    assert_eq!(inspection.virtual_size, Some(1 << 20));
    assert_eq!(inspection.safety, Ok(()));
    assert_eq!(
        check_upload(Some("raw"), Some("bare"), &inspection, &rules(true)),
        Ok(Some(1 << 20))
    );
    assert_eq!(
        check_upload(Some("ami"), Some("bare"), &inspection, &rules(true)),
        Ok(None)
    );
    assert!(matches!(
        check_upload(Some("qcow2"), Some("bare"), &inspection, &rules(true)),
        Err(FormatError::Mismatch { .. })
    ));
}

#[test]
fn gpt_with_extra_mbr_partition_is_unsafe() {
    let mut img = gpt_disk(1 << 20);
    partition(&mut img, 1, 0x83, [0, 1, 0], 2048);
    let inspection = inspect_every_way(&img);
    assert!(matches!(inspection.safety, Err(SafetyError::Gpt(_))));
    assert!(matches!(
        check_upload(Some("raw"), Some("bare"), &inspection, &rules(true)),
        Err(FormatError::Unsafe(SafetyError::Gpt(_)))
    ));
}

#[test]
fn mbr_with_bad_boot_flag_is_unsafe() {
    let mut img = vec![0u8; 4096];
    partition(&mut img, 0, 0x83, [0, 1, 0], 2048);
    img[446] = 0x01;
    assert!(matches!(
        inspect_every_way(&img).safety,
        Err(SafetyError::Gpt(_))
    ));
}

#[test]
fn qcow2_header_with_mbr_signature_is_ambiguous() {
    let mut img = vec![0u8; 64 * 1024];
    img[..4].copy_from_slice(b"QFI\xfb");
    img[4..8].copy_from_slice(&3u32.to_be_bytes());
    img[24..32].copy_from_slice(&(1u64 << 20).to_be_bytes());
    partition(&mut img, 0, 0x83, [0, 1, 0], 1);
    let inspection = inspect_every_way(&img);
    assert_eq!(
        inspection.safety,
        Err(SafetyError::Ambiguous(vec![
            DetectedFormat::Qcow2,
            DetectedFormat::Gpt
        ]))
    );
    for require in [true, false] {
        assert!(check_upload(Some("qcow2"), Some("bare"), &inspection, &rules(require)).is_err());
    }
}

#[test]
fn vmdk_descriptor_inside_iso_is_ambiguous() {
    let mut img = iso(40);
    let text = b"# Disk DescriptorFile\nversion=1\n";
    img[..text.len()].copy_from_slice(text);
    let inspection = inspect_every_way(&img);
    assert!(matches!(inspection.safety, Err(SafetyError::Ambiguous(_))));
}

#[test]
fn arbitrary_data_is_raw() {
    let inspection = inspect_every_way(&pattern(200_000));
    assert_eq!(inspection.format, DetectedFormat::Raw);
    assert_eq!(inspection.virtual_size, Some(200_000));
    assert_eq!(inspection.safety, Ok(()));
}

#[test]
fn tiny_inputs_are_raw() {
    for len in 0..16 {
        let inspection = inspect_every_way(&pattern(len));
        assert_eq!(inspection.format, DetectedFormat::Raw);
        assert_eq!(inspection.actual_size, len as u64);
    }
}

#[test]
fn truncated_magic_is_raw() {
    for magic in [&b"QFI"[..], b"KDMV"[..3].as_ref(), b"vhdxfil", b"conecti"] {
        assert_eq!(inspect_every_way(magic).format, DetectedFormat::Raw);
    }
}
