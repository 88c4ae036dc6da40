//! Every statement about assignments (leases of a pair to an annotator) and
//! their annotations. The writes run inside a write job (`Db::hot`) over
//! `Conn`, the same SQL on both backends: leasing, expiring, submitting,
//! skipping, releasing. The reads (progress, per-annotator counts, history)
//! go through the read pool.
use super::conn::{vals, Conn, Row, Val};
use super::{new_uuid, now_ms, on, rfc3339, Dialect, Ex};
use crate::domain::choice::Choice;
use crate::domain::views::{AnnotationReceipt, MyProgress};
use crate::Result;

/// A live lease as the page and API show it. `shown`: for a ranking or
/// rating task, its completions' ids in the order shown (JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub uuid: String,
    pub swapped: bool,
    pub shown: Option<String>,
    pub lease_expires_at: i64,
    /// What it shows, when the statement that leased it read that too.
    pub content: Option<Content>,
}

/// What the page shows for a ranking or rating lease: the prompt and its
/// completions (id, uuid, text) in the shown order.
pub struct PromptContent {
    pub messages: String,
    pub is_chat: bool,
    pub completions: Vec<(i64, String, String)>,
}

/// What the annotator page shows for a lease: the prompt and both texts in
/// canonical order (the caller applies `swapped`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub messages: String,
    pub is_chat: bool,
    pub a: String,
    pub b: String,
}

/// Leases live at `now`, in every project (a probe of the live-lease index).
pub async fn live_leases(ex: impl Into<Ex<'_>>, now: i64) -> sqlx::Result<i64> {
    on!(ex, e => sqlx::query_scalar("SELECT COUNT(*) FROM assignments WHERE state = 'leased' AND lease_expires_at > $1")
        .bind(now)
        .fetch_one(e)
        .await)
}

/// ` FOR UPDATE OF alias SKIP LOCKED` on PostgreSQL: a row another
/// instance's job is leasing is passed over, not waited for. Nothing on
/// SQLite, where the one writer holds the whole database.
fn skip_locked(c: &dyn Conn, alias: &str) -> String {
    match c.dialect() {
        Dialect::Sqlite => String::new(),
        Dialect::Postgres => format!(" FOR UPDATE OF {alias} SKIP LOCKED"),
    }
}

/// ` OFFSET 0` on PostgreSQL, at the end of a pick's `NOT EXISTS`: the
/// subquery stays a probe per candidate (walked in the pick index's order)
/// instead of becoming an anti-join, whose plan without values (the one
/// the write-job connections run: `pg_writers`) hashes all the annotator's
/// assignments or scans the table (see `lease_next`). Nothing on SQLite.
fn probe(c: &dyn Conn) -> &'static str {
    match c.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " OFFSET 0",
    }
}

/// What a task leases: a pair, or (ranking and rating) a whole prompt.
type Item = (Option<i64>, i64);

fn items(rows: &[Row]) -> Result<Vec<Item>> {
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
}

/// Adds to the load (and submitted count) of a task's pair or prompt.
fn count(c: &mut dyn Conn, (pair, prompt): Item, load: i64, submitted: i64) -> Result<()> {
    match pair {
        Some(pair) => c.execute(
            "UPDATE pairs SET load = load + $1, submitted = submitted + $2 WHERE id = $3",
            vals![load, submitted, pair],
        )?,
        None => c.execute(
            "UPDATE prompts SET load = load + $1, submitted = submitted + $2 WHERE id = $3",
            vals![load, submitted, prompt],
        )?,
    };
    Ok(())
}

/// Frees one slot of each pair or prompt whose lease just ended.
fn give_back(c: &mut dyn Conn, items: &[Item]) -> Result<usize> {
    for &i in items {
        count(c, i, -1, 0)?;
    }
    Ok(items.len())
}

fn lease_of(r: &Row) -> Result<Lease> {
    Ok(Lease {
        id: r.get(0)?,
        uuid: r.get(1)?,
        swapped: r.get(2)?,
        shown: r.get(3)?,
        lease_expires_at: r.get(4)?,
        content: None,
    })
}

/// The annotator's live leases in a project, oldest first (at most two):
/// `cols` of them, the annotator, project, now and state ('leased', bound)
/// as the expressions given.
fn held(cols: &str, annotator: &str, project: &str, now: &str, state: &str) -> String {
    format!(
        "SELECT {cols} FROM assignments
         WHERE annotator_id = {annotator} AND project_id = {project} AND state = {state} AND lease_expires_at > {now}
         ORDER BY leased_at, id LIMIT 2"
    )
}

/// `held`'s columns as `lease_of` reads them.
const LEASE_COLS: &str = "id, uuid, swapped, shown, lease_expires_at";

/// `held` for parameters $1 (annotator), $2 (project), $3 (now), $4 (state).
static HELD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| held(LEASE_COLS, "$1", "$2", "$3", "$4"));

/// Ends the leases past their time (`$1`: now), returning their pairs and prompts.
const EXPIRE: &str = "UPDATE assignments SET state = 'expired' WHERE state = 'leased' AND lease_expires_at <= $1
     RETURNING pair_id, prompt_id";

/// PostgreSQL: the sweep as the first parts of a statement (`gone`, the
/// leases ended; then their slots given back), `now` being parameter `now`.
fn pg_sweep(now: &str) -> String {
    format!(
        "WITH gone AS ({}),
         pairs_back AS (UPDATE pairs p SET load = p.load - g.n
                        FROM (SELECT pair_id, COUNT(*) AS n FROM gone WHERE pair_id IS NOT NULL GROUP BY pair_id) g
                        WHERE p.id = g.pair_id),
         prompts_back AS (UPDATE prompts pr SET load = pr.load - g.n
                          FROM (SELECT prompt_id, COUNT(*) AS n FROM gone WHERE pair_id IS NULL
                                GROUP BY prompt_id) g
                          WHERE pr.id = g.prompt_id)",
        EXPIRE.replace("$1", now)
    )
}

/// Returns expired leases' pairs and prompts to the pool (a probe of the
/// partial index on live leases; usually finds nothing).
pub fn sweep(c: &mut dyn Conn, now: i64) -> Result<()> {
    match c.dialect() {
        Dialect::Sqlite => {
            let gone = c.query(EXPIRE, vals![now])?;
            give_back(c, &items(&gone)?)?;
        }
        Dialect::Postgres => {
            c.query(&format!("{} SELECT 1 FROM gone LIMIT 0", pg_sweep("$1")), vals![now])?;
        }
    }
    Ok(())
}

