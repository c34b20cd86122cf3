//! `/admin/…`: the administrator's screens. People and their logins (create, set-password link
//! shown once, disable, revoke sessions, the sign-in audit) and API tokens (create with the
//! secret shown once, revoke). Forms post through the same services as the API; a refusal
//! re-renders the form with the message beside its field (422).

use crate::i18n::{Lang, ScreenTexts};
use crate::page::{problem, render, Chrome, Section};
use crate::session::Viewer;
use crate::supervision::all_staff;
use crate::ConsoleState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::collections::BTreeMap;
use steward_domain::auth::{Permission, Role};
use steward_domain::ids::{LoginId, PartnerId, StaffId, TokenId};
use steward_services::{AuditFilter, NewLogin, ServiceError};

/// The messages of a refused form, by field name.
#[derive(Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The field messages of a refusal the person can correct; None for any other failure.
    pub fn of(error: &ServiceError) -> Option<FieldErrors> {
        match error {
            ServiceError::Invalid(v) => Some(FieldErrors(v.errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect())),
            ServiceError::Conflict { field: Some(f), message } => Some(FieldErrors(BTreeMap::from([((*f).to_owned(), message.clone())]))),
            _ => None,
        }
    }

    pub fn one(field: &str, message: &str) -> FieldErrors {
        FieldErrors(BTreeMap::from([(field.to_owned(), message.to_owned())]))
    }

    /// The same messages in `lang`.
    pub fn translated(self, lang: Lang) -> FieldErrors {
        FieldErrors(self.0.into_iter().map(|(field, message)| (field, crate::refusal::free_text(lang, &message))).collect())
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(items: impl IntoIterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
    items.into_iter().map(|(value, label)| Choice { selected: value == selected, value, label }).collect()
}

fn refuse(chrome: Chrome, permission: Permission, viewer: &Viewer) -> Result<Chrome, Box<Response>> {
    match viewer.principal.require(permission) {
        Ok(()) => Ok(chrome),
        Err(e) => Err(Box::new(problem(chrome, &ServiceError::from(e)))),
    }
}

// ---- the overview ----

pub struct AdminLink {
    pub href: &'static str,
    pub label: &'static str,
    pub about: &'static str,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    links: Vec<AdminLink>,
}

pub async fn overview(viewer: Viewer) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageLogins, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let s = chrome.t.screens;
    let mut links = vec![
        AdminLink { href: "/admin/logins", label: s.admin_logins, about: s.admin_logins_about },
        AdminLink { href: "/admin/tokens", label: s.admin_tokens, about: s.admin_tokens_about },
        AdminLink { href: "/admin/plugins", label: s.admin_plugins, about: s.admin_plugins_about },
        AdminLink { href: "/admin/webhooks", label: s.admin_webhooks, about: s.admin_webhooks_about },
    ];
    links.extend(crate::admin_sla::admin_links(viewer.locale.lang));
    if viewer.principal.allows(Permission::ManageMail) {
        links.extend(crate::mail::admin_links(viewer.locale.lang));
    }
    render(StatusCode::OK, &AdminPage { chrome, s, links })
}

// ---- logins ----

pub struct LoginRow {
    pub id: String,
    pub email: String,
    pub staff: String,
    pub partner: String,
    pub password_set: bool,
    pub disabled: Option<String>,
    pub sessions: usize,
    pub created: String,
}

pub struct AuditRow {
    pub at: String,
    pub kind: &'static str,
    pub email: String,
    pub remote_addr: String,
    pub actor: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin_logins.html")]
struct LoginsPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    notice: Option<String>,
    logins: Vec<LoginRow>,
    audit: Vec<AuditRow>,
    staff: Vec<Choice>,
    partners: Vec<Choice>,
    email: String,
    errors: FieldErrors,
    /// A set-password link just issued: (email, path). Shown once.
    link: Option<(String, String)>,
}

