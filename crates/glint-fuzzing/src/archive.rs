//! The archive readers of the `image_decompression` import plugin.

use std::io::Cursor;

use glint_store::archive::{self, ArchiveError, ArchiveKind};

const KINDS: [ArchiveKind; 5] = [
    ArchiveKind::Gzip,
    ArchiveKind::Zip,
    ArchiveKind::Zstd,
    ArchiveKind::Xz,
    ArchiveKind::Lha,
];

/// Decompression never panics and never writes more than its limit,
/// whatever the archive; it reports exactly what it wrote. The first byte
/// chooses the limit and, when the data has no known magic number, the
/// reader; the rest is the archive.
pub fn archive(input: &[u8]) {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let kind = archive::detect(&data[..data.len().min(archive::HEAD_LEN)])
        .unwrap_or(KINDS[usize::from(control) % KINDS.len()]);
    let limit = 1u64 << (8 + u32::from(control >> 4));
    let mut out = Vec::new();
    match archive::decompress(kind, Cursor::new(data), &mut out, limit) {
        Ok(written) => assert_eq!(written, out.len() as u64),
        Err(ArchiveError::TooLarge { limit: reported }) => assert_eq!(reported, limit),
        Err(ArchiveError::Lha) => assert_eq!(kind, ArchiveKind::Lha),
        Err(err) => crate::short(&err.to_string()),
    }
    assert!(out.len() as u64 <= limit, "{} > {limit}", out.len());
}
