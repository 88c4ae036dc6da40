//! Request-level defences: CSRF (Origin / Fetch-Metadata check), the
//! client's address behind trusted proxies, response headers, and JSON for
//! oversized bodies.
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::IpAddr;

/// CSRF defence for everything a browser can send with its cookie: a
/// state-changing request must come from this site. Browsers mark every
/// cross-origin POST with `Origin` (and modern ones with `Sec-Fetch-Site`),
/// which a page on another site cannot forge. Requests with neither header
/// are not from a browser (scripts use Bearer tokens) and pass; Bearer
/// requests need no check, as no browser attaches a token on its own.
pub async fn csrf_guard(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !has_bearer(req.headers()) && !same_site(req.headers()) {
        return refusal(req.uri().path(), StatusCode::FORBIDDEN, "cross-site request refused (CSRF protection)");
    }
    next.run(req).await
}

/// A refusal made before a handler runs: the API's JSON error, or for a
/// server function (`/sfn/…`) the error encoding its page decodes, so the
/// page shows it as the server's no instead of taking it for an answer
/// that did not come (which it sends again).
fn refusal(path: &str, status: StatusCode, msg: &str) -> Response {
    if path.starts_with("/sfn/") {
        use leptos::server_fn::error::{FromServerFnError, ServerFnError};
        let refused: ServerFnError = ServerFnError::ServerError(msg.to_owned());
        let body = refused.ser();
        return (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    }
    (status, axum::Json(serde_json::json!({"error": msg}))).into_response()
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

/// The client's address, as the login throttle and the audit log see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// Peers whose `X-Forwarded-For` is believed (`--trusted-proxy`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
    pub fn parse(items: &[String]) -> anyhow::Result<TrustedProxies> {
        let mut nets = Vec::new();
        for item in items.iter().flat_map(|i| i.split(',')).map(str::trim).filter(|i| !i.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => IpNet::from(
                    item.parse::<IpAddr>()
                        .map_err(|_| anyhow::anyhow!("--trusted-proxy: {item:?} is not an address or a CIDR"))?,
                ),
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that came from `peer`: the peer itself,
    /// unless it is a trusted proxy; then the right-most address in
    /// `X-Forwarded-For` that is not a trusted proxy (what a client sends in
    /// that header itself lies to the left and is never believed).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// Puts the client's address (see `TrustedProxies::client`) into the request.
pub async fn client_addr(
    axum::extract::State(proxies): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let addr = peer.map(|p| proxies.client(p, req.headers()));
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

/// Oversized bodies get the API's JSON error (axum's own 413 is plain text).
pub async fn json_413(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let is_json =
            res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if !is_json {
            let msg = "request body too large: imports are limited by --max-import-mb, other bodies to 256 KiB";
            return refusal(&path, StatusCode::PAYLOAD_TOO_LARGE, msg);
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
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.1.2.3"));
        // From the proxy: the right-most address that is not a proxy.
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        // From anyone else: the header is ignored.
        assert_eq!(proxies.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Garbage stops the walk at the last good hop.
        h.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip, 10.9.9.9"));
        assert_eq!(proxies.client(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // No trusted proxies at all (the default): never believed.
        assert_eq!(TrustedProxies::default().client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
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
