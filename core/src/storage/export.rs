//! Reads for exports and agreement. Export streams run on one read
//! connection inside one transaction, so the form decided first and the rows
//! written after see the same snapshot while writers go on.
use super::conn::{Conn, Row};
use super::{on, Dialect, Ex, Pool};
use crate::domain::verdict::PairTally;
use crate::Result;

/// Which annotations count: the project's, optionally only some annotators'
/// (ids, resolved by the service) and a time window (ms, `until` exclusive).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub project_id: i64,
    pub include: Option<Vec<i64>>,
    pub exclude: Vec<i64>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Scope {
    /// The WHERE clause over `annotations n`. Every value is an integer the
    /// service produced (ids from the database, parsed times), so it is
    /// written into the SQL rather than bound.
    fn clause(&self) -> String {
        let ids = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut w = format!("n.project_id = {}", self.project_id);
        if let Some(include) = &self.include {
            w += &format!(" AND n.annotator_id IN ({})", ids(include));
        }
        if !self.exclude.is_empty() {
            w += &format!(" AND n.annotator_id NOT IN ({})", ids(&self.exclude));
        }
        if let Some(t) = self.since {
            w += &format!(" AND n.created_at >= {t}");
        }
        if let Some(t) = self.until {
            w += &format!(" AND n.created_at < {t}");
        }
        w
    }

    /// Per pair: its votes per canonical choice, both-bad and flagged
    /// counts, for the pairs `extra` selects, in pair order.
    fn tallies(&self, extra: &str) -> String {
        format!(
            "SELECT n.pair_id AS pair_id,
                    COUNT(CASE WHEN n.choice = -3 THEN 1 END) AS c0, COUNT(CASE WHEN n.choice = -2 THEN 1 END) AS c1,
                    COUNT(CASE WHEN n.choice = -1 THEN 1 END) AS c2, COUNT(CASE WHEN n.choice = 0 THEN 1 END) AS c3,
                    COUNT(CASE WHEN n.choice = 1 THEN 1 END) AS c4, COUNT(CASE WHEN n.choice = 2 THEN 1 END) AS c5,
                    COUNT(CASE WHEN n.choice = 3 THEN 1 END) AS c6, COUNT(CASE WHEN n.both_bad THEN 1 END) AS both_bad,
                    COUNT(CASE WHEN n.flags <> '[]' THEN 1 END) AS flagged,
                    (SELECT adjudicated FROM pairs WHERE id = n.pair_id) AS adjudicated
             FROM annotations n WHERE {} {extra} GROUP BY n.pair_id ORDER BY n.pair_id",
            self.clause()
        )
    }
}

struct TallyRow {
    pair_id: i64,
    tally: PairTally,
}

fn tally_row(r: &mut Row) -> Result<TallyRow> {
    let mut counts = [0i64; 7];
    for (i, c) in counts.iter_mut().enumerate() {
        *c = r.get(1 + i)?;
    }
    Ok(TallyRow {
        pair_id: r.get(0)?,
        tally: PairTally { counts, both_bad: r.get(8)?, flagged: r.get(9)?, adjudicated: r.get(10)? },
    })
}

