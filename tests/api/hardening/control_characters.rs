//! The character rule at the parsing edge: every text field of every route's JSON body, every
//! query parameter and every path parameter, each tried with every class of control character
//! and noncharacter, is refused naming the field, the same way on both backends. The fields are
//! read from the served OpenAPI document, so a new field cannot escape the test.

use crate::helpers::{body, TestApp};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

on_both_backends!(every_text_input_of_every_route_refuses_control_characters_naming_the_field, tab_and_newlines_are_text);

/// One representative of each class: NUL, other C0 controls, DEL, C1 controls, noncharacters.
const CLASSES: &[(&str, char)] = &[
    ("NUL", '\u{0}'),
    ("C0 SOH", '\u{1}'),
    ("C0 ESC", '\u{1b}'),
    ("C0 US", '\u{1f}'),
    ("DEL", '\u{7f}'),
    ("C1 PAD", '\u{80}'),
    ("C1 APC", '\u{9f}'),
    ("noncharacter U+FDD0", '\u{fdd0}'),
    ("noncharacter U+FFFE", '\u{fffe}'),
    ("noncharacter U+FFFF", '\u{ffff}'),
];

struct Operation {
    method: Method,
    path: String,
    spec: Value,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, spec) in item.as_object().unwrap() {
            if let Ok(method) = method.to_uppercase().parse::<Method>() {
                all.push(Operation { method, path: path.clone(), spec: spec.clone() });
            }
        }
    }
    all
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => resolve(doc, doc.pointer(&r.replacen('#', "", 1)).unwrap_or_else(|| panic!("unresolved {r}"))),
        None => schema,
    }
}

fn has_type(schema: &Value, ty: &str) -> bool {
    match &schema["type"] {
        Value::String(t) => t == ty,
        Value::Array(ts) => ts.iter().any(|t| t == ty),
        _ => false,
    }
}

/// Every place in a body schema where a string can go: (field path as the server names it,
/// a JSON document putting `text` there).
/// A field path and how to build a document that puts a given string at it.
type Slot = (String, Box<dyn Fn(Value) -> Value>);

fn string_slots(doc: &Value, schema: &Value, depth: usize) -> Vec<Slot> {
    let schema = resolve(doc, schema);
    if depth > 6 {
        return Vec::new();
    }
    let mut slots: Vec<Slot> = Vec::new();
    for alternative in ["allOf", "oneOf", "anyOf"] {
        for sub in schema[alternative].as_array().into_iter().flatten() {
            slots.extend(string_slots(doc, sub, depth + 1));
        }
    }
    if has_type(schema, "string") || schema.get("type").is_none() && schema.get("properties").is_none() && schema.get("items").is_none() {
        slots.push((String::new(), Box::new(|text| text)));
    }
    if let Some(items) = schema.get("items") {
        for (path, wrap) in string_slots(doc, items, depth + 1) {
            let field = if path.starts_with('[') || path.is_empty() { format!("[0]{path}") } else { format!("[0].{path}") };
            slots.push((field, Box::new(move |text| json!([wrap(text)]))));
        }
    }
    for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
        for (path, wrap) in string_slots(doc, sub, depth + 1) {
            let name = name.clone();
            let field = if path.starts_with('[') || path.is_empty() { format!("{name}{path}") } else { format!("{name}.{path}") };
            slots.push((field, Box::new(move |text| Value::Object(Map::from_iter([(name.clone(), wrap(text))])))));
        }
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        for (path, wrap) in string_slots(doc, extra, depth + 1) {
            let field = if path.starts_with('[') || path.is_empty() { format!("key{path}") } else { format!("key.{path}") };
            slots.push((field, Box::new(move |text| json!({"key": wrap(text)}))));
        }
    }
    slots
}

fn concrete_path(template: &str, bad: Option<(&str, &str)>) -> String {
    let mut out = String::new();
    for segment in template.split('/').skip(1) {
        out.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if bad.is_some_and(|(b, _)| b == name) => out.push_str(&format!("a{}b", bad.unwrap().1)),
            Some(_) => out.push_str("T-000001"),
            None => out.push_str(segment),
        }
    }
    out
}

fn encode(c: char) -> String {
    c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn refused(app: &TestApp, request: reqwest::RequestBuilder, status: StatusCode, field: &str, what: &str) {
    let r = request.send().await.expect("sent");
    let got = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: {text}");
    let p: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    let fields: Vec<_> = p["errors"].as_array().into_iter().flatten().map(|e| e["field"].as_str().unwrap_or("")).collect();
    assert_eq!(fields, [field], "{what}: {text}");
    let _ = app;
}

async fn every_text_input_of_every_route_refuses_control_characters_naming_the_field(app: TestApp) {
    let doc = body(app.get("/openapi.json").await).await;
    let mut tried = 0usize;
    let (mut body_fields, mut query_params, mut path_params) = (0usize, 0usize, 0usize);
    for op in operations(&doc) {
        let schema = op.spec.pointer("/requestBody/content/application~1json/schema");
        if let Some(schema) = schema {
            let slots = string_slots(&doc, schema, 0);
            body_fields += slots.len();
            for (field, wrap) in &slots {
                for (class, c) in CLASSES {
                    let document = wrap(Value::String(format!("a{c}b")));
                    let what = format!("{} {} body field {field} with {class}", op.method, op.path);
                    let request = app.request(op.method.clone(), &concrete_path(&op.path, None)).json(&document);
                    let field = if field.is_empty() { "(body)" } else { field.as_str() };
                    refused(&app, request, StatusCode::UNPROCESSABLE_ENTITY, field, &what).await;
                    tried += 1;
                }
            }
            // A lone surrogate is not JSON text at all: 400, before anything else.
            let r = app
                .request(op.method.clone(), &concrete_path(&op.path, None))
                .header("content-type", "application/json")
                .body(r#"{"x": "a\ud800b"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{} {} lone surrogate", op.method, op.path);
            tried += 1;
        }
        for param in op.spec["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap();
            match param["in"].as_str() {
                Some("query") => {
                    query_params += 1;
                    for (class, c) in CLASSES {
                        let url = format!("{}?{name}=a{}b", concrete_path(&op.path, None), encode(*c));
                        let what = format!("{} {url} ({class})", op.method);
                        refused(&app, app.request(op.method.clone(), &url), StatusCode::BAD_REQUEST, name, &what).await;
                        tried += 1;
                    }
                }
                Some("path") => {
                    path_params += 1;
                    for (class, c) in CLASSES {
                        let url = concrete_path(&op.path, Some((name, &encode(*c))));
                        let what = format!("{} {url} ({class})", op.method);
                        refused(&app, app.request(op.method.clone(), &url), StatusCode::BAD_REQUEST, name, &what).await;
                        tried += 1;
                    }
                }
                _ => {}
            }
        }
    }
    // The document must have been walked, not skipped: these are floors, not exact counts.
    assert!(body_fields > 50 && query_params > 10 && path_params > 20, "{body_fields} {query_params} {path_params}");
    eprintln!("control-character matrix: {tried} requests ({body_fields} body fields, {query_params} query and {path_params} path parameters × {} classes)", CLASSES.len());
}

async fn tab_and_newlines_are_text(app: TestApp) {
    let t = app.create_ticket(json!({"title": "tab\there", "description": "line one\r\nline two\n"})).await;
    assert_eq!(t["title"], "tab\there");
    let r = app.get("/api/v1/tickets?q=tab%09here").await;
    assert_eq!(r.status(), StatusCode::OK);
}
