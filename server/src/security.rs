//! Request-level defences: CSRF (Origin / Fetch-Metadata check), login
//! throttling, response headers, and JSON for oversized bodies.
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// CSRF defence for everything a browser can send with its cookie: a
/// state-changing request must come from this site. Browsers mark every
/// cross-origin POST with `Origin` (and modern ones with `Sec-Fetch-Site`),
/// which a page on another site cannot forge. Requests with neither header
/// are not from a browser (scripts use Bearer tokens) and pass; Bearer
/// requests need no check, as no browser attaches a token on its own.
pub async fn csrf_guard(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !has_bearer(req.headers()) && !same_site(req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": "cross-site request refused (CSRF protection)"})),
        )
            .into_response();
    }
    next.run(req).await
}

fn has_bearer(h: &HeaderMap) -> bool {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "))
}

fn same_site(h: &HeaderMap) -> bool {
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // "null" (sandboxed frames, data: pages) is never this site.
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        return origin_host.is_some() && origin_host == host;
    }
    match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// Failed logins per account and per address in a sliding window; past the
/// limit, logins answer 429 with Retry-After (ASVS V2.2.1).
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
    window: Duration,
    per_account: usize,
    per_address: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

impl Throttle {
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Throttle {
        Throttle { failures: Mutex::new(HashMap::new()), window, per_account, per_address }
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> [(String, bool); 2] {
        [
            (format!("u:{}", username.trim().to_lowercase()), true),
            (format!("a:{}", ip.map(|i| i.to_string()).unwrap_or_default()), false),
        ]
    }

    /// Seconds to wait before another try, if this account or address is
    /// over its limit.
    pub fn retry_after(&self, username: &str, ip: Option<IpAddr>) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        for (key, is_account) in Self::keys(username, ip) {
            let limit = if is_account { self.per_account } else { self.per_address };
            let Some(times) = map.get_mut(&key) else { continue };
            times.retain(|t| now.duration_since(*t) < self.window);
            if times.len() >= limit {
                let oldest = times[times.len() - limit];
                let secs = self.window.saturating_sub(now.duration_since(oldest)).as_secs().max(1);
                wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
            }
        }
        wait
    }

    pub fn failed(&self, username: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bound memory under a spray of names: forget the oldest half.
        if map.len() > 100_000 {
            let keys: Vec<String> = map.keys().take(50_000).cloned().collect();
            for k in keys {
                map.remove(&k);
            }
        }
        for (key, _) in Self::keys(username, ip) {
            map.entry(key).or_default().push(Instant::now());
        }
    }

    pub fn succeeded(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("u:{}", username.trim().to_lowercase()));
    }
}

/// Oversized bodies get the API's JSON error (axum's own 413 is plain text).
pub async fn json_413(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let is_json =
            res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if !is_json {
            let msg = "request body too large: imports are limited by --max-import-mb, other bodies to 256 KiB";
            return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(serde_json::json!({"error": msg}))).into_response();
        }
    }
    res
}

/// Pages set their own CSP (with the script nonce, in `app::shell`); every
/// other response gets this one.
pub fn default_csp() -> HeaderValue {
    HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_blocks_an_account_after_five_failures_and_forgets_on_success() {
        let t = Throttle::new(Duration::from_secs(60), 5, 20);
        let ip = Some("127.0.0.1".parse().unwrap());
        for _ in 0..5 {
            assert_eq!(t.retry_after("Ann", ip), None);
            t.failed("ann", ip);
        }
        let wait = t.retry_after("ANN", ip).expect("blocked");
        assert!((1..=60).contains(&wait));
        assert_eq!(t.retry_after("bob", Some("10.0.0.9".parse().unwrap())), None);
        t.succeeded("ann");
        assert_eq!(t.retry_after("ann", Some("10.0.0.9".parse().unwrap())), None);
    }

    #[test]
    fn an_address_is_blocked_after_twenty_failures_across_names() {
        let t = Throttle::new(Duration::from_secs(60), 5, 20);
        let ip = Some("192.0.2.1".parse().unwrap());
        for i in 0..20 {
            t.failed(&format!("user{i}"), ip);
        }
        assert!(t.retry_after("someone-else", ip).is_some());
        assert!(t.retry_after("someone-else", Some("192.0.2.2".parse().unwrap())).is_none());
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(same_site(&h), "no browser headers: not a browser");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(same_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_site(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_site(&h));
    }
}