fn id_list(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Ids per page. Exports read page after page (ranges of pair ids on the
/// (project, pair) index, or of annotation ids), so SQLite never sorts or
/// materializes a whole project and memory stays flat.
pub const PAGE: i64 = 2000;

/// A read-only view of the whole database for an export (or agreement):
/// every page it reads comes from one snapshot, and writers go on. SQLite:
/// a rusqlite connection of its own in a read transaction (rows cost no hop
/// between threads). PostgreSQL: a connection of its own (not the pool's)
/// in a REPEATABLE READ, READ ONLY transaction, driven by a runtime of its
/// own on the thread that reads: the rows of a page wake that thread and
/// nothing else (from a blocking thread, each batch of rows woke one of
/// the shared runtime's threads, which then woke the reader). Opened and
/// used on a blocking thread, never inside a runtime; dropped anywhere.
pub enum Snapshot {
    Sqlite(rusqlite::Connection),
    /// Taken out only when the snapshot is dropped.
    Postgres(Option<PgSnapshot>),
}

/// A PostgreSQL snapshot's runtime, connection and slot.
pub struct PgSnapshot {
    rt: tokio::runtime::Runtime,
    conn: sqlx::PgConnection,
    _slot: Slot,
}

/// Connections an instance's snapshots hold at most at once; an export
/// (two), the dashboards' agreement and `copy` take them. Bounded, as the
/// pool bounded them when snapshots read on its connections: more would
/// crowd out the write-job threads' connections under `max_connections`.
pub const SNAPSHOT_CONNECTIONS: usize = 8;

/// How long opening a snapshot waits for a free connection slot, and for
/// PostgreSQL to accept the connection.
const SNAPSHOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The snapshot connections in use (a counting semaphore for blocking threads).
#[derive(Debug, Default)]
pub struct Slots {
    used: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

/// One snapshot connection's place, given back when dropped.
struct Slot(std::sync::Arc<Slots>);

impl Slots {
    /// A place, waiting at most `wait` for one.
    fn take(self: &std::sync::Arc<Self>, wait: std::time::Duration) -> Option<Slot> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let (mut used, _) = self
            .freed
            .wait_timeout_while(used, wait, |n| *n >= SNAPSHOT_CONNECTIONS)
            .unwrap_or_else(|e| e.into_inner());
        if *used >= SNAPSHOT_CONNECTIONS {
            return None;
        }
        *used += 1;
        Some(Slot(self.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.used.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

impl Drop for Snapshot {
    /// Says goodbye to PostgreSQL, which ends the read-only transaction (a
    /// connection that is already gone is just dropped), on a thread of its
    /// own: a runtime can be neither run nor dropped inside another, and a
    /// snapshot may end anywhere (a test's assertion failing, for one).
    fn drop(&mut self) {
        if let Snapshot::Postgres(pg) = self {
            if let Some(PgSnapshot { rt, conn, _slot: slot }) = pg.take() {
                let _ = std::thread::spawn(move || {
                    use sqlx::Connection;
                    let _ = rt.block_on(async {
                        tokio::time::timeout(std::time::Duration::from_secs(1), conn.close()).await
                    });
                    drop(rt);
                    drop(slot);
                })
                .join();
            }
        }
    }
}

impl Snapshot {
    pub fn open(db: &super::Db) -> Result<Snapshot> {
        match &db.read {
            Pool::Sqlite(_) => {
                let path = db.sqlite_file()?;
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(super::writer::sql_err)?;
                conn.busy_timeout(super::BUSY_TIMEOUT).map_err(super::writer::sql_err)?;
                conn.execute_batch("BEGIN").map_err(super::writer::sql_err)?;
                // The transaction's snapshot starts at its first read.
                conn.query_row("SELECT COUNT(*) FROM projects", [], |_| Ok(())).map_err(super::writer::sql_err)?;
                Ok(Snapshot::Sqlite(conn))
            }
            Pool::Postgres(pool) => {
                let slot = db.snapshot_slots.take(SNAPSHOT_WAIT).ok_or_else(|| {
                    crate::Error::Unavailable("too many exports and dashboards at once; try again".into())
                })?;
                Snapshot::postgres(pool, None, slot)
            }
        }
    }

    /// A PostgreSQL snapshot on a new connection: the database's current
    /// one, or the exported snapshot `of` (`pg_export_snapshot`).
    fn postgres(pool: &sqlx::PgPool, of: Option<&str>, slot: Slot) -> Result<Snapshot> {
        use sqlx::ConnectOptions;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| crate::Error::Internal(e.into()))?;
        let opts = pool.connect_options();
        let mut conn = rt
            .block_on(async { tokio::time::timeout(SNAPSHOT_WAIT, opts.connect()).await })
            .map_err(|_| crate::Error::Unavailable("the database did not answer in time; try again".into()))??;
        rt.block_on(sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut conn))?;
        if let Some(id) = of {
            // The id comes from PostgreSQL itself (hex digits and dashes).
            let set = format!("SET TRANSACTION SNAPSHOT '{}'", id.replace('\'', ""));
            rt.block_on(sqlx::query(&set).execute(&mut conn))?;
        }
        Ok(Snapshot::Postgres(Some(PgSnapshot { rt, conn, _slot: slot })))
    }

    /// A second connection that sees exactly this snapshot, to read pages
    /// beside this one: PostgreSQL (`pg_export_snapshot`, then `SET
    /// TRANSACTION SNAPSHOT`; this transaction must stay open while the
    /// twin is opened). None on SQLite, whose reads are in-process and
    /// already keep pace with the encoder, and None when PostgreSQL refuses
    /// one more connection: the export then reads on one.
    pub fn twin(&mut self, db: &super::Db) -> Result<Option<Snapshot>> {
        let (Snapshot::Postgres(_), Pool::Postgres(pool)) = (&*self, &db.read) else { return Ok(None) };
        let pool = pool.clone();
        // No waiting for a slot: the export reads on one connection instead.
        let Some(slot) = db.snapshot_slots.take(std::time::Duration::ZERO) else { return Ok(None) };
        let id: String = (self as &mut dyn Conn).scalar("SELECT pg_export_snapshot()", &[])?;
        match Snapshot::postgres(&pool, Some(&id), slot) {
            Ok(twin) => Ok(Some(twin)),
            Err(e) => {
                tracing::warn!(error = %e, "a second connection for the export's reads: reading on one");
                Ok(None)
            }
        }
    }

    /// The snapshot as the backend's own `Conn`.
    fn with<T>(&mut self, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        match self {
            Snapshot::Sqlite(c) => f(&mut super::conn::SqliteConn(c)),
            Snapshot::Postgres(pg) => {
                let pg = pg.as_mut().ok_or_else(|| crate::Error::Internal(anyhow::anyhow!("snapshot ended")))?;
                f(&mut super::conn::PgConn { driver: super::conn::Driver::Reader(&pg.rt), conn: &mut pg.conn })
            }
        }
    }
}

impl Conn for Snapshot {
    fn dialect(&self) -> Dialect {
        match self {
            Snapshot::Sqlite(_) => Dialect::Sqlite,
            Snapshot::Postgres(_) => Dialect::Postgres,
        }
    }

    fn query(&mut self, sql: &str, params: &[super::conn::Val<'_>]) -> Result<Vec<Row>> {
        self.with(|c| c.query(sql, params))
    }

    fn query_once(&mut self, sql: &str, params: &[super::conn::Val<'_>]) -> Result<Vec<Row>> {
        self.with(|c| c.query_once(sql, params))
    }

    fn each(
        &mut self,
        sql: &str,
        params: &[super::conn::Val<'_>],
        f: &mut dyn FnMut(&mut Row) -> Result<()>,
    ) -> Result<()> {
        self.with(|c| c.each(sql, params, f))
    }

    fn execute(&mut self, sql: &str, params: &[super::conn::Val<'_>]) -> Result<u64> {
        self.with(|c| c.execute(sql, params))
    }
}

/// Whether any prompt of the project is a conversation.
pub fn has_conversations(conn: &mut dyn Conn, project_id: i64) -> Result<bool> {
    conn.scalar(
        "SELECT EXISTS (SELECT 1 FROM prompts WHERE project_id = $1 AND is_chat)",
        super::conn::vals![project_id],
    )
}

/// One annotated pair (with at least one annotation in scope).
pub struct PairRow {
    pub pair_id: i64,
    pub pair_uuid: String,
    pub prompt_uuid: String,
    pub external_id: Option<String>,
    pub is_chat: bool,
    /// The prompt's messages (JSON): always with texts, else only for conversations.
    pub messages: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
    pub model_a: String,
    pub model_b: String,
    pub prior: Option<i64>,
    /// The original HH-RLHF line the pair was imported from (with texts).
    pub source: Option<String>,
    /// Its votes within the scope.
    pub tally: PairTally,
}

impl PairRow {
    pub fn label(&self) -> &str {
        self.external_id.as_deref().unwrap_or(&self.prompt_uuid)
    }
}

/// The pages of an export: ranges `(after, up_to]` of pair ids (`pairs`)
/// or annotation ids in scope, `page` ids in scope each (the last one
/// fewer), in order; cut at the scope's own ids (every `page`-th, counted
/// in the database), so a project whose ids are spread among other
/// projects' still reads full pages. Pages are independent of each other:
/// they can be read on several connections at once (`Snapshot::twin`).
/// Exports use `PAGE`.
pub fn page_ranges(conn: &mut dyn Conn, scope: &Scope, pairs: bool, page: i64) -> Result<Vec<(i64, i64)>> {
    let (col, only) = if pairs { ("n.pair_id", " AND n.pair_id IS NOT NULL") } else { ("n.id", "") };
    let within = format!("FROM annotations n WHERE {}{only}", scope.clause());
    let distinct = if pairs { "DISTINCT " } else { "" };
    let ids = format!("SELECT {distinct}{col} AS id {within}");
    let mut ends: Vec<i64> = conn.rows(
        &format!(
            "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS k FROM ({ids}) d) x
             WHERE k % {page} = 0 ORDER BY id"
        ),
        |r| r.take(0),
    )?;
    let last: Option<i64> = conn.query_once(&format!("SELECT MAX({col}) {within}"), &[])?[0].take(0)?;
    if let Some(last) = last.filter(|l| ends.last() != Some(l)) {
        ends.push(last);
    }
    // Ids start at 1 on both backends.
    let starts = std::iter::once(0).chain(ends.iter().copied());
    Ok(starts.zip(ends.iter().copied()).collect())
}

/// The annotated pairs with ids in `(after, up_to]`, in pair order: one
/// statement (the range's tallies joined to their pairs), the same text for
/// every page of a scope, so it is planned once per export, not per page.
pub fn pairs_page(
    conn: &mut dyn Conn,
    scope: &Scope,
    with_texts: bool,
    (after, up_to): (i64, i64),
) -> Result<Vec<PairRow>> {
    // Without texts (deciding the form) the completions are not read at all:
    // their rows are large, and only the prompt says whether it is a conversation.
    let (texts, completions) = if with_texts {
        (
            "pr.messages, ca.body, cb.body, s.line, ca.model, cb.model",
            // A join, not a subquery per row: PostgreSQL ran a scan of
            // `pair_sources` for each pair (15% of a page).
            "JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
             LEFT JOIN pair_sources s ON s.pair_id = p.id",
        )
    } else {
        ("CASE WHEN pr.is_chat THEN pr.messages END, NULL, NULL, NULL, '', ''", "")
    };
    let sql = format!(
        // The pair's own `adjudicated` (PostgreSQL then leaves the tally's
        // unread column out of the subquery; SQLite still computes it).
        "SELECT t.pair_id, t.c0, t.c1, t.c2, t.c3, t.c4, t.c5, t.c6, t.both_bad, t.flagged, p.adjudicated,
                p.uuid, pr.uuid, pr.external_id, pr.is_chat, {texts}, p.prior
         FROM ({}) t JOIN pairs p ON p.id = t.pair_id JOIN prompts pr ON pr.id = p.prompt_id {completions}",
        scope.tallies("AND n.pair_id > $1 AND n.pair_id <= $2")
    );
    // Put in pair order here: an ORDER BY on the outer query had SQLite copy
    // the page's texts into a temporary b-tree (5 MB a page, spilling to disk).
    let mut page: Vec<PairRow> = conn
        .query(&sql, super::conn::vals![after, up_to])?
        .into_iter()
        .map(|mut r| {
            let tally = tally_row(&mut r)?.tally;
            Ok(PairRow {
                pair_id: r.take(0)?,
                pair_uuid: r.take(11)?,
                prompt_uuid: r.take(12)?,
                external_id: r.take(13)?,
                is_chat: r.take(14)?,
                messages: r.take(15)?,
                a: r.take(16)?,
                b: r.take(17)?,
                source: r.take(18)?,
                model_a: r.take(19)?,
                model_b: r.take(20)?,
                prior: r.take(21)?,
                tally,
            })
        })
        .collect::<Result<_>>()?;
    page.sort_unstable_by_key(|r| r.pair_id);
    Ok(page)
}

/// One annotation with everything about it (raw and arena rows).
pub struct AnnotationRow {
    pub id: i64,
    pub pair_id: i64,
    pub annotation_uuid: String,
    pub pair_uuid: String,
    pub prompt_uuid: String,
    pub external_id: Option<String>,
    pub completion_a_uuid: String,
    pub completion_b_uuid: String,
    pub model_a: String,
    pub model_b: String,
    pub annotator_uuid: String,
    pub annotator_name: String,
    pub choice_shown: i64,
    pub choice: i64,
    pub swapped: bool,
    pub both_bad_vote: bool,
    pub flags: String,
    pub rationale: String,
    pub time_ms: Option<i64>,
    pub leased_at: i64,
    pub submitted_at: i64,
    pub late: bool,
    pub meta: Option<String>,
    pub is_chat: bool,
    /// With texts only.
    pub messages: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
    /// Its pair's votes within the scope.
    pub tally: PairTally,
    /// The current version, and the versions it replaced: (version, stored at, body JSON).
    pub version: i64,
    pub revisions: Vec<(i64, i64, String)>,
}

/// The versions edits replaced, per annotation id (oldest first).
fn revisions_of(
    conn: &mut dyn Conn,
    ids: impl Iterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Vec<(i64, i64, String)>>> {
    let mut out: std::collections::HashMap<i64, Vec<(i64, i64, String)>> = std::collections::HashMap::new();
    let sql = format!(
        "SELECT annotation_id, version, created_at, body FROM annotation_revisions WHERE annotation_id IN ({})
         ORDER BY annotation_id, version",
        id_list(ids)
    );
    for (a, v) in conn.rows(&sql, |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?, r.take(3)?))))? {
        out.entry(a).or_default().push(v);
    }
    Ok(out)
}

/// The annotations in scope with ids in `(after, up_to]`, in the order
/// they were stored, each with its pair's tally within the scope.
pub fn annotations_page(
    conn: &mut dyn Conn,
    scope: &Scope,
    with_texts: bool,
    (after, up_to): (i64, i64),
) -> Result<Vec<AnnotationRow>> {
    let texts = if with_texts { "pr.messages, ca.body, cb.body" } else { "NULL, NULL, NULL" };
    let sql = format!(
        "SELECT n.id, n.pair_id, n.uuid, p.uuid, pr.uuid, pr.external_id, ca.uuid, cb.uuid, ca.model, cb.model,
                u.uuid, u.username, n.choice_shown, n.choice, s.swapped, n.both_bad, n.flags, n.rationale, n.time_ms,
                s.leased_at, n.created_at, n.late, pr.meta, pr.is_chat, {texts}, n.version
         FROM annotations n
         JOIN assignments s ON s.id = n.assignment_id
         JOIN pairs p ON p.id = n.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a
         JOIN completions cb ON cb.id = p.completion_b
         JOIN users u ON u.id = n.annotator_id
         WHERE {} AND n.id > {after} AND n.id <= {up_to} ORDER BY n.id",
        scope.clause()
    );
    let mut rows: Vec<AnnotationRow> = conn.rows(&sql, |r| {
        Ok(AnnotationRow {
            id: r.take(0)?,
            pair_id: r.take(1)?,
            annotation_uuid: r.take(2)?,
            pair_uuid: r.take(3)?,
            prompt_uuid: r.take(4)?,
            external_id: r.take(5)?,
            completion_a_uuid: r.take(6)?,
            completion_b_uuid: r.take(7)?,
            model_a: r.take(8)?,
            model_b: r.take(9)?,
            annotator_uuid: r.take(10)?,
            annotator_name: r.take(11)?,
            choice_shown: r.take(12)?,
            choice: r.take(13)?,
            swapped: r.take(14)?,
            both_bad_vote: r.take(15)?,
            flags: r.take(16)?,
            rationale: r.take(17)?,
            time_ms: r.take(18)?,
            leased_at: r.take(19)?,
            submitted_at: r.take(20)?,
            late: r.take(21)?,
            meta: r.take(22)?,
            is_chat: r.take(23)?,
            messages: r.take(24)?,
            a: r.take(25)?,
            b: r.take(26)?,
            tally: PairTally::default(),
            version: r.take(27)?,
            revisions: Vec::new(),
        })
    })?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let mut pairs: Vec<i64> = rows.iter().map(|r| r.pair_id).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let sql = scope.tallies(&format!("AND n.pair_id IN ({})", id_list(pairs.into_iter())));
    let by_pair: std::collections::HashMap<i64, PairTally> =
        conn.rows(&sql, tally_row)?.into_iter().map(|t| (t.pair_id, t.tally)).collect();
    let mut revisions = revisions_of(conn, rows.iter().map(|r| r.id))?;
    for r in &mut rows {
        r.tally = by_pair.get(&r.pair_id).copied().unwrap_or_default();
        r.revisions = revisions.remove(&r.id).unwrap_or_default();
    }
    Ok(rows)
}

/// One vote on a pair of a prompt (rewards rows).
pub struct Vote {
    pub pair_id: i64,
    /// Completion ids, canonical order.
    pub a: i64,
    pub b: i64,
    pub choice: i64,
    pub both_bad: bool,
    pub flagged: bool,
}

/// A prompt with its completions and every vote in scope on its pairs.
pub struct PromptVotes {
    pub prompt_uuid: String,
    pub external_id: Option<String>,
    pub is_chat: bool,
    pub messages: String,
    /// (id, model, text), in import order.
    pub completions: Vec<(i64, String, String)>,
    pub votes: Vec<Vote>,
}

/// The prompts of the next page of the project's prompts after prompt
/// `after` that have votes in scope, and the last prompt id of the page
/// (None at the end).
pub fn prompt_votes_page(conn: &mut dyn Conn, scope: &Scope, after: i64) -> Result<(Vec<PromptVotes>, Option<i64>)> {
    let ids = prompt_ids(conn, scope, after)?;
    let Some(&last) = ids.last() else { return Ok((Vec::new(), None)) };
    // SQLite: CROSS JOIN keeps the join order (pairs of the page first).
    let join = if conn.dialect() == Dialect::Sqlite { "CROSS JOIN" } else { "JOIN" };
    let sql = format!(
        "SELECT p.prompt_id, n.pair_id, p.completion_a, p.completion_b, n.choice, n.both_bad, n.flags <> '[]'
         FROM pairs p {join} annotations n ON n.pair_id = p.id
         WHERE p.prompt_id IN ({}) AND {} ORDER BY p.prompt_id, n.pair_id, n.id",
        id_list(ids.into_iter()),
        scope.clause()
    );
    let votes: Vec<(i64, Vote)> = conn.rows(&sql, |r| {
        Ok((
            r.take(0)?,
            Vote {
                pair_id: r.take(1)?,
                a: r.take(2)?,
                b: r.take(3)?,
                choice: r.take(4)?,
                both_bad: r.take(5)?,
                flagged: r.take(6)?,
            },
        ))
    })?;
    if votes.is_empty() {
        return Ok((Vec::new(), Some(last)));
    }
    let mut voted: Vec<i64> = votes.iter().map(|v| v.0).collect();
    voted.dedup();
    let list = id_list(voted.iter().copied());
    let mut prompts: Vec<(i64, PromptVotes)> = conn.rows(
        &format!("SELECT id, uuid, external_id, is_chat, messages FROM prompts WHERE id IN ({list}) ORDER BY id"),
        |r| {
            Ok((
                r.take(0)?,
                PromptVotes {
                    prompt_uuid: r.take(1)?,
                    external_id: r.take(2)?,
                    is_chat: r.take(3)?,
                    messages: r.take(4)?,
                    completions: Vec::new(),
                    votes: Vec::new(),
                },
            ))
        },
    )?;
    let completions = conn.rows(
        &format!(
            "SELECT prompt_id, id, model, body FROM completions WHERE prompt_id IN ({list}) ORDER BY prompt_id, position"
        ),
        |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?, r.take(3)?))),
    )?;
    attach(&mut prompts, completions, |p, c| p.completions.push(c));
    attach(&mut prompts, votes, |p, v| p.votes.push(v));
    Ok((prompts.into_iter().map(|p| p.1).collect(), Some(last)))
}

/// Hands rows keyed by prompt id to their prompts; both lists are in
/// prompt order, and every row's prompt is in the list.
fn attach<P, T>(prompts: &mut [(i64, P)], rows: impl IntoIterator<Item = (i64, T)>, mut put: impl FnMut(&mut P, T)) {
    let mut at = 0;
    for (prompt, row) in rows {
        while prompts[at].0 != prompt {
            at += 1;
        }
        put(&mut prompts[at].1, row);
    }
}

/// The next page of the project's prompt ids after prompt `after`.
fn prompt_ids(conn: &mut dyn Conn, scope: &Scope, after: i64) -> Result<Vec<i64>> {
    conn.rows(
        &format!(
            // `+`: walk prompts by id (not the (project, key) index and a sort).
            "SELECT id FROM prompts WHERE +project_id = {} AND id > {after} ORDER BY id LIMIT {PAGE}",
            scope.project_id
        ),
        |r| r.take(0),
    )
}

/// One ranking or rating (ranking and rating projects).
pub struct Judgement {
    pub id: i64,
    pub uuid: String,
    pub annotator_id: i64,
    pub annotator_uuid: String,
    pub annotator_name: String,
    pub both_bad: bool,
    pub flags: String,
    pub rationale: String,
    pub time_ms: Option<i64>,
    pub leased_at: i64,
    pub submitted_at: i64,
    pub late: bool,
    /// Completion ids in the order shown (JSON array).
    pub shown: String,
    /// (completion id, rank).
    pub ranks: Vec<(i64, i64)>,
    /// (completion id, aspect, value).
    pub ratings: Vec<(i64, String, i64)>,
    /// Flags on single answers: (completion id, flag).
    pub completion_flags: Vec<(i64, String)>,
    /// The current version (earlier ones are not exported for prompt tasks).
    pub version: i64,
}

/// A prompt of a ranking or rating project with its completions, pairs and
/// every judgement of it in scope.
pub struct PromptJudgements {
    pub prompt_uuid: String,
    pub external_id: Option<String>,
    pub is_chat: bool,
    pub messages: String,
    pub meta: Option<String>,
    /// (id, uuid, model, text), in import order.
    pub completions: Vec<(i64, String, String, String)>,
    /// (uuid, completion a, completion b), canonical order.
    pub pairs: Vec<(String, i64, i64)>,
    pub judgements: Vec<Judgement>,
}

impl PromptJudgements {
    pub fn label(&self) -> &str {
        self.external_id.as_deref().unwrap_or(&self.prompt_uuid)
    }
}

/// The prompts of the next page of the project's prompts after prompt
/// `after` that have rankings or ratings in scope, and the last prompt id
/// of the page (None at the end).
pub fn prompt_judgements_page(
    conn: &mut dyn Conn,
    scope: &Scope,
    after: i64,
) -> Result<(Vec<PromptJudgements>, Option<i64>)> {
    let ids = prompt_ids(conn, scope, after)?;
    let Some(&last) = ids.last() else { return Ok((Vec::new(), None)) };
    let sql = format!(
        "SELECT n.prompt_id, n.id, n.uuid, n.annotator_id, u.uuid, u.username, n.both_bad, n.flags, n.rationale,
                n.time_ms, s.leased_at, n.created_at, n.late, s.shown, n.version
         FROM annotations n JOIN assignments s ON s.id = n.assignment_id JOIN users u ON u.id = n.annotator_id
         WHERE n.prompt_id IN ({}) AND n.pair_id IS NULL AND {} ORDER BY n.prompt_id, n.id",
        id_list(ids.into_iter()),
        scope.clause()
    );
    let judgements: Vec<(i64, Judgement)> = conn.rows(&sql, |r| {
        Ok((
            r.take(0)?,
            Judgement {
                id: r.take(1)?,
                uuid: r.take(2)?,
                annotator_id: r.take(3)?,
                annotator_uuid: r.take(4)?,
                annotator_name: r.take(5)?,
                both_bad: r.take(6)?,
                flags: r.take(7)?,
                rationale: r.take(8)?,
                time_ms: r.take(9)?,
                leased_at: r.take(10)?,
                submitted_at: r.take(11)?,
                late: r.take(12)?,
                shown: r.take::<Option<String>>(13)?.unwrap_or_default(),
                version: r.take(14)?,
                ranks: Vec::new(),
                ratings: Vec::new(),
                completion_flags: Vec::new(),
            },
        ))
    })?;
    if judgements.is_empty() {
        return Ok((Vec::new(), Some(last)));
    }
    let mut voted: Vec<i64> = judgements.iter().map(|j| j.0).collect();
    voted.dedup();
    let list = id_list(voted.iter().copied());
    let annotations = id_list(judgements.iter().map(|j| j.1.id));
    let mut prompts: Vec<(i64, PromptJudgements)> = conn.rows(
        &format!("SELECT id, uuid, external_id, is_chat, messages, meta FROM prompts WHERE id IN ({list}) ORDER BY id"),
        |r| {
            Ok((
                r.take(0)?,
                PromptJudgements {
                    prompt_uuid: r.take(1)?,
                    external_id: r.take(2)?,
                    is_chat: r.take(3)?,
                    messages: r.take(4)?,
                    meta: r.take(5)?,
                    completions: Vec::new(),
                    pairs: Vec::new(),
                    judgements: Vec::new(),
                },
            ))
        },
    )?;
    let completions = conn.rows(
        &format!(
            "SELECT prompt_id, id, uuid, model, body FROM completions WHERE prompt_id IN ({list})
             ORDER BY prompt_id, position"
        ),
        |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?, r.take(3)?, r.take(4)?))),
    )?;
    attach(&mut prompts, completions, |p, c| p.completions.push(c));
    let pairs = conn.rows(
        &format!(
            "SELECT prompt_id, uuid, completion_a, completion_b FROM pairs WHERE prompt_id IN ({list})
             ORDER BY prompt_id, id"
        ),
        |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?, r.take(3)?))),
    )?;
    attach(&mut prompts, pairs, |p, c| p.pairs.push(c));
    let mut ranks: std::collections::HashMap<i64, Vec<(i64, i64)>> = std::collections::HashMap::new();
    for (a, v) in conn.rows(
        &format!("SELECT annotation_id, completion_id, rank FROM ranks WHERE annotation_id IN ({annotations})"),
        |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?))),
    )? {
        ranks.entry(a).or_default().push(v);
    }
    let mut ratings: std::collections::HashMap<i64, Vec<(i64, String, i64)>> = std::collections::HashMap::new();
    for (a, v) in conn.rows(
        &format!(
            "SELECT annotation_id, completion_id, aspect, value FROM ratings WHERE annotation_id IN ({annotations})"
        ),
        |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?, r.take(3)?))),
    )? {
        ratings.entry(a).or_default().push(v);
    }
    let mut flags: std::collections::HashMap<i64, Vec<(i64, String)>> = std::collections::HashMap::new();
    for (a, v) in conn.rows(
        &format!(
            "SELECT annotation_id, completion_id, flag FROM completion_flags WHERE annotation_id IN ({annotations})
             ORDER BY annotation_id, completion_id, flag"
        ),
        |r| Ok((r.take::<i64>(0)?, (r.take(1)?, r.take(2)?))),
    )? {
        flags.entry(a).or_default().push(v);
    }
    let judgements = judgements.into_iter().map(|(prompt, mut j)| {
        j.ranks = ranks.remove(&j.id).unwrap_or_default();
        j.ratings = ratings.remove(&j.id).unwrap_or_default();
        j.completion_flags = flags.remove(&j.id).unwrap_or_default();
        (prompt, j)
    });
    attach(&mut prompts, judgements, |p, j| p.judgements.push(j));
    Ok((prompts.into_iter().map(|p| p.1).collect(), Some(last)))
}