/// `sweep`, then the annotator's live leases in the project, oldest first:
/// the current task, then the prefetched one if any. PostgreSQL: one
/// statement.
///
/// The held leases are read from the annotator's own index entries
/// (`assignments_annotator`; on PostgreSQL in the order wanted), `state`
/// bound as a value: written in the text, it would let the plan without
/// values walk every live lease of every annotator through the partial
/// index `assignments_live` (on `state = 'leased'`), as it did when the
/// statistics counted few live leases: 40 to 48 pages read per claim with 64
/// annotators, and more with each one, against 8 (docs/benchmarks.md). The test
/// `the_picks_are_planned_once_and_walk_their_index` holds it.
pub fn sweep_and_held(c: &mut dyn Conn, project_id: i64, annotator_id: i64, now: i64) -> Result<Vec<Lease>> {
    let rows = match c.dialect() {
        Dialect::Sqlite => {
            sweep(c, now)?;
            c.query(&HELD, vals![annotator_id, project_id, now, "leased"])?
        }
        // The held leases are read from the statement's snapshot, before the
        // sweep: a lease the sweep ends is past `now` and not held anyway.
        Dialect::Postgres => {
            c.query(&format!("{} {}", pg_sweep("$3"), *HELD), vals![annotator_id, project_id, now, "leased"])?
        }
    };
    rows.iter().map(lease_of).collect()
}

/// PostgreSQL's claim of a pair (`lease_next`), written once. The pair is
/// picked (and locked) once and read from `pick` by the lease, the slot and
/// the texts alike. `lvl`: the least load among the pairs this annotator may
/// take (locked ones too) and the first such pair's spread; `start`: that
/// spread plus 0–63. The parts of `pick` run in order until one gives a row
/// (`LIMIT 1` over `UNION ALL`; the statement never runs in parallel).
/// Should every pair of the level this annotator may take be locked by other
/// transactions, `any_level` walks all levels. `OFFSET 0`: see `probe` (as
/// an anti-join, with the statistics of a project under way, the claim ran
/// at less than half the rate; docs/benchmarks.md). The test
/// `the_picks_are_planned_once_and_walk_their_index` holds it.
static PG_LEASE_NEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    // The pairs this annotator may take.
    let open = "p.project_id = $2 AND p.load < $7 AND p.gold_choice IS NULL
                AND NOT EXISTS (SELECT 1 FROM assignments a
                                WHERE a.pair_id = p.id AND a.annotator_id = $3 AND a.state <> 'expired' OFFSET 0)";
    let take = |name: &str, and: &str, order: &str| {
        format!(
            "SELECT * FROM (SELECT p.id, p.prompt_id, p.completion_a, p.completion_b FROM pairs p
                            WHERE {open}{and} ORDER BY {order} LIMIT 1 FOR UPDATE OF p SKIP LOCKED) {name}"
        )
    };
    let in_level =
        |from: &str| format!(" AND p.load = (SELECT load FROM lvl) AND p.spread {from} (SELECT at FROM start)");
    format!(
        "WITH lvl AS (SELECT p.load, p.spread FROM pairs p WHERE {open} ORDER BY p.load, p.spread LIMIT 1),
         start AS (SELECT spread + floor(random() * 64)::bigint AS at FROM lvl),
         pick AS ({} UNION ALL {} UNION ALL {} LIMIT 1),
         lease AS (INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state,
                                            leased_at, lease_expires_at)
                   SELECT $1, $2, pick.prompt_id, pick.id, $3, $4, 'leased', $5, $6 FROM pick
                   ON CONFLICT (pair_id, annotator_id) DO UPDATE
                     SET state = 'leased', leased_at = excluded.leased_at, lease_expires_at = excluded.lease_expires_at
                   RETURNING id, uuid, swapped),
         slot AS (UPDATE pairs SET load = load + 1 FROM pick WHERE pairs.id = pick.id)
         SELECT l.id, l.uuid, l.swapped, pr.messages, pr.is_chat, ca.body, cb.body
         FROM lease l, pick JOIN prompts pr ON pr.id = pick.prompt_id
              JOIN completions ca ON ca.id = pick.completion_a JOIN completions cb ON cb.id = pick.completion_b",
        take("after_start", &in_level(">="), "p.spread"),
        take("before_start", &in_level("<"), "p.spread"),
        take("any_level", " AND EXISTS (SELECT 1 FROM lvl)", "p.load, p.spread"),
    )
});

