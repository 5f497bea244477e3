//! PostgreSQL schema migrations: versioned, applied once under an advisory lock even when several
//! daemons start together, each in its own transaction with the version it brings.

use super::{MIGRATION_LOCK, PgStore};
use crate::store::{Result, StoreError};

/// The PostgreSQL migrations, in order; `newshound_schema.version` counts how many ran. Their
/// numbers are PostgreSQL's own (v1 is SQLite's v9 in PostgreSQL's dialect).
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_search.sql"),
    include_str!("migrations/0003_sinks.sql"),
    include_str!("migrations/0004_budgets.sql"),
];

impl PgStore {
    /// The schema version (0: nothing created yet).
    pub(super) fn check_version(&mut self) -> Result<i64> {
        let client = self.client();
        let exists: bool = client
            .query_one("SELECT to_regclass('newshound_schema') IS NOT NULL", &[])?
            .get(0);
        let found: i64 = if exists {
            client
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM newshound_schema",
                    &[],
                )?
                .get(0)
        } else {
            0
        };
        let supported = MIGRATIONS.len() as i64;
        if found > supported {
            return Err(StoreError::TooNew {
                path: self.shown.clone().into(),
                found,
                supported,
            });
        }
        Ok(found)
    }

    /// Applies pending migrations. The session-level advisory lock makes daemons starting
    /// together wait for the first one's migrations, then find nothing left to do.
    pub(super) fn migrate(&mut self) -> Result<()> {
        self.client()
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let result = self.migrate_locked();
        // Released whatever happened (a failed migration rolled its transaction back).
        let unlocked = self
            .client()
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
        result?;
        unlocked?;
        Ok(())
    }

    fn migrate_locked(&mut self) -> Result<()> {
        // Looked for first: `IF NOT EXISTS` on an existing table makes the server send a notice,
        // which the driver logs at every start.
        let exists: bool = self
            .client()
            .query_one("SELECT to_regclass('newshound_schema') IS NOT NULL", &[])?
            .get(0);
        if !exists {
            self.client().batch_execute(
                "CREATE TABLE newshound_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )?;
        }
        let current = self.check_version()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = (i + 1) as i64;
            let mut tx = self.client().transaction()?;
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO newshound_schema (version) VALUES ($1)",
                &[&version],
            )?;
            tx.commit()?;
        }
        let latest = MIGRATIONS.len();
        if current == 0 {
            tracing::info!("database created at {} (schema v{latest})", self.shown);
        } else if (current as usize) < latest {
            tracing::info!("database schema migrated from v{current} to v{latest}");
        }
        Ok(())
    }
}
