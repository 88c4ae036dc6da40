//! Short-lived in-process copies of what every request looks up (who holds
//! this token or session, a project by slug, membership). Each lookup
//! through sqlx costs two thread hops, which under load was ~40% of the
//! server's CPU. Every change made through this process clears the affected
//! cache at once; `TTL` bounds staleness from changes made elsewhere (the CLI,
//! another process on the same file).
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(5);
/// With several instances (PostgreSQL) a change reaches the others by
/// `NOTIFY`; this bounds staleness should a notification be missed.
pub const SHARED_TTL: Duration = Duration::from_secs(1);
/// The PostgreSQL channel on which instances announce changes.
pub const CHANNEL: &str = "arbiter_caches";
const MAX_ENTRIES: usize = 50_000;

pub struct Cache<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
    ttl: Duration,
}

impl<K: Eq + Hash, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Cache::with_ttl(TTL)
    }
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    pub fn with_ttl(ttl: Duration) -> Self {
        Cache { map: Mutex::new(HashMap::new()), ttl }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (value, Instant::now()));
    }

    pub fn clear(&self) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The caches a `Db` carries.
#[derive(Default)]
pub struct Caches {
    /// Hash of a session id or API token → its active user.
    pub principals: Cache<String, crate::storage::users::User>,
    pub projects: Cache<String, crate::storage::projects::Project>,
    /// (project id, user id) → member?
    pub members: Cache<(i64, i64), bool>,
    /// The last leaderboard fit per (project ids, rounds, seed), with the
    /// data stamp it was fitted at; see `services::leaderboard`.
    pub boards: std::sync::Mutex<std::collections::HashMap<BoardKey, BoardSlot>>,
}

pub type BoardKey = (Vec<i64>, usize, u64);

#[derive(Default)]
pub struct BoardSlot {
    pub stamp: (i64, i64, i64),
    pub board: Option<std::sync::Arc<crate::domain::leaderboard::Board>>,
    /// A refit is running in the background.
    pub refreshing: bool,
    /// When the board was fitted.
    pub fitted_at: Option<std::time::Instant>,
    /// Model pairs (`pairs.model_pair` keys) with their active-selection
    /// scores (`leaderboard::priorities`), from this fit.
    pub priorities: std::sync::Arc<Vec<(String, f64)>>,
}

impl Caches {
    pub fn with_ttl(ttl: Duration) -> Self {
        Caches {
            principals: Cache::with_ttl(ttl),
            projects: Cache::with_ttl(ttl),
            members: Cache::with_ttl(ttl),
            boards: Default::default(),
        }
    }

    /// After any change to users, sessions, tokens, projects or memberships.
    pub fn clear_all(&self) {
        self.principals.clear();
        self.projects.clear();
        self.members.clear();
    }
}

/// Listens on `CHANNEL` and clears the caches on every notification; also
/// whenever the connection is lost or comes back (what was announced
/// meanwhile is unknown). Runs until aborted.
pub fn listen(pool: sqlx::PgPool, caches: std::sync::Arc<Caches>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Ok(mut l) = sqlx::postgres::PgListener::connect_with(&pool).await {
                if l.listen(CHANNEL).await.is_ok() {
                    caches.clear_all();
                    // `Ok(None)`: the connection was lost; the next call reconnects.
                    while let Ok(_notification) = l.try_recv().await {
                        caches.clear_all();
                    }
                }
            }
            caches.clear_all();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Cache;

    #[test]
    fn entries_come_back_until_cleared() {
        let c: Cache<&str, i32> = Cache::default();
        assert_eq!(c.get(&"a"), None);
        c.put("a", 1);
        assert_eq!(c.get(&"a"), Some(1));
        c.clear();
        assert_eq!(c.get(&"a"), None);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c: Cache<&str, i32> = Cache::with_ttl(std::time::Duration::from_millis(50));
        c.put("a", 1);
        assert_eq!(c.get(&"a"), Some(1), "fresh");
        std::thread::sleep(std::time::Duration::from_millis(80));
        assert_eq!(c.get(&"a"), None, "a change made elsewhere is seen after the TTL");
    }

    #[test]
    fn the_default_ttl_is_five_seconds() {
        let c: Cache<&str, i32> = Cache::default();
        assert_eq!(c.ttl, super::TTL);
        assert_eq!(super::TTL, std::time::Duration::from_secs(5));
    }
}
