//! The monthly review's formats: JSON, Markdown, a standalone HTML page with inline SVG charts
//! (no external assets), and CSV. Used by `GET /api/v1/reports/review` and by
//! `steward report review`.

use super::kpis::KpiView;
use serde_json::{json, Value};
use std::fmt::Write;
use steward_domain::improvement::FollowUp;
use steward_domain::kpi::{format_seconds, Better, BreachCount, Kpi, KpiStatus, Unit};
use steward_domain::review::{KpiLine, Section, ServiceReview, TrainingStanding};
use steward_domain::FieldError;

steward_domain::string_enum! {
    pub enum ReviewFormat {
        Json => "json",
        Md => "md",
        Html => "html",
        Csv => "csv",
    }
}

impl ReviewFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ReviewFormat::Json => "application/json",
            ReviewFormat::Md => "text/markdown; charset=utf-8",
            ReviewFormat::Html => "text/html; charset=utf-8",
            ReviewFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn from_param(text: Option<&str>) -> Result<ReviewFormat, FieldError> {
        ReviewFormat::parse("format", text.unwrap_or("json"))
    }
}

pub fn render(review: &ServiceReview, format: ReviewFormat) -> String {
    match format {
        ReviewFormat::Json => serde_json::to_string_pretty(&to_json(review)).expect("JSON values serialise"),
        ReviewFormat::Md => markdown(review),
        ReviewFormat::Html => html(review),
        ReviewFormat::Csv => csv(review),
    }
}

/// The review in a named format (`md`, `html`, `csv`) with its content type, for the console's
/// exports under a session; None for another name.
pub fn render_export(review: &ServiceReview, format: &str) -> Option<(String, &'static str)> {
    let format = ReviewFormat::parse("format", format).ok()?;
    Some((render(review, format), format.content_type()))
}

fn seconds_opt(ms: Option<f64>) -> Value {
    ms.map_or(Value::Null, |m| json!(m / 1000.0))
}

fn kpi_line_json(l: &KpiLine) -> Value {
    let mut v = serde_json::to_value(KpiView::from(&l.kpi)).expect("views serialise");
    v["previous"] = json!(l.previous);
    v
}

fn follow_up_json(f: &FollowUp) -> Value {
    let a = &f.action;
    let kpi = f.kpi.as_ref().map(|k| {
        json!({"key": k.key, "dimension": k.dimension, "label": k.label, "unit": k.unit.as_str(),
               "from": k.from, "to": k.to, "movement": k.movement.as_str()})
    });
    json!({"id": a.id.to_string(), "title": a.title, "owner": a.owner.to_string(), "owner_name": f.owner_name,
           "status": a.status.as_str(), "due": a.due.to_string(), "overdue": f.overdue, "month": a.month.to_string(),
           "stage": a.stage.as_ref().map(ToString::to_string), "kpi": kpi})
}

/// The action's KPI values then and now, and how it moved, as people read them.
fn movement_cells(f: &FollowUp) -> (String, String, String, &'static str) {
    match &f.kpi {
        Some(k) => (k.label.clone(), opt(k.from, k.unit), opt(k.to, k.unit), k.movement.as_str()),
        None => ("–".to_owned(), "–".to_owned(), "–".to_owned(), "–"),
    }
}

fn action_status(f: &FollowUp) -> String {
    let status = f.action.status.as_str().replace('_', " ");
    if f.overdue {
        format!("{status} (overdue)")
    } else {
        status
    }
}

const NO_ACTIONS: &str = "No improvement action from an earlier review to follow up.";

pub fn to_json(review: &ServiceReview) -> Value {
    let sections: Vec<Value> = review
        .sections
        .iter()
        .map(|section| {
            let items: Vec<Value> = match section {
                Section::Kpis(lines) | Section::Worse(lines) => lines.iter().map(kpi_line_json).collect(),
                Section::Breaches(b) => b
                    .iter()
                    .map(|b| json!({"clock": b.clock, "process": b.process, "stage": b.stage, "priority": b.priority, "count": b.count}))
                    .collect(),
                Section::WeakestStages(s) => s
                    .iter()
                    .map(|s| {
                        json!({"process": s.dwell.process, "stage": s.dwell.stage, "completed": s.dwell.completed,
                               "mean_seconds": seconds_opt(s.dwell.mean_ms), "target_seconds": s.target_seconds,
                               "breached": s.dwell.breached, "ratio": s.ratio()})
                    })
                    .collect(),
                Section::ComplaintTags(t) => t.iter().map(|(tag, n)| json!({"tag": tag, "count": n})).collect(),
                Section::Partners(p) => {
                    p.iter().map(|p| json!({"partner": p.name, "score": p.score, "grade": p.grade, "delegated": p.delegated})).collect()
                }
                Section::Training(t) => {
                    let mut items =
                        vec![json!({"training_compliance": t.compliance, "previous": t.previous, "staff_considered": t.staff_considered})];
                    items.extend(
                        t.expiring
                            .iter()
                            .map(|(staff, course, at)| json!({"staff": staff, "certification": course, "expires_at": at.to_string()})),
                    );
                    items
                }
                Section::Actions(a) => a.iter().map(follow_up_json).collect(),
                Section::Improvements(p) => p.iter().map(|p| json!(p)).collect(),
            };
            json!({"key": section.key(), "title": section.title(), "items": items})
        })
        .collect();
    let h = &review.headline;
    json!({
        "month": review.month.to_string(),
        "previous_month": review.month.previous().to_string(),
        "from": review.period.from,
        "to": review.period.to,
        "generated_at": review.generated_at,
        "headline": {"opened": h.opened, "resolved": h.resolved, "backlog_at_end": h.backlog_at_end,
                     "sla_compliance": h.sla_compliance, "csat": h.csat, "csat_target": h.csat_target},
        "sections": sections,
    })
}

