//! Webhooks: subscriptions that receive ticket events over HTTP, and the rules of delivering
//! them — which events a webhook wants, how a delivery is signed, when a failed one is retried.

use super::error::Errors;
use super::event::EventData;
use super::ids::{DeliveryId, TicketId, TicketNumber, WebhookId};
use super::string_enum;
use super::time::Timestamp;
use super::{FieldError, ValidationError};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stands for every event kind in a webhook's `event_kinds`.
pub const ALL_EVENTS: &str = "*";
/// Prefix of generated secrets, so leaked ones are recognisable.
pub const SECRET_PREFIX: &str = "whsec_";
pub const SECRET_MIN_CHARS: usize = 16;
pub const SECRET_MAX_CHARS: usize = 256;
pub const URL_MAX_BYTES: usize = 2048;

/// Which ticket events a webhook receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    /// Sorted, without repeats, never empty.
    Kinds(Vec<String>),
}

impl EventFilter {
    /// Parses `["*"]` or a list of event kinds; errors name `field[i]` for a bad entry.
    pub fn parse(field: &str, kinds: &[String]) -> Result<Self, ValidationError> {
        if kinds.is_empty() {
            return Err(ValidationError::field(field, format!("list at least one event kind, or \"{ALL_EVENTS}\" for all")));
        }
        if kinds.iter().any(|k| k == ALL_EVENTS) {
            return match kinds.len() {
                1 => Ok(EventFilter::All),
                _ => Err(ValidationError::field(field, format!("\"{ALL_EVENTS}\" already means every kind; list it alone"))),
            };
        }
        let mut errors = Errors::default();
        for (i, kind) in kinds.iter().enumerate() {
            let staff_kinds = super::training::StaffEventData::KINDS;
            if !EventData::KINDS.contains(&kind.as_str()) && !staff_kinds.contains(&kind.as_str()) {
                errors.push(FieldError::new(
                    format!("{field}[{i}]"),
                    format!("`{kind}` is not one of: {}, {}, {ALL_EVENTS}", EventData::KINDS.join(", "), staff_kinds.join(", ")),
                ));
            }
        }
        errors.finish()?;
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        Ok(EventFilter::Kinds(kinds))
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Kinds(kinds) => kinds.iter().any(|k| k == kind),
        }
    }

    /// The wire and storage form: `["*"]` or the kinds.
    pub fn to_list(&self) -> Vec<String> {
        match self {
            EventFilter::All => vec![ALL_EVENTS.to_owned()],
            EventFilter::Kinds(kinds) => kinds.clone(),
        }
    }
}

/// A subscription: Steward POSTs the ticket events it wants to `url`, signed with `secret`.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: EventFilter,
    /// Kept in the clear: signing needs it. Shown to clients only when the webhook is created.
    pub secret: String,
    /// An inactive webhook gets no new deliveries, and its pending ones wait until it is active again.
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new webhook as a client asked for it.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    pub url: String,
    pub event_kinds: Vec<String>,
    /// Generated when absent.
    pub secret: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub event_kinds: Option<Vec<String>>,
    pub secret: Option<String>,
    pub active: Option<bool>,
}

impl Webhook {
    pub fn create(input: WebhookInput, now: Timestamp) -> Result<Webhook, ValidationError> {
        let mut errors = Errors::default();
        let url = errors.take(parse_url("url", &input.url));
        let events = take_all(&mut errors, EventFilter::parse("event_kinds", &input.event_kinds));
        let secret = match input.secret {
            Some(secret) => errors.take(check_secret("secret", secret)),
            None => Some(generate_secret()),
        };
        errors.finish()?;
        Ok(Webhook {
            id: WebhookId::new_at(now),
            url: url.expect("validated"),
            events: events.expect("validated"),
            secret: secret.expect("validated"),
            active: input.active,
            created_at: now,
            updated_at: now,
        })
    }

    pub fn apply(&self, patch: WebhookPatch, now: Timestamp) -> Result<Webhook, ValidationError> {
        let mut next = self.clone();
        let mut errors = Errors::default();
        if let Some(url) = patch.url {
            next.url = errors.take(parse_url("url", &url)).unwrap_or_default();
        }
        if let Some(kinds) = patch.event_kinds {
            next.events = take_all(&mut errors, EventFilter::parse("event_kinds", &kinds)).unwrap_or(EventFilter::All);
        }
        if let Some(secret) = patch.secret {
            next.secret = errors.take(check_secret("secret", secret)).unwrap_or_default();
        }
        if let Some(active) = patch.active {
            next.active = active;
        }
        errors.finish()?;
        next.updated_at = now;
        Ok(next)
    }
}

fn take_all<T>(errors: &mut Errors, result: Result<T, ValidationError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            e.errors.into_iter().for_each(|e| errors.push(e));
            None
        }
    }
}

