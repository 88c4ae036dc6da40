//! Passwords, logins, sessions and the checks on who may do what.
use crate::domain::{Role, Username};
use crate::services::audit;
use crate::services::throttle::Throttle;
use crate::storage::users::User;
use crate::storage::{sessions, users, Db};
use crate::{Error, Result};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

pub const MIN_PASSWORD_LEN: usize = 12;
/// Longer passwords are refused before any hashing (argon2 cost grows with input).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// A session ends 7 days after login, or after 24 hours without a request.
pub const SESSION_ABSOLUTE_MS: i64 = 7 * 24 * 3600 * 1000;
pub const SESSION_IDLE_MS: i64 = 24 * 3600 * 1000;

/// Each argon2 run holds 19 MiB: a burst of logins waits here instead of
/// allocating hundreds of buffers at once.
fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(MAX_CONCURRENT_HASHES))
}

/// At most this many password hashes are computed at once (19 MiB each).
pub const MAX_CONCURRENT_HASHES: usize = 4;

async fn with_hashing_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _slot = hashing_slots().acquire().await.map_err(|e| Error::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || {
        #[cfg(test)]
        let _seen = tests::Hashing::start();
        work()
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
}

/// argon2id with the crate's defaults, which are OWASP's (m=19 MiB, t=2, p=1).
/// Runs on the blocking pool: hashing takes tens of milliseconds.
pub async fn hash_password(password: String) -> Result<String> {
    with_hashing_slot(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await?
}

async fn verify_password(password: String, hash: String) -> bool {
    with_hashing_slot(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash to check against when the user does not exist, so an unknown name
/// costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"not a real password", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

pub fn check_password_rules(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(Error::bad(format!("password: must be at least {MIN_PASSWORD_LEN} characters")));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(Error::bad(format!("password: must be at most {MAX_PASSWORD_LEN} characters")));
    }
    Ok(())
}

pub fn parse_username(name: &str) -> Result<Username> {
    Username::parse(name).map_err(|e| Error::bad(e.to_string()))
}

pub async fn create_user(db: &Db, actor: &str, username: &str, password: &str, role: Role) -> Result<User> {
    let username = parse_username(username)?;
    check_password_rules(password)?;
    let hash = hash_password(password.to_owned()).await?;
    match users::insert(&db.write, username.as_str(), &hash, role).await {
        Ok(u) => {
            audit::record(db, actor, "user.create", username.as_str(), json!({"role": role.as_str()})).await?;
            Ok(u)
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(Error::Conflict(format!("user {username:?} exists already")))
        }
        Err(e) => Err(e.into()),
    }
}

/// A new random secret (session id or API token), URL-safe.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub struct NewSession {
    pub user: User,
    /// The cookie value; only its hash is stored.
    pub token: String,
}

/// A login attempt: throttled per account and per client address (the
/// attempt is counted before the password is checked), every outcome in the
/// audit log. Unknown users and wrong passwords get the same answer after
/// the same argon2 work.
pub async fn login(
    db: &Db,
    throttle: &Throttle,
    username: &str,
    password: &str,
    client: Option<IpAddr>,
) -> Result<NewSession> {
    // Names longer than any valid one are logged cut short.
    let name: String = username.trim().chars().take(Username::MAX_LEN).collect();
    let from = json!({"address": client.map(|ip| ip.to_string())});
    let attempt = match throttle.reserve_in(db, username, client).await? {
        Ok(a) => a,
        Err(wait) => {
            audit::record(db, &name, "login.throttled", &name, from).await?;
            return Err(Error::TooManyAttempts(wait));
        }
    };
    let found = if password.len() > MAX_PASSWORD_LEN * 4 { None } else { users::by_username(&db.read, &name).await? };
    let (user, hash) = match found {
        Some((u, Some(h))) if u.active => (Some(u), h),
        _ => (None, dummy_hash().to_owned()),
    };
    let ok = verify_password(password.to_owned(), hash).await;
    let Some(user) = user.filter(|_| ok) else {
        audit::record(db, &name, "login.failure", &name, from).await?;
        return Err(Error::Unauthorized("wrong username or password".into()));
    };
    attempt.succeeded(db).await?;
    let session = start_session(db, user).await?;
    audit::record(db, &session.user.username, "login.success", &session.user.username, from).await?;
    Ok(session)
}

/// A new session for a user whose credentials were just checked.
pub(crate) async fn start_session(db: &Db, user: User) -> Result<NewSession> {
    let token = new_secret();
    let expires = crate::storage::now_ms() + SESSION_ABSOLUTE_MS;
    sessions::insert(&db.write, &secret_hash(&token), user.id, expires).await?;
    users::touch(&db.write, user.id).await?;
    Ok(NewSession { user, token })
}

pub async fn logout(db: &Db, token: &str) -> Result<()> {
    sessions::delete(&db.write, &secret_hash(token)).await?;
    db.changed().await;
    Ok(())
}

/// The user a session cookie belongs to, if the session is live.
pub async fn session_user(db: &Db, token: &str) -> Result<Option<User>> {
    let now = crate::storage::now_ms();
    let hash = secret_hash(token);
    if let Some(user) = db.caches.principals.get(&hash) {
        return Ok(Some(user));
    }
    let Some((user, last_seen)) = sessions::lookup(&db.read, &hash, now - SESSION_IDLE_MS).await? else {
        return Ok(None);
    };
    db.caches.principals.put(hash.clone(), user.clone());
    // Refreshing the idle clock is a write; once a minute is plenty.
    if now - last_seen > 60_000 {
        sessions::touch(&db.write, &hash).await?;
        users::touch(&db.write, user.id).await?;
    }
    Ok(Some(user))
}

pub fn require_admin(user: &User) -> Result<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden("this needs an admin".into()))
    }
}

