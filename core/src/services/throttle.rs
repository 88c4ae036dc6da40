//! Failed logins per account and per client address in a sliding window
//! (ASVS V2.2.1). An attempt is counted *before* its password is checked,
//! so a burst of concurrent guesses cannot all get through while the first
//! ones are still hashing; a success takes its own count back.
//!
//! One instance (SQLite) keeps the counts in process; several instances on
//! one PostgreSQL database keep them in it (`storage::throttle`), so an
//! attacker spread over the instances gets no more tries than against one.
//!
//! Memory is bounded: keys are fixed-size hashes (a username can be as long
//! as a request body allows), each key keeps at most `limit` timestamps,
//! and past `MAX_KEYS` keys the ones idle longest are forgotten first, so a
//! spray of new names cannot push out a victim's recent failures before
//! older entries.
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_KEYS: usize = 50_000;

type Key = [u8; 16];

struct Entry {
    times: VecDeque<Instant>,
    last: Instant,
}

pub struct Throttle {
    map: Mutex<HashMap<Key, Entry>>,
    window: Duration,
    per_account: usize,
    per_address: usize,
    max_keys: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

fn key(kind: u8, value: &str) -> Key {
    let mut h = Sha256::new();
    h.update([kind]);
    h.update(value.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize()[..16]);
    k
}

fn account_key(username: &str) -> Key {
    key(b'u', &username.trim().to_lowercase())
}

fn address_key(ip: Option<IpAddr>) -> Key {
    key(b'a', &ip.map(|i| i.to_string()).unwrap_or_default())
}

/// A reserved attempt: counted as a failure unless `succeeded` is called.
#[must_use]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    account: Key,
    address: Key,
    at: Instant,
}

impl Attempt<'_> {
    /// The password was right: the account's failures are forgotten and this
    /// attempt no longer counts against the address.
    pub fn succeeded(self) {
        let mut map = self.throttle.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&self.account);
        if let Some(e) = map.get_mut(&self.address) {
            if let Some(i) = e.times.iter().rposition(|t| *t == self.at) {
                e.times.remove(i);
            }
        }
    }
}

/// An attempt counted for the login under way, wherever the counts live.
#[must_use]
pub enum Reserved<'a> {
    Local(Attempt<'a>),
    Shared { account: String, address_row: i64 },
}

impl Reserved<'_> {
    /// The password was right (see `Attempt::succeeded`).
    pub async fn succeeded(self, db: &crate::storage::Db) -> crate::Result<()> {
        match self {
            Reserved::Local(a) => a.succeeded(),
            Reserved::Shared { account, address_row } => {
                crate::storage::throttle::forgive(&db.write, &account, address_row).await?
            }
        }
        Ok(())
    }
}