fn opt(v: Option<f64>, unit: Unit) -> String {
    v.map_or_else(|| "–".to_owned(), |v| unit.format(v))
}

fn percent(v: Option<f64>) -> String {
    opt(v, Unit::Ratio)
}

/// `1 – 30 November 2026`: the period's first and last day (its end is exclusive).
fn human_period(review: &ServiceReview) -> String {
    format!("{} – {}", review.period.from.human_date(), review.period.to.plus_millis(-1).human_date())
}

/// `↓ lower is better` / `↑ higher is better`, for KPIs whose target says which.
fn direction(kpi: &Kpi) -> &'static str {
    match kpi.target.map(|t| t.better) {
        Some(Better::Lower) => "↓ lower is better",
        Some(Better::Higher) => "↑ higher is better",
        None => "",
    }
}

/// The signed change from the previous month in the KPI's unit, e.g. `−3.0 pts`, `+5m 0s`.
fn change(l: &KpiLine) -> String {
    let (Some(now), Some(before)) = (l.kpi.value, l.previous) else { return "–".to_owned() };
    let d = now - before;
    let sign = if d < 0.0 { "−" } else { "+" };
    match l.kpi.unit {
        Unit::Ratio => format!("{sign}{:.1} pts", d.abs() * 100.0),
        unit => format!("{sign}{}", unit.format(d.abs())),
    }
}

fn breach_label(b: &BreachCount) -> String {
    let clock = b.clock.replace('_', " ");
    match &b.stage {
        Some(stage) => format!("{} / {stage} · {} · {}", b.process, clock, b.priority),
        None => format!("{} · {} · {}", b.process, clock, b.priority),
    }
}

