use super::{new_uuid, now_ms};
use super::{on, Ex};

pub async fn record(
    db: impl Into<Ex<'_>>,
    project_id: i64,
    user_id: Option<i64>,
    filename: &str,
    ok: bool,
    report: &serde_json::Value,
) -> sqlx::Result<String> {
    let uuid = new_uuid();
    on!(db, e => sqlx::query(
        "INSERT INTO imports (uuid, project_id, user_id, filename, ok, report, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&uuid)
    .bind(project_id)
    .bind(user_id)
    .bind(filename)
    .bind(ok)
    .bind(report.to_string())
    .bind(now_ms())
    .execute(e)
    .await.map(|r| r.rows_affected()))?;
    Ok(uuid)
}

/// (filename, ok, report) of one import of a project.
pub async fn get(
    db: impl Into<Ex<'_>>,
    project_id: i64,
    uuid: &str,
) -> sqlx::Result<Option<(String, bool, serde_json::Value)>> {
    let row: Option<(String, bool, String)> = on!(db, e => sqlx::query_as("SELECT filename, ok, report FROM imports WHERE project_id = $1 AND uuid = $2")
            .bind(project_id)
            .bind(uuid)
            .fetch_optional(e)
            .await)?;
    Ok(row.map(|(f, ok, r)| (f, ok, serde_json::from_str(&r).unwrap_or_default())))
}
