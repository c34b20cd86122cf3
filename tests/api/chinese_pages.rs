//! The console in Simplified Chinese over HTTP, on both backends: a ticket's channel and kind,
//! its SLA clocks with their states and why its policy applies, the timeline's details and a
//! refused action's message are in the viewer's language (the words read from where the
//! console keeps them); an English viewer reads the same pages in English.

use crate::helpers::{ConsoleSession, TestApp};
use crate::on_both_backends;
use crate::ticket_page::post_form;
use reqwest::StatusCode;
use serde_json::json;
use steward_console::texts::{self, Lang};

on_both_backends!(
    a_chinese_viewer_reads_values_clocks_and_timeline_in_chinese,
    a_refused_action_says_why_in_the_viewers_language,
    the_queues_supervision_and_policies_name_channels_in_chinese,
    the_sign_in_audit_and_assessment_methods_read_in_chinese,
);

/// A person signed in whose preferences say Simplified Chinese.
async fn chinese(app: &TestApp, name: &str, email: &str, role: &str) -> ConsoleSession {
    let (session, _) = ConsoleSession::person(app, name, email, role).await;
    let r = session.post("/preferences", &[("language", "zh"), ("timezone", "Asia/Shanghai")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} prefers Chinese");
    session
}

/// Why the policy for urgent tickets applies, as the ticket page says it in `lang`.
fn urgent_policy_applies(lang: Lang) -> String {
    let (t, tt) = (lang.texts(), texts::ticket(lang));
    let why = tt.sla_condition.replace("{dimension}", t.q_priority).replace("{value}", t.priority_urgent);
    let applies = tt.sla_applies.replace("{policy}", "urgent").replace("{why}", &why);
    format!("{applies}{}", tt.sla_outranks.replace("{others}", "email, default"))
}

async fn a_chinese_viewer_reads_values_clocks_and_timeline_in_chinese(app: TestApp) {
    let t = app.create_ticket(json!({"title": "打印机卡纸", "channel": "email", "kind": "incident", "priority": "high"})).await;
    let number = t["number"].as_str().unwrap();
    let path = format!("/api/v1/tickets/{number}");
    assert_eq!(app.patch(&path, Some("*"), &json!({"priority": "urgent"})).await.status(), StatusCode::OK);
    assert_eq!(app.patch(&path, Some("*"), &json!({"status": "waiting_customer"})).await.status(), StatusCode::OK);
    assert_eq!(app.transition(number, "needs_analysis").await.status(), StatusCode::OK);
    let wang = chinese(&app, "Wang Wei", "wang@desk.test", "agent").await;
    let (ada, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;

    for (session, lang) in [(&wang, Lang::Zh), (&ada, Lang::En)] {
        let (w, tt) = (lang.texts(), texts::ticket(lang));
        let html = session.page(&format!("/tickets/{number}")).await;
        // The header: channel and kind in words.
        assert!(html.contains(&format!("<dd>{}</dd>", w.channel_email)), "{lang:?} channel: {html}");
        assert!(html.contains(&format!("<dd>{}</dd>", w.kind_incident)), "{lang:?} kind: {html}");
        // The SLA panel: the clocks by name, paused while the customer is awaited, and why.
        assert!(html.contains(&format!("<h3>{}</h3>", w.clock_first_response)), "{lang:?} clock name: {html}");
        assert!(html.contains(&format!("<h3>{}</h3>", w.clock_resolution)), "{lang:?} clock name: {html}");
        assert!(html.contains(&format!("<dd>{}</dd>", w.clock_paused)), "{lang:?} clock state: {html}");
        assert!(html.contains(&format!("· {}</dd>", w.status_waiting_customer)), "{lang:?} pause reason: {html}");
        assert!(html.contains(&urgent_policy_applies(lang)), "{lang:?} explanation: {html}");
        // The timeline: each detail told in words, values too.
        let created = format!("Consultation · {} · {}", w.priority_high, w.channel_email);
        let edited = format!("{}: {} → {}", tt.priority, w.priority_high, w.priority_urgent);
        let status = format!("{} → {}", w.status_open, w.status_waiting_customer);
        for detail in [created, edited, status, "Consultation → Needs analysis".to_owned()] {
            assert!(html.contains(&detail), "{lang:?} timeline says {detail}: {html}");
        }
        assert!(html.contains(tt.event_kinds.status_changed) && html.contains(tt.event_kinds.updated), "{lang:?}: {html}");
    }
    // Nothing of the English spellings is left on the Chinese page.
    let html = wang.page(&format!("/tickets/{number}")).await;
    for english in
        ["priority: high", "high → urgent", "open → waiting_customer", "policy `urgent` applies", ">paused<", ">email<", "status waiting"]
    {
        assert!(!html.contains(english), "no {english}: {html}");
    }
}

async fn a_refused_action_says_why_in_the_viewers_language(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let number = t["number"].as_str().unwrap();
    let base = format!("/tickets/{number}");
    let wang = chinese(&app, "Wang Wei", "wang@desk.test", "agent").await;
    let (ada, _) = ConsoleSession::person(&app, "Ada Agent", "ada@desk.test", "agent").await;

    for (session, lang) in [(&wang, Lang::Zh), (&ada, Lang::En)] {
        let r = texts::refusals(lang);
        // A move the process does not allow, posted by hand: the stage machine's refusal, by
        // the stages' names.
        let page = session.page(&base).await;
        let answer = post_form(session, &page, &format!("{base}/move"), &[("to", "delivery")]).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = answer.text().await.unwrap();
        let said = r.not_allowed.replace("{from}", "Consultation").replace("{to}", "Delivery");
        assert!(html.contains(&format!("id=\"move-error\" role=\"alert\">{said}</p>")), "{lang:?}: {html}");
        // A comment without a body: the field named, the rule in words.
        let page = session.page(&base).await;
        let answer = post_form(session, &page, &format!("{base}/comment"), &[("visibility", "internal"), ("body", "  ")]).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = answer.text().await.unwrap();
        let said = r.field.replace("{field}", r.field_body).replace("{message}", &texts::free_text(lang, "must not be empty"));
        assert!(html.contains(&format!("role=\"alert\">{said}</p>")), "{lang:?}: {html}");
        // A comment form that lost its visibility: the console's own check.
        let page = session.page(&base).await;
        let answer = post_form(session, &page, &format!("{base}/comment"), &[("body", "Hello")]).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(answer.text().await.unwrap().contains(r.pick_visibility), "{lang:?}");
    }
    // Out of a reviewed stage without a passing review: the stage named in Chinese sentences.
    for to in ["needs_analysis", "solution_design", "delivery"] {
        assert_eq!(app.transition(number, to).await.status(), StatusCode::OK, "to {to}");
    }
    let page = wang.page(&base).await;
    let answer = post_form(&wang, &page, &format!("{base}/move"), &[("to", "after_sales")]).await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = answer.text().await.unwrap();
    let said = texts::refusals(Lang::Zh).review_required.replace("{stage}", "Delivery");
    assert!(html.contains(&said) && !html.contains("requires a passing quality review"), "{html}");
}

async fn the_queues_supervision_and_policies_name_channels_in_chinese(app: TestApp) {
    app.create_ticket(json!({"title": "Call me", "channel": "phone", "kind": "request"})).await;
    app.create_ticket(json!({"title": "Write me", "channel": "email", "kind": "incident"})).await;
    let zhang = chinese(&app, "Zhang Min", "zhang@desk.test", "admin").await;
    let w = Lang::Zh.texts();
    // The queues' filters offer channels and kinds in words, keeping the spellings as values.
    let html = zhang.page("/queues").await;
    for (value, label) in [("email", w.channel_email), ("onsite", w.channel_onsite), ("incident", w.kind_incident)] {
        assert!(html.contains(&format!("<option value=\"{value}\">{label}</option>")), "{value}: {html}");
    }
    // A queue filtered by channel still filters by the spelling.
    let html = zhang.page("/queues?channel=phone").await;
    assert!(html.contains("Call me") && !html.contains("Write me"), "{html}");
    // Supervision compares the channels by their names.
    let html = zhang.page("/supervision?group_by=channel").await;
    assert!(html.contains(w.channel_phone) && html.contains(w.channel_email), "{html}");
    // ... and names its KPIs in Chinese, with the clock of a compliance figure.
    let compliance = format!("{} ({})", w.kpi_name("sla_compliance").unwrap(), w.clock_first_response);
    assert!(html.contains(w.kpi_name("resolution_rate").unwrap()) && html.contains(&compliance), "{html}");
    assert!(!html.contains("Resolution rate"), "{html}");
    // The SLA policies name the channels they match, and the form offers them in words.
    let html = zhang.page("/admin/sla-policies").await;
    assert!(html.contains(&format!("<td>{}</td>", w.channel_phone)), "{html}");
    assert!(html.contains(w.kind_complaint) && html.contains(w.channel_onsite), "{html}");
    assert!(!html.contains("<td>phone</td>"), "{html}");
}

async fn the_sign_in_audit_and_assessment_methods_read_in_chinese(app: TestApp) {
    use steward_domain::login::AuditKind;
    use steward_domain::training::AssessmentMethod;
    let admin = chinese(&app, "Li Na", "li@desk.test", "admin").await;
    let w = Lang::Zh.texts();
    let html = admin.page("/admin/logins").await;
    let audit = html.split("id=\"audit\"").nth(1).unwrap();
    for kind in [AuditKind::SignedIn, AuditKind::PasswordSet, AuditKind::LoginCreated] {
        assert!(audit.contains(&format!("<td>{}</td>", w.audit_kind_label(kind))), "{kind:?}: {audit}");
        assert!(!audit.contains(&format!("<td>{}</td>", kind.as_str())), "{kind:?} spelled as its key: {audit}");
    }
    let html = admin.page("/training").await;
    for method in AssessmentMethod::ALL {
        assert!(html.contains(&format!(">{}</option>", w.method_label(*method))), "{method:?}: {html}");
    }
}
