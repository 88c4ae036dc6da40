use super::{new_uuid, now_ms};
use super::{on, Ex};
pub use crate::domain::Settings;
use crate::domain::{Scale, TaskType};

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    #[serde(skip)]
    pub id: i64,
    pub uuid: String,
    pub slug: String,
    pub title: String,
    pub guidelines: String,
    pub annotations_per_pair: i64,
    pub lease_seconds: i64,
    pub flags: Vec<String>,
    pub pair_selection: crate::domain::PairSelection,
    pub selection: crate::domain::ModelSelection,
    pub task_type: TaskType,
    pub aspects: Vec<String>,
    pub scale: Scale,
    pub undo_judgements: i64,
    pub undo_minutes: i64,
    pub gold_percent: i64,
    pub gold_accuracy_min: i64,
    pub flag_agreement_min: i64,
    pub flag_skip_max: i64,
    pub flag_bias_permille: i64,
}

/// A row of `projects` as read (`COLUMNS`).
#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: i64,
    uuid: String,
    slug: String,
    title: String,
    guidelines: String,
    annotations_per_pair: i64,
    lease_seconds: i64,
    flags: String,
    pair_selection: String,
    task_type: String,
    aspects: String,
    scale_min: i64,
    scale_max: i64,
    scale_labels: String,
    undo_judgements: i64,
    undo_minutes: i64,
    gold_percent: i64,
    gold_accuracy_min: i64,
    selection: String,
    flag_agreement_min: i64,
    flag_skip_max: i64,
    flag_bias_permille: i64,
}
const COLUMNS: &str = "id, uuid, slug, title, guidelines, annotations_per_pair, lease_seconds, flags, pair_selection,
                       task_type, aspects, scale_min, scale_max, scale_labels, undo_judgements, undo_minutes,
                       gold_percent, gold_accuracy_min, selection, flag_agreement_min, flag_skip_max,
                       flag_bias_permille";

fn from_row(r: ProjectRow) -> Project {
    Project {
        undo_judgements: r.undo_judgements,
        undo_minutes: r.undo_minutes,
        gold_percent: r.gold_percent,
        gold_accuracy_min: r.gold_accuracy_min,
        flag_agreement_min: r.flag_agreement_min,
        flag_skip_max: r.flag_skip_max,
        flag_bias_permille: r.flag_bias_permille,
        // The columns' CHECKs allow only the names; the rest was checked when stored.
        task_type: TaskType::parse(&r.task_type).unwrap_or_default(),
        aspects: serde_json::from_str(&r.aspects)
            .unwrap_or_else(|_| vec![crate::domain::settings::DEFAULT_ASPECT.into()]),
        scale: Scale {
            min: r.scale_min,
            max: r.scale_max,
            labels: serde_json::from_str(&r.scale_labels).unwrap_or_default(),
        },
        id: r.id,
        uuid: r.uuid,
        slug: r.slug,
        title: r.title,
        guidelines: r.guidelines,
        annotations_per_pair: r.annotations_per_pair,
        lease_seconds: r.lease_seconds,
        flags: serde_json::from_str(&r.flags).unwrap_or_default(),
        // The column's CHECK allows only the two names.
        pair_selection: crate::domain::PairSelection::parse(&r.pair_selection).unwrap_or_default(),
        selection: crate::domain::ModelSelection::parse(&r.selection).unwrap_or_default(),
    }
}