/// Picks the pair with the least load (then the lowest spread, which
/// interleaves model pairs) that still needs annotations and that this
/// annotator has not judged, skipped or leased, and leases it.
/// PostgreSQL: the pick, the lease, its slot and what it shows in one
/// statement (`content` is filled in). There the pick keeps to the level
/// it found (a row another transaction moved up since is passed over; the
/// old pick could take it and hold it while its annotator's submission
/// waited, our reading of ~40 waits over 5 ms per run of two instances)
/// and starts at a random spread among the level's first 64, so that
/// instances seldom walk over each other's just-locked pairs; the order
/// within the level is otherwise the lowest spread first (docs/benchmarks.md,
/// decisions.md).
#[allow(clippy::too_many_arguments)]
pub fn lease_next(
    c: &mut dyn Conn,
    project_id: i64,
    annotator_id: i64,
    per_pair: i64,
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> Result<Option<Lease>> {
    if c.dialect() == Dialect::Postgres {
        let expires = now + lease_ms;
        let r =
            c.query_opt(&PG_LEASE_NEXT, vals![new_uuid(), project_id, annotator_id, swapped, now, expires, per_pair])?;
        return match r {
            None => Ok(None),
            Some(r) => Ok(Some(Lease {
                id: r.get(0)?,
                uuid: r.get(1)?,
                swapped: r.get(2)?,
                shown: None,
                lease_expires_at: expires,
                content: Some(Content { messages: r.get(3)?, is_chat: r.get(4)?, a: r.get(5)?, b: r.get(6)? }),
            })),
        };
    }
    match least_loaded(c, project_id, annotator_id, per_pair, false)? {
        Some((pair, _)) => lease_pair(c, project_id, pair, annotator_id, now, lease_ms, swapped).map(Some),
        None => Ok(None),
    }
}

/// A gold pair this annotator has not had yet, leased to them. Gold pairs
/// are served only this way (at the project's gold rate), to every
/// annotator once, whatever their load; `least_loaded` passes them over.
pub fn lease_gold(
    c: &mut dyn Conn,
    project_id: i64,
    annotator_id: i64,
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> Result<Option<Lease>> {
    let sql = format!(
        "SELECT p.id FROM pairs p WHERE p.project_id = $1 AND p.gold_choice IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM assignments a
                           WHERE a.pair_id = p.id AND a.annotator_id = $2 AND a.state <> 'expired'{})
         ORDER BY p.load, p.spread LIMIT 1{}",
        probe(c),
        skip_locked(c, "p")
    );
    match c.query_opt(&sql, vals![project_id, annotator_id])? {
        Some(r) => lease_pair(c, project_id, r.get(0)?, annotator_id, now, lease_ms, swapped).map(Some),
        None => Ok(None),
    }
}

/// How many model pairs of the serving order active selection tries before
/// it falls back to the ordinary order.
pub const ACTIVE_TRIES: usize = 8;

/// Active selection: the least-loaded open pair (under N, not gold, not yet
/// this annotator's) of the first model pair in `order` that has one,
/// leased to them; `None` when none of the first `ACTIVE_TRIES` has.
#[allow(clippy::too_many_arguments)]
pub fn lease_for_models(
    c: &mut dyn Conn,
    project_id: i64,
    annotator_id: i64,
    per_pair: i64,
    order: &[String],
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> Result<Option<Lease>> {
    let sql = format!(
        "SELECT p.id FROM pairs p
         WHERE p.project_id = $1 AND p.model_pair = $2 AND p.load < $3 AND p.gold_choice IS NULL
           AND NOT EXISTS (SELECT 1 FROM assignments a
                           WHERE a.pair_id = p.id AND a.annotator_id = $4 AND a.state <> 'expired'{})
         ORDER BY p.load, p.spread LIMIT 1{}",
        probe(c),
        skip_locked(c, "p")
    );
    for model_pair in order.iter().take(ACTIVE_TRIES) {
        if let Some(r) = c.query_opt(&sql, vals![project_id, model_pair, per_pair, annotator_id])? {
            return lease_pair(c, project_id, r.get(0)?, annotator_id, now, lease_ms, swapped).map(Some);
        }
    }
    Ok(None)
}

/// The (pair, prompt) `lease_next` would take on SQLite (the first of the
/// least-loaded level; PostgreSQL's starts a little further in); with `open_prompts_only`,
/// among prompts whose order is not settled yet (adaptive selection).
pub fn least_loaded(
    c: &mut dyn Conn,
    project_id: i64,
    annotator_id: i64,
    per_pair: i64,
    open_prompts_only: bool,
) -> Result<Option<(i64, i64)>> {
    let (join, open) = if open_prompts_only {
        (" JOIN prompts pr ON pr.id = p.prompt_id", " AND pr.settled = FALSE")
    } else {
        ("", "")
    };
    let sql = format!(
        "SELECT p.id, p.prompt_id FROM pairs p{join}
         WHERE p.project_id = $1 AND p.load < $2{open} AND p.gold_choice IS NULL
           AND NOT EXISTS (SELECT 1 FROM assignments a
                           WHERE a.pair_id = p.id AND a.annotator_id = $3 AND a.state <> 'expired'{})
         ORDER BY p.load, p.spread LIMIT 1{}",
        probe(c),
        skip_locked(c, "p")
    );
    match c.query_opt(&sql, vals![project_id, per_pair, annotator_id])? {
        Some(r) => Ok(Some((r.get(0)?, r.get(1)?))),
        None => Ok(None),
    }
}

/// A pair of a prompt, for adaptive selection: its completions (canonical
/// order) and whether this annotator may be offered it (under N, not yet
/// judged, skipped or leased by them).
pub struct OpenPair {
    pub id: i64,
    pub a: i64,
    pub b: i64,
    pub offerable: bool,
}

/// On PostgreSQL the prompt's pairs stay locked until the job commits, so
/// two instances choosing among them one after the other see each other's
/// leases (and no pair goes over N).
pub fn prompt_pairs(c: &mut dyn Conn, prompt_id: i64, annotator_id: i64, per_pair: i64) -> Result<Vec<OpenPair>> {
    let lock = if c.dialect() == Dialect::Postgres { " FOR UPDATE OF p" } else { "" };
    c.query(
        &format!(
            "SELECT p.id, p.completion_a, p.completion_b,
                    p.load < $3 AND p.gold_choice IS NULL AND NOT EXISTS (SELECT 1 FROM assignments a
                                            WHERE a.pair_id = p.id AND a.annotator_id = $2 AND a.state <> 'expired')
             FROM pairs p WHERE p.prompt_id = $1 ORDER BY p.id{lock}"
        ),
        vals![prompt_id, annotator_id, per_pair],
    )?
    .iter()
    .map(|r| Ok(OpenPair { id: r.get(0)?, a: r.get(1)?, b: r.get(2)?, offerable: r.get(3)? }))
    .collect()
}

/// Every vote on a prompt's pairs: (completion a, completion b, canonical choice).
pub fn prompt_votes(c: &mut dyn Conn, prompt_id: i64) -> Result<Vec<(i64, i64, i64)>> {
    c.query(
        "SELECT p.completion_a, p.completion_b, n.choice FROM annotations n JOIN pairs p ON p.id = n.pair_id
         WHERE p.prompt_id = $1 ORDER BY n.id",
        vals![prompt_id],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .collect()
}

/// Marks a prompt's order settled: adaptive selection offers none of its pairs again.
pub fn settle(c: &mut dyn Conn, prompt_id: i64) -> Result<()> {
    c.execute("UPDATE prompts SET settled = TRUE WHERE id = $1", vals![prompt_id])?;
    Ok(())
}

/// Leases `pair` to the annotator. The caller holds the pair's row (on
/// PostgreSQL: picked `FOR UPDATE` in this transaction): nothing else keeps
/// the pair, or its prompt, from being deleted under the new assignment
/// there, whose columns check no foreign key (migration `assignment_keys`).
pub fn lease_pair(
    c: &mut dyn Conn,
    project_id: i64,
    pair: i64,
    annotator_id: i64,
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> Result<Lease> {
    let expires = now + lease_ms;
    // An expired lease of the same annotator on this pair is renewed in
    // place; it keeps its id and its shown order, so a page still open on
    // the old lease submits into the same task with the same sides.
    const LEASE: &str = "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state,
                                  leased_at, lease_expires_at)
         SELECT $1, $2, p.prompt_id, p.id, $4, $5, 'leased', $6, $7 FROM pairs p WHERE p.id = $3
         ON CONFLICT (pair_id, annotator_id) DO UPDATE
           SET state = 'leased', leased_at = excluded.leased_at, lease_expires_at = excluded.lease_expires_at
         RETURNING id, uuid, swapped";
    let params = vals![new_uuid(), project_id, pair, annotator_id, swapped, now, expires];
    let r = match c.dialect() {
        Dialect::Sqlite => {
            let r = c.query_one(LEASE, params)?;
            count(c, (Some(pair), 0), 1, 0)?;
            r
        }
        // The lease and its slot in one statement.
        Dialect::Postgres => c.query_one(
            &format!(
                "WITH lease AS ({LEASE}), slot AS (UPDATE pairs SET load = load + 1 WHERE id = $3)
                 SELECT id, uuid, swapped FROM lease"
            ),
            params,
        )?,
    };
    Ok(Lease {
        id: r.get(0)?,
        uuid: r.get(1)?,
        swapped: r.get(2)?,
        shown: None,
        lease_expires_at: expires,
        content: None,
    })
}

/// Ranking and rating tasks: picks the prompt with the least load that
/// still needs annotations, has from `min_completions` to `max_completions`
/// completions (a ranking shows at most 9: a prompt that grew past that by
/// later imports is not offered) and
/// that this annotator has not judged, skipped or leased, and leases it with
/// its completions in the order `shuffle` gives them.
#[allow(clippy::too_many_arguments)]
pub fn lease_next_prompt(
    c: &mut dyn Conn,
    project_id: i64,
    annotator_id: i64,
    per_prompt: i64,
    (min_completions, max_completions): (i64, i64),
    now: i64,
    lease_ms: i64,
    shuffle: &mut dyn FnMut(&mut [i64]),
) -> Result<Option<Lease>> {
    let sql = format!(
        "SELECT pr.id FROM prompts pr
         WHERE pr.project_id = $1 AND pr.load < $2
           AND (SELECT COUNT(*) FROM completions c WHERE c.prompt_id = pr.id) BETWEEN $4 AND $5
           AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.prompt_id = pr.id AND a.annotator_id = $3
                             AND a.pair_id IS NULL AND a.state <> 'expired'{})
         ORDER BY pr.load, pr.id LIMIT 1{}",
        probe(c),
        skip_locked(c, "pr")
    );
    let Some(r) = c.query_opt(&sql, vals![project_id, per_prompt, annotator_id, min_completions, max_completions])?
    else {
        return Ok(None);
    };
    let prompt: i64 = r.get(0)?;
    let mut ids: Vec<i64> = c
        .query("SELECT id FROM completions WHERE prompt_id = $1 ORDER BY position, id", vals![prompt])?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    shuffle(&mut ids);
    let shown = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let expires = now + lease_ms;
    // As for pairs, an expired lease of the same annotator is renewed in
    // place with its shown order.
    let r = c.query_one(
        "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, shown, state, leased_at,
                                  lease_expires_at)
         VALUES ($1, $2, $3, NULL, $4, FALSE, $5, 'leased', $6, $7)
         ON CONFLICT (prompt_id, annotator_id) WHERE pair_id IS NULL DO UPDATE
           SET state = 'leased', leased_at = excluded.leased_at, lease_expires_at = excluded.lease_expires_at
         RETURNING id, uuid, shown",
        vals![new_uuid(), project_id, prompt, annotator_id, shown, now, expires],
    )?;
    let (id, uuid, shown): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    count(c, (None, prompt), 1, 0)?;
    Ok(Some(Lease { id, uuid, swapped: false, shown: Some(shown), lease_expires_at: expires, content: None }))
}

/// The prompt and completions of a ranking or rating lease, in its shown order.
pub fn prompt_content(c: &mut dyn Conn, assignment_id: i64) -> Result<PromptContent> {
    let r = c.query_one(
        "SELECT pr.messages, pr.is_chat, pr.id, s.shown FROM assignments s JOIN prompts pr ON pr.id = s.prompt_id
         WHERE s.id = $1",
        vals![assignment_id],
    )?;
    let (messages, is_chat, prompt, shown): (String, bool, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let order: Vec<i64> = serde_json::from_str(&shown).unwrap_or_default();
    let mut all: Vec<(i64, String, String)> = c
        .query("SELECT id, uuid, body FROM completions WHERE prompt_id = $1", vals![prompt])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .collect::<Result<_>>()?;
    let mut completions = Vec::with_capacity(order.len());
    for id in order {
        if let Some(at) = all.iter().position(|c| c.0 == id) {
            completions.push(all.swap_remove(at));
        }
    }
    Ok(PromptContent { messages, is_chat, completions })
}

/// A ranking or rating task's completions: (id, uuid) in the shown order.
pub fn shown_completions(c: &mut dyn Conn, assignment_id: i64) -> Result<Vec<(i64, String)>> {
    let shown: String = c.scalar("SELECT shown FROM assignments WHERE id = $1", vals![assignment_id])?;
    let order: Vec<i64> = serde_json::from_str(&shown).unwrap_or_default();
    order
        .into_iter()
        .map(|id| c.scalar::<String>("SELECT uuid FROM completions WHERE id = $1", vals![id]).map(|u| (id, u)))
        .collect()
}

/// What the page shows for a lease, read in the claim's own job so a
/// claim is one job with no further round trip.
pub fn content(c: &mut dyn Conn, assignment_id: i64) -> Result<Content> {
    let r = c.query_one(
        "SELECT pr.messages, pr.is_chat, ca.body, cb.body
         FROM assignments s JOIN pairs p ON p.id = s.pair_id JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE s.id = $1",
        vals![assignment_id],
    )?;
    Ok(Content { messages: r.get(0)?, is_chat: r.get(1)?, a: r.get(2)?, b: r.get(3)? })
}

/// An assignment as submit and skip need it, found by its public id and
/// owner: someone else's task id is "not found", never "forbidden". So is
/// the task of an annotator who is no longer a member of its project (or
/// no longer active): checked here, in the write job, on every path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: i64,
    pub uuid: String,
    pub project_id: i64,
    pub prompt_id: i64,
    /// None: a ranking or rating task (of the whole prompt).
    pub pair_id: Option<i64>,
    pub swapped: bool,
    pub state: String,
    pub leased_at: i64,
    pub lease_expires_at: i64,
    pub project_flags: String,
    /// What the project asks for: task type, aspects (JSON), scale.
    pub task_type: String,
    pub aspects: String,
    pub scale: (i64, i64),
    /// The project's undo window.
    pub undo_judgements: i64,
    pub undo_minutes: i64,
    /// Whether an annotation is stored under the client key `find` was
    /// given (a retry): read in the same statement, so a first submission
    /// needs no statement of its own to learn that it is one.
    pub key_used: bool,
}

pub fn find(c: &mut dyn Conn, uuid: &str, annotator_id: i64, client_key: Option<&str>) -> Result<Option<Assignment>> {
    let sql = find_sql(c.dialect(), "");
    c.query_opt(&sql, vals![uuid, annotator_id, client_key])?.map(|r| assignment_of(&r)).transpose()
}

/// `find`, and the annotator's live leases in the task's project at `now`
/// (as `sweep_and_held` reads them, with no sweep). PostgreSQL: one
/// statement, the leases in a JSON column.
pub fn find_and_held(
    c: &mut dyn Conn,
    uuid: &str,
    annotator_id: i64,
    client_key: Option<&str>,
    now: i64,
) -> Result<Option<(Assignment, Vec<Lease>)>> {
    match c.dialect() {
        Dialect::Sqlite => {
            let Some(a) = find(c, uuid, annotator_id, client_key)? else { return Ok(None) };
            let held = c.query(&HELD, vals![annotator_id, a.project_id, now, "leased"])?;
            Ok(Some((a, held.iter().map(lease_of).collect::<Result<_>>()?)))
        }
        Dialect::Postgres => {
            let leases = format!(
                ", (SELECT COALESCE(json_agg(json_build_array(h.id, h.uuid, h.swapped, h.shown, h.lease_expires_at)
                                         ORDER BY h.leased_at, h.id), '[]')::text
                    FROM ({}) h)",
                held(&format!("{LEASE_COLS}, leased_at"), "$2", "a.project_id", "$4", "$5")
            );
            let sql = find_sql(Dialect::Postgres, &leases);
            let Some(r) = c.query_opt(&sql, vals![uuid, annotator_id, client_key, now, "leased"])? else {
                return Ok(None);
            };
            type Held = Vec<(i64, String, bool, Option<String>, i64)>;
            let json: String = r.get(17)?;
            let held: Held =
                serde_json::from_str(&json).map_err(|e| crate::Error::Internal(anyhow::anyhow!("held leases: {e}")))?;
            let held = held
                .into_iter()
                .map(|(id, uuid, swapped, shown, lease_expires_at)| Lease {
                    id,
                    uuid,
                    swapped,
                    shown,
                    lease_expires_at,
                    content: None,
                })
                .collect();
            Ok(Some((assignment_of(&r)?, held)))
        }
    }
}

