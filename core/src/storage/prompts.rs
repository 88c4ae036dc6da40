//! Writing imported prompts, their completions and the pairs between them.
use super::conn::{vals, Conn};
use super::{new_uuid, now_ms};
use crate::domain::import::{pair_indices, ImportItem};
use crate::Result;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Added {
    pub prompts: u64,
    pub prompts_existing: u64,
    pub completions: u64,
    pub pairs: u64,
}

fn hash_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Per (model, model) in sorted order: how many pairs the project has, so new
/// pairs get the next `spread` and equal-load pairs are served round-robin
/// across model pairs.
pub fn model_pair_counts(conn: &mut dyn Conn, project_id: i64) -> Result<HashMap<(String, String), i64>> {
    let rows = conn.query(
        "SELECT ca.model, cb.model, COUNT(*) FROM pairs p
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE p.project_id = $1 GROUP BY ca.model, cb.model",
        vals![project_id],
    )?;
    let mut out = HashMap::new();
    for r in rows {
        let (a, b, n): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        *out.entry(model_key(&a, &b)).or_insert(0) += n;
    }
    Ok(out)
}

/// A pair's `model_pair` column: its two models sorted, joined by U+001F
/// (as `set_model_pairs` writes it).
pub fn model_pair(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("{x}\u{1f}{y}")
}

/// Fills `model_pair` of the project's pairs that lack it (`on`: active
/// selection), or clears it for all (off): only active projects pay for
/// the index.
pub async fn set_model_pairs(db: &super::Pool, project_id: i64, on: bool) -> sqlx::Result<()> {
    let ex = super::Ex::from(db);
    let sql = match (on, ex.dialect()) {
        (true, super::Dialect::Sqlite) => {
            "UPDATE pairs SET model_pair = (
                 SELECT min(ca.model, cb.model) || char(31) || max(ca.model, cb.model)
                 FROM completions ca, completions cb WHERE ca.id = pairs.completion_a AND cb.id = pairs.completion_b)
             WHERE project_id = $1 AND model_pair IS NULL"
        }
        (true, super::Dialect::Postgres) => {
            // COLLATE "C": byte order, as `model_pair` sorts in Rust.
            "UPDATE pairs SET model_pair = LEAST(ca.model COLLATE \"C\", cb.model COLLATE \"C\") || chr(31)
                                           || GREATEST(ca.model COLLATE \"C\", cb.model COLLATE \"C\")
             FROM completions ca, completions cb
             WHERE ca.id = pairs.completion_a AND cb.id = pairs.completion_b
               AND pairs.project_id = $1 AND pairs.model_pair IS NULL"
        }
        (false, _) => "UPDATE pairs SET model_pair = NULL WHERE project_id = $1 AND model_pair IS NOT NULL",
    };
    super::on!(ex, e => sqlx::query(sql).bind(project_id).execute(e).await.map(|_| ()))?;
    Ok(())
}

/// Refreshes the planner's statistics of the tables an import grows.
/// PostgreSQL plans the hot path's picks from them: with the statistics of
/// an empty table it sorts every open pair per claim (300 ms at 10,000
/// pairs) instead of walking the pick index (under 1 ms), until autovacuum
/// comes by. SQLite: `PRAGMA optimize` on the writer thread, whose
/// connection plans the picks (see `super::sqlite_optimize_here`).
pub async fn refresh_statistics(db: &super::Db) -> crate::Result<()> {
    match &db.write {
        super::Pool::Postgres(p) => {
            sqlx::query("ANALYZE prompts, completions, pairs").execute(p).await?;
            Ok(())
        }
        super::Pool::Sqlite(_) => db.hot_bulk(|c| super::sqlite_optimize_here(c)).await,
    }
}

