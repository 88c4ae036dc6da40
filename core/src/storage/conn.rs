//! The hot path's connection, the same for both backends: statements with
//! `$1`-style placeholders, values as `Val`, rows read by column number
//! like rusqlite's. A write job (claim, submit, skip, an import chunk) is
//! plain synchronous code over `&mut dyn Conn`, written once:
//!
//! - SQLite: the writer thread's own rusqlite connection (`SqliteConn`),
//!   inside the writer's group-commit transaction; statements are prepared
//!   once and cached.
//! - PostgreSQL: a connection in a transaction of the job's own (`PgConn`),
//!   on the thread that waits for each statement and drives it with a
//!   runtime of its own (a write-job thread, or a snapshot's reader).
//!
//! The SQL is written for both; where the dialects differ (row locks,
//! upserts) the caller asks `dialect()`.
use super::Dialect;
use crate::{Error, Result};

/// A value bound to a statement (text borrowed from the caller: nothing is
/// copied to bind it) or read from a row (owned).
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// Read from a row: any NULL.
    Null,
    /// Bound: a NULL of a type, so PostgreSQL knows what it is.
    NullInt,
    NullText,
    Int(i64),
    Real(f64),
    Text(std::borrow::Cow<'a, str>),
    Bool(bool),
}

/// A row: its values in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Val<'static>>);

impl Row {
    /// Column `i` as `T` (an integer, text, flag, real, or an `Option` of one).
    pub fn get<T: FromVal>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).ok_or_else(|| internal(format!("no column {i} in the row")))?;
        T::from_val(v).ok_or_else(|| internal(format!("column {i}: unexpected value {v:?}")))
    }

    /// Column `i` moved out of the row (a text is not copied; the row
    /// keeps a NULL there): for the large texts exports read.
    pub fn take<T: FromVal>(&mut self, i: usize) -> Result<T> {
        let v = self.0.get_mut(i).ok_or_else(|| internal(format!("no column {i} in the row")))?;
        let v = std::mem::replace(v, Val::Null);
        let kind = match &v {
            Val::Null | Val::NullInt | Val::NullText => "NULL",
            Val::Int(_) => "an integer",
            Val::Real(_) => "a real",
            Val::Text(_) => "a text",
            Val::Bool(_) => "a boolean",
        };
        T::from_owned(v).ok_or_else(|| internal(format!("column {i}: unexpected {kind}")))
    }
}

fn internal(msg: String) -> Error {
    Error::Internal(anyhow::anyhow!(msg))
}

pub trait FromVal: Sized {
    fn from_val(v: &Val<'_>) -> Option<Self>;
    /// From a value the caller gives up (texts are moved, not copied).
    fn from_owned(v: Val<'static>) -> Option<Self> {
        Self::from_val(&v)
    }
}

impl FromVal for i64 {
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Int(i) => Some(*i),
            Val::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}

impl FromVal for i8 {
    fn from_val(v: &Val<'_>) -> Option<Self> {
        i64::from_val(v).and_then(|i| i8::try_from(i).ok())
    }
}

impl FromVal for f64 {
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Real(f) => Some(*f),
            Val::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromVal for bool {
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Bool(b) => Some(*b),
            Val::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromVal for String {
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Text(s) => Some(s.to_string()),
            _ => None,
        }
    }
    fn from_owned(v: Val<'static>) -> Option<Self> {
        match v {
            Val::Text(s) => Some(s.into_owned()),
            _ => None,
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            other => T::from_val(other).map(Some),
        }
    }
    fn from_owned(v: Val<'static>) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            other => T::from_owned(other).map(Some),
        }
    }
}