/// `find`'s statement, with `more` columns after its own.
fn find_sql(dialect: Dialect, more: &str) -> String {
    format!(
        "SELECT a.id, a.uuid, a.project_id, a.prompt_id, a.pair_id, a.swapped, a.state, a.leased_at, a.lease_expires_at,
                p.flags, p.task_type, p.aspects, p.scale_min, p.scale_max, p.undo_judgements, p.undo_minutes,
                EXISTS (SELECT 1 FROM annotations k WHERE k.client_key = $3){more}
         FROM assignments a JOIN projects p ON p.id = a.project_id JOIN users u ON u.id = a.annotator_id
         WHERE a.uuid = $1 AND a.annotator_id = $2 AND u.active = TRUE
           AND (u.role = 'admin'
                OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = a.project_id AND m.user_id = $2)){}",
        // PostgreSQL: the row stays as read until this job commits (an expiry
        // sweep of another job waits), so `finish` counts from its true state.
        if dialect == Dialect::Postgres { " FOR UPDATE OF a" } else { "" }
    )
}

fn assignment_of(r: &Row) -> Result<Assignment> {
    Ok(Assignment {
        id: r.get(0)?,
        uuid: r.get(1)?,
        project_id: r.get(2)?,
        prompt_id: r.get(3)?,
        pair_id: r.get(4)?,
        swapped: r.get(5)?,
        state: r.get(6)?,
        leased_at: r.get(7)?,
        lease_expires_at: r.get(8)?,
        project_flags: r.get(9)?,
        task_type: r.get(10)?,
        aspects: r.get(11)?,
        scale: (r.get(12)?, r.get(13)?),
        undo_judgements: r.get(14)?,
        undo_minutes: r.get(15)?,
        key_used: r.get(16)?,
    })
}