pub async fn insert(db: impl Into<Ex<'_>>, slug: &str, s: &Settings) -> sqlx::Result<Project> {
    let row: ProjectRow = on!(db, e => sqlx::query_as(&format!(
        "INSERT INTO projects (uuid, slug, title, guidelines, annotations_per_pair, lease_seconds, flags, created_at,
                               pair_selection, task_type, aspects, scale_min, scale_max, scale_labels,
                               undo_judgements, undo_minutes, gold_percent, gold_accuracy_min, selection,
                               flag_agreement_min, flag_skip_max, flag_bias_permille)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING {COLUMNS}"
    ))
    .bind(new_uuid())
    .bind(slug)
    .bind(&s.title)
    .bind(&s.guidelines)
    .bind(s.annotations_per_pair)
    .bind(s.lease_seconds)
    .bind(serde_json::to_string(&s.flags).unwrap_or_else(|_| "[]".into()))
    .bind(now_ms())
    .bind(s.pair_selection.name())
    .bind(s.task_type.name())
    .bind(json(&s.aspects))
    .bind(s.scale.min)
    .bind(s.scale.max)
    .bind(json(&s.scale.labels))
    .bind(s.undo_judgements)
    .bind(s.undo_minutes)
    .bind(s.gold_percent)
    .bind(s.gold_accuracy_min)
    .bind(s.selection.name())
    .bind(s.flag_agreement_min)
    .bind(s.flag_skip_max)
    .bind(s.flag_bias_permille)
    .fetch_one(e)
    .await)?;
    Ok(from_row(row))
}