impl From<i64> for Val<'_> {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}
impl From<usize> for Val<'_> {
    fn from(i: usize) -> Self {
        Val::Int(i as i64)
    }
}
impl From<f64> for Val<'_> {
    fn from(f: f64) -> Self {
        Val::Real(f)
    }
}
impl From<bool> for Val<'_> {
    fn from(b: bool) -> Self {
        Val::Bool(b)
    }
}
impl<'a> From<&'a str> for Val<'a> {
    fn from(s: &'a str) -> Self {
        Val::Text(std::borrow::Cow::Borrowed(s))
    }
}
impl From<String> for Val<'_> {
    fn from(s: String) -> Self {
        Val::Text(std::borrow::Cow::Owned(s))
    }
}
impl<'a> From<&'a String> for Val<'a> {
    fn from(s: &'a String) -> Self {
        Val::Text(std::borrow::Cow::Borrowed(s))
    }
}
impl From<Option<i64>> for Val<'_> {
    fn from(o: Option<i64>) -> Self {
        o.map(Val::Int).unwrap_or(Val::NullInt)
    }
}
impl<'a> From<Option<&'a str>> for Val<'a> {
    fn from(o: Option<&'a str>) -> Self {
        o.map(Val::from).unwrap_or(Val::NullText)
    }
}
impl From<Option<String>> for Val<'_> {
    fn from(o: Option<String>) -> Self {
        o.map(Val::from).unwrap_or(Val::NullText)
    }
}
impl<'a> From<&'a Option<String>> for Val<'a> {
    fn from(o: &'a Option<String>) -> Self {
        o.as_deref().map(Val::from).unwrap_or(Val::NullText)
    }
}

/// `vals![a, b, c]`: the values of a statement's placeholders, in order.
#[macro_export]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::storage::conn::Val::from($v)),*][..] };
}
pub use crate::vals;

/// A connection inside a write job's transaction.
pub trait Conn {
    fn dialect(&self) -> Dialect;
    /// Every row the statement returns. The statement is prepared once per
    /// connection and kept for the next time.
    fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>>;
    /// `query` for a statement that will not come again (values written into
    /// its text, as exports do): prepared for this run only, not cached.
    fn query_once(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>>;
    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64>;
    /// Hands each row of a one-off statement to `f` as it is read, holding
    /// none of them: for reads of a whole project (a million rows).
    fn each(&mut self, sql: &str, params: &[Val<'_>], f: &mut dyn FnMut(&mut Row) -> Result<()>) -> Result<()>;
}

impl dyn Conn + '_ {
    /// The first row, if any.
    pub fn query_opt(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row; an internal error when there is none.
    pub fn query_one(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Row> {
        self.query_opt(sql, params)?.ok_or_else(|| internal("a statement returned no row".into()))
    }

    /// Every row of a one-off statement without parameters (`query_once`),
    /// each read by `f` (which may `take` its texts).
    pub fn rows<T>(&mut self, sql: &str, mut f: impl FnMut(&mut Row) -> Result<T>) -> Result<Vec<T>> {
        self.query_once(sql, &[])?.into_iter().map(|mut r| f(&mut r)).collect()
    }

    /// The first column of the first row.
    pub fn scalar<T: FromVal>(&mut self, sql: &str, params: &[Val<'_>]) -> Result<T> {
        self.query_one(sql, params)?.get(0)
    }
}

/// The SQLite side: the writer thread's connection.
pub struct SqliteConn<'c>(pub &'c rusqlite::Connection);

/// `$1` → `?1`: SQLite numbers `$NAME` parameters by first appearance, not
/// by their digits; `?NNN` is the number itself.
fn question_marks(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains('$') {
        std::borrow::Cow::Owned(sql.replace('$', "?"))
    } else {
        std::borrow::Cow::Borrowed(sql)
    }
}

fn sqlite_err(e: rusqlite::Error) -> Error {
    super::writer::sql_err(e)
}

fn bind(st: &mut rusqlite::Statement<'_>, params: &[Val<'_>]) -> Result<()> {
    for (i, p) in params.iter().enumerate() {
        let at = i + 1;
        match p {
            Val::Null | Val::NullInt | Val::NullText => st.raw_bind_parameter(at, rusqlite::types::Null),
            Val::Int(n) => st.raw_bind_parameter(at, n),
            Val::Real(f) => st.raw_bind_parameter(at, f),
            Val::Text(s) => st.raw_bind_parameter(at, s.as_ref()),
            Val::Bool(b) => st.raw_bind_parameter(at, i64::from(*b)),
        }
        .map_err(sqlite_err)?;
    }
    Ok(())
}

/// Reads the statement's rows one by one into `f`.
fn sqlite_each(
    st: &mut rusqlite::Statement<'_>,
    params: &[Val<'_>],
    f: &mut dyn FnMut(&mut Row) -> Result<()>,
) -> Result<()> {
    use rusqlite::types::ValueRef;
    bind(st, params)?;
    let n = st.column_count();
    let mut rows = st.raw_query();
    while let Some(r) = rows.next().map_err(sqlite_err)? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i).map_err(sqlite_err)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(v) => Val::Int(v),
                ValueRef::Real(v) => Val::Real(v),
                ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned().into()),
                ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned().into()),
            });
        }
        f(&mut Row(row))?;
    }
    Ok(())
}