/// What finishing an assignment as `state` adds to its pair's or prompt's
/// (load, submitted).
fn finish_deltas(a: &Assignment, state: &str) -> (i64, i64) {
    let was_counted = a.state == "leased";
    match (state, was_counted) {
        ("submitted", true) => (0, 1),
        ("submitted", false) => (1, 1), // late: the sweep had already taken it out of `load`
        (_, true) => (-1, 0),           // skipped while leased: free the slot
        _ => (0, 0),
    }
}

/// Marks the assignment finished and keeps the pair's counters right.
pub fn finish(c: &mut dyn Conn, a: &Assignment, state: &str, reason: Option<&str>, now: i64) -> Result<()> {
    c.execute(
        "UPDATE assignments SET state = $1, finished_at = $2, skip_reason = $3 WHERE id = $4",
        vals![state, now, reason, a.id],
    )?;
    let (load, submitted) = finish_deltas(a, state);
    count(c, (a.pair_id, a.prompt_id), load, submitted)
}

pub struct NewAnnotation<'a> {
    pub assignment: &'a Assignment,
    pub annotator_id: i64,
    pub client_key: &'a str,
    pub request_hash: &'a str,
    /// Pairwise tasks.
    pub choice_shown: Option<Choice>,
    /// Ranking tasks: (completion id, rank).
    pub ranks: &'a [(i64, i64)],
    /// Rating tasks: (completion id, aspect, value).
    pub ratings: &'a [(i64, String, i64)],
    /// Ranking and rating tasks: (completion id, flag).
    pub completion_flags: &'a [(i64, String)],
    pub both_bad: bool,
    pub flags: &'a [String],
    pub rationale: &'a str,
    pub time_ms: Option<i64>,
    pub late: bool,
    pub now: i64,
}

/// Stores a first submission: the annotation (with its ranks, ratings and
/// answer flags), its assignment marked submitted, its pair's or prompt's
/// counters. PostgreSQL: the annotation, assignment and counters in one
/// statement. Returns the annotation's public id.
pub fn submit(c: &mut dyn Conn, n: &NewAnnotation<'_>) -> Result<String> {
    const INSERT: &str = "INSERT INTO annotations (uuid, assignment_id, project_id, prompt_id, pair_id, annotator_id,
                                  client_key, request_hash, choice_shown, choice, both_bad, flags, rationale, time_ms,
                                  late, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id";
    let uuid = new_uuid();
    let a = n.assignment;
    let flags = serde_json::to_string(n.flags).unwrap_or_else(|_| "[]".into());
    let mut params = vals![
        uuid.as_str(),
        a.id,
        a.project_id,
        a.prompt_id,
        a.pair_id,
        n.annotator_id,
        n.client_key,
        n.request_hash,
        n.choice_shown.map(i64::from),
        n.choice_shown.map(|c| i64::from(c.canonical(a.swapped))),
        n.both_bad,
        flags.as_str(),
        n.rationale,
        n.time_ms,
        n.late,
        n.now,
    ]
    .to_vec();
    let id: i64 = match c.dialect() {
        Dialect::Sqlite => {
            let id = c.scalar(INSERT, &params)?;
            finish(c, a, "submitted", None, n.now)?;
            id
        }
        Dialect::Postgres => {
            let (load, submitted) = finish_deltas(a, "submitted");
            params.extend([Val::from(load), Val::from(submitted)]);
            // The pair's counters, or (ranking, rating) the prompt's.
            let (table, id) = if a.pair_id.is_some() { ("pairs", "$5") } else { ("prompts", "$4") };
            c.scalar(
                &format!(
                    "WITH annotation AS ({INSERT}),
                     done AS (UPDATE assignments SET state = 'submitted', finished_at = $16 WHERE id = $2),
                     counted AS (UPDATE {table} SET load = load + $17, submitted = submitted + $18 WHERE id = {id})
                     SELECT id FROM annotation"
                ),
                &params,
            )?
        }
    };
    insert_parts(c, id, n)?;
    Ok(uuid)
}

