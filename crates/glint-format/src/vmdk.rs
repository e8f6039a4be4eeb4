//! VMware VMDK: hosted sparse files ("KDMV" header plus embedded descriptor), and
//! bare descriptor files, which only ever point at other files and are refused.

mod descriptor;

use descriptor::Descriptor;

use crate::bytes::{has_at, slice, u32_le, u64_le};
use crate::inspector::TAIL_LEN;
use crate::probe::{Captured, Finding};
use crate::{DetectedFormat, SafetyError};

pub(crate) const SPARSE_MAGIC: &[u8] = b"KDMV";
/// The VMware 3 sparse format, which qemu still opens.
const VMDK3_MAGIC: &[u8] = b"COWD";
const TEXT_SIGNATURE: &[u8] = b"# Disk DescriptorFile";
/// qemu recognises a descriptor file by a `version=` line within this many bytes.
const TEXT_PROBE_LEN: usize = 2048;
const SECTOR: u64 = 512;
const MAX_DESCRIPTOR: u64 = 1024 * 1024;
/// Header `gdOffset` value of a streamOptimized image whose grain directory is
/// written after the data; the footer then carries the real header.
const GD_AT_END: u64 = u64::MAX;
const SPARSE_HEADER_LEN: usize = 64;
const MARKER_EOS: u32 = 0;
const MARKER_FOOTER: u32 = 3;

pub(crate) fn probe(img: &Captured<'_>) -> Option<Finding> {
    if has_at(img.head, 0, SPARSE_MAGIC) {
        Some(sparse(img))
    } else if has_at(img.head, 0, VMDK3_MAGIC) {
        let sectors = u32_le(img.head, 12).map(u64::from);
        Some(Finding::new(
            DetectedFormat::Vmdk,
            sectors.map(|s| s * SECTOR),
            Err(SafetyError::VmdkSubformat("vmdk3".into())),
        ))
    } else if looks_like_descriptor_file(img.head) {
        Some(descriptor_file(img.head))
    } else {
        None
    }
}

#[derive(Debug, PartialEq, Eq)]
struct SparseHeader {
    version: u32,
    capacity: u64,
    grain_size: u64,
    descriptor_offset: u64,
    descriptor_size: u64,
    gd_offset: u64,
}

impl SparseHeader {
    fn parse(bytes: &[u8]) -> Option<Self> {
        if !has_at(bytes, 0, SPARSE_MAGIC) || bytes.len() < SPARSE_HEADER_LEN {
            return None;
        }
        Some(Self {
            version: u32_le(bytes, 4)?,
            capacity: u64_le(bytes, 12)?,
            grain_size: u64_le(bytes, 20)?,
            descriptor_offset: u64_le(bytes, 28)?,
            descriptor_size: u64_le(bytes, 36)?,
            gd_offset: u64_le(bytes, 56)?,
        })
    }
}

fn sparse(img: &Captured<'_>) -> Finding {
    let Some(header) = SparseHeader::parse(img.head) else {
        return Finding::new(
            DetectedFormat::Vmdk,
            None,
            Err(invalid("truncated vmdk header")),
        );
    };
    let (create_type, safety) = match embedded_descriptor(img.head, &header) {
        Ok(descriptor) => (
            descriptor.create_type().map(str::to_owned),
            check_sparse(img.tail, &header, &descriptor),
        ),
        Err(err) => (None, Err(err)),
    };
    Finding {
        vmdk_create_type: create_type,
        ..Finding::new(
            DetectedFormat::Vmdk,
            header.capacity.checked_mul(SECTOR),
            safety,
        )
    }
}

/// The descriptor a sparse header points at, within the inspected head.
fn embedded_descriptor(head: &[u8], header: &SparseHeader) -> Result<Descriptor, SafetyError> {
    if !(1..=3).contains(&header.version) {
        return Err(SafetyError::UnknownFeatures);
    }
    if header.descriptor_offset == 0 || header.descriptor_size == 0 {
        return Err(invalid("vmdk has no embedded descriptor"));
    }
    let len = header
        .descriptor_size
        .checked_mul(SECTOR)
        .filter(|&len| len <= MAX_DESCRIPTOR)
        .ok_or_else(|| invalid("vmdk descriptor is too large"))?;
    let bytes = header
        .descriptor_offset
        .checked_mul(SECTOR)
        .and_then(|start| slice(head, start, len))
        .ok_or_else(|| invalid("vmdk descriptor lies outside the inspected data"))?;
    Descriptor::parse(bytes)
}

fn check_sparse(
    tail: &[u8],
    header: &SparseHeader,
    descriptor: &Descriptor,
) -> Result<(), SafetyError> {
    descriptor.check()?;
    if header.gd_offset == GD_AT_END {
        check_footer(tail, header)?;
    }
    Ok(())
}

/// qemu trusts the footer over the header when the grain directory comes last, so
/// the two must agree for the inspected header to describe what qemu will see.
fn check_footer(tail: &[u8], header: &SparseHeader) -> Result<(), SafetyError> {
    let missing = || invalid("streamOptimized vmdk lacks a valid footer");
    let start = tail.len().checked_sub(TAIL_LEN).ok_or_else(missing)?;
    let end = tail.get(start..).ok_or_else(missing)?;
    let (marker, rest) = end.split_at(512);
    let (footer, eos) = rest.split_at(512);
    let is_marker = |m: &[u8], kind| u32_le(m, 8) == Some(0) && u32_le(m, 12) == Some(kind);
    if !is_marker(marker, MARKER_FOOTER) || !is_marker(eos, MARKER_EOS) || u64_le(eos, 0) != Some(0)
    {
        return Err(missing());
    }
    let footer = SparseHeader::parse(footer).ok_or_else(missing)?;
    let same = SparseHeader {
        gd_offset: header.gd_offset,
        ..footer
    };
    if footer.gd_offset == GD_AT_END || same != *header {
        return Err(invalid("vmdk footer does not match its header"));
    }
    Ok(())
}

/// Matches qemu's probe as well as the usual first line, so nothing qemu would open
/// as a descriptor slips through as raw.
fn looks_like_descriptor_file(head: &[u8]) -> bool {
    if head.starts_with(TEXT_SIGNATURE) {
        return true;
    }
    let start = &head[..head.len().min(TEXT_PROBE_LEN)];
    start
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|line| !line.is_empty() && !line.starts_with(b"#"))
        .is_some_and(|line| matches!(line, b"version=1" | b"version=2" | b"version=3"))
}

/// A bare descriptor's extents are separate files (CVE-2022-47951), so it is
/// refused even when its own rules pass, whatever its create type.
fn descriptor_file(head: &[u8]) -> Finding {
    match Descriptor::parse(head) {
        Ok(descriptor) => {
            let safety = descriptor.check().and_then(|()| {
                Err(SafetyError::VmdkExtent(
                    descriptor.first_extent().unwrap_or_default(),
                ))
            });
            Finding {
                vmdk_create_type: descriptor.create_type().map(str::to_owned),
                ..Finding::new(DetectedFormat::Vmdk, descriptor.virtual_size(), safety)
            }
        }
        Err(err) => Finding::new(DetectedFormat::Vmdk, None, Err(err)),
    }
}

fn invalid(why: &str) -> SafetyError {
    SafetyError::Invalid(why.into())
}

#[cfg(test)]
mod tests;