fn model_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// Adds one item (run by the writer thread, inside its transaction): the
/// prompt if new (found again by its id, else by its content — with the
/// completions, for an item of a preference set), the completions not yet
/// there, and every pair a new completion makes with the others. The pair of
/// the first two completions gets the item's prior and source line.
pub fn add_item(
    conn: &mut dyn Conn,
    project_id: i64,
    item: &ImportItem,
    spread: &mut HashMap<(String, String), i64>,
) -> Result<Added> {
    let now = now_ms();
    let messages = serde_json::to_string(&item.messages).unwrap_or_default();
    let dedupe_key = match &item.external_id {
        Some(id) => format!("id:{id}"),
        None if item.key_on_completions => {
            let mut parts: Vec<&str> = vec![&messages];
            for c in &item.completions {
                parts.push(&c.model);
                parts.push(&c.text);
            }
            format!("item:{}", hash_hex(&parts))
        }
        None => format!("hash:{}", hash_hex(&[&messages])),
    };
    let meta = item.meta.as_ref().map(|m| serde_json::Value::Object(m.clone()).to_string());
    let mut added = Added::default();

    let existing: Option<i64> = conn
        .query_opt("SELECT id FROM prompts WHERE project_id = $1 AND dedupe_key = $2", vals![project_id, &dedupe_key])?
        .map(|r| r.get(0))
        .transpose()?;
    let prompt_id = match existing {
        Some(id) => {
            added.prompts_existing += 1;
            id
        }
        None => {
            added.prompts += 1;
            conn.scalar(
                "INSERT INTO prompts (uuid, project_id, dedupe_key, external_id, is_chat, messages, meta, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                vals![new_uuid(), project_id, &dedupe_key, &item.external_id, item.is_chat, &messages, &meta, now],
            )?
        }
    };

    // (id, model, is_new, index in the item) for every completion of the prompt, in position order.
    let mut all: Vec<(i64, String, bool, Option<usize>)> = Vec::new();
    let mut have: HashMap<String, usize> = HashMap::new();
    let mut next_position = 0i64;
    if existing.is_some() {
        let rows = conn.query(
            "SELECT id, model, content_hash, position FROM completions WHERE prompt_id = $1 ORDER BY position",
            vals![prompt_id],
        )?;
        for r in rows {
            let (id, model, hash, position): (i64, String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            have.insert(hash, all.len());
            all.push((id, model, false, None));
            next_position = next_position.max(position + 1);
        }
    }
    for (index, c) in item.completions.iter().enumerate() {
        let hash = hash_hex(&[&c.model, &c.text]);
        if let Some(&at) = have.get(&hash) {
            all[at].3.get_or_insert(index);
            continue;
        }
        let id: i64 = conn.scalar(
            "INSERT INTO completions (uuid, prompt_id, model, body, position, content_hash)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            vals![new_uuid(), prompt_id, &c.model, &c.text, next_position, &hash],
        )?;
        have.insert(hash, all.len());
        next_position += 1;
        added.completions += 1;
        all.push((id, c.model.clone(), true, Some(index)));
    }

    if existing.is_some() && added.completions > 0 {
        // New answers reopen a prompt whose order adaptive selection had
        // settled, and ask for N new rankings or ratings that cover them
        // (the counters of prompt-level tasks; live leases stay counted).
        conn.execute(
            "UPDATE prompts SET settled = FALSE, load = load - submitted, submitted = 0 WHERE id = $1",
            vals![prompt_id],
        )?;
    }
    for (i, j) in pair_indices(all.len()) {
        let (a, b) = (&all[i], &all[j]);
        // The item's own first pair carries its prior and gold answer (in
        // canonical order: positive favours A, gold as ±3 or 0).
        let first_pair = match (a.3, b.3) {
            (Some(0), Some(1)) => Some(1i8),
            (Some(1), Some(0)) => Some(-1i8),
            _ => None,
        };
        let gold = first_pair.zip(item.gold).map(|(sign, g)| i64::from(3 * sign * g));
        if !a.2 && !b.2 {
            // Both old: the pair exists already; a gold answer given again is set.
            if let Some(gold) = gold {
                conn.execute(
                    "UPDATE pairs SET gold_choice = $1 WHERE completion_a = $2 AND completion_b = $3",
                    vals![gold, a.0, b.0],
                )?;
            }
            continue;
        }
        let counter = spread.entry(model_key(&a.1, &b.1)).or_insert(0);
        let prior = first_pair.zip(item.prior).map(|(sign, p)| i64::from(sign * p));
        let pair_id: i64 = conn.scalar(
            "INSERT INTO pairs (uuid, project_id, prompt_id, completion_a, completion_b, spread, created_at, prior,
                                gold_choice)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            vals![new_uuid(), project_id, prompt_id, a.0, b.0, *counter, now, prior, gold],
        )?;
        // Byte-for-byte HH-RLHF lines only hold for the pair in the line's order.
        if let (Some(1), Some(line)) = (first_pair, &item.source) {
            conn.execute("INSERT INTO pair_sources (pair_id, line) VALUES ($1, $2)", vals![pair_id, line])?;
        }
        *counter += 1;
        added.pairs += 1;
    }
    Ok(added)
}
