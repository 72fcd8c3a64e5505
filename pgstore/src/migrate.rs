//! Versioned schema migrations, safe with several instances starting at once.

use crate::{Error, Pool};

/// The table that records which migrations of which service were applied.
pub const MIGRATIONS_TABLE: &str = "tixgo_migrations";

/// The advisory lock all migrations take, whatever the service: `tixgo_mg` in ASCII.
const LOCK_KEY: i64 = 0x7469_7867_6f5f_6d67;

/// One step of a service's schema. A service's migrations are numbered 1, 2, … in order,
/// and a released one is never changed: a new step is a new migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number.
    pub version: i32,
    /// What it does, recorded beside its number.
    pub name: &'static str,
    /// The statements, run in the migration's transaction.
    pub sql: &'static str,
}

/// Brings `service`'s schema up to the last of `migrations`, and returns the versions
/// applied now (none when it was up to date).
///
/// Everything happens in one transaction holding a database-wide advisory lock: an instance
/// that starts while another migrates waits for it, then finds the work done; a migration that
/// fails leaves the schema as it was. A database migrated further than `migrations` go (by a
/// newer binary) is refused rather than used.
pub fn migrate(pool: &Pool, service: &str, migrations: &[Migration]) -> Result<Vec<i32>, Error> {
    if let Some((at, m)) = migrations
        .iter()
        .enumerate()
        .find(|(at, m)| usize::try_from(m.version).ok() != Some(at + 1))
    {
        return Err(Error::Refused(format!(
            "migration {:?} is number {} in the list but has version {}",
            m.name,
            at + 1,
            m.version
        )));
    }
    let driver = |e: postgres::Error| Error::from_driver(&e);
    let mut conn = pool.get()?;
    let mut tx = conn.transaction().map_err(driver)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map_err(driver)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
            service text NOT NULL,
            version integer NOT NULL,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (service, version)
        )"
    ))
    .map_err(driver)?;
    let row = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {MIGRATIONS_TABLE} WHERE service = $1"),
            &[&service],
        )
        .map_err(driver)?;
    let current: i32 = row.get(0);
    let known = i32::try_from(migrations.len()).unwrap_or(i32::MAX);
    if current > known {
        return Err(Error::Refused(format!(
            "the database's {service} schema is at version {current}, newer than this binary \
             knows ({known}); run the newer binary"
        )));
    }
    let mut applied = Vec::new();
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).map_err(driver)?;
        tx.execute(
            &format!("INSERT INTO {MIGRATIONS_TABLE} (service, version, name) VALUES ($1, $2, $3)"),
            &[&service, &m.version, &m.name],
        )
        .map_err(driver)?;
        applied.push(m.version);
    }
    tx.commit().map_err(driver)?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn migrations_out_of_order_are_refused_before_connecting() {
        let pool = Pool::new("postgres://t@127.0.0.1:1/t", "t", Limits::default()).unwrap();
        let steps = [
            Migration {
                version: 1,
                name: "one",
                sql: "",
            },
            Migration {
                version: 3,
                name: "three",
                sql: "",
            },
        ];
        let err = migrate(&pool, "x", &steps).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the database refused: migration \"three\" is number 2 in the list but has version 3"
        );
    }
}
