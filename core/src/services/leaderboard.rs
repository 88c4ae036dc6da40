//! Model leaderboards (issue 10), per project and across the projects
//! that share model names. Admins only.
//!
//! A fit is cached per (projects, rounds, seed) with the stamp of the data
//! it saw (count, last id and last edit of the judgements). A fresh read
//! (the API, the CLI) refits when the stamp moved; the page takes the last
//! fit at once and starts a refit in the background, so it answers in
//! milliseconds at a million judgements and is current a moment later.
use super::auth::require_admin;
use crate::domain::leaderboard::{self, Board};
use crate::storage::projects::Project;
use crate::storage::{leaderboard as store, Db};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const DEFAULT_ROUNDS: usize = 100;
pub const MAX_ROUNDS: usize = 1000;
pub const DEFAULT_SEED: u64 = 42;
/// Fits kept per process (projects × rounds × seed).
const MAX_CACHED: usize = 32;
/// Seeds stay exact as JSON numbers (2⁵³ − 1).
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// Bootstrap rounds and seed, checked once at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    pub rounds: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { rounds: DEFAULT_ROUNDS, seed: DEFAULT_SEED }
    }
}

impl Options {
    pub fn parse(rounds: Option<&str>, seed: Option<&str>) -> Result<Options> {
        let rounds = match rounds {
            None | Some("") => DEFAULT_ROUNDS,
            Some(r) => r
                .parse::<usize>()
                .ok()
                .filter(|r| *r <= MAX_ROUNDS)
                .ok_or_else(|| Error::bad(format!("rounds: {r:?} is not a whole number from 0 to {MAX_ROUNDS}")))?,
        };
        let seed = match seed {
            None | Some("") => DEFAULT_SEED,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= MAX_SEED)
                .ok_or_else(|| Error::bad(format!("seed: {s:?} is not a whole number from 0 to {MAX_SEED}")))?,
        };
        Ok(Options { rounds, seed })
    }
}

/// A leaderboard and whether newer judgements exist than it saw (a refit is
/// then under way).
#[derive(Debug, Clone)]
pub struct Current {
    pub board: Arc<Board>,
    pub stale: bool,
}

/// The leaderboard of one project.
pub async fn project(
    db: &Db,
    user: &crate::storage::users::User,
    project: &Project,
    options: Options,
    fresh: bool,
) -> Result<Current> {
    require_admin(user)?;
    board(db, vec![project.id], options, fresh).await
}

/// The leaderboard across `slugs` (all projects when empty): models with
/// the same name in several projects are one model.
pub async fn across(
    db: &Db,
    user: &crate::storage::users::User,
    slugs: &[String],
    options: Options,
    fresh: bool,
) -> Result<(Vec<Project>, Current)> {
    require_admin(user)?;
    let projects = if slugs.is_empty() {
        super::projects::list_for(db, user).await?
    } else {
        let mut out = Vec::new();
        for s in slugs {
            out.push(super::projects::administered(db, user, s).await?);
        }
        out
    };
    let ids = projects.iter().map(|p| p.id).collect();
    let current = board(db, ids, options, fresh).await?;
    Ok((projects, current))
}

async fn board(db: &Db, mut ids: Vec<i64>, options: Options, fresh: bool) -> Result<Current> {
    ids.sort_unstable();
    ids.dedup();
    let key = (ids.clone(), options.rounds, options.seed);
    let stamp = store::stamp(&db.read, &ids).await?;
    {
        let mut boards = db.caches.boards.lock().unwrap_or_else(|e| e.into_inner());
        let slot = boards.entry(key.clone()).or_default();
        if let Some(board) = slot.board.clone() {
            if slot.stamp == stamp {
                return Ok(Current { board, stale: false });
            }
            if !fresh {
                if !slot.refreshing {
                    slot.refreshing = true;
                    let db = db.clone();
                    tokio::spawn(async move {
                        if let Err(e) = refit(&db, &key, options, stamp).await {
                            e.log_if_internal("leaderboard refit");
                        }
                        let mut boards = db.caches.boards.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(slot) = boards.get_mut(&key) {
                            slot.refreshing = false;
                        }
                    });
                }
                return Ok(Current { board, stale: true });
            }
        }
    }
    let board = refit(db, &key, options, stamp).await?;
    Ok(Current { board, stale: false })
}

