//! Signing in and out, and setting a password from a one-time link.
//!
//! `/sign-in` takes an email and a password; the services throttle, verify (argon2id, off the
//! async threads) and audit. Every failure reads the same to the person ("wrong email or
//! password"), except throttling, which says when to try again. `/set-password/{secret}` is
//! the link an admin (or `steward admin create`) issued; the page's responses carry
//! `Referrer-Policy: no-referrer` like every console page, so the secret never leaves in a
//! `Referer`.

use crate::i18n::Locale;
use crate::page::{render, unavailable, Chrome};
use crate::session::{safe_next, session_secret, ClientAddr};
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use steward_domain::login::PASSWORD_MIN_CHARS;
use steward_services::{ServiceError, SignIn, SignInError};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    email: String,
    next: String,
    /// Why the last attempt failed, shown above the form.
    error: Option<String>,
    /// A confirmation (signed out, password set).
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn show(State(state): State<ConsoleState>, headers: HeaderMap, Query(query): Query<SignInQuery>) -> Response {
    let locale = Locale::from_headers(&headers);
    let next = safe_next(query.next.as_deref()).to_owned();
    // Already signed in: straight on.
    if let Some(secret) = session_secret(&headers) {
        if let Ok(Some(_)) = state.services.session_principal(&secret).await {
            return Redirect::to(&next).into_response();
        }
    }
    let t = locale.lang.texts();
    let notice = match query.done.as_deref() {
        Some("signed-out") => Some(t.signed_out),
        Some("password") => Some(t.password_set_done),
        _ => None,
    };
    render(StatusCode::OK, &SignInPage { chrome: Chrome::new(&locale), email: String::new(), next, error: None, notice })
}

pub async fn submit(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    ClientAddr(remote_addr): ClientAddr,
    Form(form): Form<SignInForm>,
) -> Response {
    let locale = Locale::from_headers(&headers);
    let t = locale.lang.texts();
    let next = safe_next(form.next.as_deref()).to_owned();
    let attempt = SignIn { email: form.email.clone(), password: form.password, remote_addr };
    let (status, error) = match state.services.sign_in(attempt).await {
        Ok(session) => {
            let max_age = ((session.expires_at.as_millis() - state.services.now().as_millis()) / 1000).max(1);
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, state.cookies.start(&headers, &session.secret, max_age));
            return response;
        }
        Err(ServiceError::SignIn(SignInError::WrongCredentials)) => (StatusCode::UNAUTHORIZED, t.wrong_credentials.to_owned()),
        Err(ServiceError::SignIn(SignInError::Throttled { retry_after_secs })) => {
            let mut response = render(
                StatusCode::TOO_MANY_REQUESTS,
                &SignInPage {
                    chrome: Chrome::new(&locale),
                    email: form.email,
                    next,
                    error: Some(t.throttled.replace("{seconds}", &retry_after_secs.to_string())),
                    notice: None,
                },
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Err(e) => return unavailable(&locale, &e),
    };
    render(status, &SignInPage { chrome: Chrome::new(&locale), email: form.email, next, error: Some(error), notice: None })
}

/// Ends this browser's session and forgets the cookie.
pub async fn sign_out(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if let Some(secret) = session_secret(&headers) {
        if let Err(e) = state.services.sign_out(&secret).await {
            return unavailable(&Locale::from_headers(&headers), &e);
        }
    }
    let mut response = Redirect::to("/sign-in?done=signed-out").into_response();
    response.headers_mut().insert(header::SET_COOKIE, state.cookies.end(&headers));
    response
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    chrome: Chrome,
    /// The login's email; None when the link no longer works.
    email: Option<String>,
    rules: String,
    min: usize,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn show_set_password(State(state): State<ConsoleState>, Path(secret): Path<String>, headers: HeaderMap) -> Response {
    let locale = Locale::from_headers(&headers);
    match state.services.set_password_link_login(&secret).await {
        Ok(Some(login)) => set_password_page(&locale, StatusCode::OK, Some(login.email), None),
        Ok(None) => set_password_page(&locale, StatusCode::GONE, None, None),
        Err(e) => unavailable(&locale, &e),
    }
}

pub async fn set_password(
    State(state): State<ConsoleState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SetPasswordForm>,
) -> Response {
    let locale = Locale::from_headers(&headers);
    let t = locale.lang.texts();
    let login = match state.services.set_password_link_login(&secret).await {
        Ok(Some(login)) => login,
        Ok(None) => return set_password_page(&locale, StatusCode::GONE, None, None),
        Err(e) => return unavailable(&locale, &e),
    };
    if form.password != form.confirm {
        return set_password_page(&locale, StatusCode::UNPROCESSABLE_ENTITY, Some(login.email), Some(t.passwords_differ.to_owned()));
    }
    match state.services.set_password(&secret, &form.password).await {
        Ok(_) => Redirect::to("/sign-in?done=password").into_response(),
        Err(ServiceError::Invalid(_)) => {
            let rules = password_rules(&locale);
            set_password_page(&locale, StatusCode::UNPROCESSABLE_ENTITY, Some(login.email), Some(rules))
        }
        Err(ServiceError::Gone(_) | ServiceError::NotFound { .. }) => set_password_page(&locale, StatusCode::GONE, None, None),
        Err(e) => unavailable(&locale, &e),
    }
}

fn password_rules(locale: &Locale) -> String {
    locale.lang.texts().password_rules.replace("{min}", &PASSWORD_MIN_CHARS.to_string())
}

fn set_password_page(locale: &Locale, status: StatusCode, email: Option<String>, error: Option<String>) -> Response {
    let page = SetPasswordPage { chrome: Chrome::new(locale), email, rules: password_rules(locale), min: PASSWORD_MIN_CHARS, error };
    render(status, &page)
}
