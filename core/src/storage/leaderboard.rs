//! The battles behind a leaderboard: every judgement of the given projects
//! as outcomes between the models of the completions it judged, in the
//! order the judgements were stored.
use super::{on, Pool};
use crate::domain::leaderboard::{Battle, Outcome};

use std::collections::HashMap;

/// The models (sorted by name) and the battles between them, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Battles {
    pub models: Vec<String>,
    pub battles: Vec<Battle>,
}

/// What changes whenever a judgement is added or edited: the leaderboard
/// cache is valid while this is the same.
pub async fn stamp(db: &Pool, project_ids: &[i64]) -> sqlx::Result<(i64, i64, i64)> {
    on!(db, e => sqlx::query_as(&format!(
        "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(MAX(updated_at), 0) FROM annotations WHERE project_id IN ({})",
        ids(project_ids)
    ))
    .fetch_one(e)
    .await)
}

fn ids(project_ids: &[i64]) -> String {
    let list: Vec<String> = project_ids.iter().map(i64::to_string).collect();
    if list.is_empty() {
        "NULL".into()
    } else {
        list.join(",")
    }
}

/// Pairwise votes (the sign of the canonical choice; 0 or "both bad" a
/// tie, as the `arena` export and FastChat count them), and each
/// ranking or rating as one battle per two of its completions whose models
/// differ (the better rank, or the higher sum over the aspects, wins).
pub async fn battles(db: &Pool, project_ids: &[i64]) -> sqlx::Result<Battles> {
    let ids = ids(project_ids);
    let completions: Vec<(i64, String)> = on!(db, e => sqlx::query_as(&format!(
        "SELECT c.id, c.model FROM completions c JOIN prompts pr ON pr.id = c.prompt_id WHERE pr.project_id IN ({ids})"
    ))
    .fetch_all(e)
    .await)?;
    let mut models: Vec<String> = completions.iter().map(|(_, m)| m.clone()).collect();
    models.sort();
    models.dedup();
    let index: HashMap<&str, u32> = models.iter().enumerate().map(|(i, m)| (m.as_str(), i as u32)).collect();
    let model_of: HashMap<i64, u32> = completions.iter().map(|(c, m)| (*c, index[m.as_str()])).collect();

    // (annotation id, battle); sorted by id at the end.
    let mut out: Vec<(i64, Battle)> = Vec::new();
    let votes: Vec<(i64, i64, i64, i64)> = on!(db, e => sqlx::query_as(&format!(
        "SELECT n.id, p.completion_a, p.completion_b, CASE WHEN n.both_bad THEN 0 ELSE n.choice END
         FROM annotations n JOIN pairs p ON p.id = n.pair_id
         WHERE n.project_id IN ({ids}) AND n.choice IS NOT NULL ORDER BY n.id"
    ))
    .fetch_all(e)
    .await)?;
    for (id, a, b, choice) in votes {
        if let (Some(&a), Some(&b)) = (model_of.get(&a), model_of.get(&b)) {
            if a != b {
                out.push((id, Battle { a, b, outcome: Outcome::of(choice) }));
            }
        }
    }
    // Rankings (a lower rank is better) and ratings (a higher sum is
    // better), both as a value per completion where higher wins.
    let values: Vec<(i64, i64, i64)> = on!(db, e => sqlx::query_as(&format!(
        "SELECT r.annotation_id, r.completion_id, -r.rank FROM ranks r JOIN annotations n ON n.id = r.annotation_id
         WHERE n.project_id IN ({ids})
         UNION ALL
         SELECT t.annotation_id, t.completion_id, CAST(SUM(t.value) AS BIGINT) FROM ratings t JOIN annotations n ON n.id = t.annotation_id
         WHERE n.project_id IN ({ids}) GROUP BY t.annotation_id, t.completion_id
         ORDER BY 1, 2"
    ))
    .fetch_all(e)
    .await)?;
    for group in values.chunk_by(|x, y| x.0 == y.0) {
        let judged: Vec<(u32, i64)> = group.iter().filter_map(|&(_, c, v)| Some((*model_of.get(&c)?, v))).collect();
        for (n, &(a, va)) in judged.iter().enumerate() {
            for &(b, vb) in &judged[n + 1..] {
                if a != b {
                    out.push((group[0].0, Battle { a, b, outcome: Outcome::of(va - vb) }));
                }
            }
        }
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(Battles { models, battles: out.into_iter().map(|(_, b)| b).collect() })
}