/// An absolute http(s) URL with a host, in normalised form. Credentials are refused: the URL is
/// shown to every admin and written to logs, and the signature already authenticates Steward.
pub fn parse_url(field: &str, text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    let bad = |why: &str| Err(FieldError::new(field, why.to_owned()));
    if text.len() > URL_MAX_BYTES {
        return bad("must be at most 2048 bytes");
    }
    let Ok(url) = url::Url::parse(text) else {
        return bad("must be an absolute URL such as https://example.com/hooks/steward");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("must be an http or https URL");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry credentials; receivers verify the Steward-Signature header instead");
    }
    if url.fragment().is_some() {
        return bad("must not have a #fragment");
    }
    Ok(url.to_string())
}

fn check_secret(field: &str, secret: String) -> Result<String, FieldError> {
    match secret.chars().count() {
        n if n < SECRET_MIN_CHARS => Err(FieldError::new(field, format!("must be at least {SECRET_MIN_CHARS} characters"))),
        n if n > SECRET_MAX_CHARS => Err(FieldError::new(field, format!("must be at most {SECRET_MAX_CHARS} characters"))),
        _ => Ok(secret),
    }
}

/// 256 random bits, prefixed.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The `Steward-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
/// The time is signed too, so a receiver can refuse a replayed old request.
pub fn signature_header(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut signed = format!("{unix_seconds}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={unix_seconds},v1={}", hmac_sha256_hex(secret.as_bytes(), &signed))
}

pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

string_enum! {
    /// Where a delivery stands: `pending` (to be sent or retried), `delivered` (a 2xx answer;
    /// never sent again) or `failed` (every allowed attempt failed).
    pub enum DeliveryState {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
}

/// How one attempt ended: the receiver's status code, or why no answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Status(u16),
    Error(String),
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, AttemptOutcome::Status(200..=299))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    pub duration_ms: i64,
    pub outcome: AttemptOutcome,
}

