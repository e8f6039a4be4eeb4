//! Disk-image format inspection for uploads. [`Inspector`] is fed an image's bytes
//! chunk by chunk as they stream past, recognises the container format (qcow2, vmdk,
//! vhd, vhdx, vdi, qed, iso, gpt, luks, else raw), reads the virtual size, and applies
//! Glance's safety rules: no backing files, no external data files, no VMDK extents
//! pointing elsewhere, no QED. [`check_upload`] turns an [`Inspection`] into Glance's
//! upload decision under the operator's [`UploadRules`]. This crate is pure computation: it must not do I/O, must not
//! depend on an async runtime, and must not import other glint crates.

mod bytes;
mod error;
mod gpt;
mod inspector;
mod iso;
mod luks;
mod probe;
mod qcow2;
mod qed;
mod upload;
mod vdi;
mod vhd;
mod vhdx;
mod vmdk;

use std::fmt;

pub use error::SafetyError;
pub use inspector::{Inspector, inspect};
pub use upload::{FormatError, UploadRules, check_upload};

/// A disk format the inspector can recognise, named as Glance names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectedFormat {
    Raw,
    Qcow2,
    Vhd,
    Vhdx,
    Vmdk,
    Vdi,
    Qed,
    Iso,
    Gpt,
    Luks,
}

impl DetectedFormat {
    pub const ALL: [DetectedFormat; 10] = [
        Self::Raw,
        Self::Qcow2,
        Self::Vhd,
        Self::Vhdx,
        Self::Vmdk,
        Self::Vdi,
        Self::Qed,
        Self::Iso,
        Self::Gpt,
        Self::Luks,
    ];

    /// The Glance `disk_format` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Qcow2 => "qcow2",
            Self::Vhd => "vhd",
            Self::Vhdx => "vhdx",
            Self::Vmdk => "vmdk",
            Self::Vdi => "vdi",
            Self::Qed => "qed",
            Self::Iso => "iso",
            Self::Gpt => "gpt",
            Self::Luks => "luks",
        }
    }

    /// Parses a Glance `disk_format` name; `None` for formats that cannot be detected
    /// from their bytes (ami, ari, aki, ploop, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for DetectedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the inspector concluded about one complete image stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Raw when no signature matched. When several did, the first of them, with
    /// `safety` set to [`SafetyError::Ambiguous`].
    pub format: DetectedFormat,
    /// The size of the disk the image describes, when the format records it.
    pub virtual_size: Option<u64>,
    /// Bytes actually received.
    pub actual_size: u64,
    /// The format's own safety rules. Which VMDK create types are
    /// acceptable is the operator's choice, applied by [`check_upload`].
    pub safety: Result<(), SafetyError>,
    /// The `createType` of a VMDK's descriptor (`monolithicSparse`,
    /// `streamOptimized`, ...), as written, when it could be read.
    pub vmdk_create_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in DetectedFormat::ALL {
            assert_eq!(DetectedFormat::from_name(format.as_str()), Some(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!(DetectedFormat::from_name("ami"), None);
        assert_eq!(DetectedFormat::from_name("QCOW2"), None);
    }
}
