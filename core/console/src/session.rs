//! Who is looking: the session cookie and the [`Viewer`] extractor every signed-in page takes.
//!
//! The cookie holds the session's secret (stored server-side only as its hash); the services
//! turn it into the same [`Principal`] a token of the person's role yields, so every page calls
//! the services under the API's permission checks. A request without a live session is sent to
//! the sign-in page, and back to where it was going afterwards.

use crate::i18n::Locale;
use crate::ConsoleState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use steward_domain::auth::Principal;
use steward_domain::login::Login;

/// The cookie's name where the browser keeps it to this exact origin over a secure channel
/// (`__Host-`: Secure, no Domain, Path=/, so no other site or subdomain can set or read it).
pub const HOST_COOKIE: &str = "__Host-steward_session";
/// Its name over plain HTTP to a host other than loopback, where browsers refuse Secure cookies.
pub const PLAIN_COOKIE: &str = "steward_session";

/// How this server's cookies are set: `__Host-` and Secure when its public URL is HTTPS or the
/// browser talks to a loopback address (browsers treat those as secure contexts).
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub public_https: bool,
}

impl CookiePolicy {
    fn secure_for(&self, headers: &HeaderMap) -> bool {
        self.public_https || is_loopback_host(headers)
    }

    /// `Set-Cookie` starting a session for `max_age_secs`.
    pub fn start(&self, headers: &HeaderMap, secret: &str, max_age_secs: i64) -> HeaderValue {
        let value = if self.secure_for(headers) {
            format!("{HOST_COOKIE}={secret}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax; Secure")
        } else {
            format!("{PLAIN_COOKIE}={secret}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax")
        };
        HeaderValue::from_str(&value).expect("session secrets are URL-safe base64")
    }

    /// `Set-Cookie` removing the session cookie.
    pub fn end(&self, headers: &HeaderMap) -> HeaderValue {
        if self.secure_for(headers) {
            HeaderValue::from_static("__Host-steward_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure")
        } else {
            HeaderValue::from_static("steward_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
        }
    }
}

fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The session secret the browser sent, under either cookie name.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| (*name == HOST_COOKIE || *name == PLAIN_COOKIE) && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The signed-in person behind a console request.
pub struct Viewer {
    pub principal: Principal,
    pub login: Login,
    pub locale: Locale,
}

impl FromRequestParts<ConsoleState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Viewer, Response> {
        let fallback = Locale::from_headers(&parts.headers);
        let Some(secret) = session_secret(&parts.headers) else {
            return Err(to_sign_in(&parts.uri, &parts.headers, None));
        };
        match state.services.session_principal(&secret).await {
            Ok(Some(live)) => {
                Ok(Viewer { principal: live.principal, locale: Locale::for_login(&live.login, &parts.headers), login: live.login })
            }
            Ok(None) => Err(to_sign_in(&parts.uri, &parts.headers, Some(state.cookies.end(&parts.headers)))),
            Err(e) => Err(crate::page::unavailable(&fallback, &e)),
        }
    }
}

/// Where an unauthenticated request goes: the sign-in page, remembering the page it wanted. An
/// htmx request is told to navigate the whole window (`HX-Redirect`), not to swap the form in.
fn to_sign_in(uri: &Uri, headers: &HeaderMap, clear: Option<HeaderValue>) -> Response {
    let wanted = uri.path_and_query().map_or("/", |p| p.as_str());
    let target = if wanted == "/" { "/sign-in".to_owned() } else { format!("/sign-in?next={}", percent_encode(wanted)) };
    let mut response = if headers.contains_key("hx-request") {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut().insert("hx-redirect", HeaderValue::from_str(&target).expect("percent-encoded"));
        r
    } else {
        Redirect::to(&target).into_response()
    };
    if let Some(clear) = clear {
        response.headers_mut().insert(header::SET_COOKIE, clear);
    }
    response
}

/// Only a path on this site may be returned to after signing in (never `//elsewhere`).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.contains(['\r', '\n']) => n,
        _ => "/",
    }
}

pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The client's address as this server saw it (throttling and the audit).
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientAddr, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn the_secret_is_read_from_either_cookie_name() {
        assert_eq!(session_secret(&with(&[(header::COOKIE, "a=1; __Host-steward_session=sts_x; b=2")])).as_deref(), Some("sts_x"));
        assert_eq!(session_secret(&with(&[(header::COOKIE, "steward_session=sts_y")])).as_deref(), Some("sts_y"));
        assert_eq!(session_secret(&with(&[(header::COOKIE, "steward_session=")])), None);
        assert_eq!(session_secret(&with(&[(header::COOKIE, "other=sts_z")])), None);
    }

    #[test]
    fn cookies_are_host_prefixed_and_secure_on_https_and_loopback() {
        let plain = CookiePolicy { public_https: false };
        let local = plain.start(&with(&[(header::HOST, "127.0.0.1:8080")]), "sts_a", 60);
        assert!(local.to_str().unwrap().starts_with("__Host-steward_session=sts_a; Path=/;"));
        assert!(local.to_str().unwrap().ends_with("HttpOnly; SameSite=Lax; Secure"));
        assert!(plain.start(&with(&[(header::HOST, "[::1]:8080")]), "s", 1).to_str().unwrap().starts_with("__Host-"));
        assert!(plain.start(&with(&[(header::HOST, "localhost")]), "s", 1).to_str().unwrap().starts_with("__Host-"));
        let lan = plain.start(&with(&[(header::HOST, "desk.lan:8080")]), "sts_b", 60);
        assert!(lan.to_str().unwrap().starts_with("steward_session=sts_b;"));
        assert!(!lan.to_str().unwrap().contains("Secure"));
        let tls = CookiePolicy { public_https: true }.start(&with(&[(header::HOST, "desk.example")]), "s", 1);
        assert!(tls.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/queues?view=mine")), "/queues?view=mine");
        for bad in ["//evil.example", "/\\evil", "https://evil.example", "queues", ""] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(percent_encode("/tickets/T-1?a=b&c"), "/tickets/T-1%3Fa%3Db%26c");
    }
}