#[derive(Deserialize)]
pub struct LoginsParams {
    done: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NewLoginForm {
    #[serde(default)]
    staff_id: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    partner_id: String,
}

async fn logins_page(
    state: &ConsoleState,
    viewer: &Viewer,
    chrome: Chrome,
    form: NewLoginForm,
    errors: FieldErrors,
    notice: Option<String>,
    link: Option<(String, String)>,
) -> Result<LoginsPage, (Chrome, ServiceError)> {
    let errors = errors.translated(viewer.locale.lang);
    let services = &state.services;
    let s = chrome.t.screens;
    let locale = &viewer.locale;
    let loaded = async {
        let staff = all_staff(services).await?;
        let partners = services.list_partners().await?;
        let logins = services.list_logins(&viewer.principal).await?;
        let audit = services
            .login_audit(
                &viewer.principal,
                AuditFilter { email: None, login_id: None, kind: None, remote_addr: None, before: None, limit: 50 },
            )
            .await?;
        let mut rows = Vec::with_capacity(logins.len());
        for l in &logins {
            let sessions = services.login_sessions(&viewer.principal, l.id).await?.len();
            rows.push(LoginRow {
                id: l.id.to_string(),
                email: l.email.clone(),
                staff: staff.iter().find(|m| m.id == l.staff_id).map_or_else(|| l.staff_id.to_string(), |m| m.name.clone()),
                partner: l.partner_id.and_then(|p| partners.iter().find(|x| x.id == p)).map_or_else(String::new, |p| p.name.clone()),
                password_set: l.password_set,
                disabled: l.disabled_at.map(|t| locale.time(t)),
                sessions,
                created: locale.time(l.created_at),
            });
        }
        Ok::<_, ServiceError>((staff, partners, logins, audit, rows))
    }
    .await;
    let (staff, partners, logins, audit, rows) = match loaded {
        Ok(v) => v,
        Err(e) => return Err((chrome, e)),
    };
    let without_login = staff
        .into_iter()
        .filter(|m| !logins.iter().any(|l| l.staff_id == m.id))
        .map(|m| (m.id.to_string(), format!("{} <{}>", m.name, m.email)));
    Ok(LoginsPage {
        s,
        notice,
        logins: rows,
        audit: audit
            .into_iter()
            .map(|a| AuditRow {
                at: locale.time(a.at),
                kind: chrome.t.audit_kind_label(a.kind),
                email: a.email.unwrap_or_default(),
                remote_addr: a.remote_addr.unwrap_or_default(),
                actor: a.actor.unwrap_or_default(),
                detail: a.detail.unwrap_or_default(),
            })
            .collect(),
        staff: choices(without_login, &form.staff_id),
        partners: choices(partners.into_iter().map(|p| (p.id.to_string(), p.name)), &form.partner_id),
        email: form.email,
        errors,
        link,
        chrome,
    })
}

fn show_logins(result: Result<LoginsPage, (Chrome, ServiceError)>, status: StatusCode) -> Response {
    match result {
        Ok(page) => render(status, &page),
        Err((chrome, e)) => problem(chrome, &e),
    }
}

pub async fn logins(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<LoginsParams>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageLogins, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let s = chrome.t.screens;
    let notice = match p.done.as_deref() {
        Some("created") => Some(s.login_created.to_owned()),
        Some("disabled") => Some(s.login_disabled.to_owned()),
        Some("revoked") => Some(s.sessions_revoked.to_owned()),
        _ => None,
    };
    show_logins(logins_page(&state, &viewer, chrome, NewLoginForm::default(), FieldErrors::default(), notice, None).await, StatusCode::OK)
}

pub async fn create_login(State(state): State<ConsoleState>, viewer: Viewer, Form(form): Form<NewLoginForm>) -> Response {
    let chrome = Chrome::signed_in(&viewer, Section::Admin);
    let s = chrome.t.screens;
    let staff_id = match StaffId::parse("staff_id", form.staff_id.trim()) {
        Ok(id) => id,
        Err(_) => {
            let errors = FieldErrors::one("staff_id", s.pick_staff);
            return show_logins(logins_page(&state, &viewer, chrome, form, errors, None, None).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let partner_id = match form.partner_id.trim() {
        "" => None,
        p => match PartnerId::parse("partner_id", p) {
            Ok(id) => Some(id),
            Err(e) => {
                let errors = FieldErrors::one("partner_id", &e.message);
                return show_logins(logins_page(&state, &viewer, chrome, form, errors, None, None).await, StatusCode::UNPROCESSABLE_ENTITY);
            }
        },
    };
    let email = Some(form.email.trim().to_owned()).filter(|e| !e.is_empty());
    match state.services.create_login(&viewer.principal, NewLogin { staff_id: Some(staff_id), email, partner_id }).await {
        Ok(_) => Redirect::to("/admin/logins?done=created").into_response(),
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => {
                show_logins(logins_page(&state, &viewer, chrome, form, errors, None, None).await, StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => problem(chrome, &e),
        },
    }
}

fn login_id(chrome: Chrome, id: &str) -> Result<(Chrome, LoginId), Box<Response>> {
    match LoginId::parse("id", id) {
        Ok(id) => Ok((chrome, id)),
        Err(_) => Err(Box::new(problem(chrome, &ServiceError::NotFound { what: "login" }))),
    }
}

/// Issues a set-password link and shows it, once, on the logins page.
pub async fn issue_link(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let (chrome, id) = match login_id(Chrome::signed_in(&viewer, Section::Admin), &id) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.issue_set_password_link(&viewer.principal, id).await {
        Ok(link) => {
            let shown = Some((link.login.email.clone(), link.path()));
            let mut response = show_logins(
                logins_page(&state, &viewer, chrome, NewLoginForm::default(), FieldErrors::default(), None, shown).await,
                StatusCode::OK,
            );
            // The secret is on this page only: never cached, never sent on as a referrer.
            response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
            response.headers_mut().insert(axum::http::header::REFERRER_POLICY, axum::http::HeaderValue::from_static("no-referrer"));
            response
        }
        Err(e) => problem(chrome, &e),
    }
}

pub async fn revoke_sessions(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let (chrome, id) = match login_id(Chrome::signed_in(&viewer, Section::Admin), &id) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.revoke_login_sessions(&viewer.principal, id).await {
        Ok(_) => Redirect::to("/admin/logins?done=revoked").into_response(),
        Err(e) => problem(chrome, &e),
    }
}

pub async fn disable_login(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let (chrome, id) = match login_id(Chrome::signed_in(&viewer, Section::Admin), &id) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.services.disable_login(&viewer.principal, id).await {
        Ok(_) => Redirect::to("/admin/logins?done=disabled").into_response(),
        Err(e) => problem(chrome, &e),
    }
}

// ---- API tokens ----

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub staff: String,
    pub partner: String,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    notice: Option<String>,
    tokens: Vec<TokenRow>,
    roles: Vec<Choice>,
    staff: Vec<Choice>,
    partners: Vec<Choice>,
    name: String,
    errors: FieldErrors,
    /// A token just created: (name, secret). Shown once.
    created: Option<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    staff_id: String,
    #[serde(default)]
    partner_id: String,
}

async fn tokens_page(
    state: &ConsoleState,
    viewer: &Viewer,
    chrome: Chrome,
    form: NewTokenForm,
    errors: FieldErrors,
    notice: Option<String>,
    created: Option<(String, String)>,
) -> Response {
    let errors = errors.translated(viewer.locale.lang);
    let services = &state.services;
    let locale = &viewer.locale;
    let loaded =
        async { Ok::<_, ServiceError>((all_staff(services).await?, services.list_partners().await?, services.list_tokens().await?)) }.await;
    let (staff, partners, tokens) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let rows = tokens
        .iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            role: locale.lang.texts().role_label(t.role),
            staff: t.staff_id.and_then(|id| staff.iter().find(|m| m.id == id)).map_or_else(String::new, |m| m.name.clone()),
            partner: t.partner_id.and_then(|id| partners.iter().find(|p| p.id == id)).map_or_else(String::new, |p| p.name.clone()),
            created: locale.time(t.created_at),
            revoked: t.revoked_at.map(|r| locale.time(r)),
        })
        .collect();
    let status = if errors.0.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = TokensPage {
        s: chrome.t.screens,
        notice,
        tokens: rows,
        roles: choices(Role::ALL.iter().map(|r| (r.as_str().to_owned(), locale.lang.texts().role_label(*r).to_owned())), &form.role),
        staff: choices(staff.into_iter().map(|m| (m.id.to_string(), format!("{} <{}>", m.name, m.email))), &form.staff_id),
        partners: choices(partners.into_iter().map(|p| (p.id.to_string(), p.name)), &form.partner_id),
        name: form.name,
        errors,
        created: created.clone(),
        chrome,
    };
    let mut response = render(status, &page);
    if created.is_some() {
        response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    }
    response
}

pub async fn tokens(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<LoginsParams>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageTokens, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let notice = (p.done.as_deref() == Some("revoked")).then(|| chrome.t.screens.token_revoked.to_owned());
    tokens_page(&state, &viewer, chrome, NewTokenForm::default(), FieldErrors::default(), notice, None).await
}

pub async fn create_token(State(state): State<ConsoleState>, viewer: Viewer, Form(form): Form<NewTokenForm>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageTokens, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut errors = FieldErrors::default();
    let role = Role::parse("role", form.role.trim()).map_err(|e| errors.0.insert(e.field, e.message)).ok();
    let staff_id = match form.staff_id.trim() {
        "" => None,
        v => StaffId::parse("staff_id", v).map_err(|e| errors.0.insert(e.field, e.message)).ok(),
    };
    let partner_id = match form.partner_id.trim() {
        "" => None,
        v => PartnerId::parse("partner_id", v).map_err(|e| errors.0.insert(e.field, e.message)).ok(),
    };
    let Some(role) = role.filter(|_| errors.0.is_empty()) else {
        return tokens_page(&state, &viewer, chrome, form, errors, None, None).await;
    };
    match state.services.create_token_for(&form.name, role, staff_id, partner_id).await {
        Ok((token, secret)) => {
            let created = Some((token.name.clone(), secret.expose().to_owned()));
            tokens_page(&state, &viewer, chrome, NewTokenForm::default(), FieldErrors::default(), None, created).await
        }
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => tokens_page(&state, &viewer, chrome, form, errors, None, None).await,
            None => problem(chrome, &e),
        },
    }
}

pub async fn revoke_token(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageTokens, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Ok(id) = TokenId::parse("id", &id) else {
        return problem(chrome, &ServiceError::NotFound { what: "token" });
    };
    match state.services.revoke_token(id).await {
        Ok(_) => Redirect::to("/admin/tokens?done=revoked").into_response(),
        Err(e) => problem(chrome, &e),
    }
}

// ---- plugins ----

pub struct PluginRow {
    pub name: String,
    pub version: String,
    pub runtime: &'static str,
    pub hooks: String,
    pub state: &'static str,
    pub reason: String,
    pub calls: u64,
    pub failures: u64,
    pub fuel: u64,
    pub mean_us: String,
    pub last_error: String,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "admin_plugins.html")]