/// Stores new settings; `false` (nothing changed) when they would change
/// what the project's tasks ask for (task type, aspects, scale) while it
/// has annotations or live leases: those would no longer match their project.
pub async fn update(db: impl Into<Ex<'_>>, id: i64, s: &Settings) -> sqlx::Result<bool> {
    let r = on!(db, e => sqlx::query(
        "UPDATE projects SET title = $1, guidelines = $2, annotations_per_pair = $3, lease_seconds = $4, flags = $5,
                             pair_selection = $6, task_type = $7, aspects = $8, scale_min = $9, scale_max = $10,
                             scale_labels = $11, undo_judgements = $13, undo_minutes = $14,
                             gold_percent = $16, gold_accuracy_min = $17, selection = $18,
                             flag_agreement_min = $19, flag_skip_max = $20, flag_bias_permille = $21
         WHERE id = $12
           AND ((task_type = $7 AND aspects = $8 AND scale_min = $9 AND scale_max = $10)
                OR (NOT EXISTS (SELECT 1 FROM annotations WHERE project_id = $12)
                    AND NOT EXISTS (SELECT 1 FROM assignments WHERE project_id = $12 AND state = 'leased'
                                      AND lease_expires_at > $15)))",
    )
    .bind(&s.title)
    .bind(&s.guidelines)
    .bind(s.annotations_per_pair)
    .bind(s.lease_seconds)
    .bind(json(&s.flags))
    .bind(s.pair_selection.name())
    .bind(s.task_type.name())
    .bind(json(&s.aspects))
    .bind(s.scale.min)
    .bind(s.scale.max)
    .bind(json(&s.scale.labels))
    .bind(id)
    .bind(s.undo_judgements)
    .bind(s.undo_minutes)
    .bind(now_ms())
    .bind(s.gold_percent)
    .bind(s.gold_accuracy_min)
    .bind(s.selection.name())
    .bind(s.flag_agreement_min)
    .bind(s.flag_skip_max)
    .bind(s.flag_bias_permille)
    .execute(e)
    .await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// The prompt of the project with the most completions: (its imported id
/// or uuid, how many), for the limit of ranking tasks.
pub async fn most_completions(db: impl Into<Ex<'_>>, project_id: i64) -> sqlx::Result<Option<(String, i64)>> {
    on!(db, e => sqlx::query_as(
        "SELECT COALESCE(pr.external_id, pr.uuid), COUNT(*) AS n FROM completions c JOIN prompts pr ON pr.id = c.prompt_id
         WHERE pr.project_id = $1 GROUP BY pr.id ORDER BY n DESC LIMIT 1",
    )
    .bind(project_id)
    .fetch_optional(e)
    .await)
}

pub async fn by_slug(db: impl Into<Ex<'_>>, slug: &str) -> sqlx::Result<Option<Project>> {
    let row: Option<ProjectRow> = on!(db, e => sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE slug = $1")).bind(slug).fetch_optional(e).await)?;
    Ok(row.map(from_row))
}

/// Projects a user may work on: all of them for admins (`user_id` None),
/// else those they are a member of.
pub async fn visible_to(db: impl Into<Ex<'_>>, user_id: Option<i64>) -> sqlx::Result<Vec<Project>> {
    let rows: Vec<ProjectRow> = on!(db, e => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projects
         WHERE $1 IS NULL OR id IN (SELECT project_id FROM project_members WHERE user_id = $1)
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(e)
    .await)?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn is_member(db: impl Into<Ex<'_>>, project_id: i64, user_id: i64) -> sqlx::Result<bool> {
    let n: i64 = on!(db, e => sqlx::query_scalar("SELECT COUNT(*) FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .fetch_one(e)
        .await)?;
    Ok(n > 0)
}

pub async fn add_member(db: impl Into<Ex<'_>>, project_id: i64, user_id: i64) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("INSERT INTO project_members (project_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(project_id)
        .bind(user_id)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// What a task is, and what `pairs`, `complete_pairs` and
    /// `over_covered_pairs` count: `pairs`, or `prompts` (ranking and rating).
    pub unit: String,
    pub prompts: i64,
    pub pairs: i64,
    pub complete_pairs: i64,
    pub annotations: i64,
    pub live_leases: i64,
    /// Pairs with more submitted annotations than asked for (late submissions).
    pub over_covered_pairs: i64,
}

pub async fn counts(db: impl Into<Ex<'_>>, project: &Project) -> sqlx::Result<Counts> {
    // Ranking and rating tasks are prompts (with enough completions to be one).
    let per_prompt = "SELECT
           (SELECT COUNT(*) FROM prompts WHERE project_id = $1),
           (SELECT COUNT(*) FROM prompts pr WHERE pr.project_id = $1
              AND (SELECT COUNT(*) FROM completions c WHERE c.prompt_id = pr.id) >= $4),
           (SELECT COUNT(*) FROM prompts WHERE project_id = $1 AND submitted >= $2),
           (SELECT COUNT(*) FROM annotations WHERE project_id = $1),
           (SELECT COUNT(*) FROM assignments WHERE project_id = $1 AND state = 'leased' AND lease_expires_at > $3),
           (SELECT COUNT(*) FROM prompts WHERE project_id = $1 AND submitted > $2)";
    let per_pair = "SELECT
           (SELECT COUNT(*) FROM prompts WHERE project_id = $1),
           (SELECT COUNT(*) FROM pairs WHERE project_id = $1),
           -- complete: N votes, or its prompt's order settled (adaptive selection)
           (SELECT COUNT(*) FROM pairs p WHERE p.project_id = $1
              AND (p.submitted >= $2 OR EXISTS (SELECT 1 FROM prompts pr WHERE pr.id = p.prompt_id AND pr.settled))),
           (SELECT COUNT(*) FROM annotations WHERE project_id = $1),
           (SELECT COUNT(*) FROM assignments WHERE project_id = $1 AND state = 'leased' AND lease_expires_at > $3),
           (SELECT COUNT(*) FROM pairs WHERE project_id = $1 AND submitted > $2)";
    let by_prompt = project.task_type.per_prompt();
    let (prompts, pairs, complete_pairs, annotations, live_leases, over_covered_pairs) = on!(db, e => sqlx::query_as(if by_prompt { per_prompt } else { per_pair })
            .bind(project.id)
            .bind(project.annotations_per_pair)
            .bind(now_ms())
            .bind(project.task_type.min_completions())
            .fetch_one(e)
            .await)?;
    let unit = if by_prompt { "prompts" } else { "pairs" }.to_owned();
    Ok(Counts { unit, prompts, pairs, complete_pairs, annotations, live_leases, over_covered_pairs })
}

pub async fn remove_member(db: impl Into<Ex<'_>>, project_id: i64, user_id: i64) -> sqlx::Result<bool> {
    let r = on!(db, e => sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

pub async fn members(db: impl Into<Ex<'_>>, project_id: i64) -> sqlx::Result<Vec<String>> {
    on!(db, e => sqlx::query_scalar(
        "SELECT u.username FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 ORDER BY u.username",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)
}

pub async fn count(db: impl Into<Ex<'_>>) -> sqlx::Result<i64> {
    on!(db, e => sqlx::query_scalar("SELECT COUNT(*) FROM projects").fetch_one(e).await)
}
