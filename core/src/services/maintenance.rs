//! Operations on the whole installation.
use crate::storage::{self, backup_into, now_ms, Db};
use crate::Result;
use std::time::Duration;

/// How long a readiness probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether this instance can serve: the database answers (within two
/// seconds) and has every migration this binary knows. `Err` says why not.
pub async fn readiness(db: &Db) -> std::result::Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, storage::migrations_pending(db)).await {
        Err(_) => Err("the database does not answer".into()),
        Ok(Err(e)) => Err(format!("the database is unreachable: {e}")),
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(n)) => Err(format!("{n} migration(s) not applied")),
    }
}

/// The figures a metrics scrape reads at that moment.
pub struct Gauges {
    pub live_leases: i64,
    pub writer_queue_depth: usize,
    /// (pool, open connections, idle connections).
    pub pools: Vec<(&'static str, u32, usize)>,
}

pub async fn gauges(db: &Db) -> Result<Gauges> {
    Ok(Gauges {
        live_leases: storage::assignments::live_leases(&db.read, now_ms()).await?,
        writer_queue_depth: db.writer_queue_depth(),
        pools: storage::pool_use(db),
    })
}

/// A consistent copy of the whole database into a new file, while the
/// server keeps serving and writing (one read snapshot).
pub async fn backup(db: &Db, target: &str) -> Result<()> {
    backup_into(db, target).await?;
    Ok(())
}
