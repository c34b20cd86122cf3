//! `If-Match: *` means any version and is never stale; a change that names no version applies to
//! the current one under the row lock; weak tags are refused (strong comparison, RFC 9110).

use crate::helpers::{body, problem, problem_fields, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinSet;

on_both_backends!(
    sixteen_patches_with_if_match_star_all_apply,
    a_transition_without_if_match_never_conflicts_with_fifteen_commenters,
    a_weak_etag_is_refused_naming_if_match,
);

const WRITERS: usize = 16;

async fn statuses(requests: Vec<reqwest::RequestBuilder>) -> Vec<(StatusCode, Value)> {
    let mut set = JoinSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        set.spawn(async move {
            let r = request.send().await.expect("sent");
            (i, r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let mut all = set.join_all().await;
    all.sort_by_key(|(i, _, _)| *i);
    all.into_iter().map(|(_, s, b)| (s, b)).collect()
}

async fn sixteen_patches_with_if_match_star_all_apply(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
    let requests = (0..WRITERS)
        .map(|i| app.request(Method::PATCH, &path).header("If-Match", "*").json(&json!({"title": format!("Title {i}")})))
        .collect();
    let results = statuses(requests).await;
    let conflicts = results.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).count();
    assert_eq!(conflicts, 0, "spurious 409s with If-Match: * among {WRITERS} writers: {results:?}");
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "{results:?}");
    let now = body(app.get(&path).await).await;
    assert_eq!(now["version"], 1 + WRITERS as i64, "every change applied, one version each");
}

async fn a_transition_without_if_match_never_conflicts_with_fifteen_commenters(app: TestApp) {
    // Five rounds, as the drill that found the bug: it conflicted in two of five.
    for round in 0..5 {
        let t = app.create_ticket(json!({"title": format!("Round {round}")})).await;
        let id = t["id"].as_str().unwrap().to_owned();
        let comments = format!("/api/v1/tickets/{id}/comments");
        let mut requests: Vec<_> = (1..WRITERS)
            .map(|i| app.request(Method::POST, &comments).json(&json!({"body": format!("note {i}"), "visibility": "internal"})))
            .collect();
        requests.insert(
            WRITERS / 2,
            app.request(Method::POST, &format!("/api/v1/tickets/{id}/transitions")).json(&json!({"to": "needs_analysis"})),
        );
        let results = statuses(requests).await;
        let (moved, _) = &results[WRITERS / 2];
        assert_eq!(*moved, StatusCode::OK, "round {round}: {results:?}");
        assert!(results.iter().enumerate().all(|(i, (s, _))| i == WRITERS / 2 || *s == StatusCode::CREATED), "{results:?}");
        let now = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
        assert_eq!(now["stage"], "needs_analysis");
    }
}

async fn a_weak_etag_is_refused_naming_if_match(app: TestApp) {
    let t = app.create_ticket(json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = app.patch(&format!("/api/v1/tickets/{id}"), Some("W/\"1\""), &json!({"title": "weak"})).await;
    let p = problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem_fields(&p), ["If-Match"]);
    let r = app
        .request(Method::POST, &format!("/api/v1/tickets/{id}/transitions"))
        .header("If-Match", "W/\"1\"")
        .json(&json!({"to": "needs_analysis"}))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::BAD_REQUEST).await;
    let now = body(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    assert_eq!((now["version"].as_i64(), now["title"].as_str()), (Some(1), t["title"].as_str()), "nothing changed");
}
