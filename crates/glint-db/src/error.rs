//! The one error type of the persistence layer.

use std::fmt;

use sqlx::error::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row does not exist (or is soft-deleted), or a row it refers to
    /// does not.
    #[error("not found")]
    NotFound,
    /// A row with the same key already exists.
    #[error("already exists")]
    Duplicate,
    /// A compare-and-set found that the image changed (its version moved
    /// on) since the writer read it.
    #[error("the image changed concurrently")]
    Conflict,
    /// The upload lease of the image is no longer held by the caller:
    /// another process reclaimed the upload.
    #[error("the upload lease was lost")]
    LeaseLost,
    /// Adding the member would exceed the image's member quota.
    #[error("member quota exceeded: {attempted} members")]
    TooManyMembers { attempted: u64 },
    /// The data would exceed the project's storage quota; `remaining` is
    /// what the quota still allows (negative when already over it).
    #[error("storage quota exceeded: {remaining} bytes remaining")]
    StorageQuotaExceeded { remaining: i64 },
    /// One more image would exceed a count limit of the project
    /// (`image_count_total`, `image_count_uploading`); `usage` is what it
    /// already counts.
    #[error("count limit exceeded: {usage} counted")]
    CountLimitExceeded { usage: u64 },
    /// The database refused a value as the client gave it.
    #[error("value refused by the database: {0}")]
    InvalidValue(InvalidValue),
    /// The database could not be reached, or a transient condition (lock
    /// wait, deadlock, statement timeout, pool exhausted) prevented the
    /// work; retrying may help.
    #[error("database unavailable: {0}")]
    Unavailable(ErrorText),
    #[error("database error: {0}")]
    Internal(ErrorText),
}

/// Why the database refused a value (defence in depth behind the model's
/// validation; the database's own message is not kept, as it may quote the
/// value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidValue {
    /// A character the database cannot store in text (PostgreSQL: NUL).
    Character,
    /// Longer than its column allows.
    TooLong,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidValue::Character => "a character that cannot be stored",
            InvalidValue::TooLong => "a value longer than its field allows",
        })
    }
}

/// The text of an internal error, cut to [`ErrorText::MAX`] bytes: driver
/// messages may quote statements or values of any size, and this text ends
/// up in log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorText(String);

impl ErrorText {
    /// Longest text kept, in bytes (before the marker).
    pub const MAX: usize = 300;

    pub fn new(text: impl Into<String>) -> ErrorText {
        let mut text = text.into();
        if text.len() > Self::MAX {
            let mut end = Self::MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = text.len() - end;
            text.truncate(end);
            text.push_str(&format!("… [{cut} more bytes]"));
        }
        ErrorText(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DbError {
    pub(crate) fn internal(msg: impl Into<String>) -> DbError {
        DbError::Internal(ErrorText::new(msg))
    }

    pub(crate) fn unavailable(msg: impl Into<String>) -> DbError {
        DbError::Unavailable(ErrorText::new(msg))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => {
                let code = db.code();
                let number = db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|my| my.number());
                match (db.kind(), code.as_deref(), number) {
                    (ErrorKind::UniqueViolation, ..) => DbError::Duplicate,
                    (ErrorKind::ForeignKeyViolation, ..) => DbError::NotFound,
                    (_, code, number) if is_transient(code, number) => {
                        DbError::unavailable(e.to_string())
                    }
                    (_, code, number) => match invalid_value(code, number) {
                        Some(why) => DbError::InvalidValue(why),
                        None => DbError::internal(e.to_string()),
                    },
                }
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => DbError::unavailable(e.to_string()),
            _ => DbError::internal(e.to_string()),
        }
    }
}

/// "Try again later" rather than "this is wrong": SQLite busy/locked (5, 6
/// and their extended forms); PostgreSQL serialization failure, deadlock
/// and cancelled statement (statement_timeout); MySQL/MariaDB deadlock
/// (SQLSTATE 40001), lock wait timeout (1205), statement interrupted or
/// over MariaDB's max_statement_time (SQLSTATE 70100, 1969) and over
/// MySQL's max_execution_time (3024).
fn is_transient(code: Option<&str>, mysql_number: Option<u16>) -> bool {
    if let Some(number) = mysql_number {
        return matches!(number, 1205 | 1213 | 1317 | 1969 | 3024)
            || code.is_some_and(|c| matches!(c, "40001" | "70100"));
    }
    let Some(code) = code else { return false };
    let sqlite_busy = code
        .parse::<i64>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6) && c < 1000);
    sqlite_busy || matches!(code, "40001" | "40P01" | "57014")
}

/// Values the database refuses: text too long for its column (SQLSTATE
/// 22001 on PostgreSQL; MySQL/MariaDB 1406), characters it cannot store
/// (PostgreSQL 22021 for NUL, 22P05; MySQL/MariaDB 1366).
fn invalid_value(code: Option<&str>, mysql_number: Option<u16>) -> Option<InvalidValue> {
    match (mysql_number, code) {
        (Some(1406), _) => Some(InvalidValue::TooLong),
        (Some(1366), _) => Some(InvalidValue::Character),
        (Some(_), _) => None,
        (None, Some("22001")) => Some(InvalidValue::TooLong),
        (None, Some("22021" | "22P05")) => Some(InvalidValue::Character),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes_are_recognised() {
        for code in ["5", "517", "6", "40001", "40P01", "57014"] {
            assert!(is_transient(Some(code), None), "{code}");
        }
        for number in [1205, 1213, 1969, 3024] {
            assert!(is_transient(Some("HY000"), Some(number)), "{number}");
        }
        assert!(is_transient(Some("70100"), Some(1)));
        for code in ["19", "2067", "23505", "42P01", "22021"] {
            assert!(!is_transient(Some(code), None), "{code}");
        }
        assert!(!is_transient(Some("23000"), Some(1062)));
    }

    #[test]
    fn refused_values_are_told_apart() {
        assert_eq!(
            invalid_value(Some("22021"), None),
            Some(InvalidValue::Character)
        );
        assert_eq!(
            invalid_value(Some("22001"), None),
            Some(InvalidValue::TooLong)
        );
        assert_eq!(
            invalid_value(Some("22001"), Some(1406)),
            Some(InvalidValue::TooLong)
        );
        assert_eq!(invalid_value(Some("42P01"), None), None);
    }

    #[test]
    fn error_text_is_cut_with_a_marker() {
        assert_eq!(ErrorText::new("short").as_str(), "short");
        let long = "é".repeat(1_000_000);
        let text = ErrorText::new(long);
        assert!(
            text.as_str().len() < ErrorText::MAX + 40,
            "{}",
            text.as_str().len()
        );
        assert!(text.as_str().ends_with("… [1999700 more bytes]"), "{text}");
        let err = DbError::internal("x".repeat(10_000_000));
        assert!(err.to_string().len() < 400);
    }
}
