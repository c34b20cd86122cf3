//! Prometheus metrics. Each `Application` owns its registry (tests run several in one process).
//! Labels are bounded: routes are matched templates, never raw paths; ticket metrics are
//! labelled by closed sets (channel, priority, kind, clock, score, outcome) or by configured
//! names (process, stage, status), never by ticket.
//!
//! Counters and histograms move when the services commit ticket events
//! ([`Metrics::observe_ticket`]); gauges that need the database are set by a background task
//! ([`Metrics::set_open_tickets`], [`Metrics::set_at_risk`]). A scrape only encodes what is
//! already in memory.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use steward_domain::event::EventData;
use steward_domain::ticket::{Kind, Ticket};

/// Histogram bounds in seconds, at the shipped SLA and stage targets (20 s, 30 s, 1 min,
/// 15 min, 1 h, 2 h, 4 h, 8 h, 24 h, 2 d, 3 d) with a few steps between.
pub const TICKET_SECONDS_BUCKETS: &[f64] =
    &[10.0, 20.0, 30.0, 60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 28_800.0, 86_400.0, 172_800.0, 259_200.0, 604_800.0];

pub struct Metrics {
    registry: Registry,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    tickets_created: IntCounterVec,
    tickets_resolved: IntCounterVec,
    tickets_reopened: IntCounterVec,
    first_response_seconds: HistogramVec,
    resolution_seconds: HistogramVec,
    sla_breaches: IntCounterVec,
    csat_responses: IntCounterVec,
    complaints: IntCounterVec,
    reviews: IntCounterVec,
    tickets_open: IntGaugeVec,
    sla_at_risk: IntGaugeVec,
    gauges_refreshed: IntGauge,
    plugin_kpis: prometheus::GaugeVec,
    certifications: IntGaugeVec,
    partner_scores: prometheus::GaugeVec,
    webhook_deliveries: IntCounterVec,
    webhook_queue_depth: IntGauge,
    webhook_oldest_pending: prometheus::Gauge,
    attachments_added: IntCounterVec,
    attachment_bytes_added: IntCounterVec,
    mail_attempts: IntCounterVec,
    mail_outbox_depth: IntGauge,
    mail_messages: IntCounterVec,
    mail_quarantine_size: IntGauge,
    improvements_overdue: IntGauge,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn seconds_histogram(name: &str, help: &str) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(TICKET_SECONDS_BUCKETS.to_vec()), &["channel", "priority"])
        .expect("valid metric")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests_total = IntCounterVec::new(
            Opts::new("steward_http_requests_total", "HTTP requests answered, by method, route template and status code."),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new("steward_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "route"],
        )
        .expect("valid metric");
        let build_info =
            IntGaugeVec::new(Opts::new("steward_build_info", "Always 1; labels say which Steward build is running."), &["version"])
                .expect("valid metric");
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        const TICKET: &[&str] = &["channel", "priority", "kind"];
        let m = Metrics {
            tickets_created: counter("steward_tickets_created_total", "Tickets opened.", TICKET),
            tickets_resolved: counter("steward_tickets_resolved_total", "Tickets resolved (again after a reopen, too).", TICKET),
            tickets_reopened: counter("steward_tickets_reopened_total", "Resolved or closed tickets reopened in place.", TICKET),
            first_response_seconds: seconds_histogram(
                "steward_ticket_first_response_seconds",
                "Wall-clock time from opening a ticket to its first public staff reply.",
            ),
            resolution_seconds: seconds_histogram(
                "steward_ticket_resolution_seconds",
                "Wall-clock time from opening a ticket to its resolution.",
            ),
            sla_breaches: counter(
                "steward_sla_breaches_total",
                "SLA clocks that exceeded their target, by clock kind.",
                &["clock", "priority"],
            ),
            csat_responses: counter("steward_csat_responses_total", "Satisfaction survey answers, by score (1-5).", &["score"]),
            complaints: counter("steward_complaints_total", "Complaint tickets opened.", &["channel", "priority"]),
            reviews: counter("steward_quality_reviews_total", "Quality reviews recorded, by outcome.", &["outcome"]),
            tickets_open: gauge(
                "steward_tickets_open",
                "Tickets not resolved or closed, by process, stage and status (refreshed from the database).",
                &["process", "stage", "status"],
            ),
            sla_at_risk: gauge(
                "steward_sla_at_risk",
                "SLA clocks past their warning threshold and not yet breached, by clock kind (refreshed from the database).",
                &["clock"],
            ),
            certifications: gauge(
                "steward_certifications",
                "Certifications of active staff by state (valid, expiring, expired, missing), one per person and certifying course (refreshed from the database).",
                &["state"],
            ),
            partner_scores: prometheus::GaugeVec::new(
                Opts::new("steward_partner_score", "Each partner's built-in scorecard (0–100) over the scorecard window; only with metrics.partner_labels."),
                &["partner"],
            )
            .expect("valid metric"),
            plugin_kpis: prometheus::GaugeVec::new(
                Opts::new("steward_kpi", "Custom KPIs computed by plugins over the last 30 days (refreshed with the database gauges)."),
                &["kpi"],
            )
            .expect("valid metric"),
            webhook_deliveries: counter(
                "steward_webhook_deliveries_total",
                "Webhook delivery attempts recorded by this node, by outcome: delivered, retrying (failed, tried again later) or failed (given up).",
                &["outcome"],
            ),
            webhook_queue_depth: IntGauge::new(
                "steward_webhook_queue_depth",
                "Webhook deliveries waiting to be sent (pending, of active webhooks; refreshed from the database).",
            )
            .expect("valid metric"),
            webhook_oldest_pending: prometheus::Gauge::new(
                "steward_webhook_oldest_pending_age_seconds",
                "How long the oldest pending webhook delivery has waited, 0 when none waits (refreshed from the database).",
            )
            .expect("valid metric"),
            attachments_added: counter(
                "steward_attachments_stored_total",
                "Files attached to tickets, by where they came from (api, console or mail); the same content attached twice counts twice.",
                &["source"],
            ),
            attachment_bytes_added: counter(
                "steward_attachment_bytes_stored_total",
                "Bytes of the files attached to tickets, by where they came from (per attachment; each distinct content is kept once).",
                &["source"],
            ),
            mail_attempts: counter(
                "steward_mail_sent_total",
                "Outbound mail attempts recorded by this node, by outcome: sent, retrying (failed, tried again later) or failed (given up).",
                &["outcome"],
            ),
            mail_outbox_depth: IntGauge::new(
                "steward_mail_outbox_depth",
                "Mail waiting in the outbox to be sent (pending; refreshed from the database).",
            )
            .expect("valid metric"),
            mail_messages: counter(
                "steward_mail_messages_total",
                "Inbound mail messages by outcome: received (stored), imported (a ticket or a comment), ignored (loops, delivery reports), quarantined, refused (over the size cap).",
                &["outcome"],
            ),
            mail_quarantine_size: IntGauge::new(
                "steward_mail_quarantine_size",
                "Inbound messages waiting in the quarantine (refreshed from the database).",
            )
            .expect("valid metric"),
            improvements_overdue: IntGauge::new(
                "steward_improvements_overdue",
                "Improvement actions past their due day, neither done nor dropped (refreshed from the database).",
            )
            .expect("valid metric"),
            gauges_refreshed: IntGauge::new(
                "steward_metrics_refreshed_timestamp_seconds",
                "When the database-derived gauges were last refreshed (Unix time).",
            )
            .expect("valid metric"),
            registry,
            http_requests_total,
            http_request_duration_seconds,
        };
        for collector in [
            Box::new(m.http_requests_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.http_request_duration_seconds.clone()),
            Box::new(build_info),
            Box::new(m.tickets_created.clone()),
            Box::new(m.tickets_resolved.clone()),
            Box::new(m.tickets_reopened.clone()),
            Box::new(m.first_response_seconds.clone()),
            Box::new(m.resolution_seconds.clone()),
            Box::new(m.sla_breaches.clone()),
            Box::new(m.csat_responses.clone()),
            Box::new(m.complaints.clone()),
            Box::new(m.reviews.clone()),
            Box::new(m.tickets_open.clone()),
            Box::new(m.sla_at_risk.clone()),
            Box::new(m.gauges_refreshed.clone()),
            Box::new(m.plugin_kpis.clone()),
            Box::new(m.certifications.clone()),
            Box::new(m.partner_scores.clone()),
            Box::new(m.webhook_deliveries.clone()),
            Box::new(m.webhook_queue_depth.clone()),
            Box::new(m.webhook_oldest_pending.clone()),
            Box::new(m.attachments_added.clone()),
            Box::new(m.attachment_bytes_added.clone()),
            Box::new(m.mail_attempts.clone()),
            Box::new(m.mail_outbox_depth.clone()),
            Box::new(m.mail_messages.clone()),
            Box::new(m.mail_quarantine_size.clone()),
            Box::new(m.improvements_overdue.clone()),
        ] {
            m.registry.register(collector).expect("metric registered once");
        }
        // Every outcome is a series from the start, so a rate over it is 0 rather than absent.
        for outcome in WEBHOOK_OUTCOMES {
            m.webhook_deliveries.with_label_values(&[outcome]);
        }
        for source in crate::attachments::AttachmentSource::ALL {
            m.attachments_added.with_label_values(&[source.as_str()]);
            m.attachment_bytes_added.with_label_values(&[source.as_str()]);
        }
        for outcome in MAIL_OUTCOMES {
            m.mail_attempts.with_label_values(&[outcome]);
        }
        for outcome in MAIL_INBOUND_OUTCOMES {
            m.mail_messages.with_label_values(&[outcome]);
        }
        m
    }

    /// Files attached (committed) from `source`, with their sizes.
    pub fn observe_attachments(&self, source: crate::attachments::AttachmentSource, sizes: impl IntoIterator<Item = u64>) {
        for size in sizes {
            self.attachments_added.with_label_values(&[source.as_str()]).inc();
            self.attachment_bytes_added.with_label_values(&[source.as_str()]).inc_by(size);
        }
    }

    /// One inbound message's outcome (one of [`MAIL_INBOUND_OUTCOMES`]).
    pub fn observe_mail(&self, outcome: &str) {
        self.mail_messages.with_label_values(&[outcome]).inc();
    }

    pub fn set_mail_quarantine(&self, size: u64) {
        self.mail_quarantine_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    pub fn set_improvements_overdue(&self, count: u64) {
        self.improvements_overdue.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// One recorded webhook attempt: `delivered`, `retrying` or `failed`.
    pub fn observe_webhook_attempt(&self, outcome: &str) {
        self.webhook_deliveries.with_label_values(&[outcome]).inc();
    }

    /// One recorded mail attempt: `sent`, `retrying` or `failed`.
    pub fn observe_mail_attempt(&self, outcome: &str) {
        self.mail_attempts.with_label_values(&[outcome]).inc();
    }

    pub fn set_mail_outbox_depth(&self, pending: u64) {
        self.mail_outbox_depth.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    pub fn set_webhook_queue(&self, pending: u64, oldest_age_seconds: f64) {
        self.webhook_queue_depth.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.webhook_oldest_pending.set(oldest_age_seconds);
    }

    /// Counts what a committed ticket change did: `before` is the ticket as it was (None for a
    /// new ticket), `after` as committed, `events` the events written.
    pub fn observe_ticket(&self, before: Option<&Ticket>, after: &Ticket, events: &[EventData]) {
        let (channel, priority, kind) = (after.channel.as_str(), after.priority.as_str(), after.kind.as_str());
        for event in events {
            match event {
                EventData::Created { .. } => {
                    self.tickets_created.with_label_values(&[channel, priority, kind]).inc();
                    if after.kind == Kind::Complaint {
                        self.complaints.with_label_values(&[channel, priority]).inc();
                    }
                }
                EventData::Reopened { .. } => self.tickets_reopened.with_label_values(&[channel, priority, kind]).inc(),
                EventData::CsatReceived { score, .. } => {
                    self.csat_responses.with_label_values(&[score_label(*score)]).inc();
                }
                EventData::Reviewed { outcome, .. } => self.reviews.with_label_values(&[outcome.as_str()]).inc(),
                EventData::SlaBreached { clock, .. } => {
                    let clock = match clock.kind.as_str() {
                        "first_response" => "first_response",
                        "resolution" => "resolution",
                        _ => "stage",
                    };
                    self.sla_breaches.with_label_values(&[clock, priority]).inc();
                }
                _ => {}
            }
        }
        let seconds = |from: steward_domain::time::Timestamp, to: steward_domain::time::Timestamp| {
            (to.as_millis().saturating_sub(from.as_millis())).max(0) as f64 / 1000.0
        };
        if let (None, Some(at)) = (before.and_then(|b| b.first_response_at), after.first_response_at) {
            self.first_response_seconds.with_label_values(&[channel, priority]).observe(seconds(after.created_at, at));
        }
        if let (None, Some(at)) = (before.and_then(|b| b.resolved_at), after.resolved_at) {
            self.tickets_resolved.with_label_values(&[channel, priority, kind]).inc();
            self.resolution_seconds.with_label_values(&[channel, priority]).observe(seconds(after.created_at, at));
        }
    }

    /// Replaces the open-ticket gauges with counts read from the database.
    pub fn set_open_tickets(&self, counts: &[(String, String, String, u64)]) {
        self.tickets_open.reset();
        for (process, stage, status, n) in counts {
            self.tickets_open.with_label_values(&[process, stage, status]).set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    /// Replaces the at-risk gauges; every clock kind is present (0 when none is at risk).
    pub fn set_at_risk(&self, counts: &[(String, u64)]) {
        for kind in steward_domain::clock::ClockKind::ALL {
            let n = counts.iter().find(|(k, _)| k == kind.as_str()).map_or(0, |(_, n)| *n);
            self.sla_at_risk.with_label_values(&[kind.as_str()]).set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Sets a partner's score; an unrated partner has no sample.
    pub fn set_partner_score(&self, partner: &str, score: Option<f64>) {
        match score {
            Some(s) => self.partner_scores.with_label_values(&[partner]).set(s),
            None => {
                let _ = self.partner_scores.remove_label_values(&[partner]);
            }
        }
    }

    pub fn set_certifications(&self, counts: &[(steward_domain::training::CertificationState, u64)]) {
        for (state, n) in counts {
            self.certifications.with_label_values(&[state.as_str()]).set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    /// Sets a plugin KPI's gauge; a KPI that could not be computed is removed rather than left stale.
    pub fn set_plugin_kpi(&self, kpi: &str, value: Option<f64>) {
        match value {
            Some(v) => self.plugin_kpis.with_label_values(&[kpi]).set(v),
            None => {
                let _ = self.plugin_kpis.remove_label_values(&[kpi]);
            }
        }
    }

    pub fn mark_refreshed(&self, unix_seconds: i64) {
        self.gauges_refreshed.set(unix_seconds);
    }

    /// The registry, for collectors defined elsewhere (the plugin host's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests_total.with_label_values(&[method, route, status_label(status)]).inc();
        self.http_request_duration_seconds.with_label_values(&[method, route]).observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(8 * 1024);
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("encoding to memory cannot fail");
        String::from_utf8(out).expect("exposition format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome labels of `steward_mail_sent_total`.
pub const MAIL_OUTCOMES: [&str; 3] = ["sent", "retrying", "failed"];

/// What happened to an inbound message, the `outcome` of `steward_mail_messages_total`.
pub const MAIL_INBOUND_OUTCOMES: [&str; 5] = ["received", "imported", "ignored", "quarantined", "refused"];

/// The outcome labels of `steward_webhook_deliveries_total`.
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retrying", "failed"];

fn score_label(score: u8) -> &'static str {
    match score {
        1 => "1",
        2 => "2",
        3 => "3",
        4 => "4",
        _ => "5",
    }
}

/// Status codes as static strings, so the hot path does not allocate a label.
fn status_label(status: u16) -> &'static str {
    const KNOWN: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (412, "412"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (428, "428"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    KNOWN.iter().find(|(code, _)| *code == status).map(|(_, s)| *s).unwrap_or(match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_build_info_and_http_series() {
        let m = Metrics::new();
        m.observe_http("GET", "/api/v1/tickets/{id}", 200, 0.002);
        let text = m.render();
        assert!(text.contains("steward_build_info{version=\""), "{text}");
        assert!(text.contains("steward_http_requests_total{method=\"GET\",route=\"/api/v1/tickets/{id}\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("steward_http_request_duration_seconds_bucket"), "{text}");
    }
}
