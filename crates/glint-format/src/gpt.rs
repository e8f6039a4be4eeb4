//! Partitioned disks: an MBR, or the protective MBR in front of a GPT. Glance calls
//! both "gpt" and treats them as raw, but checks the partition table is sane.

use crate::bytes::{u16_le, u32_le};
use crate::probe::{Captured, Finding};
use crate::{DetectedFormat, SafetyError};

const BOOT_SIGNATURE_OFFSET: usize = 510;
const BOOT_SIGNATURE: &[u8] = b"\x55\xaa";
const PARTITION_TABLE: usize = 446;
const ENTRY_LEN: usize = 16;
const PROTECTIVE_TYPE: u8 = 0xee;
/// Cylinder 0, head 0, sector 2: where a protective partition starts in CHS terms.
const PROTECTIVE_START_CHS: [u8; 3] = [0x00, 0x02, 0x00];
/// Volume boot records of these filesystems also end in 0x55AA but carry no
/// partition table.
const VBR_OEM_IDS: [&[u8]; 2] = [b"NTFS    ", b"EXFAT   "];

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    let mbr = img.head.get(..512)?;
    if mbr.get(BOOT_SIGNATURE_OFFSET..) != Some(BOOT_SIGNATURE) || is_volume_boot_record(mbr) {
        return None;
    }
    Some(Finding::new(
        DetectedFormat::Gpt,
        Some(img.size),
        check(mbr),
    ))
}

fn is_volume_boot_record(sector: &[u8]) -> bool {
    sector
        .get(3..11)
        .is_some_and(|oem| VBR_OEM_IDS.contains(&oem))
        || is_fat_boot_sector(sector)
}

/// A FAT boot sector starts with a jump over a BIOS parameter block whose fields
/// only take a few values; boot code in an MBR does not look like that.
fn is_fat_boot_sector(sector: &[u8]) -> bool {
    let jumps = matches!(sector, [0xeb, _, 0x90, ..] | [0xe9, ..]);
    let bytes_per_sector = u16_le(sector, 11).unwrap_or(0);
    let sectors_per_cluster = sector.get(13).copied().unwrap_or(0);
    let reserved_sectors = u16_le(sector, 14).unwrap_or(0);
    let fats = sector.get(16).copied().unwrap_or(0);
    let media = sector.get(21).copied().unwrap_or(0);
    jumps
        && matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && sectors_per_cluster.is_power_of_two()
        && reserved_sectors != 0
        && matches!(fats, 1 | 2)
        && (media == 0xf0 || media >= 0xf8)
}

fn check(mbr: &[u8]) -> Result<(), SafetyError> {
    let bad = |why: String| Err(SafetyError::Gpt(why));
    let mut used = 0;
    let mut protective = false;
    for index in 0..4 {
        let start = PARTITION_TABLE + index * ENTRY_LEN;
        let Some(entry) = mbr.get(start..start + ENTRY_LEN) else {
            return bad("truncated partition table".into());
        };
        let boot_flag = entry[0];
        if boot_flag != 0x00 && boot_flag != 0x80 {
            return bad(format!(
                "partition {index} has invalid boot flag {boot_flag:#04x}"
            ));
        }
        let kind = entry[4];
        if kind == 0 {
            continue;
        }
        used += 1;
        if kind == PROTECTIVE_TYPE {
            protective = true;
            if entry[1..4] != PROTECTIVE_START_CHS || u32_le(entry, 8) != Some(1) {
                return bad("protective partition does not start at LBA 1".into());
            }
        }
    }
    if used == 0 {
        return bad("MBR has no partitions".into());
    }
    if protective && used > 1 {
        return bad("protective partition shares the MBR with other partitions".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::captured;

    fn mbr(entries: &[(u8, [u8; 3], u8, u32)]) -> Vec<u8> {
        let mut s = vec![0u8; 1024];
        s[510..512].copy_from_slice(BOOT_SIGNATURE);
        for (i, &(flag, chs, kind, lba)) in entries.iter().enumerate() {
            let e = PARTITION_TABLE + i * ENTRY_LEN;
            s[e] = flag;
            s[e + 1..e + 4].copy_from_slice(&chs);
            s[e + 4] = kind;
            s[e + 8..e + 12].copy_from_slice(&lba.to_le_bytes());
        }
        s
    }

    fn safety(sector: &[u8]) -> Result<(), SafetyError> {
        probe(&captured(sector)).unwrap().safety
    }

    #[test]
    fn protective_mbr_is_safe_and_sized_as_the_file() {
        let s = mbr(&[(0, PROTECTIVE_START_CHS, 0xee, 1)]);
        let f = probe(&captured(&s)).unwrap();
        assert_eq!(f.format, DetectedFormat::Gpt);
        assert_eq!(f.virtual_size, Some(1024));
        assert_eq!(f.safety, Ok(()));
    }

    #[test]
    fn classic_mbr_with_partitions_is_safe() {
        let s = mbr(&[(0x80, [1, 1, 0], 0x83, 2048), (0, [0, 0, 0], 0x82, 4096)]);
        assert_eq!(safety(&s), Ok(()));
    }

    #[test]
    fn invalid_boot_flag_is_unsafe() {
        let s = mbr(&[(0x81, [1, 1, 0], 0x83, 2048)]);
        assert!(matches!(safety(&s), Err(SafetyError::Gpt(_))));
    }

    #[test]
    fn protective_partition_at_wrong_start_is_unsafe() {
        let s = mbr(&[(0, PROTECTIVE_START_CHS, 0xee, 2)]);
        assert!(matches!(safety(&s), Err(SafetyError::Gpt(_))));
        let s = mbr(&[(0, [0, 1, 0], 0xee, 1)]);
        assert!(matches!(safety(&s), Err(SafetyError::Gpt(_))));
    }

    #[test]
    fn protective_partition_with_company_is_unsafe() {
        let s = mbr(&[
            (0, PROTECTIVE_START_CHS, 0xee, 1),
            (0, [1, 1, 0], 0x83, 2048),
        ]);
        assert!(matches!(safety(&s), Err(SafetyError::Gpt(_))));
    }

    #[test]
    fn empty_partition_table_is_unsafe() {
        assert!(matches!(safety(&mbr(&[])), Err(SafetyError::Gpt(_))));
    }

    #[test]
    fn fat_boot_sector_is_not_a_partition_table() {
        let mut s = mbr(&[]);
        s[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        s[11..13].copy_from_slice(&512u16.to_le_bytes());
        s[13] = 4;
        s[14..16].copy_from_slice(&1u16.to_le_bytes());
        s[16] = 2;
        s[21] = 0xf8;
        assert!(probe(&captured(&s)).is_none());
    }

    #[test]
    fn ntfs_boot_sector_is_not_a_partition_table() {
        let mut s = mbr(&[]);
        s[3..11].copy_from_slice(b"NTFS    ");
        assert!(probe(&captured(&s)).is_none());
    }

    #[test]
    fn short_image_is_not_partitioned() {
        assert!(probe(&captured(&mbr(&[])[..511])).is_none());
    }
}
