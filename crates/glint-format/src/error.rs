use thiserror::Error;

use crate::DetectedFormat;

/// Why an image is refused even though its format was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SafetyError {
    #[error("image refers to a backing file")]
    BackingFile,
    #[error("image refers to an external data file")]
    DataFile,
    #[error("image uses unknown or unsupported features")]
    UnknownFeatures,
    #[error("vmdk extent refers to another file: {0}")]
    VmdkExtent(String),
    #[error("vmdk subformat {0} is not allowed")]
    VmdkSubformat(String),
    #[error("qed images are not allowed")]
    QedBanned,
    #[error("invalid partition table: {0}")]
    Gpt(String),
    #[error("image matches several formats: {}", join(.0))]
    Ambiguous(Vec<DetectedFormat>),
    #[error("invalid image: {0}")]
    Invalid(String),
    #[error("virtual size {0} is larger than any disk can be")]
    VirtualSizeTooLarge(u64),
}

fn join(formats: &[DetectedFormat]) -> String {
    formats
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_lists_every_format() {
        let err = SafetyError::Ambiguous(vec![DetectedFormat::Qcow2, DetectedFormat::Gpt]);
        assert_eq!(err.to_string(), "image matches several formats: qcow2, gpt");
    }
}
