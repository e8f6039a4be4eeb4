//! The archive readers of the `image_decompression` import plugin: which
//! compressed format a staged image is in (by its first bytes, as Glance
//! looks), and its decompression into a writer, bounded in output size.
//!
//! gzip (every member), zip with exactly one member (stored or deflated)
//! and zstd go through pure-Rust decoders; xz through the xz project's own
//! decoder with a memory limit. LHA is recognised only to be refused, as
//! Glance does without its optional `lhafile` module. Memory stays bounded
//! whatever the input: zstd windows above 100 MiB and xz streams needing
//! more than [`XZ_MEMORY_LIMIT`] are refused by the decoders.

use std::io::{self, BufRead, BufReader, Read, Seek, Write};

use thiserror::Error;

/// Bytes of an image's start [`detect`] needs.
pub const HEAD_LEN: usize = 6;

/// The most memory the xz decoder may use; `xz -9` needs 65 MiB.
pub const XZ_MEMORY_LIMIT: u64 = 256 << 20;

/// A compressed format recognised by its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Zip,
    Lha,
    Gzip,
    Zstd,
    Xz,
}

impl ArchiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Zip => "zip",
            ArchiveKind::Lha => "lha",
            ArchiveKind::Gzip => "gzip",
            ArchiveKind::Zstd => "zstd",
            ArchiveKind::Xz => "xz",
        }
    }
}

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("LHA archives are not supported")]
    Lha,
    #[error("Archive contains more than one file.")]
    ZipMembers,
    #[error("the archive's only member is not a regular file")]
    ZipNotAFile,
    #[error("decompressed image exceeds the size limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("corrupt {kind} data: {detail}")]
    Corrupt { kind: &'static str, detail: String },
    #[error("I/O error: {0}")]
    Io(io::Error),
}

/// The compressed format `head` (an image's first [`HEAD_LEN`] bytes or
/// fewer) starts with, checked in Glance's order: zip, LHA (`-lh` at
/// offset 2), gzip; then zstd and xz, which Glance does not know.
pub fn detect(head: &[u8]) -> Option<ArchiveKind> {
    const MAGIC: [(ArchiveKind, usize, &[u8]); 5] = [
        (ArchiveKind::Zip, 0, b"PK\x03\x04"),
        (ArchiveKind::Lha, 2, b"-lh"),
        (ArchiveKind::Gzip, 0, b"\x1f\x8b\x08"),
        (ArchiveKind::Zstd, 0, b"\x28\xb5\x2f\xfd"),
        (ArchiveKind::Xz, 0, b"\xfd7zXZ\x00"),
    ];
    MAGIC
        .iter()
        .find(|(_, at, magic)| head.get(*at..).is_some_and(|h| h.starts_with(magic)))
        .map(|(kind, _, _)| *kind)
}

/// Decompresses `input` (an archive of `kind`) into `output`, failing as
/// soon as more than `limit` bytes come out. Returns the bytes written.
pub fn decompress<R, W>(
    kind: ArchiveKind,
    input: R,
    output: W,
    limit: u64,
) -> Result<u64, ArchiveError>
where
    R: Read + Seek,
    W: Write,
{
    let mut out = Bounded {
        inner: output,
        written: 0,
        limit,
        over: false,
    };
    let corrupt = |detail: String| ArchiveError::Corrupt {
        kind: kind.as_str(),
        detail,
    };
    let copied = match kind {
        ArchiveKind::Lha => return Err(ArchiveError::Lha),
        ArchiveKind::Gzip => {
            let mut reader = flate2::read::MultiGzDecoder::new(BufReader::new(input));
            io::copy(&mut reader, &mut out)
        }
        ArchiveKind::Zip => return unzip(input, &mut out).map(|()| out.written),
        ArchiveKind::Zstd => unzstd(input, &mut out),
        ArchiveKind::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY_LIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| corrupt(e.to_string()))?;
            let mut reader = liblzma::read::XzDecoder::new_stream(BufReader::new(input), stream);
            io::copy(&mut reader, &mut out)
        }
    };
    match copied {
        Ok(_) => out.flush().map(|()| out.written).map_err(ArchiveError::Io),
        Err(_) if out.over => Err(ArchiveError::TooLarge { limit }),
        Err(e) if is_data_error(&e) => Err(corrupt(e.to_string())),
        Err(e) => Err(ArchiveError::Io(e)),
    }
}