/// Each annotator's (mean, standard deviation) per aspect over all their
/// ratings in scope: what z-scoring removes.
pub fn rating_scales(
    conn: &mut dyn Conn,
    scope: &Scope,
) -> Result<std::collections::HashMap<(i64, String), (f64, f64)>> {
    let sql = format!(
        "SELECT n.annotator_id, g.aspect, CAST(AVG(g.value) AS DOUBLE PRECISION),
                CAST(AVG(g.value * g.value) AS DOUBLE PRECISION)
         FROM ratings g JOIN annotations n ON n.id = g.annotation_id WHERE {} GROUP BY n.annotator_id, g.aspect",
        scope.clause()
    );
    Ok(conn
        .rows(&sql, |r| {
            let (mean, sq): (f64, f64) = (r.take(2)?, r.take(3)?);
            Ok(((r.take(0)?, r.take(1)?), (mean, (sq - mean * mean).max(0.0).sqrt())))
        })?
        .into_iter()
        .collect())
}

/// (annotations in scope, annotations of the project, annotators in scope).
pub fn scope_counts(conn: &mut dyn Conn, scope: &Scope) -> Result<(i64, i64, i64)> {
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM annotations n WHERE {c}),
                (SELECT COUNT(*) FROM annotations WHERE project_id = {p}),
                (SELECT COUNT(DISTINCT n.annotator_id) FROM annotations n WHERE {c})",
        c = scope.clause(),
        p = scope.project_id
    );
    let r = conn.query_one(&sql, &[])?;
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// (id, uuid, username) of everyone who annotated in the project.
pub async fn annotators(db: impl Into<Ex<'_>>, project_id: i64) -> sqlx::Result<Vec<(i64, String, String)>> {
    on!(db, e => sqlx::query_as(
        "SELECT u.id, u.uuid, u.username FROM users u
         WHERE u.id IN (SELECT DISTINCT annotator_id FROM annotations WHERE project_id = $1) ORDER BY u.username",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)
}

/// Every annotation of a project as (pair, annotator, canonical choice),
/// for agreement statistics, in pair order (the (project, pair) index:
/// agreement groups by pair). On a connection of its own: a million rows
/// read this way take a fraction of what sqlx's per-row hand-off does.
pub fn ratings(conn: &mut dyn Conn, project_id: i64) -> Result<Vec<(i64, i64, i64)>> {
    // Rankings and ratings count as their pairwise outcomes (±3 or a tie):
    // a ranking by the two ranks, a rating by the sums over the aspects.
    let mut out = Vec::new();
    conn.each(
        "SELECT pair_id, annotator_id, choice FROM (
           SELECT n.pair_id AS pair_id, n.annotator_id, n.choice, n.id FROM annotations n
           WHERE n.project_id = $1 AND n.pair_id IS NOT NULL
           UNION ALL
           SELECT p.id, n.annotator_id, CASE WHEN ra.rank < rb.rank THEN 3 WHEN ra.rank > rb.rank THEN -3 ELSE 0 END, n.id
           FROM annotations n JOIN pairs p ON p.prompt_id = n.prompt_id
           JOIN ranks ra ON ra.annotation_id = n.id AND ra.completion_id = p.completion_a
           JOIN ranks rb ON rb.annotation_id = n.id AND rb.completion_id = p.completion_b
           WHERE n.project_id = $1 AND n.pair_id IS NULL
           UNION ALL
           SELECT p.id, n.annotator_id, CASE WHEN va.v > vb.v THEN 3 WHEN va.v < vb.v THEN -3 ELSE 0 END, n.id
           FROM annotations n JOIN pairs p ON p.prompt_id = n.prompt_id
           JOIN (SELECT annotation_id, completion_id, SUM(value) AS v FROM ratings
                 WHERE annotation_id IN (SELECT id FROM annotations WHERE project_id = $1 AND pair_id IS NULL)
                 GROUP BY 1, 2) va
             ON va.annotation_id = n.id AND va.completion_id = p.completion_a
           JOIN (SELECT annotation_id, completion_id, SUM(value) AS v FROM ratings
                 WHERE annotation_id IN (SELECT id FROM annotations WHERE project_id = $1 AND pair_id IS NULL)
                 GROUP BY 1, 2) vb
             ON vb.annotation_id = n.id AND vb.completion_id = p.completion_b
           WHERE n.project_id = $1 AND n.pair_id IS NULL) x
         ORDER BY pair_id, id",
        super::conn::vals![project_id],
        &mut |r| {
            out.push((r.get(0)?, r.get(1)?, r.get(2)?));
            Ok(())
        },
    )?;
    Ok(out)
}

/// The names of a project's annotators by id.
pub async fn annotator_names(db: &Pool, project_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    on!(db, e => sqlx::query_as(
        "SELECT DISTINCT u.id, u.username FROM annotations n JOIN users u ON u.id = n.annotator_id
         WHERE n.project_id = $1 ORDER BY u.username",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)
}

/// Annotated pairs that came with an imported preference, and how many of
/// them the annotators' summed votes agree with.
pub async fn prior_agreement(db: &Pool, project_id: i64) -> sqlx::Result<(i64, i64)> {
    on!(db, e => sqlx::query_as(
        "SELECT COUNT(*), COUNT(CASE WHEN (CASE WHEN x.s > 0 THEN 1 WHEN x.s < 0 THEN -1 ELSE 0 END) = x.prior THEN 1 END)
         FROM (SELECT p.prior AS prior, SUM(n.choice) AS s FROM pairs p JOIN annotations n ON n.pair_id = p.id
               WHERE p.project_id = $1 AND p.prior IS NOT NULL GROUP BY p.id) x",
    )
    .bind(project_id)
    .fetch_one(e)
    .await)
}

pub async fn insert_card(
    db: impl Into<Ex<'_>>,
    project_id: i64,
    actor: &str,
    card: &serde_json::Value,
) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("INSERT INTO exports (uuid, project_id, actor, created_at, card) VALUES ($1, $2, $3, $4, $5)")
        .bind(super::new_uuid())
        .bind(project_id)
        .bind(actor)
        .bind(super::now_ms())
        .bind(card.to_string())
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The cards of a project's latest exports, newest first.
pub async fn cards(db: &Pool, project_id: i64, limit: i64) -> sqlx::Result<Vec<serde_json::Value>> {
    let rows: Vec<(String,)> = on!(db, e => sqlx::query_as("SELECT card FROM exports WHERE project_id = $1 ORDER BY id DESC LIMIT $2")
        .bind(project_id)
        .bind(limit)
        .fetch_all(e)
        .await)?;
    Ok(rows.into_iter().filter_map(|(c,)| serde_json::from_str(&c).ok()).collect())
}
