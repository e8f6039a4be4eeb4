use thiserror::Error;

/// Everything that can go wrong while reading policy text.
///
/// Evaluation itself never fails: a rule that cannot be decided is denied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// A check string does not follow the rule language.
    #[error("invalid policy rule {text:?}: {reason}")]
    Syntax { text: String, reason: String },

    /// One rule of a policy file is malformed; nothing from the file was applied.
    #[error("{path}: rule {name:?}: {reason}")]
    InvalidRule {
        path: String,
        name: String,
        reason: String,
    },

    /// The policy file is not a YAML or JSON mapping of rule names to rules.
    #[error("{path}: {reason}")]
    MalformedFile { path: String, reason: String },

    /// A rule refers to a rule that is not defined (the reference is always false).
    #[error("rule {rule:?} refers to undefined rule {reference:?}")]
    UndefinedReference { rule: String, reference: String },

    /// A rule refers back to itself, directly or through other rules.
    #[error("rule {rule:?} is part of a circular reference")]
    CircularReference { rule: String },
}

impl PolicyError {
    pub(crate) fn syntax(text: &str, reason: impl Into<String>) -> Self {
        Self::Syntax {
            text: text.to_owned(),
            reason: reason.into(),
        }
    }
}
