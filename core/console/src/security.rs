//! What every console response carries (CSP, framing, sniffing, referrer, caching) and the CSRF
//! rule for state-changing requests. `/api` is not behind these: it is bearer-only and never
//! reads cookies, so a cross-site request cannot act as anyone there.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Scripts only from our own embedded files (no inline script, no eval), styles likewise, and
/// the page can be framed by nobody. htmx is told not to inject its indicator style
/// (`htmx-config` meta in the layout), so no inline style is needed either.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to every console response; pages (not assets) are never cached,
/// since they show one person's data.
pub async fn headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with(crate::assets::PREFIX);
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    // A download sets its own, stricter policy (`sandbox`, files.rs): it is kept.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Console URLs can hold one-time secrets (survey and set-password links): never leak them.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses a state-changing request that a browser says came from another site: it must carry
/// `Sec-Fetch-Site: same-origin`, or (from a browser too old to send it) no `Sec-Fetch-Site` and
/// an `Origin` whose host is ours.
pub async fn csrf(request: Request, next: Next) -> Response {
    if is_safe(request.method()) || same_origin(request.headers()) {
        return next.run(request).await;
    }
    tracing::info!(path = %request.uri().path(), "console refused a cross-site request");
    (StatusCode::FORBIDDEN, axum::response::Html(REFUSED)).into_response()
}

const REFUSED: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Refused</title></head>\
     <body><main><h1>Refused</h1><p>This request did not come from Steward's own pages, so it was not carried out. \
     Go back, reload the page and try again.</p></main></body></html>";

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) else {
        return false;
    };
    let (Ok(origin), Ok(host)) = (origin.to_str(), host.to_str()) else {
        return false;
    };
    // `Origin` is `scheme://host[:port]`; TLS may end at a proxy, so only the authority counts.
    origin.split_once("://").is_some_and(|(scheme, authority)| matches!(scheme, "http" | "https") && authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn only_same_origin_requests_pass() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        for site in ["same-site", "cross-site", "none"] {
            let h = headers(&[("sec-fetch-site", site), ("origin", "http://a:1"), ("host", "a:1")]);
            assert!(!same_origin(&h), "{site}");
        }
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(same_origin(&headers(&[("origin", "https://Desk.Example"), ("host", "desk.example")])));
        assert!(!same_origin(&headers(&[("origin", "http://evil.example"), ("host", "desk.example")])));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "desk.example")])));
        assert!(!same_origin(&headers(&[("host", "desk.example")])));
        assert!(!same_origin(&HeaderMap::new()));
    }

    #[test]
    fn the_policy_allows_no_inline_script() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