impl Throttle {
    /// `reserve`, with the counts where the database's instances share them.
    pub async fn reserve_in(
        &self,
        db: &crate::storage::Db,
        username: &str,
        ip: Option<IpAddr>,
    ) -> crate::Result<Result<Reserved<'_>, u64>> {
        if !db.is_shared() {
            return Ok(self.reserve(username, ip).map(Reserved::Local));
        }
        let (account, address) = (hex::encode(account_key(username)), hex::encode(address_key(ip)));
        let keys = [(account.clone(), self.per_account), (address, self.per_address)];
        let window = self.window.as_millis() as i64;
        Ok(match crate::storage::throttle::reserve(&db.write, &keys, window, crate::storage::now_ms()).await? {
            Ok(rows) => Ok(Reserved::Shared { account, address_row: rows[1] }),
            Err(wait) => Err(wait),
        })
    }

    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Throttle {
        Throttle { map: Mutex::new(HashMap::new()), window, per_account, per_address, max_keys: MAX_KEYS }
    }

    #[cfg(test)]
    fn with_max_keys(mut self, n: usize) -> Throttle {
        self.max_keys = n;
        self
    }

    /// Counts an attempt for this account and address, or says how many
    /// seconds to wait when either is at its limit (the attempt is then not
    /// counted, and no password is checked).
    pub fn reserve(&self, username: &str, ip: Option<IpAddr>) -> Result<Attempt<'_>, u64> {
        let now = Instant::now();
        let (account, address) = (account_key(username), address_key(ip));
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait: Option<u64> = None;
        for (k, limit) in [(account, self.per_account), (address, self.per_address)] {
            if let Some(e) = map.get_mut(&k) {
                while e.times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    e.times.pop_front();
                }
                if e.times.len() >= limit {
                    let oldest = e.times[e.times.len() - limit];
                    let secs = self.window.saturating_sub(now.duration_since(oldest)).as_secs().max(1);
                    wait = Some(wait.map_or(secs, |w| w.max(secs)));
                }
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for (k, limit) in [(account, self.per_account), (address, self.per_address)] {
            if !map.contains_key(&k) && map.len() >= self.max_keys {
                self.evict(&mut map, now);
            }
            let e = map.entry(k).or_insert_with(|| Entry { times: VecDeque::with_capacity(limit), last: now });
            if e.times.len() >= limit {
                e.times.pop_front();
            }
            e.times.push_back(now);
            e.last = now;
        }
        Ok(Attempt { throttle: self, account, address, at: now })
    }

    /// Makes room: first whatever has aged out of the window, then the
    /// eighth of the keys idle the longest.
    fn evict(&self, map: &mut HashMap<Key, Entry>, now: Instant) {
        map.retain(|_, e| now.duration_since(e.last) < self.window);
        if map.len() < self.max_keys {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|e| e.last).collect();
        let cut = (ages.len() / 8).max(1);
        let (_, nth, _) = ages.select_nth_unstable(cut - 1);
        let threshold = *nth;
        map.retain(|_, e| e.last > threshold);
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_account_is_blocked_after_five_failures_and_forgiven_on_success() {
        let t = Throttle::new(Duration::from_secs(60), 5, 20);
        for _ in 0..5 {
            let _failed = t.reserve("Ann", ip("127.0.0.1")).expect("under the limit");
        }
        let wait = t.reserve("ANN", ip("10.0.0.9")).err().expect("blocked from any address");
        assert!((1..=60).contains(&wait));
        assert!(t.reserve("bob", ip("10.0.0.9")).is_ok());
    }

    #[test]
    fn a_success_takes_back_its_own_count() {
        let t = Throttle::new(Duration::from_secs(60), 5, 20);
        for _ in 0..4 {
            let _ = t.reserve("ann", ip("127.0.0.1")).unwrap();
        }
        t.reserve("ann", ip("127.0.0.1")).unwrap().succeeded();
        for _ in 0..5 {
            let _ = t.reserve("ann", ip("127.0.0.1")).expect("the account starts over after a success");
        }
    }

    #[test]
    fn an_address_is_blocked_after_twenty_failures_across_names() {
        let t = Throttle::new(Duration::from_secs(60), 5, 20);
        for i in 0..20 {
            let _ = t.reserve(&format!("user{i}"), ip("192.0.2.1")).unwrap();
        }
        assert!(t.reserve("someone-else", ip("192.0.2.1")).is_err());
        assert!(t.reserve("someone-else", ip("192.0.2.2")).is_ok());
    }

    #[test]
    fn concurrent_attempts_past_the_limit_are_refused_before_any_password_check() {
        let t = std::sync::Arc::new(Throttle::new(Duration::from_secs(60), 5, 1000));
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.reserve("victim", ip("203.0.113.1")).is_ok())
            })
            .collect();
        let allowed = handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn huge_names_cost_a_fixed_size_key_and_the_map_stays_bounded() {
        let t = Throttle::new(Duration::from_secs(60), 5, 1_000_000).with_max_keys(1000);
        let long = "x".repeat(200_000);
        for i in 0..5000 {
            let _ = t.reserve(&format!("{long}{i}"), ip("198.51.100.7")).unwrap();
        }
        assert!(t.keys() <= 1000, "{} keys", t.keys());
    }

    #[test]
    fn a_spray_of_new_names_evicts_the_keys_idle_longest_not_a_recent_victim() {
        let t = Throttle::new(Duration::from_secs(600), 5, 1_000_000).with_max_keys(100);
        for i in 0..60 {
            let _ = t.reserve(&format!("old{i}"), ip("198.51.100.9")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
        for _ in 0..5 {
            let _ = t.reserve("victim", ip("198.51.100.1")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
        for i in 0..60 {
            let _ = t.reserve(&format!("spray{i}"), ip("198.51.100.2")).unwrap();
        }
        assert!(t.keys() <= 100, "124 keys were made, so some were evicted");
        assert!(t.reserve("victim", ip("198.51.100.3")).is_err(), "the victim's recent failures survive the spray");
    }
}
