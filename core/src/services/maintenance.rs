//! Operations on the whole installation.
use crate::storage::{backup_into, Db};
use crate::Result;

/// A consistent copy of the whole database into a new file, while the
/// server keeps serving and writing (one read snapshot).
pub async fn backup(db: &Db, target: &str) -> Result<()> {
    backup_into(db, target).await?;
    Ok(())
}
