//! Operations on the whole installation.
use crate::storage::{self, backup_into, now_ms, Db};
use crate::Result;
use std::time::Duration;

/// What `copy` did: rows copied, and per table the rows and checksum found
/// on both sides afterwards (equal, or `copy` fails).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    pub rows: u64,
    pub tables: Vec<storage::copy::TableSum>,
}

/// Copies a whole installation from `from` into `to` (an empty database of
/// either backend, migrated on connect), then compares the row count and
/// checksum of every table on both sides.
pub async fn copy(from_url: &str, to_url: &str) -> Result<CopyReport> {
    let open = |url: &str, side: &str| {
        let (url, side) = (url.to_owned(), side.to_owned());
        async move { Db::connect(&url).await.map_err(|e| crate::Error::bad(format!("{side}: {e:#}"))) }
    };
    let from = open(from_url, "from").await?;
    let to = open(to_url, "to").await?;
    let outcome = async {
        let rows = storage::copy::copy_all(&from, &to).await?;
        let (a, b) = (storage::copy::table_sums(&from).await?, storage::copy::table_sums(&to).await?);
        if let Some((x, y)) = a.iter().zip(&b).find(|(x, y)| x != y) {
            return Err(crate::Error::Internal(anyhow::anyhow!(
                "table {} differs after the copy: {} rows ({}) in the source, {} rows ({}) in the target",
                x.table,
                x.rows,
                x.sha256,
                y.rows,
                y.sha256
            )));
        }
        Ok(CopyReport { rows, tables: a })
    }
    .await;
    from.close().await;
    to.close().await;
    outcome
}

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
