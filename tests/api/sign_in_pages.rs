//! The console's sign-in, sign-out and set-password pages over HTTP, on both backends: the
//! cookie's attributes, where people are sent, what each refusal says, throttling, and that a
//! session is one more way of being the same principal (`/api` never reads the cookie).

use crate::helpers::{body, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use crate::on_both_backends;
use reqwest::{header, StatusCode};
use serde_json::json;

on_both_backends!(
    a_person_sets_a_password_then_signs_in_and_out,
    wrong_passwords_are_refused_alike_then_throttled,
    a_session_only_opens_the_console_never_the_api
);

fn location(r: &reqwest::Response) -> &str {
    r.headers()[header::LOCATION].to_str().unwrap()
}

async fn a_person_sets_a_password_then_signs_in_and_out(app: TestApp) {
    let staff = app.create_staff("Li Wei", "li.wei@desk.test", "agent").await;
    let r = app.post("/api/v1/logins", &json!({"staff_id": staff["id"]})).await;
    let login = body(r).await;
    let r = app.post(&format!("/api/v1/logins/{}/set-password-link", login["id"].as_str().unwrap()), &json!({})).await;
    let path = body(r).await["path"].as_str().unwrap().to_owned();
    let mut browser = ConsoleSession::anonymous(&app);

    // The link's page names the login and never leaks its URL onwards.
    let r = browser.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::REFERRER_POLICY], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("li.wei@desk.test") && html.contains("name=\"confirm\""), "{html}");
    // Two different passwords, then a too short one: refused, the link still works.
    let r = browser.post(&path, &[("password", CONSOLE_PASSWORD), ("confirm", "something else entirely")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("The two passwords differ"));
    let r = browser.post(&path, &[("password", "short"), ("confirm", "short")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("At least 12 characters"));
    let r = browser.post(&path, &[("password", CONSOLE_PASSWORD), ("confirm", CONSOLE_PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/sign-in?done=password");
    assert!(browser.page("/sign-in?done=password").await.contains("Your password is set"));
    // Used once: the link is gone.
    let r = browser.get(&path).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.text().await.unwrap().contains("has been used or has expired"));

    // Not signed in: every page sends the person to sign in, remembering where they were going.
    let r = browser.get("/").await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/sign-in"));
    let r = browser.get("/?view=mine&x=1").await;
    assert_eq!(location(&r), "/sign-in?next=/%3Fview%3Dmine%26x%3D1");
    // An htmx request is told to navigate the whole window instead.
    let r = browser.client.get(browser.url("/")).header("hx-request", "true").send().await.unwrap();
    assert_eq!(r.headers()["hx-redirect"], "/sign-in");

    // Signing in sets a __Host- cookie (the browser talks to loopback, a secure context) and
    // follows `next` only to a path on this site.
    let r = browser.post("/sign-in", &[("email", "Li.Wei@desk.test"), ("password", CONSOLE_PASSWORD), ("next", "//evil.example/")]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/"));
    let r = browser.sign_in("li.wei@desk.test", CONSOLE_PASSWORD).await;
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-steward_session=sts_"), "{cookie}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let html = browser.page("/queues").await;
    assert!(html.contains("Signed in as <strong>Li Wei</strong>"), "{html}");
    // The sign-in page sends a signed-in person on.
    let r = browser.get("/sign-in?next=/").await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/"));

    // Signing out ends the session server-side: the old cookie opens nothing any more.
    let old = browser.cookie.clone();
    let r = browser.post("/sign-out", &[]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/sign-in?done=signed-out"));
    assert!(r.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let r = browser.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the cookie {old:?} no longer signs in");
    // ...and the audit has it all.
    let r = app.get("/api/v1/login-audit?email=li.wei@desk.test").await;
    let kinds: Vec<String> = body(r).await["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    for kind in ["password_set", "signed_in", "signed_out"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

async fn wrong_passwords_are_refused_alike_then_throttled(app: TestApp) {
    let staff = app.create_staff("Ana Ruiz", "ana@desk.test", "agent").await;
    ConsoleSession::login_for(&app, &staff, json!({})).await;
    let mut browser = ConsoleSession::anonymous(&app);
    // An unknown email and a wrong password read the same, and keep what was typed.
    for email in ["nobody@desk.test", "ana@desk.test"] {
        let r = browser.sign_in(email, "not the password at all").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("The email or password is wrong.") && html.contains(&format!("value=\"{email}\"")), "{html}");
    }
    // The default allows five failures per account in the window; then even the right password waits.
    for _ in 0..4 {
        assert_eq!(browser.sign_in("ana@desk.test", "still not it, sorry").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = browser.sign_in("ana@desk.test", CONSOLE_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert!(r.text().await.unwrap().contains(&format!("Try again in {retry} seconds")));
    // In Chinese, from the browser's language.
    let r = browser
        .client
        .post(browser.url("/sign-in"))
        .header("sec-fetch-site", "same-origin")
        .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9")
        .form(&[("email", "ana@desk.test"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("登录失败次数过多"));
    // When the window has passed, the right password works.
    app.services.advance_clock(16 * 60_000);
    assert_eq!(browser.sign_in("ana@desk.test", CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert!(browser.page("/queues").await.contains("Ana Ruiz"));
}

async fn a_session_only_opens_the_console_never_the_api(app: TestApp) {
    let (browser, _) = ConsoleSession::person(&app, "Sam Admin", "sam@desk.test", "admin").await;
    // The API is bearer-only: the session cookie alone is a 401 there, even for an admin.
    let r = browser.get("/api/v1/tickets").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A cross-site form post with the cookie is refused before it reaches sign-out.
    let r = browser
        .client
        .post(browser.url("/sign-out"))
        .header(header::COOKIE, browser.cookie.clone().unwrap())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(browser.page("/queues").await.contains("Sam Admin"), "still signed in");
    // An admin revoking the login's sessions signs the browser out.
    let logins = body(app.get("/api/v1/logins").await).await;
    let id = logins.as_array().unwrap().iter().find(|l| l["email"] == "sam@desk.test").unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.request(reqwest::Method::DELETE, &format!("/api/v1/logins/{id}/sessions")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(browser.get("/queues").await.status(), StatusCode::SEE_OTHER);
}