struct PluginsPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    notice: Option<String>,
    error: Option<String>,
    plugins: Vec<PluginRow>,
}

fn plugins_page(state: &ConsoleState, viewer: &Viewer, chrome: Chrome, notice: Option<String>, error: Option<String>) -> Response {
    let plugins = match state.services.plugin_summaries(&viewer.principal) {
        Ok(p) => p,
        Err(e) => return problem(chrome, &e),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let plugins = plugins
        .into_iter()
        .map(|p| PluginRow {
            enabled: p.state == "enabled",
            name: p.name,
            version: p.version.unwrap_or_default(),
            runtime: p.runtime.unwrap_or("–"),
            hooks: p.hooks.join(", "),
            state: p.state,
            reason: p.reason.unwrap_or_default(),
            calls: p.calls,
            failures: p.failures,
            fuel: p.fuel_consumed,
            mean_us: format!("{:.0}", p.mean_duration_us),
            last_error: p.last_error.unwrap_or_default(),
        })
        .collect();
    render(status, &PluginsPage { s: chrome.t.screens, chrome, notice, error, plugins })
}

pub async fn plugins(State(state): State<ConsoleState>, viewer: Viewer, Query(p): Query<LoginsParams>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManagePlugins, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let s = chrome.t.screens;
    let notice = match p.done.as_deref() {
        Some("enable") => Some(s.plugin_enabled.to_owned()),
        Some("disable") => Some(s.plugin_disabled.to_owned()),
        Some("reload") => Some(s.plugin_reloaded.to_owned()),
        _ => None,
    };
    plugins_page(&state, &viewer, chrome, notice, None)
}

pub async fn plugin_action(State(state): State<ConsoleState>, viewer: Viewer, Path((name, action)): Path<(String, String)>) -> Response {
    use steward_services::plugins::PluginAction;
    let chrome = Chrome::signed_in(&viewer, Section::Admin);
    let act = match action.as_str() {
        "enable" => PluginAction::Enable,
        "disable" => PluginAction::Disable,
        "reload" => PluginAction::Reload,
        _ => return problem(chrome, &ServiceError::NotFound { what: "plugin action" }),
    };
    match state.services.act_on_plugin(&viewer.principal, &name, act).await {
        Ok(_) => Redirect::to(&format!("/admin/plugins?done={action}")).into_response(),
        Err(e @ ServiceError::Plugin(_)) => {
            let message = crate::refusal::message(viewer.locale.lang, &e, None);
            plugins_page(&state, &viewer, chrome, None, Some(message))
        }
        Err(e) => problem(chrome, &e),
    }
}

// ---- webhooks ----

/// The webhook settings a ping needs (its timeout), handed to the console by the server.
#[derive(Clone)]
pub struct WebhookSettings(pub std::sync::Arc<steward_services::config::WebhooksConfig>);

pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub active: bool,
    pub created: String,
}