fn sqlite_rows(st: &mut rusqlite::Statement<'_>, params: &[Val<'_>]) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    sqlite_each(st, params, &mut |r| {
        out.push(std::mem::replace(r, Row(Vec::new())));
        Ok(())
    })?;
    Ok(out)
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>> {
        let mut st = self.0.prepare_cached(&question_marks(sql)).map_err(sqlite_err)?;
        sqlite_rows(&mut st, params)
    }

    fn query_once(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>> {
        let mut st = self.0.prepare(&question_marks(sql)).map_err(sqlite_err)?;
        sqlite_rows(&mut st, params)
    }

    fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64> {
        let mut st = self.0.prepare_cached(&question_marks(sql)).map_err(sqlite_err)?;
        bind(&mut st, params)?;
        Ok(st.raw_execute().map_err(sqlite_err)? as u64)
    }

    fn each(&mut self, sql: &str, params: &[Val<'_>], f: &mut dyn FnMut(&mut Row) -> Result<()>) -> Result<()> {
        let mut st = self.0.prepare(&question_marks(sql)).map_err(sqlite_err)?;
        sqlite_each(&mut st, params, f)
    }
}

/// The PostgreSQL side: a connection in the job's transaction, on a thread
/// where each statement waits for its answer (a write-job thread, or a
/// snapshot's reader).
pub struct PgConn<'c> {
    pub driver: Driver<'c>,
    pub conn: &'c mut sqlx::PgConnection,
}

/// What drives a connection while a statement waits for its answer: a
/// runtime of the connection's own, run by the thread that waits, so an
/// answer wakes that thread and nothing else.
#[derive(Clone)]
pub enum Driver<'c> {
    /// A write-job thread's: each answer awaited at most `PG_ANSWER_TIMEOUT`.
    Runtime(&'c tokio::runtime::Runtime),
    /// A snapshot's (exports, agreement, copies): long reads, no limit.
    Reader(&'c tokio::runtime::Runtime),
}

/// How long a write-job thread waits for one answer of PostgreSQL (a
/// statement, `BEGIN`, `COMMIT`) before it gives the connection up: one the
/// network dropped without a word would otherwise hold the thread until the
/// kernel gives up on it (minutes).
pub const PG_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Driver<'_> {
    /// Runs `f` to its end, or (on a write-job thread) for at most
    /// `PG_ANSWER_TIMEOUT`: then `Unavailable`, and the thread's connection is
    /// replaced (`pg_writers`).
    pub fn run<T, E: Into<Error>>(&self, f: impl std::future::Future<Output = std::result::Result<T, E>>) -> Result<T> {
        match self {
            Driver::Reader(r) => r.block_on(f).map_err(Into::into),
            Driver::Runtime(r) => r
                .block_on(async { tokio::time::timeout(PG_ANSWER_TIMEOUT, f).await })
                .map_err(|_| Error::Unavailable("the database did not answer in time; try again".into()))?
                .map_err(Into::into),
        }
    }
}

