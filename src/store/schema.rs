//! Opening the database: connection settings, schema migrations, id marks, checkpoints.

use super::*;

/// Schema migrations, applied in order; `PRAGMA user_version` counts how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_schedule.sql"),
    include_str!("migrations/0003_stories.sql"),
    include_str!("migrations/0004_features.sql"),
    include_str!("migrations/0005_id_marks.sql"),
    include_str!("migrations/0006_url_hash.sql"),
    include_str!("migrations/0007_alerts_per_item.sql"),
    include_str!("migrations/0008_outbox.sql"),
    SEARCH_MIGRATION,
    include_str!("migrations/0010_sink_digests.sql"),
];

/// Migration 0009: the search index's table and what retention needs.
pub(super) const SEARCH_MIGRATION: &str = include_str!("migrations/0009_search_retention.sql");

/// The writer's SQLite page cache, in KiB: SQLite's default. Story assignment reads no pages
/// (its candidates are in memory); a larger cache bought little time for more memory, and past
/// a few hundred thousand items no cache of this order holds the indexes anyway
/// (docs/performance.md).
pub(super) const CACHE_KIB: i64 = 2 * 1024;

/// WAL pages after which the writer checkpoints by itself although a [`Checkpointer`] runs: ten
/// times SQLite's default, reached only if the checkpointer stalls.
pub(super) const BACKSTOP_PAGES: i64 = 10_000;

/// Copies the WAL into the database file beside the writer, on its own connection, so the
/// writer never waits for a checkpoint's copying and `fsync`s (in a burst of new items they
/// took a seventh of its time). A `PASSIVE` checkpoint never blocks the writer or readers; it
/// copies what it can, and the writer starts the WAL over once everything was copied.
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// One passive checkpoint: copies what it can now.
    pub fn run(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// What the SQL of migration `version` cannot do alone, in its transaction, after it.
pub(super) fn finish_migration(tx: &Connection, version: usize) -> rusqlite::Result<()> {
    if version == 6 {
        // The hash of each stored URL key.
        let keys: Vec<(i64, String)> = tx
            .prepare("SELECT id, url_key FROM items WHERE url_key IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut set = tx.prepare("UPDATE items SET url_hash = ?2 WHERE id = ?1")?;
        for (id, key) in keys {
            set.execute(params![id, url_hash(&key)])?;
        }
    }
    Ok(())
}

/// Records the ids written from `t`'s hour on, if this is the first write transaction of a new
/// hour. Marks only move forward: after the clock steps back, none is written until it passes
/// the last marked hour again, so every mark stays below every id written after it.
pub(super) fn mark_ids(tx: &Connection, t: i64, next: NextIds) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO id_marks (hour, item_id, story_id) SELECT ?1, ?2, ?3
         WHERE ?1 > (SELECT coalesce(max(hour), -1) FROM id_marks)",
    )?
    .execute(params![t.div_euclid(3600), next.item, next.story])?;
    Ok(())
}

/// The first item and story ids that can have been written at or after `t`: those of the last
/// mark at or before its hour (0 before the first).
pub(super) fn ids_since(conn: &Connection, t: i64) -> rusqlite::Result<NextIds> {
    Ok(conn
        .prepare_cached(
            "SELECT item_id, story_id FROM id_marks WHERE hour <= ?1 ORDER BY hour DESC LIMIT 1",
        )?
        .query_row(params![t.div_euclid(3600)], |r| {
            Ok(NextIds {
                item: r.get(0)?,
                story: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Store> {
        Store::open_with(path, synchronous, false)
    }

    /// [`Store::open`]; a database created now with `incremental_vacuum` gives the pages
    /// retention frees back to the file system (`[storage] keep` set when it is created).
    pub fn open_with(
        path: &Path,
        synchronous: Synchronous,
        incremental_vacuum: bool,
    ) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            stories: StoryIndex::default(),
            routes: OutboxRoutes::default(),
            fault: None,
        };
        store
            .configure(synchronous, incremental_vacuum)
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens a second connection to the writer's database that only copies the WAL into the
    /// database file: see [`Checkpointer`].
    pub fn checkpointer(&self) -> Result<Checkpointer> {
        let conn = Connection::open(&self.path).map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // A checkpoint copies frames straight from the WAL: it needs next to no page cache.
        conn.pragma_update(None, "cache_size", 16)?;
        Ok(Checkpointer { conn })
    }

    /// Opens an existing database for reading (the CLI's `feeds`, `items`, `alerts`).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let store = Store {
            conn,
            path: path.to_owned(),
            stories: StoryIndex::default(),
            routes: OutboxRoutes::default(),
            fault: None,
        };
        store.check_version()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn configure(
        &mut self,
        synchronous: Synchronous,
        incremental_vacuum: bool,
    ) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(5))?;
        // A new database gives the pages retention frees back to the file system, a step at
        // a time (`Store::vacuum_step`); only possible before its first table exists. Only
        // then: its pointer-map pages cost every write a little.
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables == 0 && incremental_vacuum {
            self.conn
                .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        self.conn.pragma_update(None, "synchronous", sync)?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // When a batch has to isolate a failing poll, each poll is a savepoint, whose rollback
        // journal then lives in memory rather than in a temporary file: at most the pages one
        // poll touches.
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        self.conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        self.conn
            .set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(())
    }

    pub(super) fn version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub(super) fn check_version(&self) -> Result<i64> {
        let found = self.version()?;
        let supported = MIGRATIONS.len() as i64;
        if found > supported {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                supported,
            });
        }
        Ok(found)
    }

    /// Applies pending migrations, each in its own transaction with the version bump.
    pub(super) fn migrate(&mut self) -> Result<()> {
        let current = self.check_version()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            finish_migration(&tx, i + 1)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        let latest = MIGRATIONS.len();
        if current == 0 {
            tracing::info!(
                "database created at {} (schema v{latest})",
                self.path.display()
            );
        } else if (current as usize) < latest {
            tracing::info!("database schema migrated from v{current} to v{latest}");
        }
        Ok(())
    }

    /// Leaves checkpoints to a [`Checkpointer`] beside the writer: this connection then only
    /// checkpoints itself when the WAL passes `BACKSTOP_PAGES`, in case the other falls behind.
    pub fn leave_checkpoints_to_another(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?;
        Ok(())
    }

    /// Checkpoints the WAL into the main file and truncates it (after a cycle, at shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}