/// Decoders report bad input as these kinds; anything else is the disk's.
fn is_data_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
    ) || e.get_ref().is_some_and(|inner| !inner.is::<io::Error>())
}

fn unzip<R: Read + Seek, W: Write>(input: R, out: &mut Bounded<W>) -> Result<(), ArchiveError> {
    let corrupt = |e: zip::result::ZipError| ArchiveError::Corrupt {
        kind: "zip",
        detail: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(input)).map_err(corrupt)?;
    if archive.len() != 1 {
        return Err(ArchiveError::ZipMembers);
    }
    let mut member = archive.by_index(0).map_err(corrupt)?;
    if !member.is_file() {
        return Err(ArchiveError::ZipNotAFile);
    }
    match io::copy(&mut member, out) {
        Ok(_) => out.flush().map_err(ArchiveError::Io),
        Err(_) if out.over => Err(ArchiveError::TooLarge { limit: out.limit }),
        Err(e) if is_data_error(&e) => Err(ArchiveError::Corrupt {
            kind: "zip",
            detail: e.to_string(),
        }),
        Err(e) => Err(ArchiveError::Io(e)),
    }
}

/// Every zstd frame of `input`, one after the other, as `zstd -d` reads a
/// concatenation.
fn unzstd<R: Read, W: Write>(input: R, out: &mut Bounded<W>) -> io::Result<u64> {
    let mut input = BufReader::new(input);
    let mut total = 0;
    let mut decoder = ruzstd::decoding::FrameDecoder::new();
    while !input.fill_buf()?.is_empty() {
        let mut frame =
            ruzstd::decoding::StreamingDecoder::new_with_decoder(&mut input, &mut decoder)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        total += io::copy(&mut frame, out)?;
    }
    Ok(total)
}

/// A writer that refuses to grow past `limit` bytes.
struct Bounded<W> {
    inner: W,
    written: u64,
    limit: u64,
    over: bool,
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.written;
        if buf.len() as u64 > room {
            self.over = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn run(kind: ArchiveKind, data: &[u8], limit: u64) -> Result<Vec<u8>, ArchiveError> {
        let mut out = Vec::new();
        decompress(kind, Cursor::new(data), &mut out, limit)?;
        Ok(out)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn magic_numbers_are_recognised_in_glances_order() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(ArchiveKind::Zip));
        assert_eq!(detect(b"xx-lh5-"), Some(ArchiveKind::Lha));
        assert_eq!(detect(&gzip(b"x")), Some(ArchiveKind::Gzip));
        assert_eq!(detect(b"\x28\xb5\x2f\xfd\0\0"), Some(ArchiveKind::Zstd));
        assert_eq!(detect(b"\xfd7zXZ\x00"), Some(ArchiveKind::Xz));
        assert_eq!(detect(b"QFI\xfb\0\0"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn gzip_with_two_members_is_decompressed_whole() {
        let mut data = gzip(b"hello ");
        data.extend(gzip(b"world"));
        assert_eq!(run(ArchiveKind::Gzip, &data, 100).unwrap(), b"hello world");
    }

    #[test]
    fn output_past_the_limit_is_refused() {
        let data = gzip(&[0; 10_000]);
        assert!(matches!(
            run(ArchiveKind::Gzip, &data, 9_999),
            Err(ArchiveError::TooLarge { limit: 9_999 })
        ));
        assert_eq!(run(ArchiveKind::Gzip, &data, 10_000).unwrap().len(), 10_000);
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let data = gzip(&[7; 1000]);
        assert!(matches!(
            run(ArchiveKind::Gzip, &data[..data.len() / 2], 1 << 20),
            Err(ArchiveError::Corrupt { .. })
        ));
    }

    #[test]
    fn lha_is_refused() {
        assert!(matches!(
            run(ArchiveKind::Lha, b"xx-lh5-", 100),
            Err(ArchiveError::Lha)
        ));
    }
}
