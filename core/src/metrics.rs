//! Prometheus metrics. Each `Application` owns its registry (tests run several in one process).
//! Labels are bounded: routes are matched templates, never raw paths.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
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
        for collector in [
            Box::new(http_requests_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_request_duration_seconds.clone()),
            Box::new(build_info),
        ] {
            registry.register(collector).expect("metric registered once");
        }
        Metrics { registry, http_requests_total, http_request_duration_seconds }
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
