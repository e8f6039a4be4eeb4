//! The streaming front end: keeps a bounded head and tail of the image, then runs
//! every format probe over them once the stream ends.

use std::fmt;

use crate::probe::{Captured, Finding, Probe};
use crate::{DetectedFormat, Inspection, SafetyError};
use crate::{gpt, iso, luks, qcow2, qed, vdi, vhd, vhdx, vmdk};

/// Enough for every fixed header and for the ISO 9660 volume descriptors
/// (sectors 16..32 of 2 KiB).
const BASE_HEAD: usize = 64 * 1024;
/// A sparse VMDK's embedded descriptor may sit anywhere in the first MiBs.
const VMDK_HEAD: usize = 2 * 1024 * 1024;
/// VHDX places its metadata region through a region table; tools put it a few MiB
/// in (qemu at 3 MiB), so this is the one format that needs a larger head.
const VHDX_HEAD: usize = 8 * 1024 * 1024;
/// The largest head any format asks for.
const MAX_HEAD: usize = VHDX_HEAD;
/// A streamOptimized VMDK ends with footer marker, footer and end-of-stream marker.
pub(crate) const TAIL_LEN: usize = 3 * 512;

const PROBES: [Probe; 9] = [
    qcow2::probe,
    qed::probe,
    vhd::probe,
    vhdx::probe,
    vmdk::probe,
    vdi::probe,
    iso::probe,
    gpt::probe,
    luks::probe,
];

/// Inspects an image as it streams: call [`Inspector::feed`] with every chunk in order,
/// then [`Inspector::finish`]. Memory use is bounded (a few MiB at most) whatever the
/// image size, and once the head is captured `feed` only counts bytes and keeps the
/// last few KiB of them.
#[derive(Default)]
pub struct Inspector {
    head: Vec<u8>,
    tail: Vec<u8>,
    size: u64,
}

impl Inspector {
    /// The most bytes of an image's start that inspection looks at.
    pub const HEAD_BYTES: usize = MAX_HEAD;
    /// The bytes of an image's end that inspection looks at.
    pub const TAIL_BYTES: usize = TAIL_LEN;

    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `n` bytes that a reader of a file skipped rather than read:
    /// valid only after the first [`Inspector::HEAD_BYTES`] of the image
    /// were fed and before its last [`Inspector::TAIL_BYTES`] are, so that
    /// the verdict is the one of feeding every byte.
    pub fn skip(&mut self, n: u64) {
        self.size = self.size.saturating_add(n);
        self.tail.clear();
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.head.len() < MAX_HEAD {
            self.capture_head(chunk);
        }
        self.capture_tail(chunk);
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Inspection {
        let start = self.tail.len().saturating_sub(TAIL_LEN);
        let captured = Captured {
            head: &self.head,
            tail: self.tail.get(start..).unwrap_or_default(),
            size: self.size,
        };
        let findings = PROBES.iter().filter_map(|probe| probe(&captured)).collect();
        resolve(findings, self.size)
    }

    fn capture_head(&mut self, mut chunk: &[u8]) {
        // The limit depends on the first bytes, so it can grow within one chunk.
        loop {
            let limit = head_limit(&self.head);
            let room = limit.saturating_sub(self.head.len());
            if room == 0 || chunk.is_empty() {
                return;
            }
            let (taken, rest) = chunk.split_at(room.min(chunk.len()));
            self.head.extend_from_slice(taken);
            chunk = rest;
        }
    }

    fn capture_tail(&mut self, chunk: &[u8]) {
        if chunk.len() >= TAIL_LEN {
            self.tail.clear();
            let last = &chunk[chunk.len() - TAIL_LEN..];
            self.tail.extend_from_slice(last);
            return;
        }
        self.tail.extend_from_slice(chunk);
        // Trimming only past twice the length keeps small chunks amortised O(1).
        if self.tail.len() > 2 * TAIL_LEN {
            let excess = self.tail.len() - TAIL_LEN;
            self.tail.drain(..excess);
        }
    }
}

impl fmt::Debug for Inspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspector")
            .field("size", &self.size)
            .field("head_len", &self.head.len())
            .finish_non_exhaustive()
    }
}

/// Inspects an image held entirely in memory.
pub fn inspect(image: &[u8]) -> Inspection {
    let mut inspector = Inspector::new();
    inspector.feed(image);
    inspector.finish()
}

fn head_limit(head: &[u8]) -> usize {
    if head.starts_with(vhdx::SIGNATURE) {
        VHDX_HEAD
    } else if head.starts_with(vmdk::SPARSE_MAGIC) {
        VMDK_HEAD
    } else {
        BASE_HEAD
    }
}

/// The largest virtual size a database can record: sizes are signed 64-bit
/// integers in every schema (Glance's too).
const MAX_VIRTUAL_SIZE: u64 = i64::MAX as u64;

/// A header claiming a disk larger than anything can record (or address)
/// is crafted, not made by a disk tool.
fn recordable(virtual_size: Option<u64>) -> Result<(), SafetyError> {
    match virtual_size {
        Some(size) if size > MAX_VIRTUAL_SIZE => Err(SafetyError::VirtualSizeTooLarge(size)),
        _ => Ok(()),
    }
}

