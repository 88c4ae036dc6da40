//! Secrets that are shown exactly once (new API tokens, invite and reset
//! links). A form handler parks the secret here and redirects to
//! `?reveal=ID`; the page takes it out. The secret never travels in a URL,
//! so it stays out of logs, history and Referer headers.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const KEEP: Duration = Duration::from_secs(10 * 60);

#[derive(Default)]
pub struct Reveal {
    parked: Mutex<HashMap<String, (String, i64, Instant)>>,
}

impl Reveal {
    /// Parks a secret for `owner` (a user id); returns the one-use id for the redirect.
    pub fn park(&self, owner: i64, secret: String) -> String {
        let id = crate::services::auth::new_secret();
        let mut map = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, _, at)| at.elapsed() < KEEP);
        map.insert(id.clone(), (secret, owner, Instant::now()));
        id
    }

    /// Takes the secret out (once), if it is `owner`'s and fresh.
    pub fn take(&self, owner: i64, id: &str) -> Option<String> {
        let mut map = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        match map.remove(id) {
            Some((secret, who, at)) if who == owner && at.elapsed() < KEEP => Some(secret),
            Some(other) if other.1 != owner => {
                map.insert(id.to_owned(), other);
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Reveal;

    #[test]
    fn a_secret_is_revealed_once_and_only_to_its_owner() {
        let r = Reveal::default();
        let id = r.park(7, "arb_secret".into());
        assert_eq!(r.take(8, &id), None);
        assert_eq!(r.take(7, &id).as_deref(), Some("arb_secret"));
        assert_eq!(r.take(7, &id), None);
    }
}