fn markdown(review: &ServiceReview) -> String {
    let mut out = String::new();
    let h = &review.headline;
    let _ = writeln!(out, "# Service review {}\n", review.month.human());
    let _ = writeln!(
        out,
        "Tickets opened {} (UTC), compared with {}. Generated {}.\n",
        human_period(review),
        review.month.previous().human(),
        review.generated_at.human_date_time()
    );
    let _ = writeln!(
        out,
        "**{} opened · {} resolved · {} in the backlog at month end · SLA compliance {} · CSAT {} (target {})**\n",
        h.opened,
        h.resolved,
        h.backlog_at_end,
        percent(h.sla_compliance),
        percent(h.csat),
        percent(h.csat_target)
    );
    for section in &review.sections {
        let _ = writeln!(out, "## {}\n", section.title());
        match section {
            Section::Kpis(lines) => {
                out.push_str("| KPI | value | previous month | target | status | sample |\n|---|---:|---:|---:|---|---:|\n");
                for l in lines {
                    let k = &l.kpi;
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} |",
                        k.label(),
                        k.display_value(),
                        opt(l.previous, k.unit),
                        opt(k.target.map(|t| t.value), k.unit),
                        k.status().map_or("–", |s| s.as_str()),
                        k.sample
                    );
                }
            }
            Section::Worse(lines) if lines.is_empty() => out.push_str("Nothing with a target got worse.\n"),
            Section::Worse(lines) => {
                out.push_str("| KPI | previous month | this month | change | status |\n|---|---:|---:|---:|---|\n");
                for l in lines {
                    let k = &l.kpi;
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} |",
                        k.label(),
                        opt(l.previous, k.unit),
                        k.display_value(),
                        change(l),
                        k.status().map_or("–", |s| s.as_str())
                    );
                }
            }
            Section::Breaches(b) if b.is_empty() => out.push_str("No SLA breaches.\n"),
            Section::Breaches(b) => {
                out.push_str("| clock | process / stage | priority | breaches |\n|---|---|---|---:|\n");
                for b in b {
                    let stage = b.stage.as_ref().map_or(b.process.clone(), |s| format!("{} / {s}", b.process));
                    let _ = writeln!(out, "| {} | {stage} | {} | {} |", b.clock, b.priority, b.count);
                }
            }
            Section::WeakestStages(s) if s.is_empty() => out.push_str("No stage data.\n"),
            Section::WeakestStages(s) => {
                out.push_str("| stage | mean dwell | target | breaches | completed |\n|---|---:|---:|---:|---:|\n");
                for s in s {
                    let _ = writeln!(
                        out,
                        "| {}/{} | {} | {} | {} | {} |",
                        s.dwell.process,
                        s.dwell.stage,
                        opt(s.dwell.mean_ms.map(|m| m / 1000.0), Unit::Seconds),
                        opt(s.target_seconds, Unit::Seconds),
                        s.dwell.breached,
                        s.dwell.completed
                    );
                }
            }
            Section::Partners(p) if p.is_empty() => out.push_str("No partners.\n"),
            Section::Partners(p) => {
                out.push_str("| partner | score | grade | tickets delegated |\n|---|---|---|---|\n");
                for p in p {
                    let score = p.score.map_or("–".to_owned(), |s| format!("{s:.1}"));
                    let _ = writeln!(out, "| {} | {score} | {} | {} |", p.name, p.grade, p.delegated);
                }
            }
            Section::Training(t) => {
                let _ = writeln!(out, "{}\n", training_sentence(t));
                if t.expiring.is_empty() {
                    out.push_str("No certification expires soon.\n");
                } else {
                    out.push_str("| staff | certification | expires |\n|---|---|---|\n");
                    for (staff, course, at) in &t.expiring {
                        let _ = writeln!(out, "| {staff} | {course} | {} |", at.human_date());
                    }
                }
            }
            Section::ComplaintTags(t) if t.is_empty() => out.push_str("No complaints.\n"),
            Section::ComplaintTags(t) => {
                out.push_str("| tag | complaints |\n|---|---:|\n");
                for (tag, n) in t {
                    let _ = writeln!(out, "| {tag} | {n} |");
                }
            }
            Section::Actions(a) if a.is_empty() => {
                out.push_str(NO_ACTIONS);
                out.push('\n');
            }
            Section::Actions(a) => {
                out.push_str(
                    "| action | owner | set in | due | status | KPI | then | this month | movement |\n|---|---|---|---|---|---|---:|---:|---|\n",
                );
                for f in a {
                    let (kpi, then, now, movement) = movement_cells(f);
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {kpi} | {then} | {now} | {movement} |",
                        f.action.title.replace('|', "\\|"),
                        f.owner_name.replace('|', "\\|"),
                        f.action.month,
                        f.action.due,
                        action_status(f)
                    );
                }
            }
            Section::Improvements(p) => {
                for (i, p) in p.iter().enumerate() {
                    let _ = writeln!(out, "{}. {p}", i + 1);
                }
            }
        }
        out.push('\n');
    }
    out
}

fn training_sentence(t: &TrainingStanding) -> String {
    match t.compliance {
        None => "No staff needs a certification.".to_owned(),
        Some(c) => format!(
            "Training compliance at the month's end: {} ({} staff considered); at the previous month's end: {}.",
            Unit::Ratio.format(c),
            t.staff_considered,
            percent(t.previous)
        ),
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One bar: its label, value, target (drawn as a line) and the status class that colours it.
struct Bar {
    label: String,
    value: f64,
    target: Option<f64>,
    status: &'static str,
}

fn status_class(status: Option<KpiStatus>) -> &'static str {
    status.map_or("none", |s| s.as_str())
}

/// Labels longer than the chart's label column are cut with an ellipsis (the table beside
/// the chart has them whole).
fn fit(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        label.to_owned()
    } else {
        label.chars().take(chars - 1).chain(['…']).collect()
    }
}

/// A horizontal bar chart: bars coloured by status, a target line per bar when given.
fn svg_bars(title: &str, bars: &[Bar], fmt: impl Fn(f64) -> String) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let max = bars.iter().map(|b| b.value.max(b.target.unwrap_or(0.0))).fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let (label_w, bar_w, value_w, row_h) = (330.0, 360.0, 90.0, 24.0);
    let height = row_h * bars.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{}\" height=\"{height}\" aria-label=\"{}\">",
        label_w + bar_w + value_w,
        esc(title)
    );
    let _ = write!(svg, "<text x=\"0\" y=\"14\" class=\"t\">{}</text>", esc(title));
    for (i, bar) in bars.iter().enumerate() {
        let y = 24.0 + row_h * i as f64;
        let w = (bar.value / max * bar_w).max(1.0);
        let _ = write!(svg, "<text x=\"0\" y=\"{}\"><title>{}</title>{}</text>", y + 13.0, esc(&bar.label), esc(&fit(&bar.label, 46)));
        let _ = write!(svg, "<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" class=\"b {}\"/>", bar.status);
        if let Some(t) = bar.target {
            let x = label_w + t / max * bar_w;
            let _ = write!(svg, "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" class=\"m\"/>", y - 3.0, y + 19.0);
        }
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{}\">{}</text>", label_w + w + 6.0, y + 13.0, esc(&fmt(bar.value)));
    }
    svg.push_str("</svg>");
    svg
}