fn pg_query<'q>(
    sql: &'q str,
    params: &'q [Val<'q>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            Val::Null | Val::NullText => q.bind(None::<String>),
            Val::NullInt => q.bind(None::<i64>),
            Val::Int(n) => q.bind(*n),
            Val::Real(f) => q.bind(*f),
            Val::Text(s) => q.bind(s.as_ref()),
            Val::Bool(b) => q.bind(*b),
        };
    }
    q
}

/// Column `i` of a PostgreSQL row: its value decoded by the column's type
/// once (an export reads 20 million of them).
fn pg_val(row: &sqlx::postgres::PgRow, i: usize) -> Result<Val<'static>> {
    use sqlx::{Column, Decode, Postgres, Row as _, TypeInfo, ValueRef};
    let raw = row.try_get_raw(i).map_err(Error::from)?;
    if raw.is_null() {
        return Ok(Val::Null);
    }
    fn decode<'r, T: Decode<'r, Postgres>>(raw: sqlx::postgres::PgValueRef<'r>, i: usize) -> Result<T> {
        T::decode(raw).map_err(|e| internal(format!("column {i}: {e}")))
    }
    let v = match row.column(i).type_info().name() {
        "INT8" => Val::Int(decode::<i64>(raw, i)?),
        "INT4" => Val::Int(i64::from(decode::<i32>(raw, i)?)),
        "INT2" => Val::Int(i64::from(decode::<i16>(raw, i)?)),
        "BOOL" => Val::Bool(decode::<bool>(raw, i)?),
        "FLOAT8" => Val::Real(decode::<f64>(raw, i)?),
        "FLOAT4" => Val::Real(f64::from(decode::<f32>(raw, i)?)),
        "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" => Val::Text(decode::<&str>(raw, i)?.to_owned().into()),
        other => return Err(internal(format!("column {i}: PostgreSQL type {other} is not read by Arbiter (cast it)"))),
    };
    Ok(v)
}

impl Conn for PgConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>> {
        self.fetch(sql, params, true)
    }

    fn query_once(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>> {
        self.fetch(sql, params, false)
    }

    fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64> {
        let conn = &mut *self.conn;
        Ok(self.driver.run(pg_query(sql, params).execute(conn))?.rows_affected())
    }

    fn each(&mut self, sql: &str, params: &[Val<'_>], f: &mut dyn FnMut(&mut Row) -> Result<()>) -> Result<()> {
        self.stream(sql, params, false, f)
    }
}

impl PgConn<'_> {
    /// `persistent`: keep the prepared statement for the next time.
    fn fetch(&mut self, sql: &str, params: &[Val<'_>], persistent: bool) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.stream(sql, params, persistent, &mut |r| {
            out.push(std::mem::replace(r, Row(Vec::new())));
            Ok(())
        })?;
        Ok(out)
    }

    /// Converts each row as it arrives (the next ones are on their way
    /// meanwhile), holding none of the protocol's rows. `f` runs inside
    /// `block_on`: it must not block on the runtime itself.
    fn stream(
        &mut self,
        sql: &str,
        params: &[Val<'_>],
        persistent: bool,
        f: &mut dyn FnMut(&mut Row) -> Result<()>,
    ) -> Result<()> {
        use futures::TryStreamExt;
        use sqlx::Row as _;
        let conn = &mut *self.conn;
        self.driver.run(async move {
            let mut rows = pg_query(sql, params).persistent(persistent).fetch(conn);
            while let Some(r) = rows.try_next().await? {
                let mut row = Row((0..r.len()).map(|i| pg_val(&r, i)).collect::<Result<Vec<Val<'static>>>>()?);
                f(&mut row)?;
            }
            Ok::<(), Error>(())
        })
    }
}
