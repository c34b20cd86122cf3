//! The monthly review's formats: JSON, Markdown, a standalone HTML page with inline SVG charts
//! (no external assets), and CSV. Used by `GET /api/v1/reports/review` and by
//! `steward report review`.

use super::kpis::KpiView;
use serde_json::{json, Value};
use std::fmt::Write;
use steward_domain::kpi::{format_seconds, Unit};
use steward_domain::review::{Section, ServiceReview};
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

fn seconds_opt(ms: Option<f64>) -> Value {
    ms.map_or(Value::Null, |m| json!(m / 1000.0))
}

pub fn to_json(review: &ServiceReview) -> Value {
    let sections: Vec<Value> = review
        .sections
        .iter()
        .map(|section| {
            let items: Vec<Value> = match section {
                Section::Kpis(lines) => lines
                    .iter()
                    .map(|l| {
                        let mut v = serde_json::to_value(KpiView::from(&l.kpi)).expect("views serialise");
                        v["previous"] = json!(l.previous);
                        v
                    })
                    .collect(),
                Section::Breaches(b) => {
                    b.iter().map(|b| json!({"clock": b.clock, "stage": b.stage, "priority": b.priority, "count": b.count})).collect()
                }
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
                    let mut items = vec![json!({"training_compliance": t.compliance, "staff_considered": t.staff_considered})];
                    items.extend(
                        t.expiring
                            .iter()
                            .map(|(staff, course, at)| json!({"staff": staff, "certification": course, "expires_at": at.to_string()})),
                    );
                    items
                }
                Section::Improvements(p) => p.iter().map(|p| json!(p)).collect(),
            };
            json!({"key": section.key(), "title": section.title(), "items": items})
        })
        .collect();
    json!({
        "month": review.month.to_string(),
        "previous_month": review.month.previous().to_string(),
        "from": review.period.from,
        "to": review.period.to,
        "generated_at": review.generated_at,
        "sections": sections,
    })
}

fn opt(v: Option<f64>, unit: Unit) -> String {
    v.map_or_else(|| "–".to_owned(), |v| unit.format(v))
}