/// Creates an API token for a user; the token itself is returned once and
/// only its hash is kept.
pub async fn create_token(db: &Db, username: &str, name: &str) -> Result<String> {
    let (user, _) = users::by_username(&db.read, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user {username:?}")))?;
    let token = format!("arb_{}", new_secret());
    crate::storage::tokens::insert(&db.write, user.id, name, &secret_hash(&token)).await?;
    Ok(token)
}

pub async fn token_user(db: &Db, token: &str) -> Result<Option<User>> {
    let hash = secret_hash(token);
    if let Some(user) = db.caches.principals.get(&hash) {
        return Ok(Some(user));
    }
    let Some((user, last_used)) = crate::storage::tokens::lookup(&db.read, &hash).await? else {
        return Ok(None);
    };
    db.caches.principals.put(hash.clone(), user.clone());
    if last_used.is_none_or(|t| crate::storage::now_ms() - t > 60_000) {
        crate::storage::tokens::touch(&db.write, &hash).await?;
    }
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NOW: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Counts hashes running at once (tests only).
    pub(super) struct Hashing;
    impl Hashing {
        pub(super) fn start() -> Hashing {
            let n = NOW.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(n, Ordering::SeqCst);
            Hashing
        }
    }
    impl Drop for Hashing {
        fn drop(&mut self) {
            NOW.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_password_hashes_runs_a_few_at_a_time() {
        let all: Vec<_> = (0..16).map(|i| tokio::spawn(hash_password(format!("password number {i}")))).collect();
        for h in all {
            assert!(h.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
        let peak = PEAK.load(Ordering::SeqCst);
        assert!((1..=MAX_CONCURRENT_HASHES).contains(&peak), "{peak} hashes ran at once");
    }

    #[test]
    fn passwords_have_a_length_window() {
        assert!(check_password_rules("short").is_err());
        assert!(check_password_rules(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        assert!(check_password_rules("long enough password").is_ok());
    }
}
