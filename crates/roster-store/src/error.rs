//! The store's error, and how it becomes a domain error.

use roster_core::Error;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write (the row already exists).
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    #[error("invalid store configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Database(sqlx::Error),
    /// From the SQLite reader of the hot paths.
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    /// The SQLite writer thread could not run or commit a write.
    #[error("SQLite writer: {0}")]
    Writer(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                return StoreError::UniqueViolation(db.constraint().unwrap_or(db.message()).to_owned());
            }
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Turns a unique violation into the given conflict; anything else stays internal.
    pub fn or_conflict(self, message: &str) -> Error {
        match self {
            StoreError::UniqueViolation(_) => Error::Conflict(message.to_owned()),
            other => other.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::internal(e)
    }
}
