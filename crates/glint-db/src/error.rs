//! The one error type of the persistence layer.

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
    /// A compare-and-set found the image in another status.
    #[error("the image status changed concurrently")]
    StatusConflict,
    /// The database could not be reached, or a transient condition (lock
    /// wait, deadlock, pool exhausted) prevented the work; retrying may help.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

impl DbError {
    pub(crate) fn internal(msg: impl Into<String>) -> DbError {
        DbError::Internal(msg.into())
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => DbError::Duplicate,
                ErrorKind::ForeignKeyViolation => DbError::NotFound,
                _ if db.code().as_deref().is_some_and(is_transient_code) => {
                    DbError::Unavailable(e.to_string())
                }
                _ => DbError::Internal(e.to_string()),
            },
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => DbError::Unavailable(e.to_string()),
            _ => DbError::Internal(e.to_string()),
        }
    }
}

/// Error codes that mean "try again later" rather than "this is wrong":
/// SQLite busy/locked (5, 6 and their extended forms), MySQL lock wait
/// timeout and deadlock (1205, 1213), PostgreSQL serialization failure and
/// deadlock (40001, 40P01).
fn is_transient_code(code: &str) -> bool {
    let sqlite_busy = code
        .parse::<i64>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6) && c < 1000);
    sqlite_busy || matches!(code, "1205" | "1213" | "40001" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes_are_recognised() {
        for code in ["5", "517", "6", "1205", "1213", "40001", "40P01"] {
            assert!(is_transient_code(code), "{code}");
        }
        for code in ["19", "2067", "1062", "23505", "42P01"] {
            assert!(!is_transient_code(code), "{code}");
        }
    }
}