const LEGEND: &str =
    "<p class=\"legend\"><span class=\"k ok\"></span>on target <span class=\"k warning\"></span>within the warning margin \
                      <span class=\"k breach\"></span>missed <span class=\"k none\"></span>no target · red line: target</p>";

/// A value whose parts never part at a line break (`85.0 %`, `2h 0m`).
fn unbroken(value: &str) -> String {
    value.replace(' ', "\u{a0}")
}

fn card(label: &str, value: &str, note: &str, status: &str) -> String {
    format!(
        "<div class=\"card {status}\"><div class=\"v\">{}</div><div class=\"l\">{}</div><div class=\"x\">{}</div></div>",
        esc(value),
        esc(label),
        esc(note)
    )
}

fn headline_html(review: &ServiceReview) -> String {
    let h = &review.headline;
    // The SLA target is the one configured for the compliance KPI (every clock shares it).
    let sla_target = review.sections.iter().find_map(|s| match s {
        Section::Kpis(lines) => lines.iter().find(|l| l.kpi.key == "sla_compliance").and_then(|l| l.kpi.target),
        _ => None,
    });
    let against = |value: Option<f64>, target: Option<f64>| match (value, target) {
        (Some(v), Some(t)) if v >= t => "ok",
        (Some(_), Some(_)) => "breach",
        _ => "none",
    };
    let csat_status = against(h.csat, h.csat_target);
    let sla_status = against(h.sla_compliance, sla_target.map(|t| t.value));
    let sla_note = format!("clocks met, target {}", unbroken(&percent(sla_target.map(|t| t.value))));
    let mut out = String::from("<section id=\"headline\" class=\"cards\">");
    out.push_str(&card("tickets opened", &h.opened.to_string(), "", "none"));
    out.push_str(&card("resolved", &h.resolved.to_string(), "of those opened", "none"));
    out.push_str(&card("backlog at month end", &h.backlog_at_end.to_string(), "open tickets", "none"));
    out.push_str(&card("SLA compliance", &percent(h.sla_compliance), &sla_note, sla_status));
    out.push_str(&card("CSAT", &percent(h.csat), &format!("4–5 scores, target {}", unbroken(&percent(h.csat_target))), csat_status));
    out.push_str("</section>");
    out
}

fn kpi_cell(k: &Kpi) -> String {
    let dir = direction(k);
    if dir.is_empty() {
        esc(&k.label())
    } else {
        format!("{} <span class=\"dir\">{dir}</span>", esc(&k.label()))
    }
}