fn resolve(mut findings: Vec<Finding>, actual_size: u64) -> Inspection {
    let is = |f: &Finding, format| f.format == format;
    // An isohybrid image carries an MBR so it also boots from USB sticks; it is an ISO.
    if findings.len() == 2
        && findings.iter().any(|f| is(f, DetectedFormat::Iso))
        && findings.iter().any(|f| is(f, DetectedFormat::Gpt))
    {
        findings.retain(|f| is(f, DetectedFormat::Iso));
    }
    let mut findings = findings.into_iter();
    match (findings.next(), findings.len()) {
        (None, _) => Inspection {
            format: DetectedFormat::Raw,
            virtual_size: Some(actual_size),
            actual_size,
            safety: Ok(()),
            vmdk_create_type: None,
        },
        (Some(only), 0) => Inspection {
            format: only.format,
            virtual_size: only.virtual_size,
            actual_size,
            safety: only.safety.and(recordable(only.virtual_size)),
            vmdk_create_type: only.vmdk_create_type,
        },
        (Some(first), _) => {
            let formats = std::iter::once(first.format)
                .chain(findings.map(|f| f.format))
                .collect();
            Inspection {
                format: first.format,
                virtual_size: None,
                actual_size,
                safety: Err(SafetyError::Ambiguous(formats)),
                vmdk_create_type: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stream_is_raw_of_size_zero() {
        let inspection = Inspector::new().finish();
        assert_eq!(inspection.format, DetectedFormat::Raw);
        assert_eq!(inspection.virtual_size, Some(0));
        assert_eq!(inspection.actual_size, 0);
        assert_eq!(inspection.safety, Ok(()));
    }

    #[test]
    fn skipping_the_middle_gives_the_verdict_of_reading_it() {
        let len = Inspector::HEAD_BYTES + Inspector::TAIL_BYTES + 70_000;
        let mut image: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        image[..4].copy_from_slice(b"vhdx");
        let mut inspector = Inspector::new();
        inspector.feed(&image[..Inspector::HEAD_BYTES]);
        inspector.skip(70_000);
        inspector.feed(&image[len - Inspector::TAIL_BYTES..]);
        assert_eq!(inspector.finish(), inspect(&image));
    }

    #[test]
    fn raw_head_stays_small_however_much_is_fed() {
        let mut inspector = Inspector::new();
        let chunk = vec![0xa5u8; 1024 * 1024];
        for _ in 0..32 {
            inspector.feed(&chunk);
        }
        assert_eq!(inspector.head.len(), BASE_HEAD);
        assert!(inspector.tail.len() <= 2 * TAIL_LEN);
        assert_eq!(inspector.size(), 32 * 1024 * 1024);
    }

    #[test]
    fn vhdx_head_is_bounded() {
        let mut inspector = Inspector::new();
        inspector.feed(b"vhdxfile");
        let chunk = vec![0u8; 1024 * 1024];
        for _ in 0..16 {
            inspector.feed(&chunk);
        }
        assert_eq!(inspector.head.len(), VHDX_HEAD);
    }

    #[test]
    fn head_limit_grows_within_a_single_chunk() {
        let mut image = b"vhdxfile".to_vec();
        image.resize(VHDX_HEAD + 10, 0);
        let mut inspector = Inspector::new();
        inspector.feed(&image);
        assert_eq!(inspector.head.len(), VHDX_HEAD);
    }

    #[test]
    fn tail_keeps_the_last_bytes_across_small_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut inspector = Inspector::new();
        for chunk in data.chunks(7) {
            inspector.feed(chunk);
        }
        let start = inspector.tail.len() - TAIL_LEN;
        assert_eq!(&inspector.tail[start..], &data[data.len() - TAIL_LEN..]);
    }

    #[test]
    fn a_virtual_size_beyond_i64_is_unsafe() {
        let finding = |size| vec![Finding::new(DetectedFormat::Qcow2, Some(size), Ok(()))];
        let largest = resolve(finding(i64::MAX as u64), 10);
        assert_eq!(largest.safety, Ok(()));
        assert_eq!(largest.virtual_size, Some(i64::MAX as u64));
        for size in [1 << 63, u64::MAX] {
            let inspection = resolve(finding(size), 10);
            assert_eq!(
                inspection.safety,
                Err(SafetyError::VirtualSizeTooLarge(size))
            );
        }
        let already = vec![Finding::new(
            DetectedFormat::Qcow2,
            Some(u64::MAX),
            Err(SafetyError::BackingFile),
        )];
        assert_eq!(resolve(already, 10).safety, Err(SafetyError::BackingFile));
    }

    #[test]
    fn iso_with_mbr_resolves_to_iso() {
        let finding = |format| Finding::new(format, Some(1), Ok(()));
        let inspection = resolve(
            vec![finding(DetectedFormat::Iso), finding(DetectedFormat::Gpt)],
            9,
        );
        assert_eq!(inspection.format, DetectedFormat::Iso);
        assert_eq!(inspection.safety, Ok(()));
    }

    #[test]
    fn two_formats_are_ambiguous() {
        let finding = |format| Finding::new(format, Some(1), Ok(()));
        let inspection = resolve(
            vec![finding(DetectedFormat::Qcow2), finding(DetectedFormat::Gpt)],
            9,
        );
        assert_eq!(
            inspection.safety,
            Err(SafetyError::Ambiguous(vec![
                DetectedFormat::Qcow2,
                DetectedFormat::Gpt
            ]))
        );
        assert_eq!(inspection.virtual_size, None);
    }
}