fn markdown(review: &ServiceReview) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Service review {}\n", review.month);
    let _ = writeln!(
        out,
        "Tickets opened from {} to {} (UTC), compared with {}.\n",
        review.period.from,
        review.period.to,
        review.month.previous()
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
            Section::Breaches(b) if b.is_empty() => out.push_str("No SLA breaches.\n"),
            Section::Breaches(b) => {
                out.push_str("| clock | stage | priority | breaches |\n|---|---|---|---:|\n");
                for b in b {
                    let _ = writeln!(out, "| {} | {} | {} | {} |", b.clock, b.stage.as_deref().unwrap_or("–"), b.priority, b.count);
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
                let share = t.compliance.map_or("no staff needs a certification".to_owned(), |c| format!("{:.0} %", c * 100.0));
                let _ = writeln!(out, "Training compliance: {share} ({} staff considered).\n", t.staff_considered);
                if t.expiring.is_empty() {
                    out.push_str("No certification expires soon.\n");
                } else {
                    out.push_str("| staff | certification | expires |\n|---|---|---|\n");
                    for (staff, course, at) in &t.expiring {
                        let _ = writeln!(out, "| {staff} | {course} | {at} |");
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

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A small horizontal bar chart; `marks` draws a target line per bar when given.
fn svg_bars(title: &str, bars: &[(String, f64, Option<f64>)], fmt: impl Fn(f64) -> String) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let max = bars.iter().map(|(_, v, t)| v.max(t.unwrap_or(0.0))).fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let (label_w, bar_w, row_h) = (220.0, 360.0, 22.0);
    let height = row_h * bars.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{}\" height=\"{height}\" aria-label=\"{}\">",
        label_w + bar_w + 110.0,
        esc(title)
    );
    let _ = write!(svg, "<text x=\"0\" y=\"14\" class=\"t\">{}</text>", esc(title));
    for (i, (label, value, target)) in bars.iter().enumerate() {
        let y = 24.0 + row_h * i as f64;
        let w = (value / max * bar_w).max(1.0);
        let _ = write!(svg, "<text x=\"0\" y=\"{}\">{}</text>", y + 13.0, esc(label));
        let _ = write!(svg, "<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" class=\"b\"/>");
        if let Some(t) = target {
            let x = label_w + t / max * bar_w;
            let _ = write!(svg, "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" class=\"m\"/>", y - 2.0, y + 18.0);
        }
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{}\">{}</text>", label_w + w + 6.0, y + 13.0, esc(&fmt(*value)));
    }
    svg.push_str("</svg>");
    svg
}

fn html(review: &ServiceReview) -> String {
    let mut body = String::new();
    for section in &review.sections {
        let _ = write!(body, "<section id=\"{}\"><h2>{}</h2>", section.key(), esc(section.title()));
        match section {
            Section::Kpis(lines) => {
                let rates: Vec<_> = lines
                    .iter()
                    .filter(|l| l.kpi.unit == Unit::Ratio)
                    .filter_map(|l| Some((l.kpi.label(), l.kpi.value?, l.kpi.target.map(|t| t.value))))
                    .collect();
                body.push_str(&svg_bars("Rates (line: target)", &rates, |v| Unit::Ratio.format(v)));
                body.push_str(
                    "<table><tr><th>KPI</th><th>value</th><th>previous month</th><th>target</th><th>status</th><th>sample</th></tr>",
                );
                for l in lines {
                    let k = &l.kpi;
                    let status = k.status().map_or("–", |s| s.as_str());
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"s {status}\">{status}</td><td class=\"n\">{}</td></tr>",
                        esc(&k.label()),
                        esc(&k.display_value()),
                        esc(&opt(l.previous, k.unit)),
                        esc(&opt(k.target.map(|t| t.value), k.unit)),
                        k.sample
                    );
                }
                body.push_str("</table>");
            }
            Section::Breaches(b) => {
                let bars: Vec<_> = b
                    .iter()
                    .map(|b| (format!("{} {} · {}", b.clock, b.stage.as_deref().unwrap_or(""), b.priority), b.count as f64, None))
                    .collect();
                body.push_str(&svg_bars("SLA breaches", &bars, |v| format!("{v:.0}")));
                if b.is_empty() {
                    body.push_str("<p>No SLA breaches.</p>");
                }
            }
            Section::WeakestStages(s) => {
                let bars: Vec<_> = s
                    .iter()
                    .map(|s| (format!("{}/{}", s.dwell.process, s.dwell.stage), s.dwell.mean_ms.unwrap_or(0.0) / 1000.0, s.target_seconds))
                    .collect();
                body.push_str(&svg_bars("Mean dwell time (line: target)", &bars, format_seconds));
                if s.is_empty() {
                    body.push_str("<p>No stage data.</p>");
                }
            }
            Section::Partners(p) => {
                let bars: Vec<_> = p.iter().map(|p| (format!("{} ({})", p.name, p.grade), p.score.unwrap_or(0.0), None)).collect();
                body.push_str(&svg_bars("Partner scores (0–100)", &bars, |v| format!("{v:.0}")));
                if p.is_empty() {
                    body.push_str("<p>No partners.</p>");
                }
            }
            Section::Training(t) => {
                let share = t.compliance.map_or("no staff needs a certification".to_owned(), |c| format!("{:.0} %", c * 100.0));
                let _ = write!(body, "<p>Training compliance: {} ({} staff considered).</p>", esc(&share), t.staff_considered);
                if t.expiring.is_empty() {
                    body.push_str("<p>No certification expires soon.</p>");
                } else {
                    body.push_str("<table><tr><th>staff</th><th>certification</th><th>expires</th></tr>");
                    for (staff, course, at) in &t.expiring {
                        let _ = write!(body, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(staff), esc(course), at);
                    }
                    body.push_str("</table>");
                }
            }
            Section::ComplaintTags(t) => {
                let bars: Vec<_> = t.iter().map(|(tag, n)| (tag.clone(), *n as f64, None)).collect();
                body.push_str(&svg_bars("Complaints by tag", &bars, |v| format!("{v:.0}")));
                if t.is_empty() {
                    body.push_str("<p>No complaints.</p>");
                }
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
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}}\
         .n{{text-align:right}}.s.ok{{color:#1a7f37}}.s.warning{{color:#9a6700}}.s.breach{{color:#cf222e;font-weight:bold}}\
         svg text{{font-size:12px;fill:#222}}svg .t{{font-weight:bold}}svg .b{{fill:#4c78a8}}svg .m{{stroke:#cf222e;stroke-width:2}}\
         </style></head>\n<body><h1>Service review {month}</h1><p>Tickets opened from {from} to {to} (UTC), compared with {previous}. Generated {at}.</p>\n{body}\n</body></html>\n",
        month = review.month,
        from = review.period.from,
        to = review.period.to,
        previous = review.month.previous(),
        at = review.generated_at,
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

/// One row per figure: `section,item,dimension,value,previous,target,status,sample`.
fn csv(review: &ServiceReview) -> String {
    let mut rows = vec!["section,item,dimension,value,previous,target,status,sample".to_owned()];
    let mut push = |fields: [String; 8]| rows.push(fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
    for section in &review.sections {
        let key = section.key().to_owned();
        match section {
            Section::Kpis(lines) => {
                for l in lines {
                    let k = &l.kpi;
                    push([
                        key.clone(),
                        k.key.clone(),
                        k.dimension.clone().unwrap_or_default(),
                        num(k.value),
                        num(l.previous),
                        num(k.target.map(|t| t.value)),
                        k.status().map_or("", |s| s.as_str()).to_owned(),
                        k.sample.to_string(),
                    ]);
                }
            }
            Section::Breaches(b) => {
                for b in b {
                    let dim = format!("{}/{}", b.stage.as_deref().unwrap_or(""), b.priority);
                    push([
                        key.clone(),
                        b.clock.clone(),
                        dim,
                        b.count.to_string(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            Section::WeakestStages(s) => {
                for s in s {
                    push([
                        key.clone(),
                        "stage_dwell_time".into(),
                        format!("{}/{}", s.dwell.process, s.dwell.stage),
                        num(s.dwell.mean_ms.map(|m| m / 1000.0)),
                        String::new(),
                        num(s.target_seconds),
                        String::new(),
                        s.dwell.completed.to_string(),
                    ]);
                }
            }
            Section::Partners(p) => {
                for p in p {
                    push([
                        key.clone(),
                        "partner_score".into(),
                        p.name.clone(),
                        num(p.score),
                        String::new(),
                        String::new(),
                        p.grade.clone(),
                        p.delegated.to_string(),
                    ]);
                }
            }
            Section::Training(t) => {
                push([
                    key.clone(),
                    "training_compliance".into(),
                    String::new(),
                    num(t.compliance),
                    String::new(),
                    String::new(),
                    String::new(),
                    t.staff_considered.to_string(),
                ]);
                for (staff, course, at) in &t.expiring {
                    push([
                        key.clone(),
                        "certification_expires".into(),
                        format!("{staff}/{course}"),
                        at.to_string(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            Section::ComplaintTags(t) => {
                for (tag, n) in t {
                    push([
                        key.clone(),
                        "complaints".into(),
                        tag.clone(),
                        n.to_string(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            Section::Improvements(p) => {
                for (i, p) in p.iter().enumerate() {
                    push([
                        key.clone(),
                        (i + 1).to_string(),
                        String::new(),
                        p.clone(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
        }
    }
    rows.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_domain::kpi::{Kpi, Month};
    use steward_domain::review::KpiLine;
    use steward_domain::time::Timestamp;

    fn review() -> ServiceReview {
        let month = Month::parse("month", "2026-11").unwrap();
        ServiceReview {
            month,
            period: month.period(),
            generated_at: Timestamp::from_millis(0),
            sections: vec![
                Section::Kpis(vec![KpiLine { kpi: Kpi::new("backlog", "Backlog", Unit::Count, Some(3.0), 3), previous: Some(1.0) }]),
                Section::ComplaintTags(vec![("a,\"b\"".into(), 2), ("<script>".into(), 1)]),
                Section::Improvements(vec!["Fix <this>, now".into()]),
            ],
        }
    }

    #[test]
    fn csv_quotes_fields_that_need_it() {
        let csv = render(&review(), ReviewFormat::Csv);
        assert!(csv.contains("kpis,backlog,,3,1,,,3\n"), "{csv}");
        assert!(csv.contains("complaint_tags,complaints,\"a,\"\"b\"\"\",2,"), "{csv}");
        assert!(csv.contains("improvements,1,,\"Fix <this>, now\","), "{csv}");
    }

    #[test]
    fn html_escapes_text_and_draws_inline_svg() {
        let html = render(&review(), ReviewFormat::Html);
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
        assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{html}");
        assert!(html.contains("Fix &lt;this&gt;, now"));
    }
}