/// A ranking's ranks, a rating's values and flags on single answers.
fn insert_parts(c: &mut dyn Conn, id: i64, n: &NewAnnotation<'_>) -> Result<()> {
    for (completion, r) in n.ranks {
        c.execute(
            "INSERT INTO ranks (annotation_id, completion_id, rank) VALUES ($1, $2, $3)",
            vals![id, *completion, *r],
        )?;
    }
    for (completion, aspect, v) in n.ratings {
        c.execute(
            "INSERT INTO ratings (annotation_id, completion_id, aspect, value) VALUES ($1, $2, $3, $4)",
            vals![id, *completion, aspect, *v],
        )?;
    }
    for (completion, f) in n.completion_flags {
        c.execute(
            "INSERT INTO completion_flags (annotation_id, completion_id, flag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            vals![id, *completion, f],
        )?;
    }
    Ok(())
}

/// A stored ranking or rating keyed by the task's own completion ids, for
/// the receipt a retry gets back.
pub type StoredJudgement = (Vec<(String, i64)>, Vec<(String, String, i64)>, Vec<(String, String)>);

pub fn judgement(c: &mut dyn Conn, annotation_uuid: &str) -> Result<StoredJudgement> {
    let task: String = c.scalar(
        "SELECT s.uuid FROM annotations n JOIN assignments s ON s.id = n.assignment_id WHERE n.uuid = $1",
        vals![annotation_uuid],
    )?;
    let id = |completion: String| crate::domain::views::task_completion_id(&task, &completion);
    let ranks = c
        .query(
            "SELECT c.uuid, k.rank FROM ranks k JOIN completions c ON c.id = k.completion_id
             WHERE k.annotation_id = (SELECT id FROM annotations WHERE uuid = $1)",
            vals![annotation_uuid],
        )?
        .iter()
        .map(|r| Ok((id(r.get(0)?), r.get(1)?)))
        .collect::<Result<_>>()?;
    let ratings = c
        .query(
            "SELECT c.uuid, g.aspect, g.value FROM ratings g JOIN completions c ON c.id = g.completion_id
             WHERE g.annotation_id = (SELECT id FROM annotations WHERE uuid = $1)",
            vals![annotation_uuid],
        )?
        .iter()
        .map(|r| Ok((id(r.get(0)?), r.get(1)?, r.get(2)?)))
        .collect::<Result<_>>()?;
    let flags = c
        .query(
            "SELECT c.uuid, f.flag FROM completion_flags f JOIN completions c ON c.id = f.completion_id
             WHERE f.annotation_id = (SELECT id FROM annotations WHERE uuid = $1) ORDER BY c.uuid, f.flag",
            vals![annotation_uuid],
        )?
        .iter()
        .map(|r| Ok((id(r.get(0)?), r.get(1)?)))
        .collect::<Result<_>>()?;
    Ok((ranks, ratings, flags))
}

/// The stored annotation for a client key: its owner, request hash and the
/// receipt to answer a retry with.
pub fn by_client_key(c: &mut dyn Conn, key: &str) -> Result<Option<(i64, String, AnnotationReceipt)>> {
    receipt_where(c, "n.client_key = $1", key)
}

/// The same for an annotation's public id.
pub fn by_uuid(c: &mut dyn Conn, uuid: &str) -> Result<Option<(i64, String, AnnotationReceipt)>> {
    receipt_where(c, "n.uuid = $1", uuid)
}

fn receipt_where(c: &mut dyn Conn, condition: &str, value: &str) -> Result<Option<(i64, String, AnnotationReceipt)>> {
    let sql = format!(
        "SELECT n.annotator_id, n.request_hash, n.uuid, s.uuid, n.choice_shown, n.both_bad, n.flags, n.rationale,
                n.time_ms, n.late, n.created_at, n.version, n.updated_at
         FROM annotations n JOIN assignments s ON s.id = n.assignment_id WHERE {condition}"
    );
    let Some(r) = c.query_opt(&sql, vals![value])? else { return Ok(None) };
    let uuid: String = r.get(2)?;
    let task: String = r.get(3)?;
    let flags: String = r.get(6)?;
    let choice: Option<i64> = r.get(4)?;
    let updated: Option<i64> = r.get(12)?;
    Ok(Some((
        r.get(0)?,
        r.get(1)?,
        AnnotationReceipt {
            annotation_id: uuid.parse().unwrap_or_default(),
            task_id: task.parse().unwrap_or_default(),
            choice: choice.map(|c| Choice::new(c).unwrap_or(Choice::TIE)),
            ranks: None,
            ratings: None,
            completion_flags: None,
            both_bad: r.get(5)?,
            flags: serde_json::from_str(&flags).unwrap_or_default(),
            rationale: r.get(7)?,
            time_ms: r.get(8)?,
            late: r.get(9)?,
            created_at: rfc3339(r.get(10)?),
            version: r.get(11)?,
            updated_at: updated.map(rfc3339),
        },
    )))
}

/// The annotation an edit names (by its id, or by its task's id), if it is
/// this annotator's: (annotation id, its uuid, its task's uuid).
pub fn editable(
    c: &mut dyn Conn,
    annotation_uuid: Option<&str>,
    task_uuid: Option<&str>,
    user_id: i64,
) -> Result<Option<(i64, String, String)>> {
    // A statement for each way of naming it: the write-job connections plan
    // a statement once, for any values (`pg_writers`), and `$1 IS NULL OR …`
    // would be planned as a walk over all the annotator's annotations.
    let (sql, key) = match (annotation_uuid, task_uuid) {
        (Some(annotation), _) => ("n.uuid = $1", annotation),
        (None, Some(task)) => ("s.uuid = $1", task),
        (None, None) => return Ok(None),
    };
    c.query_opt(
        &format!(
            "SELECT n.id, n.uuid, s.uuid FROM annotations n JOIN assignments s ON s.id = n.assignment_id
             WHERE {sql} AND n.annotator_id = $2"
        ),
        vals![key, user_id],
    )?
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .transpose()
}

/// Whether an annotation is inside its project's undo window: among its
/// annotator's latest `judgements` in the project, and submitted less than
/// `minutes` ago.
pub fn in_undo_window(c: &mut dyn Conn, annotation_id: i64, judgements: i64, minutes: i64, now: i64) -> Result<bool> {
    if judgements <= 0 || minutes <= 0 {
        return Ok(false);
    }
    c.scalar(
        "SELECT n.created_at > $2 AND (SELECT COUNT(*) FROM annotations m
                                      WHERE m.annotator_id = n.annotator_id AND m.project_id = n.project_id
                                        AND m.id > n.id) < $3
         FROM annotations n WHERE n.id = $1",
        vals![annotation_id, now - minutes * 60_000, judgements],
    )
}

