//! People's sign-in (#14): logins over the API, set-password links, sign-in through the
//! services (the console's path: the API never reads cookies), the one Principal, throttling,
//! expiry and revocation, the audit, partner logins, and `steward admin create|link`.

use crate::helpers::{body, problem, problem_fields, test_config, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use steward_domain::auth::{Credential, Permission, Role};
use steward_domain::ids::{LoginId, PartnerId, TicketId, TicketRef};
use steward_services::{NewSession, ServiceError, SignIn, SignInError};

on_both_backends!(
    a_person_sets_a_password_signs_in_and_acts_as_their_role,
    sign_in_refusals_look_alike_and_are_audited,
    throttling_per_account_and_per_address_lifts_when_the_window_passes,
    sessions_slide_expire_and_end_everywhere_or_by_an_admin,
    a_partner_login_sees_only_its_partners_delegated_tickets,
    logins_api_validates_and_is_admin_only,
);

const PASSWORD: &str = "correct horse battery staple";
const MINUTE: i64 = 60_000;

fn attempt(email: &str, password: &str, addr: &str) -> SignIn {
    SignIn { email: email.into(), password: password.into(), remote_addr: Some(addr.into()) }
}

/// A staff member with a login and a password; returns the login's JSON.
async fn person(app: &TestApp, name: &str, email: &str, role: &str, extra: Value) -> Value {
    let staff = app.create_staff(name, email, role).await;
    let mut request = json!({"staff_id": staff["id"]});
    request.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app.post("/api/v1/logins", &request).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let login = body(r).await;
    assert_eq!(login["password_set"], false);
    let secret = link(app, &login).await;
    app.services.set_password(&secret, PASSWORD).await.expect("password set");
    login
}

/// Issues a set-password link over the API; returns its secret.
async fn link(app: &TestApp, login: &Value) -> String {
    let r = app.post(&format!("/api/v1/logins/{}/set-password-link", login["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let link = body(r).await;
    let path = link["path"].as_str().unwrap();
    assert!(link["url"].as_str().unwrap().ends_with(path));
    path.strip_prefix("/set-password/").expect("the page's path").to_owned()
}

async fn sign_in(app: &TestApp, email: &str) -> NewSession {
    app.services.sign_in(attempt(email, PASSWORD, "192.0.2.1")).await.expect("signs in")
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/login-audit{query}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["items"].as_array().unwrap().clone()
}

async fn a_person_sets_a_password_signs_in_and_acts_as_their_role(app: TestApp) {
    let staff = app.create_staff("Ada Agent", "Ada@Example.org", "agent").await;
    let login = body(app.post("/api/v1/logins", &json!({"staff_id": staff["id"]})).await).await;
    assert_eq!(login["email"], "ada@example.org", "the staff member's email, normalised");
    let first = link(&app, &login).await;
    let secret = link(&app, &login).await;
    assert!(!app.services.set_password_link_valid(&first).await.unwrap(), "a newer link voids the older one");
    assert!(app.services.set_password_link_valid(&secret).await.unwrap());
    assert!(secret.starts_with("stp_"));

    // The rules are checked before the link is used up.
    match app.services.set_password(&secret, "short").await {
        Err(ServiceError::Invalid(v)) => assert_eq!(v.errors[0].field, "password"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let done = app.services.set_password(&secret, PASSWORD).await.expect("password set");
    assert!(done.password_set);
    assert!(matches!(app.services.set_password(&secret, PASSWORD).await, Err(ServiceError::Gone(_))), "one use");
    assert!(!app.services.set_password_link_valid(&secret).await.unwrap());

    let session = app.services.sign_in(attempt(" ADA@example.org ", PASSWORD, "192.0.2.1")).await.expect("signs in");
    assert!(session.secret.starts_with("sts_"));
    let p = &session.principal;
    assert_eq!((p.role, p.partner_id, p.name.as_str()), (Role::Agent, None, "Ada Agent"));
    assert_eq!(p.staff_id.map(|s| s.to_string()).as_deref(), staff["id"].as_str());
    assert!(matches!(p.credential, Credential::Session { .. }));

    // The session yields the same principal, under the same checks as an agent token.
    let live = app.services.session_principal(&session.secret).await.unwrap().expect("live");
    assert_eq!(&live.principal, p);
    assert!(live.principal.require(Permission::WriteTickets).is_ok());
    assert!(matches!(app.services.list_logins(&live.principal).await, Err(ServiceError::Forbidden(_))));
    let actor = live.principal.actor();
    assert_eq!((actor.staff_id, actor.name.as_str()), (p.staff_id, "Ada Agent"));

    // /api is bearer-only for tokens: a session secret is not a token.
    problem(app.request_as(&session.secret, Method::GET, "/api/v1/tickets").send().await.unwrap(), StatusCode::UNAUTHORIZED).await;

    let login = body(app.get(&format!("/api/v1/logins/{}", login["id"].as_str().unwrap())).await).await;
    assert_eq!(login["password_set"], true);
    let mut kinds: Vec<String> = audit(&app, &format!("?login_id={}", login["id"].as_str().unwrap()))
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    // Newest first; argon2 hashing keeps these three in distinct milliseconds (ids order within one only at random).
    assert_eq!(kinds[..2], ["signed_in", "password_set"]);
    kinds.sort();
    assert_eq!(kinds, ["login_created", "password_set", "set_password_link_issued", "set_password_link_issued", "signed_in"]);
    assert!(!body(app.get("/api/v1/logins").await).await.to_string().contains("argon2"), "no hash ever leaves");
}

async fn sign_in_refusals_look_alike_and_are_audited(app: TestApp) {
    let login = person(&app, "Bo", "bo@example.org", "viewer", json!({})).await;
    let no_password = app.create_staff("Cy", "cy@example.org", "agent").await;
    app.post("/api/v1/logins", &json!({"staff_id": no_password["id"]})).await;
    for (email, password) in
        [("bo@example.org", "wrong password!"), ("nobody@example.org", PASSWORD), ("cy@example.org", PASSWORD), ("not an email", "x")]
    {
        let e = app.services.sign_in(attempt(email, password, "192.0.2.9")).await.unwrap_err();
        assert!(matches!(e, ServiceError::SignIn(SignInError::WrongCredentials)), "{email}: {e:?}");
        assert_eq!(e.to_string(), "the email or password is wrong", "one answer for every cause");
    }
    let failures = audit(&app, "?kind=sign_in_failed&remote_addr=192.0.2.9").await;
    let details: Vec<&str> = failures.iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert_eq!(details, ["unknown email", "no password set", "unknown email", "wrong password"], "the audit says which");

    // A disabled login with the right password gets the same answer, and its sessions end.
    let session = sign_in(&app, "bo@example.org").await;
    let r = app.post(&format!("/api/v1/logins/{}/disable", login["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(body(r).await["disabled_at"].is_string());
    assert!(app.services.session_principal(&session.secret).await.unwrap().is_none());
    let e = app.services.sign_in(attempt("bo@example.org", PASSWORD, "192.0.2.9")).await.unwrap_err();
    assert!(matches!(e, ServiceError::SignIn(SignInError::WrongCredentials)));
    let refused = audit(&app, "?kind=sign_in_refused").await;
    assert_eq!(refused[0]["detail"], "login disabled");

    // Keyset pages, newest first.
    let page = body(app.get("/api/v1/login-audit?limit=2").await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap();
    let older = body(app.get(&format!("/api/v1/login-audit?limit=2&before={next}")).await).await;
    assert!(older["items"][0]["id"].as_str().unwrap() < next);
}

async fn throttling_per_account_and_per_address_lifts_when_the_window_passes(app: TestApp) {
    person(&app, "Di", "di@example.org", "agent", json!({})).await;
    for n in 0..5 {
        let addr = format!("198.51.100.{n}");
        assert!(matches!(
            app.services.sign_in(attempt("di@example.org", "not the password", &addr)).await,
            Err(ServiceError::SignIn(SignInError::WrongCredentials))
        ));
    }
    // The sixth attempt is refused without checking the password, even the right one.
    let e = app.services.sign_in(attempt("di@example.org", PASSWORD, "198.51.100.77")).await.unwrap_err();
    let ServiceError::SignIn(SignInError::Throttled { retry_after_secs }) = e else { panic!("expected throttled, got {e:?}") };
    assert!((890..=900).contains(&retry_after_secs), "{retry_after_secs}");
    assert_eq!(audit(&app, "?kind=sign_in_throttled").await.len(), 1);
    app.services.advance_clock(15 * MINUTE);
    let session = app.services.sign_in(attempt("di@example.org", PASSWORD, "198.51.100.77")).await.expect("the window has passed");
    assert_eq!(session.principal.role, Role::Agent);

    // Per address: 20 failures from one address over many emails block that address only.
    for n in 0..20 {
        let _ = app.services.sign_in(attempt(&format!("guess{n}@example.org"), "x", "203.0.113.5")).await;
    }
    let e = app.services.sign_in(attempt("di@example.org", PASSWORD, "203.0.113.5")).await.unwrap_err();
    assert!(matches!(e, ServiceError::SignIn(SignInError::Throttled { .. })), "{e:?}");
    app.services.sign_in(attempt("di@example.org", PASSWORD, "203.0.113.6")).await.expect("another address is not blocked");
}

async fn sessions_slide_expire_and_end_everywhere_or_by_an_admin(app: TestApp) {
    let login = person(&app, "Eve", "eve@example.org", "supervisor", json!({})).await;
    let id = login["id"].as_str().unwrap();
    let a = sign_in(&app, "eve@example.org").await;
    // Idle for 7 h of the 8 h allowed, used, idle 7 h again: still signed in (the expiry slid).
    app.services.advance_clock(7 * 60 * MINUTE);
    assert!(app.services.session_principal(&a.secret).await.unwrap().is_some());
    app.services.advance_clock(7 * 60 * MINUTE);
    let live = app.services.session_principal(&a.secret).await.unwrap().expect("slid");
    assert!(live.session.expires_at > a.expires_at);
    app.services.advance_clock(8 * 60 * MINUTE + 1);
    assert!(app.services.session_principal(&a.secret).await.unwrap().is_none(), "idle too long");

    // Sign out everywhere ends every session of the person, on every node (the database).
    let b = sign_in(&app, "eve@example.org").await;
    let c = sign_in(&app, "eve@example.org").await;
    let sessions = body(app.get(&format!("/api/v1/logins/{id}/sessions")).await).await;
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert_eq!(app.services.sign_out_everywhere(&b.principal).await.unwrap(), 2);
    assert!(app.services.session_principal(&c.secret).await.unwrap().is_none());

    // Sign-out ends one session; an admin's revoke ends the rest.
    let d = sign_in(&app, "eve@example.org").await;
    let e = sign_in(&app, "eve@example.org").await;
    app.services.sign_out(&d.secret).await.unwrap();
    app.services.sign_out(&d.secret).await.unwrap();
    assert!(app.services.session_principal(&d.secret).await.unwrap().is_none());
    assert!(app.services.session_principal(&e.secret).await.unwrap().is_some());
    let r = app.request(Method::DELETE, &format!("/api/v1/logins/{id}/sessions")).send().await.unwrap();
    assert_eq!(body(r).await["revoked"], 1);
    assert!(app.services.session_principal(&e.secret).await.unwrap().is_none());
    // A new password also ends the sessions.
    let f = sign_in(&app, "eve@example.org").await;
    let secret = link(&app, &login).await;
    app.services.set_password(&secret, "another long passphrase").await.unwrap();
    assert!(app.services.session_principal(&f.secret).await.unwrap().is_none());
    let kinds: Vec<String> =
        audit(&app, &format!("?login_id={id}&limit=500")).await.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    for kind in ["signed_out", "signed_out_everywhere", "sessions_revoked", "password_set"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

async fn a_partner_login_sees_only_its_partners_delegated_tickets(app: TestApp) {
    let partner_body = |name: &str| {
        json!({
            "name": name, "kind": "subcontractor", "contact": "ops@partner.test", "categories": ["hardware"],
            "contract": {"start": "2020-01-01T00:00:00Z", "first_response": "4h", "resolution": "2d"}
        })
    };
    let acme = body(app.post("/api/v1/partners", &partner_body("Acme")).await).await;
    let other = body(app.post("/api/v1/partners", &partner_body("Other")).await).await;
    let mine = app.create_ticket(json!({"title": "printer"})).await;
    let theirs = app.create_ticket(json!({"title": "router"})).await;
    let internal = app.create_ticket(json!({"title": "not delegated"})).await;
    for (ticket, partner) in [(&mine, &acme), (&theirs, &other)] {
        let r = app
            .post(&format!("/api/v1/tickets/{}/delegation", ticket["id"].as_str().unwrap()), &json!({"partner_id": partner["id"]}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    person(&app, "Tech", "tech@acme.example", "agent", json!({"partner_id": acme["id"]})).await;
    let session = sign_in(&app, "tech@acme.example").await;
    let p = app.services.session_principal(&session.secret).await.unwrap().expect("live").principal;
    let acme_id = PartnerId::parse("id", acme["id"].as_str().unwrap()).unwrap();
    assert_eq!((p.role, p.partner_id), (Role::Partner, Some(acme_id)), "a partner principal, as a partner token");
    // The same checks the ticket routes run for a partner token.
    let scope = p.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets).unwrap();
    assert_eq!(scope, Some(acme_id));
    let id = |t: &Value| TicketRef::Id(TicketId::parse("id", t["id"].as_str().unwrap()).unwrap());
    assert_eq!(app.services.ticket_for(id(&mine), scope).await.unwrap().title, "printer");
    for t in [&theirs, &internal] {
        assert!(matches!(app.services.ticket_for(id(t), scope).await, Err(ServiceError::NotFound { .. })));
    }
    assert!(p.require(Permission::WriteTickets).is_err() && p.require(Permission::ReadStaff).is_err());
}

async fn logins_api_validates_and_is_admin_only(app: TestApp) {
    let staff = app.create_staff("Fay", "fay@example.org", "agent").await;
    let agent = app.token_with_role("supervisor").await;
    let p = problem(app.request_as(&agent, Method::GET, "/api/v1/logins").send().await.unwrap(), StatusCode::FORBIDDEN).await;
    assert!(p["detail"].as_str().unwrap().contains("manage logins"), "{p}");
    problem(app.request_as(&agent, Method::GET, "/api/v1/login-audit").send().await.unwrap(), StatusCode::FORBIDDEN).await;
    problem(
        reqwest::Client::new().get(app.url("/api/v1/logins")).header("cookie", "__Host-steward_session=x").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;

    let p = problem(app.post("/api/v1/logins", &json!({"staff_id": "nope"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["staff_id"]);
    let p =
        problem(app.post("/api/v1/logins", &json!({"staff_id": staff["id"], "colour": 1})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["colour"]);
    let p =
        problem(app.post("/api/v1/logins", &json!({"staff_id": staff["id"], "email": "x"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&p), ["email"]);
    let p = problem(
        app.post(
            "/api/v1/logins",
            &json!({"staff_id": staff["id"], "partner_id": LoginId::new_at(steward_domain::time::Timestamp::now()).to_string()}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem_fields(&p), ["partner_id"]);
    assert_eq!(app.post("/api/v1/logins", &json!({"staff_id": staff["id"]})).await.status(), StatusCode::CREATED);
    let p = problem(app.post("/api/v1/logins", &json!({"staff_id": staff["id"]})).await, StatusCode::CONFLICT).await;
    assert_eq!(problem_fields(&p), ["staff_id"]);
    let other = app.create_staff("Gil", "gil@example.org", "agent").await;
    let p = problem(app.post("/api/v1/logins", &json!({"staff_id": other["id"], "email": "FAY@example.org"})).await, StatusCode::CONFLICT)
        .await;
    assert_eq!(problem_fields(&p), ["email"]);

    problem(app.get("/api/v1/logins/nope").await, StatusCode::NOT_FOUND).await;
    problem(app.get("/api/v1/logins/01a20c6d-0000-7000-8000-000000000000").await, StatusCode::NOT_FOUND).await;
    for (query, field) in [("kind=party", "kind"), ("limit=0", "limit"), ("before=x", "before"), ("colour=red", "colour")] {
        let p = problem(app.get(&format!("/api/v1/login-audit?{query}")).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(problem_fields(&p), [field], "{query}");
    }

    // Every logins route is in the OpenAPI document with its statuses.
    let doc = body(app.get("/openapi.json").await).await;
    for path in [
        "/api/v1/logins",
        "/api/v1/logins/{id}",
        "/api/v1/logins/{id}/set-password-link",
        "/api/v1/logins/{id}/sessions",
        "/api/v1/logins/{id}/disable",
        "/api/v1/login-audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["paths"]["/api/v1/logins"]["post"]["responses"]["409"].is_object());
}

/// `steward admin create` makes the first admin and prints a set-password URL; following it
/// and signing in gives an admin principal; `steward admin link` prints a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_and_link_print_set_password_urls() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/admin.db", dir.path().display());
    let env = [("STEWARD_DATABASE_URL", url.as_str()), ("STEWARD_PUBLIC_URL", "https://steward.example.org/")];
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_steward"));
        cmd.args(args).env_remove("STEWARD_CONFIG").env("STEWARD_LOG_LEVEL", "warn").current_dir(env!("CARGO_MANIFEST_DIR"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("steward runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, stdout, stderr) = run(&["admin", "create", "--name", "Root Admin", "--email", "Root@Example.org"]);
    assert!(ok, "{stderr}");
    let first = stdout.lines().last().unwrap().trim().to_owned();
    assert!(first.starts_with("https://steward.example.org/set-password/stp_"), "{stdout}");
    let (ok, stdout, stderr) = run(&["admin", "link", "--email", "root@example.org"]);
    assert!(ok, "{stderr}");
    let second = stdout.lines().last().unwrap().trim().to_owned();
    assert_ne!(first, second);
    let (ok, _, stderr) = run(&["admin", "link", "--email", "nobody@example.org"]);
    assert!(!ok && stderr.contains("login not found"), "{stderr}");
    // Creating again for the same email reuses the staff member and login.
    let (ok, _, stderr) = run(&["admin", "create", "--name", "Root Admin", "--email", "root@example.org"]);
    assert!(ok, "{stderr}");

    let app = steward_server::Application::build(test_config(&url)).await.unwrap();
    let services = app.services();
    let secret = |link: &str| link.rsplit('/').next().unwrap().to_owned();
    assert!(!services.set_password_link_valid(&secret(&first)).await.unwrap(), "a newer link voids the first");
    assert!(!services.set_password_link_valid(&secret(&second)).await.unwrap(), "and the second");
    let (ok, stdout, _) = run(&["admin", "link", "--email", "root@example.org"]);
    assert!(ok);
    let third = stdout.lines().last().unwrap().trim().to_owned();
    services.set_password(&secret(&third), PASSWORD).await.expect("the printed link sets the password");
    let session = services.sign_in(attempt("root@example.org", PASSWORD, "127.0.0.1")).await.expect("the first admin signs in");
    assert_eq!((session.principal.role, session.principal.name.as_str()), (Role::Admin, "Root Admin"));
    assert!(services.list_logins(&session.principal).await.is_ok(), "an admin session manages logins");
}