pub struct AttemptRow {
    pub at: String,
    pub outcome: String,
    pub ok: bool,
    pub duration_ms: i64,
}

pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub ticket: String,
    pub state: &'static str,
    pub created: String,
    pub next: String,
    pub attempts: Vec<AttemptRow>,
    pub pending: bool,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    webhooks: Vec<WebhookRow>,
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    s: &'static ScreenTexts,
    webhook: WebhookRow,
    notice: Option<String>,
    error: Option<String>,
    deliveries: Vec<DeliveryRow>,
}

fn webhook_row(w: &steward_domain::webhook::Webhook, locale: &crate::i18n::Locale) -> WebhookRow {
    WebhookRow {
        id: w.id.to_string(),
        url: w.url.clone(),
        events: match &w.events {
            steward_domain::webhook::EventFilter::All => "*".to_owned(),
            steward_domain::webhook::EventFilter::Kinds(kinds) => kinds.join(", "),
        },
        active: w.active,
        created: locale.time(w.created_at),
    }
}

fn outcome(o: &steward_domain::webhook::AttemptOutcome) -> String {
    match o {
        steward_domain::webhook::AttemptOutcome::Status(code) => format!("HTTP {code}"),
        steward_domain::webhook::AttemptOutcome::Error(e) => e.clone(),
    }
}