/// One event for one webhook, with every attempt made so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    /// A ticket event's delivery names the ticket and the event's seq …
    pub ticket_id: Option<TicketId>,
    pub ticket_number: Option<TicketNumber>,
    pub seq: Option<i64>,
    /// … a staff event's names the event.
    pub staff_event_id: Option<super::ids::StaffEventId>,
    pub event_kind: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    /// Set while pending.
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// When failed deliveries are tried again: exponential backoff with jitter, up to a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: i64,
    pub max_ms: i64,
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait after `failed_attempts` (≥ 1) failures: `base · 2^(failed_attempts − 1)`, capped
    /// at `max`, less up to a quarter of it by `jitter` in [0, 1), so that receivers coming back
    /// from an outage are not hit by every retry at the same instant.
    pub fn delay_ms(&self, failed_attempts: u32, jitter: f64) -> i64 {
        let doublings = failed_attempts.saturating_sub(1);
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        let full = (self.base_ms.max(0) as u64).saturating_mul(factor).min(self.max_ms.max(0) as u64) as i64;
        full - (full as f64 * jitter.clamp(0.0, 1.0) / 4.0) as i64
    }

    /// What follows attempt number `attempt` (from 1) that ended with `outcome`: the new state
    /// and, while still pending, when to try again.
    pub fn after_attempt(&self, attempt: u32, outcome: &AttemptOutcome, now: Timestamp, jitter: f64) -> (DeliveryState, Option<Timestamp>) {
        if outcome.succeeded() {
            (DeliveryState::Delivered, None)
        } else if attempt >= self.max_attempts {
            (DeliveryState::Failed, None)
        } else {
            (DeliveryState::Pending, Some(now.plus_millis(self.delay_ms(attempt, jitter))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn input(url: &str, event_kinds: &[&str], secret: Option<&str>) -> WebhookInput {
        WebhookInput { url: url.into(), event_kinds: kinds(event_kinds), secret: secret.map(Into::into), active: true }
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_signs_the_time_and_the_body() {
        let header = signature_header("whsec_test-secret-123", 1_767_225_600, br#"{"id":"x"}"#);
        let expected = hmac_sha256_hex(b"whsec_test-secret-123", br#"1767225600.{"id":"x"}"#);
        assert_eq!(header, format!("t=1767225600,v1={expected}"));
        assert_ne!(header, signature_header("whsec_test-secret-123", 1_767_225_601, br#"{"id":"x"}"#));
        assert_ne!(header, signature_header("whsec_test-secret-123", 1_767_225_600, br#"{"id":"y"}"#));
        assert_ne!(header, signature_header("whsec_other-secret-99", 1_767_225_600, br#"{"id":"x"}"#));
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let policy = RetryPolicy { base_ms: 1_000, max_ms: 3_600_000, max_attempts: 20 };
        let delays: Vec<_> = (1..=14).map(|n| policy.delay_ms(n, 0.0)).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_024_000, 2_048_000, 3_600_000, 3_600_000]
        );
        assert_eq!(policy.delay_ms(500, 0.0), 3_600_000, "no overflow far past the cap");
    }

    #[test]
    fn jitter_shortens_a_delay_by_at_most_a_quarter() {
        let policy = RetryPolicy { base_ms: 1_000, max_ms: 3_600_000, max_attempts: 20 };
        assert_eq!(policy.delay_ms(3, 0.5), 3_500);
        assert!(policy.delay_ms(3, 0.999_999) > 3_000);
        assert_eq!(policy.delay_ms(20, 0.999_999), 2_700_001, "jitter applies below the cap too");
    }

    #[test]
    fn an_attempt_leads_to_delivered_retry_or_failed() {
        let policy = RetryPolicy { base_ms: 1_000, max_ms: 60_000, max_attempts: 3 };
        let now = Timestamp::from_millis(1_000_000);
        assert_eq!(policy.after_attempt(1, &AttemptOutcome::Status(204), now, 0.0), (DeliveryState::Delivered, None));
        assert_eq!(
            policy.after_attempt(1, &AttemptOutcome::Status(500), now, 0.0),
            (DeliveryState::Pending, Some(Timestamp::from_millis(1_001_000)))
        );
        assert_eq!(
            policy.after_attempt(2, &AttemptOutcome::Error("timed out".into()), now, 0.0),
            (DeliveryState::Pending, Some(Timestamp::from_millis(1_002_000)))
        );
        assert_eq!(policy.after_attempt(3, &AttemptOutcome::Status(302), now, 0.0), (DeliveryState::Failed, None));
        assert_eq!(policy.after_attempt(3, &AttemptOutcome::Status(200), now, 0.0), (DeliveryState::Delivered, None));
    }

    #[test]
    fn filters_match_listed_kinds_or_everything() {
        let all = EventFilter::parse("event_kinds", &kinds(&["*"])).unwrap();
        assert!(EventData::KINDS.iter().all(|k| all.matches(k)));
        let some = EventFilter::parse("event_kinds", &kinds(&["stage_changed", "created", "created"])).unwrap();
        assert_eq!(some.to_list(), ["created", "stage_changed"]);
        assert!(some.matches("created") && !some.matches("comment_added"));
    }

    #[test]
    fn bad_filters_name_the_entry() {
        let e = EventFilter::parse("event_kinds", &kinds(&["created", "closed"])).unwrap_err();
        assert_eq!(e.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["event_kinds[1]"]);
        assert!(e.errors[0].message.contains("comment_added"), "{e}");
        assert_eq!(EventFilter::parse("event_kinds", &[]).unwrap_err().errors[0].field, "event_kinds");
        assert_eq!(EventFilter::parse("event_kinds", &kinds(&["*", "created"])).unwrap_err().errors[0].field, "event_kinds");
    }

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert_eq!(parse_url("url", " https://hooks.example.com/steward ").unwrap(), "https://hooks.example.com/steward");
        assert_eq!(parse_url("url", "http://127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000/");
        for bad in ["", "hooks.example.com", "/relative", "ftp://example.com/x", "https://user:pw@example.com/", "https://example.com/#x"] {
            assert_eq!(parse_url("url", bad).unwrap_err().field, "url", "{bad}");
        }
    }

    #[test]
    fn create_generates_a_secret_or_checks_the_given_one() {
        let now = Timestamp::from_millis(1_767_225_600_000);
        let generated = Webhook::create(input("https://example.com/h", &["*"], None), now).unwrap();
        assert!(generated.secret.starts_with(SECRET_PREFIX) && generated.secret.len() > 40);
        let given = Webhook::create(input("https://example.com/h", &["*"], Some("0123456789abcdef")), now).unwrap();
        assert_eq!(given.secret, "0123456789abcdef");
        let e = Webhook::create(input("mailto:x", &["nope"], Some("short")), now).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "event_kinds[0]", "secret"], "every bad field at once");
    }

    #[test]
    fn patch_changes_only_what_it_names() {
        let now = Timestamp::from_millis(1_767_225_600_000);
        let hook = Webhook::create(input("https://example.com/h", &["created"], Some("0123456789abcdef")), now).unwrap();
        let later = now.plus_millis(5);
        let next = hook.apply(WebhookPatch { active: Some(false), ..WebhookPatch::default() }, later).unwrap();
        assert_eq!(
            (next.active, next.url.as_str(), next.secret.as_str(), next.updated_at),
            (false, hook.url.as_str(), hook.secret.as_str(), later)
        );
        let e = hook
            .apply(WebhookPatch { secret: Some("tiny".into()), event_kinds: Some(vec![]), ..WebhookPatch::default() }, later)
            .unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["event_kinds", "secret"]);
    }
}