/// An earlier edit with this key: (its annotator, its request hash, the annotation's uuid).
pub fn edit_by_key(c: &mut dyn Conn, key: &str) -> Result<Option<(i64, String, String)>> {
    c.query_opt(
        "SELECT n.annotator_id, r.replaced_by_hash, n.uuid FROM annotation_revisions r
         JOIN annotations n ON n.id = r.annotation_id WHERE r.replaced_by_key = $1",
        vals![key],
    )?
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .transpose()
}

/// The current version of an annotation as JSON (for the revisions table):
/// its values, and rankings, ratings and answer flags by completion uuid.
fn current_version(c: &mut dyn Conn, annotation_id: i64) -> Result<(i64, i64, serde_json::Value)> {
    let r = c.query_one(
        "SELECT version, COALESCE(updated_at, created_at), choice_shown, choice, both_bad, flags, rationale, time_ms
         FROM annotations WHERE id = $1",
        vals![annotation_id],
    )?;
    let flags: String = r.get(5)?;
    let (version, at): (i64, i64) = (r.get(0)?, r.get(1)?);
    let mut body = serde_json::json!({
        "choice_shown": r.get::<Option<i64>>(2)?,
        "choice": r.get::<Option<i64>>(3)?,
        "both_bad": r.get::<bool>(4)?,
        "flags": serde_json::from_str::<serde_json::Value>(&flags).unwrap_or_default(),
        "rationale": r.get::<String>(6)?,
        "time_ms": r.get::<Option<i64>>(7)?,
    });
    let ranks: serde_json::Map<String, serde_json::Value> = c
        .query(
            "SELECT c.uuid, k.rank FROM ranks k JOIN completions c ON c.id = k.completion_id WHERE k.annotation_id = $1",
            vals![annotation_id],
        )?
        .iter()
        .map(|r| Ok((r.get::<String>(0)?, serde_json::json!(r.get::<i64>(1)?))))
        .collect::<Result<_>>()?;
    let mut ratings = serde_json::Map::new();
    for r in c.query(
        "SELECT c.uuid, g.aspect, g.value FROM ratings g JOIN completions c ON c.id = g.completion_id
         WHERE g.annotation_id = $1 ORDER BY c.uuid, g.aspect",
        vals![annotation_id],
    )? {
        let (c, a, v): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        ratings.entry(c).or_insert_with(|| serde_json::json!({}))[a] = serde_json::json!(v);
    }
    let mut answer_flags = serde_json::Map::new();
    for r in c.query(
        "SELECT c.uuid, f.flag FROM completion_flags f JOIN completions c ON c.id = f.completion_id
         WHERE f.annotation_id = $1 ORDER BY c.uuid, f.flag",
        vals![annotation_id],
    )? {
        let (c, f): (String, String) = (r.get(0)?, r.get(1)?);
        if let Some(list) = answer_flags.entry(c).or_insert_with(|| serde_json::json!([])).as_array_mut() {
            list.push(serde_json::json!(f));
        }
    }
    for (name, v) in [("ranks", ranks), ("ratings", ratings), ("completion_flags", answer_flags)] {
        if !v.is_empty() {
            body[name] = serde_json::Value::Object(v);
        }
    }
    Ok((version, at, body))
}

/// A new version of an annotation, from an edit: the current one goes to
/// the revisions table (with the edit's key), then the row and its parts
/// are replaced. Counters and leases are not touched.
pub fn revise(c: &mut dyn Conn, annotation_id: i64, n: &NewAnnotation<'_>) -> Result<()> {
    let (version, at, body) = current_version(c, annotation_id)?;
    c.execute(
        "INSERT INTO annotation_revisions (annotation_id, version, body, created_at, replaced_at, replaced_by_key,
                                           replaced_by_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vals![annotation_id, version, body.to_string(), at, n.now, n.client_key, n.request_hash],
    )?;
    for table in ["ranks", "ratings", "completion_flags"] {
        c.execute(&format!("DELETE FROM {table} WHERE annotation_id = $1"), vals![annotation_id])?;
    }
    c.execute(
        "UPDATE annotations SET choice_shown = $1, choice = $2, both_bad = $3, flags = $4, rationale = $5, time_ms = $6,
                                version = version + 1, updated_at = $7 WHERE id = $8",
        vals![
            n.choice_shown.map(i64::from),
            n.choice_shown.map(|c| i64::from(c.canonical(n.assignment.swapped))),
            n.both_bad,
            serde_json::to_string(n.flags).unwrap_or_else(|_| "[]".into()),
            n.rationale,
            n.time_ms,
            n.now,
            annotation_id,
        ],
    )?;
    insert_parts(c, annotation_id, n)
}

/// The stored versions an annotation replaced, oldest first: (version, stored at, body).
pub fn revisions(c: &mut dyn Conn, annotation_id: i64) -> Result<Vec<(i64, i64, String)>> {
    c.query(
        "SELECT version, created_at, body FROM annotation_revisions WHERE annotation_id = $1 ORDER BY version",
        vals![annotation_id],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .collect()
}

/// Ends a user's live leases (in one project, or in all of them) and gives
/// their slots back to the pool: for a removed member or a deactivated user.
pub fn release_leases(c: &mut dyn Conn, user_id: i64, project_id: Option<i64>) -> Result<usize> {
    // A statement for each case: planned once for any values (`editable`);
    // `state` bound, as in `sweep_and_held`, so the plan reads the user's
    // own entries, not every live lease.
    const RELEASE: &str = "UPDATE assignments SET state = 'expired', lease_expires_at = $1
         WHERE annotator_id = $2 AND state = $3";
    let rows = match project_id {
        Some(project_id) => c.query(
            &format!("{RELEASE} AND project_id = $4 RETURNING pair_id, prompt_id"),
            vals![now_ms(), user_id, "leased", project_id],
        )?,
        None => c.query(&format!("{RELEASE} RETURNING pair_id, prompt_id"), vals![now_ms(), user_id, "leased"])?,
    };
    give_back(c, &items(&rows)?)
}

/// A submitted task of this annotator as a lease-shaped record (to show it
/// again for a change): the task id and how it was shown.
pub fn judged_task(c: &mut dyn Conn, task_uuid: &str, user_id: i64) -> Result<Option<Lease>> {
    c.query_opt(
        "SELECT s.id, s.uuid, s.swapped, s.shown, s.lease_expires_at FROM assignments s
         WHERE s.uuid = $1 AND s.annotator_id = $2 AND s.state = 'submitted'",
        vals![task_uuid, user_id],
    )?
    .map(|r| lease_of(&r))
    .transpose()
}

/// The task of the annotator's latest judgement in the project (before the
/// one of task `before`, when given).
pub fn latest_judged(c: &mut dyn Conn, user_id: i64, project_id: i64, before: Option<&str>) -> Result<Option<String>> {
    // A statement for each case: planned once for any values (`editable`).
    const LATEST: &str = "SELECT s.uuid FROM annotations n JOIN assignments s ON s.id = n.assignment_id
         WHERE n.annotator_id = $1 AND n.project_id = $2";
    let row = match before {
        Some(before) => c.query_opt(
            &format!(
                "{LATEST} AND n.id < (SELECT m.id FROM annotations m JOIN assignments t ON t.id = m.assignment_id
                                      WHERE t.uuid = $3 AND m.annotator_id = $1)
                 ORDER BY n.id DESC LIMIT 1"
            ),
            vals![user_id, project_id, before],
        )?,
        None => c.query_opt(&format!("{LATEST} ORDER BY n.id DESC LIMIT 1"), vals![user_id, project_id])?,
    };
    row.map(|r| r.get(0)).transpose()
}