pub async fn webhooks(State(state): State<ConsoleState>, viewer: Viewer) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageWebhooks, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match state.services.list_webhooks().await {
        Ok(list) => {
            let webhooks = list.iter().map(|w| webhook_row(w, &viewer.locale)).collect();
            render(StatusCode::OK, &WebhooksPage { s: chrome.t.screens, chrome, webhooks })
        }
        Err(e) => problem(chrome, &e),
    }
}

async fn webhook_page(
    state: &ConsoleState,
    viewer: &Viewer,
    chrome: Chrome,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let Ok(id) = steward_domain::ids::WebhookId::parse("id", id) else {
        return problem(chrome, &ServiceError::NotFound { what: "webhook" });
    };
    let locale = &viewer.locale;
    let loaded =
        async { Ok::<_, ServiceError>((state.services.get_webhook(id).await?, state.services.list_deliveries(id, None, 50).await?.0)) }
            .await;
    let (webhook, deliveries) = match loaded {
        Ok(v) => v,
        Err(e) => return problem(chrome, &e),
    };
    let deliveries = deliveries
        .iter()
        .map(|d| DeliveryRow {
            id: d.id.to_string(),
            event: d.event_kind.clone(),
            ticket: d.ticket_number.map(|n| n.to_string()).unwrap_or_default(),
            state: locale.lang.texts().delivery_label(d.state),
            created: locale.time(d.created_at),
            next: d.next_attempt_at.map(|t| locale.time(t)).unwrap_or_default(),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptRow {
                    at: locale.time(a.at),
                    outcome: outcome(&a.outcome),
                    ok: a.outcome.succeeded(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
            pending: d.state.as_str() == "pending",
        })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(status, &WebhookPage { s: chrome.t.screens, webhook: webhook_row(&webhook, locale), chrome, notice, error, deliveries })
}

pub async fn webhook(State(state): State<ConsoleState>, viewer: Viewer, Path(id): Path<String>, Query(p): Query<LoginsParams>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageWebhooks, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let notice = (p.done.as_deref() == Some("redelivered")).then(|| chrome.t.screens.redelivery_queued.to_owned());
    webhook_page(&state, &viewer, chrome, &id, notice, None).await
}

pub async fn redeliver(State(state): State<ConsoleState>, viewer: Viewer, Path((id, delivery)): Path<(String, String)>) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageWebhooks, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let (Ok(webhook), Ok(delivery)) =
        (steward_domain::ids::WebhookId::parse("id", &id), steward_domain::ids::DeliveryId::parse("delivery", &delivery))
    else {
        return problem(chrome, &ServiceError::NotFound { what: "delivery" });
    };
    match state.services.redeliver(webhook, delivery).await {
        Ok(()) => Redirect::to(&format!("/admin/webhooks/{webhook}?done=redelivered")).into_response(),
        Err(e @ ServiceError::Conflict { .. }) => {
            let message = crate::refusal::message(viewer.locale.lang, &e, None);
            webhook_page(&state, &viewer, chrome, &id, None, Some(message)).await
        }
        Err(e) => problem(chrome, &e),
    }
}

pub async fn ping(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    settings: Option<axum::Extension<WebhookSettings>>,
    Path(id): Path<String>,
) -> Response {
    let chrome = match refuse(Chrome::signed_in(&viewer, Section::Admin), Permission::ManageWebhooks, &viewer) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Some(axum::Extension(WebhookSettings(config))) = settings else {
        return problem(chrome, &ServiceError::Unavailable("webhook settings are not configured".to_owned()));
    };
    let Ok(webhook) = steward_domain::ids::WebhookId::parse("id", &id) else {
        return problem(chrome, &ServiceError::NotFound { what: "webhook" });
    };
    match steward_services::delivery::ping_webhook(&state.services, &config, webhook).await {
        Ok(attempt) => {
            let s = chrome.t.screens;
            let text = format!("{} {} ({} ms)", s.ping_answer, outcome(&attempt.outcome), attempt.duration_ms);
            if attempt.outcome.succeeded() {
                webhook_page(&state, &viewer, chrome, &id, Some(text), None).await
            } else {
                webhook_page(&state, &viewer, chrome, &id, None, Some(text)).await
            }
        }
        Err(e) => problem(chrome, &e),
    }
}
