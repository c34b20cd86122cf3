//! Signing in and out in the browser: a wrong then a right password, landing where the person
//! was going, and the sign-in and set-password pages' accessibility.

use super::harness::Browser;
use crate::helpers::{body, ConsoleSession, TestApp, CONSOLE_PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

pub async fn a_person_sets_a_password_and_signs_in(b: &Browser, app: &TestApp) {
    // Each backend's app is new; the browser may still hold the previous app's cookie for
    // 127.0.0.1, which this app does not know: it must simply be asked to sign in.
    let staff = app.create_staff("Mei Chen", "mei@desk.test", "agent").await;
    let r = app.post("/api/v1/logins", &json!({"staff_id": staff["id"]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let login = body(r).await;
    let r = app.post(&format!("/api/v1/logins/{}/set-password-link", login["id"].as_str().unwrap()), &json!({})).await;
    let link = body(r).await["path"].as_str().unwrap().to_owned();

    b.goto(&app.url(&link)).await;
    b.ensure_accessible("the set-password page").await;
    b.type_into("#password", CONSOLE_PASSWORD).await;
    b.type_into("#confirm", CONSOLE_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text("main .message", "Your password is set").await;

    // A page behind sign-in sends the browser to the sign-in page, which brings it back.
    b.goto(&app.url("/queues?from=journey")).await;
    b.wait_text("h1", "Sign in").await;
    b.ensure_accessible("the sign-in page").await;
    b.type_into("#email", "mei@desk.test").await;
    b.type_into("#password", "not my password at all").await;
    b.click("button[type=submit]").await;
    b.wait_text("#sign-in-error", "The email or password is wrong.").await;
    b.ensure_accessible("the sign-in page with its error").await;
    // The email is kept; the password field has the focus for the second try.
    let focused = b.script("return document.activeElement && document.activeElement.id;").await;
    b.ensure(focused == "password", &format!("focus after a failed sign-in: {focused}")).await;
    b.type_into("#password", CONSOLE_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_text(".who", "Mei Chen").await;
    let url = b.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
    b.ensure(url.ends_with("/queues?from=journey"), &format!("back where it was going: {url}")).await;
    // The cookie is HttpOnly: scripts on the page cannot read the session.
    let cookies = b.script("return document.cookie;").await;
    b.ensure(!cookies.as_str().unwrap_or_default().contains("steward_session"), "the session cookie is HttpOnly").await;

    b.click(".sign-out button").await;
    b.wait_text("main .message", "You have signed out.").await;
    b.goto(&app.url("/")).await;
    b.wait_text("h1", "Sign in").await;
    // The HTTP-level client agrees the person can sign in again.
    let mut again = ConsoleSession::anonymous(app);
    assert_eq!(again.sign_in("mei@desk.test", CONSOLE_PASSWORD).await.status(), StatusCode::SEE_OTHER);
}