fn html(review: &ServiceReview) -> String {
    let mut body = headline_html(review);
    for section in &review.sections {
        let _ = write!(body, "<section id=\"{}\"><h2>{}</h2>", section.key(), esc(section.title()));
        match section {
            Section::Kpis(lines) => {
                let rates: Vec<Bar> = lines
                    .iter()
                    .filter(|l| l.kpi.unit == Unit::Ratio)
                    .filter_map(|l| {
                        let dir = if l.kpi.target.is_some_and(|t| t.better == Better::Lower) { " ↓ lower is better" } else { "" };
                        Some(Bar {
                            label: format!("{}{dir}", l.kpi.label()),
                            value: l.kpi.value?,
                            target: l.kpi.target.map(|t| t.value),
                            status: status_class(l.kpi.status()),
                        })
                    })
                    .collect();
                body.push_str(&svg_bars("Rates against their targets", &rates, |v| Unit::Ratio.format(v)));
                if !rates.is_empty() {
                    body.push_str(LEGEND);
                }
                body.push_str(
                    "<table><tr><th>KPI</th><th class=\"n\">value</th><th class=\"n\">previous month</th><th class=\"n\">target</th><th>status</th><th class=\"n\">sample</th></tr>",
                );
                for l in lines {
                    let k = &l.kpi;
                    let status = k.status().map_or("–", |s| s.as_str());
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"s {status}\">{status}</td><td class=\"n\">{}</td></tr>",
                        kpi_cell(k),
                        esc(&k.display_value()),
                        esc(&opt(l.previous, k.unit)),
                        esc(&opt(k.target.map(|t| t.value), k.unit)),
                        k.sample
                    );
                }
                body.push_str("</table>");
            }
            Section::Worse(lines) if lines.is_empty() => body.push_str("<p>Nothing with a target got worse.</p>"),
            Section::Worse(lines) => {
                body.push_str(
                    "<table><tr><th>KPI</th><th class=\"n\">previous month</th><th class=\"n\">this month</th><th class=\"n\">change</th><th>status</th></tr>",
                );
                for l in lines {
                    let k = &l.kpi;
                    let status = k.status().map_or("–", |s| s.as_str());
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n worse\">{}</td><td class=\"s {status}\">{status}</td></tr>",
                        kpi_cell(k),
                        esc(&opt(l.previous, k.unit)),
                        esc(&k.display_value()),
                        esc(&change(l)),
                    );
                }
                body.push_str("</table>");
            }
            Section::Breaches(b) => {
                let bars: Vec<Bar> =
                    b.iter().map(|b| Bar { label: breach_label(b), value: b.count as f64, target: None, status: "breach" }).collect();
                body.push_str(&svg_bars("Breaches (process / stage · clock · priority) ↓ lower is better", &bars, |v| {
                    format!("{v:.0}")
                }));
                if b.is_empty() {
                    body.push_str("<p>No SLA breaches.</p>");
                }
            }
            Section::WeakestStages(s) => {
                let bars: Vec<Bar> = s
                    .iter()
                    .map(|s| {
                        let status = match s.ratio() {
                            Some(r) if r > 1.0 => "breach",
                            Some(_) => "ok",
                            None => "none",
                        };
                        Bar {
                            label: format!("{} / {}", s.dwell.process, s.dwell.stage),
                            value: s.dwell.mean_ms.unwrap_or(0.0) / 1000.0,
                            target: s.target_seconds,
                            status,
                        }
                    })
                    .collect();
                body.push_str(&svg_bars("Mean dwell time ↓ lower is better", &bars, format_seconds));
                if s.is_empty() {
                    body.push_str("<p>No stage data.</p>");
                } else {
                    body.push_str(LEGEND);
                }
            }
            Section::Partners(p) => {
                let bars: Vec<Bar> = p
                    .iter()
                    .map(|p| Bar {
                        label: format!("{} ({})", p.name, p.grade),
                        value: p.score.unwrap_or(0.0),
                        target: None,
                        status: match p.grade.as_str() {
                            "A" | "B" => "ok",
                            "C" => "warning",
                            "unrated" => "none",
                            _ => "breach",
                        },
                    })
                    .collect();
                body.push_str(&svg_bars("Partner scores (0–100) ↑ higher is better", &bars, |v| format!("{v:.0}")));
                if p.is_empty() {
                    body.push_str("<p>No partners.</p>");
                }
            }
            Section::Training(t) => {
                let _ = write!(body, "<p>{}</p>", esc(&training_sentence(t)));
                if t.expiring.is_empty() {
                    body.push_str("<p>No certification expires soon.</p>");
                } else {
                    body.push_str("<table><tr><th>staff</th><th>certification</th><th class=\"n\">expires</th></tr>");
                    for (staff, course, at) in &t.expiring {
                        let _ = write!(
                            body,
                            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                            esc(staff),
                            esc(course),
                            at.human_date()
                        );
                    }
                    body.push_str("</table>");
                }
            }
            Section::ComplaintTags(t) => {
                let bars: Vec<Bar> =
                    t.iter().map(|(tag, n)| Bar { label: tag.clone(), value: *n as f64, target: None, status: "none" }).collect();
                body.push_str(&svg_bars("Complaints by tag", &bars, |v| format!("{v:.0}")));
                if t.is_empty() {
                    body.push_str("<p>No complaints.</p>");
                }
            }
            Section::Actions(a) if a.is_empty() => {
                let _ = write!(body, "<p>{NO_ACTIONS}</p>");
            }
            Section::Actions(a) => {
                body.push_str(
                    "<table><tr><th>action</th><th>owner</th><th>set in</th><th class=\"n\">due</th><th>status</th><th>KPI</th><th class=\"n\">then</th><th class=\"n\">this month</th><th>movement</th></tr>",
                );
                for f in a {
                    let (kpi, then, now, movement) = movement_cells(f);
                    let class = if f.overdue { "s breach" } else { "s" };
                    let moved = match movement {
                        "better" => "s ok",
                        "worse" => "s breach",
                        _ => "s",
                    };
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"{class}\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{moved}\">{movement}</td></tr>",
                        esc(&f.action.title),
                        esc(&f.owner_name),
                        f.action.month.human(),
                        f.action.due,
                        esc(&action_status(f)),
                        esc(&kpi),
                        esc(&then),
                        esc(&now),
                    );
                }
                body.push_str("</table>");
            }
            Section::Improvements(p) => {
                body.push_str("<ol>");
                for p in p {
                    let _ = write!(body, "<li>{}</li>", esc(p));
                }
                body.push_str("</ol>");
            }
        }
        body.push_str("</section>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Service review {month}</title>\n<style>\
         body{{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         h1{{margin-bottom:.2rem}}h2{{margin-top:2rem;border-bottom:2px solid #4c78a8;padding-bottom:.2rem}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}}\
         .n{{text-align:right;white-space:nowrap}}.s{{white-space:nowrap}}.s.ok{{color:#1a7f37}}.s.warning{{color:#9a6700}}.s.breach{{color:#cf222e;font-weight:bold}}\
         .worse{{color:#cf222e}}.dir{{color:#666;font-size:.8em;white-space:nowrap}}\
         .cards{{display:flex;gap:.8rem;margin:1.2rem 0}}.card{{flex:1;border:1px solid #ddd;border-top:6px solid #999;border-radius:6px;padding:.6rem .8rem}}\
         .card .v{{font-size:2rem;font-weight:bold;white-space:nowrap}}.card .l{{font-weight:bold}}.card .x{{color:#666;font-size:.85em}}\
         .card.ok{{border-top-color:#1a7f37}}.card.warning{{border-top-color:#d4a72c}}.card.breach{{border-top-color:#cf222e}}\
         .legend{{font-size:.85em;color:#444}}.k{{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}}\
         .k.ok,svg .b.ok{{fill:#2da44e;background:#2da44e}}.k.warning,svg .b.warning{{fill:#d4a72c;background:#d4a72c}}\
         .k.breach,svg .b.breach{{fill:#cf222e;background:#cf222e}}.k.none,svg .b.none{{fill:#8c959f;background:#8c959f}}\
         svg text{{font-size:12px;fill:#222}}svg .t{{font-weight:bold}}svg .m{{stroke:#24292f;stroke-width:2}}\
         </style></head>\n<body><h1>Service review {human_month}</h1><p>Tickets opened {period} (UTC), compared with {previous}. Generated {at}.</p>\n{body}\n</body></html>\n",
        month = review.month,
        human_month = review.month.human(),
        period = human_period(review),
        previous = review.month.previous().human(),
        at = review.generated_at.human_date_time(),
    )
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

