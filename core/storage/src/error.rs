//! What can go wrong in storage, said so that callers can act on it: the database is
//! unavailable, a named unique key is taken, a reference is missing, or an operation failed.

use std::future::Future;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, or no pooled connection became free in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL `{0}`: use sqlite://path/file.db or postgres://user@host/db")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory: {0}")]
    Io(#[from] std::io::Error),
    /// A unique key is taken. `constraint` is its name as PostgreSQL knows it (the constants of
    /// [`unique`]), the same on SQLite, so a caller can tell the duplicate it expects from any other.
    #[error("a row with the same value of unique key `{constraint}` exists")]
    Duplicate { constraint: String },
    #[error("a referenced row is missing, or the row is still referenced")]
    ForeignKey,
    #[error("the row changed since it was read")]
    VersionConflict,
    /// A one-time action was already taken (e.g. a survey answered).
    #[error("{0}")]
    AlreadyDone(&'static str),
    #[error("a stored value cannot be read: {0}")]
    Corrupt(String),
    /// Any other database failure; `operation` names the store method that failed.
    #[error("{operation}: {source}")]
    Database { operation: &'static str, source: sqlx::Error },
}

/// The unique keys callers tell apart, by their PostgreSQL names. SQLite reports the columns
/// instead (`UNIQUE constraint failed: staff.email`); [`UNIQUE_KEYS`] maps one to the other.
pub mod unique {
    pub const STAFF_EMAIL: &str = "staff_email_key";
    pub const TOKEN_SECRET: &str = "api_tokens_secret_hash_key";
    pub const TICKET_NUMBER: &str = "tickets_number_key";
    pub const EVENT_SEQ: &str = "ticket_events_ticket_id_seq_key";
    pub const IDEMPOTENCY_KEY: &str = "idempotency_keys_pkey";
    pub const CALENDAR_KEY: &str = "calendars_pkey";
    pub const POLICY_KEY: &str = "sla_policies_pkey";
    pub const COURSE_CODE: &str = "courses_pkey";
    pub const SUPERSEDED_RECORD: &str = "training_records_supersedes_key";
    pub const ACTIVE_DELEGATION: &str = "ticket_delegations_active";
    pub const LOGIN_STAFF: &str = "logins_staff_id_key";
    pub const LOGIN_EMAIL: &str = "logins_email_key";
    pub const SET_PASSWORD_SECRET: &str = "set_password_links_secret_hash_key";
    pub const SESSION_SECRET: &str = "sessions_secret_hash_key";
}

/// Each named unique key with the columns SQLite names when it is violated.
pub const UNIQUE_KEYS: &[(&str, &str)] = &[
    (unique::STAFF_EMAIL, "staff.email"),
    (unique::TOKEN_SECRET, "api_tokens.secret_hash"),
    (unique::TICKET_NUMBER, "tickets.number"),
    (unique::EVENT_SEQ, "ticket_events.ticket_id, ticket_events.seq"),
    (unique::IDEMPOTENCY_KEY, "idempotency_keys.principal, idempotency_keys.key"),
    (unique::CALENDAR_KEY, "calendars.key"),
    (unique::POLICY_KEY, "sla_policies.key"),
    (unique::COURSE_CODE, "courses.code"),
    (unique::SUPERSEDED_RECORD, "training_records.supersedes"),
    (unique::ACTIVE_DELEGATION, "ticket_delegations.ticket_id"),
    (unique::LOGIN_STAFF, "logins.staff_id"),
    (unique::LOGIN_EMAIL, "logins.email"),
    (unique::SET_PASSWORD_SECRET, "set_password_links.secret_hash"),
    (unique::SESSION_SECRET, "sessions.secret_hash"),
];

/// The name of the unique key a database error violated: PostgreSQL's constraint name, or for
/// SQLite the name of the key over the reported columns (the columns themselves when unknown).
fn violated_key(db: &dyn sqlx::error::DatabaseError) -> String {
    if let Some(name) = db.constraint() {
        return name.to_owned();
    }
    let message = db.message();
    let columns = message.strip_prefix("UNIQUE constraint failed: ").unwrap_or(message);
    UNIQUE_KEYS.iter().find(|(_, c)| *c == columns).map_or_else(|| columns.to_owned(), |(name, _)| (*name).to_owned())
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &e {
            sqlx::Error::PoolTimedOut => StoreError::Unavailable("no database connection became free in time".into()),
            sqlx::Error::Io(io) => StoreError::Unavailable(io.to_string()),
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Duplicate { constraint: violated_key(db.as_ref()) },
                ErrorKind::ForeignKeyViolation => StoreError::ForeignKey,
                _ => StoreError::Database { operation: "", source: e },
            },
            _ => StoreError::Database { operation: "", source: e },
        }
    }
}

/// One public store method: a tracing span named after it, and its name on any database
/// failure that comes out of it.
pub(crate) struct Operation(pub(crate) &'static str);

impl Operation {
    pub(crate) async fn run<T>(self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let span = tracing::debug_span!("store", operation = self.0);
        work.instrument(span).await.map_err(|e| match e {
            StoreError::Database { operation: "", source } => StoreError::Database { operation: self.0, source },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_unique_key_has_its_sqlite_columns() {
        let names = [
            unique::STAFF_EMAIL,
            unique::TOKEN_SECRET,
            unique::TICKET_NUMBER,
            unique::EVENT_SEQ,
            unique::IDEMPOTENCY_KEY,
            unique::CALENDAR_KEY,
            unique::POLICY_KEY,
            unique::COURSE_CODE,
            unique::SUPERSEDED_RECORD,
            unique::ACTIVE_DELEGATION,
            unique::LOGIN_STAFF,
            unique::LOGIN_EMAIL,
            unique::SET_PASSWORD_SECRET,
            unique::SESSION_SECRET,
        ];
        for name in names {
            assert_eq!(UNIQUE_KEYS.iter().filter(|(n, _)| *n == name).count(), 1, "{name}");
        }
        assert_eq!(UNIQUE_KEYS.len(), names.len());
    }
}
