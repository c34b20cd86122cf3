//! The web console over plain HTTP: security headers, CSRF, assets, languages, the switch, and
//! the customer's survey page in each of its states. (The real-browser journeys are in
//! `browser/`.)

use crate::helpers::{body, Backend, TestApp};
use crate::on_both_backends;
use reqwest::{header, Method, StatusCode};
use serde_json::json;
use std::io::Read;

on_both_backends!(the_survey_page_takes_one_answer_and_keeps_a_refused_one, an_expired_or_unknown_survey_link_says_so);

const XSS_TITLE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

async fn sqlite() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await.expect("sqlite is always available")
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, header::HeaderMap, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// A same-origin form post, as the browser sends it from our own page.
async fn submit(app: &TestApp, path: &str, form: &[(&str, &str)], lang: &str) -> (StatusCode, String) {
    let r = app
        .client
        .post(app.url(path))
        .header("sec-fetch-site", "same-origin")
        .header(header::ACCEPT_LANGUAGE, lang)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    (status, r.text().await.unwrap())
}

/// The survey path of a freshly resolved ticket.
async fn resolved_survey(app: &TestApp, title: &str) -> String {
    let t = app.create_ticket(json!({"title": title})).await;
    let id = t["id"].as_str().unwrap();
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("\"1\""), &json!({"status": "resolved"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let events = app.events(id).await;
    let url = events.iter().find(|e| e["kind"] == "survey_issued").unwrap()["data"]["survey_url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap();
    format!("/survey/{token}")
}

fn asset_urls(html: &str) -> Vec<String> {
    html.split('"').filter(|s| s.starts_with("/assets/")).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_carry_the_security_headers() {
    let app = sqlite().await;
    let (status, h, html) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    // No inline script at all: every <script> names a file.
    assert_eq!(html.matches("<script").count(), html.matches("<script src=\"/assets/").count(), "{html}");
    assert!(!html.contains(" style=\"") && !html.contains("<style"), "{html}");
    // The API is unchanged: JSON, bearer-only, no console headers needed.
    let r = app.get("/api/v1/tickets").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(header::CONTENT_SECURITY_POLICY).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_content_hashed_immutable_and_gzipped() {
    let app = sqlite().await;
    let (_, _, html) = page(&app, "/").await;
    let urls = asset_urls(&html);
    let htmx = urls.iter().find(|u| u.starts_with("/assets/htmx-2.0.11.min.")).expect("htmx is linked by a versioned, hashed name");
    let vendored = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../console/assets/vendor/htmx-2.0.11.min.js")).unwrap();
    assert!(urls.iter().any(|u| u.ends_with(".css")) && urls.iter().any(|u| u.ends_with(".js") && u.contains("console.")), "{urls:?}");
    for url in &urls {
        let r = app.client.get(app.url(url)).header(header::ACCEPT_ENCODING, "gzip, br").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable", "{url}");
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip", "{url}");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let gz = r.bytes().await.unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut plain).unwrap();
        if url == htmx {
            assert_eq!(plain, vendored, "the vendored file, unchanged");
            assert!(gz.len() * 2 < plain.len(), "compressed: {} of {} bytes", gz.len(), plain.len());
        }
    }
    // Without gzip in Accept-Encoding: the file as it is.
    let r = app.client.get(app.url(htmx)).send().await.unwrap();
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(r.bytes().await.unwrap(), vendored);
    // An old or made-up hash is not served (a cached page must not get a different file).
    let stale = htmx.replace("min.", "min.000000");
    assert_eq!(app.client.get(app.url(&stale)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_gzipped_for_clients_that_accept_it_and_live_streams_are_not() {
    let app = sqlite().await;
    let ticket = app.create_ticket(json!({"title": "A ticket to stream"})).await;
    let (agent, _) = crate::helpers::ConsoleSession::person(&app, "Gzip Reader", "gzip@example.test", "agent").await;
    let cookie = agent.cookie.clone().unwrap();
    let get = |path: &str, encoding: Option<&'static str>| {
        let mut r = agent.client.get(agent.url(path)).header(header::COOKIE, &cookie);
        if let Some(encoding) = encoding {
            r = r.header(header::ACCEPT_ENCODING, encoding);
        }
        r.send()
    };

    let r = get("/queues?view=all", Some("gzip, deflate, br")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(r.headers()[header::VARY].to_str().unwrap().to_ascii_lowercase().contains("accept-encoding"));
    assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY), "the security headers stay");
    let gz = r.bytes().await.unwrap();
    let mut html = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut html).expect("a gzip body");
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"), "{}", &html[..html.len().min(200)]);
    assert!(html.contains("A ticket to stream"), "the queue lists the ticket");
    assert!(gz.len() * 2 < html.len(), "compressed: {} of {} bytes", gz.len(), html.len());

    // Without gzip in Accept-Encoding, the page as it is.
    let r = get("/queues?view=all", None).await.unwrap();
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    assert!(r.text().await.unwrap().contains("A ticket to stream"));

    // A live stream is never buffered for compression: events must reach the page as they come.
    let number = ticket["number"].as_str().unwrap();
    let r = get(&format!("/live?ticket={number}"), Some("gzip")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_refuses_cross_site_state_changes_while_the_api_stays_bearer_only() {
    let app = sqlite().await;
    let origin = format!("http://{}", app.addr);
    let post = |site: Option<&'static str>, origin: Option<String>| {
        let mut r = app.client.post(app.url("/survey/unknown-token")).form(&[("score", "5")]);
        if let Some(site) = site {
            r = r.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            r = r.header(header::ORIGIN, origin);
        }
        r.send()
    };
    for (site, from) in [
        (Some("cross-site"), Some("https://evil.example".to_owned())),
        (Some("same-site"), Some(origin.clone())),
        (Some("none"), None),
        (None, Some("https://evil.example".to_owned())),
        (None, None),
    ] {
        let r = post(site, from.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site:?} {from:?}");
        assert!(r.text().await.unwrap().contains("not carried out"));
    }
    // Same origin, by either header, reaches the page (which then finds no such survey).
    assert_eq!(post(Some("same-origin"), None).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(post(None, Some(origin)).await.unwrap().status(), StatusCode::NOT_FOUND);
    // /api ignores these headers: a bearer token is what counts there.
    let r = app
        .request(Method::POST, "/api/v1/tickets")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"title": "From a script", "channel": "web", "customer": {"name": "ACME"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_speak_chinese_when_the_browser_asks_for_it() {
    let app = sqlite().await;
    let zh = app.client.get(app.url("/sign-in")).header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9,en;q=0.8").send().await.unwrap();
    let zh = zh.text().await.unwrap();
    assert!(zh.contains("<html lang=\"zh-Hans\">") && zh.contains("<h1>登录</h1>") && zh.contains("电子邮箱"), "{zh}");
    let (_, _, en) = page(&app, "/sign-in").await;
    assert!(en.contains("<html lang=\"en\">") && en.contains("<h1>Sign in</h1>"), "{en}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_can_be_switched_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.console.enabled = false).await.unwrap();
    let r = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(app.client.get(app.url("/survey/x")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tickets").await.status(), StatusCode::OK);
}

async fn the_survey_page_takes_one_answer_and_keeps_a_refused_one(app: TestApp) {
    let path = resolved_survey(&app, XSS_TITLE).await;
    let (status, h, html) = page(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "the link is the key: never sent on");
    assert!(html.contains("name=\"viewport\""), "mobile-friendly");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "the title is escaped: {html}");
    assert_eq!(html.matches("type=\"radio\" name=\"score\"").count(), 5);
    // No score: refused beside the field, the comment kept.
    let (status, html) = submit(&app, &path, &[("comment", "Kept <b>safe</b>")], "en").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Please choose a score from 1 to 5.") && html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("Kept &#60;b&#62;safe&#60;/b&#62;") || html.contains("Kept &lt;b&gt;safe&lt;/b&gt;"), "{html}");
    let (status, html) = submit(&app, &path, &[("score", "9")], "zh-CN").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("请选择 1 到 5 之间的评分。"), "{html}");
    // A good answer: thanks, recorded once as the customer's.
    let (status, html) = submit(&app, &path, &[("score", "4"), ("comment", "Quick")], "en").await;
    assert_eq!((status, html.contains("Your answer has been recorded.")), (StatusCode::OK, true), "{html}");
    let (status, html) = submit(&app, &path, &[("score", "1")], "en").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already been answered"), "{html}");
    let (status, _, html) = page(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("already been answered") && !html.contains("<form"), "{html}");
    let tickets = body(app.get("/api/v1/tickets").await).await;
    let id = tickets["items"][0]["id"].as_str().unwrap().to_owned();
    let answers: Vec<_> = app.events(&id).await.into_iter().filter(|e| e["kind"] == "csat_received").collect();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["data"], json!({"score": 4, "comment": "Quick"}));
}

async fn an_expired_or_unknown_survey_link_says_so(app: TestApp) {
    let (status, _, html) = page(&app, "/survey/no-such-token").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Survey not found"), "{html}");
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.tickets.survey_valid_days = 0).await.unwrap();
    let path = resolved_survey(&app, "Router down").await;
    let (status, _, html) = page(&app, &path).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("This survey has closed") && !html.contains("<form"), "{html}");
    let (status, html) = submit(&app, &path, &[("score", "5")], "zh").await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("本问卷已关闭"), "{html}");
}