/// Reads the battles, fits off the async threads, and keeps the result.
async fn refit(
    db: &Db,
    key: &crate::storage::cache::BoardKey,
    options: Options,
    stamp: (i64, i64, i64),
) -> Result<Arc<Board>> {
    let data = store::battles(&db.read, &key.0).await?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (board, order) = tokio::task::spawn_blocking(move || {
        let board = leaderboard::board(&data.models, &data.battles, options.rounds, options.seed, threads);
        let order: Vec<(String, f64)> = leaderboard::priorities(&board, &data.models)
            .into_iter()
            .map(|((a, b), score)| (crate::storage::prompts::model_pair(&a, &b), score))
            .collect();
        (board, order)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    let board = Arc::new(board);
    let mut boards = db.caches.boards.lock().unwrap_or_else(|e| e.into_inner());
    // A bounded cache: admins may ask for any rounds and seed.
    if boards.len() >= MAX_CACHED && !boards.contains_key(key) {
        boards.retain(|_, slot| slot.refreshing);
    }
    let slot = boards.entry(key.clone()).or_default();
    // The last refit to finish is kept; were it the older of two racing
    // ones, its stamp no longer matches and the next read refits.
    slot.stamp = stamp;
    slot.board = Some(board.clone());
    slot.fitted_at = Some(std::time::Instant::now());
    slot.priorities = Arc::new(order);
    Ok(board)
}

/// How old a fit may be before serving under active selection starts a
/// refit in the background.
pub const SERVING_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

/// For active model-pair selection (on the hot path: no database read):
/// the model pairs of the project in the order to try them for one task,
/// drawn with chances `leaderboard::serving_weights` from its last fit
/// (`leaderboard::weighted_order`); a refit starts in the background when
/// there is none or it is older than `SERVING_REFRESH`. `None` until a
/// first fit exists.
pub fn serving_order(db: &Db, project_id: i64) -> Option<Vec<String>> {
    let options = Options::default();
    let key = (vec![project_id], options.rounds, options.seed);
    let mut boards = db.caches.boards.lock().unwrap_or_else(|e| e.into_inner());
    let slot = boards.entry(key.clone()).or_default();
    let due = slot.fitted_at.is_none_or(|t| t.elapsed() >= SERVING_REFRESH);
    if due && !slot.refreshing {
        slot.refreshing = true;
        let db = db.clone();
        tokio::spawn(async move {
            let stamp = store::stamp(&db.read, &key.0).await;
            let done = match stamp {
                Ok(stamp) => refit(&db, &key, options, stamp).await.map(|_| ()),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = done {
                e.log_if_internal("leaderboard refit for active selection");
            }
            let mut boards = db.caches.boards.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = boards.get_mut(&key) {
                slot.refreshing = false;
            }
        });
    }
    slot.board.as_ref()?;
    let scores: Vec<f64> = slot.priorities.iter().map(|(_, s)| *s).collect();
    Some(
        leaderboard::weighted_order(&leaderboard::serving_weights(&scores), rand::random::<f64>)
            .into_iter()
            .map(|i| slot.priorities[i].0.clone())
            .collect(),
    )
}

/// The leaderboard as CSV: one row per model, by rating.
pub fn csv(board: &Board) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["model", "rating", "ci_low", "ci_high", "elo", "battles", "wins", "ties", "losses"]);
    for s in &board.models {
        let _ = w.write_record([
            s.model.clone(),
            s.rating.to_string(),
            s.ci[0].to_string(),
            s.ci[1].to_string(),
            s.elo.to_string(),
            s.battles.to_string(),
            s.wins.to_string(),
            s.ties.to_string(),
            s.losses.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
