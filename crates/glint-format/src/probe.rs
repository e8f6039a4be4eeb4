//! The interface between the inspector and the per-format probes.

use crate::{DetectedFormat, SafetyError};

/// What the inspector kept of the stream: probes see only this, never the whole image.
pub(crate) struct Captured<'a> {
    /// The first bytes of the image, up to the inspector's head limit.
    pub head: &'a [u8],
    /// The last bytes of the image (at most [`crate::inspector::TAIL_LEN`]).
    pub tail: &'a [u8],
    /// Total number of bytes streamed.
    pub size: u64,
}

/// One probe's verdict on an image whose signature it recognised.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub format: DetectedFormat,
    pub virtual_size: Option<u64>,
    pub safety: Result<(), SafetyError>,
    /// A VMDK's `createType`, when its descriptor could be read.
    pub vmdk_create_type: Option<String>,
}

impl Finding {
    pub fn new(
        format: DetectedFormat,
        virtual_size: Option<u64>,
        safety: Result<(), SafetyError>,
    ) -> Self {
        Self {
            format,
            virtual_size,
            safety,
            vmdk_create_type: None,
        }
    }
}

/// A probe returns `None` when the image does not carry its format's signature.
pub(crate) type Probe = fn(&Captured<'_>) -> Option<Finding>;

#[cfg(test)]
pub(crate) fn captured(head: &[u8]) -> Captured<'_> {
    Captured {
        head,
        tail: head,
        size: head.len() as u64,
    }
}