/// How far this annotator is in a project: pairs judged or skipped, and
/// pairs still open to them (needing annotations, not yet seen by them).
pub async fn progress(
    db: impl Into<Ex<'_>>,
    user_id: i64,
    project_id: i64,
    per_pair: i64,
    per_prompt: Option<i64>,
) -> sqlx::Result<MyProgress> {
    // Ranking and rating tasks (`per_prompt`: the fewest completions a
    // prompt needs to be one) count prompts instead of pairs.
    let sql = if per_prompt.is_some() {
        "SELECT
           (SELECT COUNT(*) FROM assignments WHERE annotator_id = $1 AND project_id = $2 AND state = 'submitted'),
           (SELECT COUNT(*) FROM prompts pr WHERE pr.project_id = $2 AND pr.load < $3
              AND (SELECT COUNT(*) FROM completions c WHERE c.prompt_id = pr.id) >= $4),
           (SELECT COUNT(*) FROM assignments a JOIN prompts pr ON pr.id = a.prompt_id
             WHERE a.annotator_id = $1 AND a.project_id = $2 AND a.pair_id IS NULL
               AND a.state IN ('submitted', 'skipped', 'leased') AND pr.load < $3),
           (SELECT COUNT(*) FROM assignments WHERE annotator_id = $1 AND project_id = $2 AND state = 'leased')"
    } else {
        "SELECT
           (SELECT COUNT(*) FROM assignments WHERE annotator_id = $1 AND project_id = $2 AND state = 'submitted'),
           (SELECT COUNT(*) FROM pairs WHERE project_id = $2 AND load < $3),
           (SELECT COUNT(*) FROM assignments a JOIN pairs p ON p.id = a.pair_id
             WHERE a.annotator_id = $1 AND a.project_id = $2 AND a.state IN ('submitted', 'skipped', 'leased') AND p.load < $3),
           (SELECT COUNT(*) FROM assignments WHERE annotator_id = $1 AND project_id = $2 AND state = 'leased')"
    };
    let (done, open, mine_open, leased): (i64, i64, i64, i64) = on!(db, e => sqlx::query_as(sql)
        .bind(user_id)
        .bind(project_id)
        .bind(per_pair)
        .bind(per_prompt.unwrap_or(0))
        .fetch_one(e)
        .await)?;
    // Held leases are still to do: add them back whether or not their pair is full.
    Ok(MyProgress { done, remaining: (open - mine_open).max(0) + leased })
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnnotatorCount {
    pub username: String,
    pub annotations: i64,
    pub skipped: i64,
}

/// Judged and skipped pairs per annotator of a project; `only` limits the
/// list to one user.
pub async fn per_annotator(
    db: impl Into<Ex<'_>>,
    project_id: i64,
    only: Option<i64>,
) -> sqlx::Result<Vec<AnnotatorCount>> {
    let rows: Vec<(String, i64, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.username, COUNT(CASE WHEN a.state = 'submitted' THEN 1 END), COUNT(CASE WHEN a.state = 'skipped' THEN 1 END)
         FROM assignments a JOIN users u ON u.id = a.annotator_id
         WHERE a.project_id = $1 AND ($2 IS NULL OR a.annotator_id = $2) GROUP BY u.id ORDER BY u.username",
    )
    .bind(project_id)
    .bind(only)
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(username, annotations, skipped)| AnnotatorCount { username, annotations, skipped })
        .collect())
}

/// The annotator's own judgements in a project, newest first, with whether
/// each is inside the undo window.
pub async fn history(
    db: impl Into<Ex<'_>>,
    user_id: i64,
    project_id: i64,
    undo: (i64, i64),
    limit: i64,
) -> sqlx::Result<Vec<crate::domain::views::HistoryItem>> {
    type Row = (String, String, String, Option<i64>, bool, String, String, i64, Option<i64>, i64, bool);
    let rows: Vec<Row> = on!(db, e => sqlx::query_as(
        "SELECT n.uuid, s.uuid, pr.messages, n.choice_shown, n.both_bad, n.flags, n.rationale, n.created_at,
                n.updated_at, n.version,
                $4 > 0 AND n.created_at > $5 AND ROW_NUMBER() OVER (ORDER BY n.id DESC) <= $4
         FROM annotations n JOIN assignments s ON s.id = n.assignment_id JOIN prompts pr ON pr.id = n.prompt_id
         WHERE n.annotator_id = $1 AND n.project_id = $2 ORDER BY n.id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(project_id)
    .bind(limit)
    .bind(undo.0)
    .bind(if undo.1 > 0 { now_ms() - undo.1 * 60_000 } else { i64::MAX })
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(uuid, task, messages, choice, both_bad, flags, rationale, created, updated, version, editable)| {
            let turns: Vec<crate::domain::import::Message> = serde_json::from_str(&messages).unwrap_or_default();
            let last = turns.iter().rev().find(|m| m.role == crate::domain::import::Role::User).or(turns.last());
            let text = last.map(|m| m.content.as_str()).unwrap_or_default();
            let prompt: String = if text.chars().count() > 140 {
                text.chars().take(139).chain(['…']).collect()
            } else {
                text.to_owned()
            };
            crate::domain::views::HistoryItem {
                annotation_id: uuid.parse().unwrap_or_default(),
                task_id: task.parse().unwrap_or_default(),
                prompt,
                choice,
                both_bad,
                flags: serde_json::from_str(&flags).unwrap_or_default(),
                rationale,
                created_at: rfc3339(created),
                updated_at: updated.map(rfc3339),
                version,
                editable,
            }
        })
        .collect())
}