const CSV_HEADER: &str = "section,item,dimension,value,unit,previous,target,status,grade,sample";

/// One CSV row; empty fields are left out when built.
#[derive(Default)]
struct Row {
    item: String,
    dimension: String,
    value: String,
    unit: &'static str,
    previous: String,
    target: String,
    status: String,
    grade: String,
    sample: String,
}

/// One row per figure: `section,item,dimension,value,unit,previous,target,status,grade,sample`.
/// `unit` is seconds, ratio (0–1), score, count, date or text.
fn csv(review: &ServiceReview) -> String {
    let mut rows = vec![CSV_HEADER.to_owned()];
    let mut push = |section: &str, r: Row| {
        let fields = [section, &r.item, &r.dimension, &r.value, r.unit, &r.previous, &r.target, &r.status, &r.grade, &r.sample];
        rows.push(fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
    };
    let h = &review.headline;
    for (item, value, unit) in [
        ("tickets_opened", Some(h.opened as f64), "count"),
        ("tickets_resolved", Some(h.resolved as f64), "count"),
        ("backlog_at_end", Some(h.backlog_at_end as f64), "count"),
        ("sla_compliance", h.sla_compliance, "ratio"),
    ] {
        push("headline", Row { item: item.into(), value: num(value), unit, ..Row::default() });
    }
    push("headline", Row { item: "csat".into(), value: num(h.csat), unit: "ratio", target: num(h.csat_target), ..Row::default() });
    for section in &review.sections {
        let key = section.key();
        match section {
            Section::Kpis(lines) | Section::Worse(lines) => {
                for l in lines {
                    let k = &l.kpi;
                    push(
                        key,
                        Row {
                            item: k.key.clone(),
                            dimension: k.dimension.clone().unwrap_or_default(),
                            value: num(k.value),
                            unit: k.unit.as_str(),
                            previous: num(l.previous),
                            target: num(k.target.map(|t| t.value)),
                            status: k.status().map_or("", |s| s.as_str()).to_owned(),
                            sample: k.sample.to_string(),
                            ..Row::default()
                        },
                    );
                }
            }
            Section::Breaches(b) => {
                for b in b {
                    let dimension = format!("{}/{}/{}", b.process, b.stage.as_deref().unwrap_or(""), b.priority);
                    push(key, Row { item: b.clock.clone(), dimension, value: b.count.to_string(), unit: "count", ..Row::default() });
                }
            }
            Section::WeakestStages(s) => {
                for s in s {
                    push(
                        key,
                        Row {
                            item: "stage_dwell_time".into(),
                            dimension: format!("{}/{}", s.dwell.process, s.dwell.stage),
                            value: num(s.dwell.mean_ms.map(|m| m / 1000.0)),
                            unit: "seconds",
                            target: num(s.target_seconds),
                            sample: s.dwell.completed.to_string(),
                            ..Row::default()
                        },
                    );
                }
            }
            Section::Partners(p) => {
                for p in p {
                    push(
                        key,
                        Row {
                            item: "partner_score".into(),
                            dimension: p.name.clone(),
                            value: num(p.score),
                            unit: "score",
                            grade: p.grade.clone(),
                            sample: p.delegated.to_string(),
                            ..Row::default()
                        },
                    );
                }
            }
            Section::Training(t) => {
                push(
                    key,
                    Row {
                        item: "training_compliance".into(),
                        value: num(t.compliance),
                        unit: "ratio",
                        previous: num(t.previous),
                        sample: t.staff_considered.to_string(),
                        ..Row::default()
                    },
                );
                for (staff, course, at) in &t.expiring {
                    let date = jiff::Timestamp::from_millisecond(at.as_millis())
                        .map_or_else(|_| at.to_string(), |t| t.strftime("%Y-%m-%d").to_string());
                    push(
                        key,
                        Row {
                            item: "certification_expires".into(),
                            dimension: format!("{staff}/{course}"),
                            value: date,
                            unit: "date",
                            ..Row::default()
                        },
                    );
                }
            }
            Section::ComplaintTags(t) => {
                for (tag, n) in t {
                    push(
                        key,
                        Row { item: "complaints".into(), dimension: tag.clone(), value: n.to_string(), unit: "count", ..Row::default() },
                    );
                }
            }
            Section::Actions(a) => {
                for f in a {
                    let k = f.kpi.as_ref();
                    push(
                        key,
                        Row {
                            item: f.action.title.clone(),
                            dimension: k.map(|k| k.label.clone()).unwrap_or_default(),
                            value: num(k.and_then(|k| k.to)),
                            unit: k.map_or("text", |k| k.unit.as_str()),
                            previous: num(k.and_then(|k| k.from)),
                            status: if f.overdue { format!("{};overdue", f.action.status) } else { f.action.status.as_str().to_owned() },
                            grade: k.map(|k| k.movement.as_str().to_owned()).unwrap_or_default(),
                            ..Row::default()
                        },
                    );
                }
            }
            Section::Improvements(p) => {
                for (i, p) in p.iter().enumerate() {
                    push(key, Row { item: (i + 1).to_string(), value: p.clone(), unit: "text", ..Row::default() });
                }
            }
        }
    }
    rows.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_domain::kpi::{Month, StageDwell, Target};
    use steward_domain::review::{Headline, PartnerRank, WeakStage};
    use steward_domain::time::Timestamp;

    fn higher(value: f64) -> Option<Target> {
        Some(Target { value, better: Better::Higher, warning_margin: 0.1 })
    }

    fn review() -> ServiceReview {
        let month = Month::parse("month", "2026-11").unwrap();
        let pass = KpiLine {
            kpi: Kpi::new("review_pass_rate", "Quality-review pass rate", Unit::Ratio, Some(0.5), 4).with_target(higher(0.9)),
            previous: Some(0.75),
        };
        let reopen = KpiLine {
            kpi: Kpi::new("reopen_rate", "Reopen rate", Unit::Ratio, Some(0.05), 20).with_target(Some(Target {
                value: 0.1,
                better: Better::Lower,
                warning_margin: 0.1,
            })),
            previous: Some(0.1),
        };
        let near = KpiLine {
            kpi: Kpi::new("resolution_rate", "Resolution rate", Unit::Ratio, Some(0.85), 20).with_target(higher(0.9)),
            previous: None,
        };
        let slow = KpiLine {
            kpi: Kpi::new("first_response_time_p90", "First-response time (p90)", Unit::Seconds, Some(9_000.0), 20),
            previous: None,
        };
        ServiceReview {
            month,
            period: month.period(),
            generated_at: Timestamp::parse("at", "2026-12-02T13:40:00Z").unwrap(),
            headline: Headline {
                opened: 120,
                resolved: 97,
                backlog_at_end: 23,
                sla_compliance: Some(0.912),
                csat: Some(0.8),
                csat_target: Some(0.85),
            },
            sections: vec![
                Section::Kpis(vec![
                    KpiLine { kpi: Kpi::new("backlog", "Backlog", Unit::Count, Some(3.0), 3), previous: Some(1.0) },
                    pass.clone(),
                    reopen,
                    near,
                    slow,
                ]),
                Section::Worse(vec![pass]),
                Section::Breaches(vec![BreachCount {
                    clock: "stage".into(),
                    process: "field_service".into(),
                    stage: Some("consultation".into()),
                    priority: "high".into(),
                    count: 2,
                }]),
                Section::WeakestStages(vec![WeakStage {
                    dwell: StageDwell {
                        process: "field_service".into(),
                        stage: "consultation".into(),
                        completed: 3,
                        mean_ms: Some(20_000_000.0),
                        breached: 2,
                    },
                    target_seconds: Some(14_400.0),
                }]),
                Section::ComplaintTags(vec![("a,\"b\"".into(), 2), ("<script>".into(), 1)]),
                Section::Partners(vec![PartnerRank { name: "Acme".into(), score: Some(82.5), grade: "B".into(), delegated: 7 }]),
                Section::Training(TrainingStanding {
                    compliance: Some(0.8),
                    previous: Some(0.6),
                    staff_considered: 5,
                    expiring: vec![("Ann".into(), "GAS".into(), Timestamp::parse("at", "2026-12-15T00:00:00Z").unwrap())],
                }),
                Section::Improvements(vec!["Fix <this>, now".into()]),
            ],
        }
    }

    #[test]
    fn csv_has_a_unit_column_and_the_grade_in_its_own() {
        let csv = render(&review(), ReviewFormat::Csv);
        assert!(csv.starts_with("section,item,dimension,value,unit,previous,target,status,grade,sample\n"), "{csv}");
        assert!(csv.contains("\nheadline,backlog_at_end,,23,count,,,,,\n"), "{csv}");
        assert!(csv.contains("\nheadline,csat,,0.8,ratio,,0.85,,,\n"), "{csv}");
        assert!(csv.contains("\nkpis,backlog,,3,count,1,,,,3\n"), "{csv}");
        assert!(csv.contains("\nkpis,review_pass_rate,,0.5,ratio,0.75,0.9,breach,,4\n"), "{csv}");
        assert!(csv.contains("\nworse,review_pass_rate,,0.5,ratio,0.75,0.9,breach,,4\n"), "{csv}");
        assert!(csv.contains("\nbreaches,stage,field_service/consultation/high,2,count,"), "{csv}");
        assert!(csv.contains("\npartners,partner_score,Acme,82.5,score,,,,B,7\n"), "{csv}");
        assert!(csv.contains("\ntraining,training_compliance,,0.8,ratio,0.6,,,,5\n"), "{csv}");
        assert!(csv.contains("\ntraining,certification_expires,Ann/GAS,2026-12-15,date,"), "{csv}");
        assert!(csv.contains("complaint_tags,complaints,\"a,\"\"b\"\"\",2,count,"), "{csv}");
        assert!(csv.contains("improvements,1,,\"Fix <this>, now\",text,"), "{csv}");
        for line in csv.lines().filter(|l| !l.contains('"')) {
            assert_eq!(line.matches(',').count(), 9, "ten columns: {line}");
        }
    }

    #[test]
    fn html_opens_with_the_headline_and_formats_dates_for_people() {
        let html = render(&review(), ReviewFormat::Html);
        let headline = &html[html.find("id=\"headline\"").expect("a headline")..html.find("id=\"kpis\"").unwrap()];
        for figure in ["120", "97", "23", "91.2 %", "80.0 %", "target 85.0\u{a0}%", "backlog at month end", "tickets opened"] {
            assert!(headline.contains(figure), "{figure} in {headline}");
        }
        assert!(headline.contains("card breach\"><div class=\"v\">80.0 %"), "CSAT under 85 % is marked missed: {headline}");
        assert!(html.contains("<h1>Service review November 2026</h1>"), "{html}");
        assert!(html.contains(
            "Tickets opened 1 November 2026 – 30 November 2026 (UTC), compared with October 2026. Generated 2 December 2026, 13:40 UTC."
        ));
        assert!(html.contains("<td class=\"n\">15 December 2026</td>"), "{html}");
        assert!(!html.contains("T00:00:00"), "no machine timestamps for people: {html}");
    }

    #[test]
    fn html_says_what_got_worse_and_colours_bars_by_status() {
        let html = render(&review(), ReviewFormat::Html);
        let worse = &html[html.find("id=\"worse\"").expect("a what-got-worse section")..html.find("id=\"breaches\"").unwrap()];
        assert!(worse.contains("Quality-review pass rate") && worse.contains("75.0 %") && worse.contains("−25.0 pts"), "{worse}");
        assert!(html.contains("class=\"b breach\""), "a missed rate is drawn red: {html}");
        assert!(html.contains("class=\"b warning\""), "a rate within the margin is drawn amber");
        assert!(html.contains("class=\"b ok\""), "a rate on target is drawn green");
        assert!(html.contains("Reopen rate ↓ lower is better"), "{html}");
        assert!(html.contains("Mean dwell time ↓ lower is better"), "{html}");
        assert!(html.contains("field_service / consultation · stage · high"), "breaches name their process: {html}");
        assert!(html.contains(".n{text-align:right;white-space:nowrap}"), "values do not wrap");
        assert!(html.contains("target 85.0\u{a0}%") && !html.contains("target 85.0 %"), "nor inside a headline note");
        let md = render(&review(), ReviewFormat::Md);
        assert!(md.contains("| Quality-review pass rate | 75.0 % | 50.0 % | −25.0 pts | breach |"), "{md}");
        assert!(md.contains("| stage | field_service / consultation | high | 2 |"), "{md}");
        assert!(
            md.contains(
                "**120 opened · 97 resolved · 23 in the backlog at month end · SLA compliance 91.2 % · CSAT 80.0 % (target 85.0 %)**"
            ),
            "{md}"
        );
    }

    #[test]
    fn html_escapes_text_and_draws_inline_svg() {
        let html = render(&review(), ReviewFormat::Html);
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
        assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{html}");
        assert!(html.contains("Fix &lt;this&gt;, now"));
    }
}
