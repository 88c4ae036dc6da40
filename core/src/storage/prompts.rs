//! Writing imported prompts, their completions and the pairs between them.
use super::{new_uuid, now_ms, Tx};
use crate::domain::import::{pair_indices, Prepared};
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
pub async fn model_pair_counts(tx: &mut Tx, project_id: i64) -> sqlx::Result<HashMap<(String, String), i64>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT ca.model, cb.model, COUNT(*) FROM pairs p
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE p.project_id = ? GROUP BY ca.model, cb.model",
    )
    .bind(project_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = HashMap::new();
    for (a, b, n) in rows {
        *out.entry(model_key(&a, &b)).or_insert(0) += n;
    }
    Ok(out)
}

fn model_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// Adds one item: the prompt if new (found again by its id, or by its content
/// when it has none), the completions not yet there, and every pair a new
/// completion makes with the others.
pub async fn add_item(
    tx: &mut Tx,
    project_id: i64,
    prepared: &Prepared,
    spread: &mut HashMap<(String, String), i64>,
) -> sqlx::Result<Added> {
    let item = &prepared.item;
    let now = now_ms();
    let messages = serde_json::to_string(&item.messages).unwrap_or_default();
    let dedupe_key = match &item.external_id {
        Some(id) => format!("id:{id}"),
        None => format!("hash:{}", hash_hex(&[&messages])),
    };
    let meta = item.meta.as_ref().map(|m| serde_json::Value::Object(m.clone()).to_string());
    let mut added = Added::default();

    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM prompts WHERE project_id = ? AND dedupe_key = ?")
        .bind(project_id)
        .bind(&dedupe_key)
        .fetch_optional(&mut **tx)
        .await?;
    let prompt_id = match existing {
        Some(id) => {
            added.prompts_existing += 1;
            id
        }
        None => {
            added.prompts += 1;
            sqlx::query_scalar(
                "INSERT INTO prompts (uuid, project_id, dedupe_key, external_id, is_chat, messages, meta, created_at, messages_html)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(new_uuid())
            .bind(project_id)
            .bind(&dedupe_key)
            .bind(&item.external_id)
            .bind(item.is_chat)
            .bind(&messages)
            .bind(&meta)
            .bind(now)
            .bind(serde_json::to_string(&prepared.messages_html).unwrap_or_default())
            .fetch_one(&mut **tx)
            .await?
        }
    };

    // (id, model, is_new) for every completion of the prompt, in position order.
    let mut all: Vec<(i64, String, bool)> = Vec::new();
    let mut have: HashMap<String, ()> = HashMap::new();
    let mut next_position = 0i64;
    if existing.is_some() {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, model, content_hash, position FROM completions WHERE prompt_id = ? ORDER BY position",
        )
        .bind(prompt_id)
        .fetch_all(&mut **tx)
        .await?;
        for (id, model, hash, position) in rows {
            have.insert(hash, ());
            all.push((id, model, false));
            next_position = next_position.max(position + 1);
        }
    }
    for (c, html) in item.completions.iter().zip(&prepared.completions_html) {
        let hash = hash_hex(&[&c.model, &c.text]);
        if have.contains_key(&hash) {
            continue;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO completions (uuid, prompt_id, model, body, position, content_hash, body_html)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(new_uuid())
        .bind(prompt_id)
        .bind(&c.model)
        .bind(&c.text)
        .bind(next_position)
        .bind(&hash)
        .bind(html)
        .fetch_one(&mut **tx)
        .await?;
        have.insert(hash, ());
        next_position += 1;
        added.completions += 1;
        all.push((id, c.model.clone(), true));
    }

    for (i, j) in pair_indices(all.len()) {
        let (a, b) = (&all[i], &all[j]);
        if !a.2 && !b.2 {
            continue; // both old: the pair exists already
        }
        let counter = spread.entry(model_key(&a.1, &b.1)).or_insert(0);
        sqlx::query(
            "INSERT INTO pairs (uuid, project_id, prompt_id, completion_a, completion_b, spread, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new_uuid())
        .bind(project_id)
        .bind(prompt_id)
        .bind(a.0)
        .bind(b.0)
        .bind(*counter)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        *counter += 1;
        added.pairs += 1;
    }
    Ok(added)
}
