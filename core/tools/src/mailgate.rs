//! `steward mailgate`: an MTA pipes one message to it on stdin; it hands the message to the
//! server (`POST /api/v1/mail/inbound?source=mailgate`) and answers with the exit code the MTA
//! acts on (sysexits.h), as Request Tracker's rt-mailgate does: 0 taken (imported, ignored or
//! quarantined: the server has it), 75 try again later, 65 refused for good (bounced), 77 the
//! token is refused, 64 a usage error.

use std::time::Duration;

/// Taken: the server stored the message.
pub const EX_OK: u8 = 0;
/// The command was used wrongly (an unreadable token file, a bad URL).
pub const EX_USAGE: u8 = 64;
/// The server refused the message itself (too large, not a message): the MTA bounces it.
pub const EX_DATAERR: u8 = 65;
/// The server is unreachable, failing (5xx) or overloaded: the MTA keeps the message and retries.
pub const EX_TEMPFAIL: u8 = 75;
/// The token is missing, wrong or lacks the right: the MTA keeps the message (an operator fixes
/// the token), as it does for a temporary failure.
pub const EX_NOPERM: u8 = 77;

/// The outcome, with a line for the MTA's log.
pub struct Outcome {
    pub code: u8,
    pub message: String,
}

/// The exit code for the server's answer.
pub fn exit_code(status: u16) -> u8 {
    match status {
        200..=299 => EX_OK,
        401 | 403 => EX_NOPERM,
        // Too many requests or a timeout: later may work.
        408 | 429 => EX_TEMPFAIL,
        400..=499 => EX_DATAERR,
        _ => EX_TEMPFAIL,
    }
}

/// Hands `message` to the server at `url` with the token in `token_file`.
pub async fn deliver(url: &str, token_file: &std::path::Path, message: Vec<u8>, timeout: Duration) -> Outcome {
    let token = match std::fs::read_to_string(token_file) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
        Ok(_) => return Outcome { code: EX_USAGE, message: format!("the token file {} is empty", token_file.display()) },
        Err(e) => return Outcome { code: EX_USAGE, message: format!("cannot read the token file {}: {e}", token_file.display()) },
    };
    let endpoint = format!("{}/api/v1/mail/inbound?source=mailgate", url.trim_end_matches('/'));
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return Outcome { code: EX_TEMPFAIL, message: format!("cannot start an HTTP client: {e}") },
    };
    let response = client.post(&endpoint).bearer_auth(token).header("content-type", "message/rfc822").body(message).send().await;
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            let code = exit_code(status);
            let message = if code == EX_OK {
                let state = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| "stored".into());
                format!("taken: {state}")
            } else {
                let detail = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("detail").and_then(|s| s.as_str()).map(str::to_owned))
                    .unwrap_or(body);
                format!("the server answered {status}: {detail}")
            };
            Outcome { code, message }
        }
        Err(e) if e.is_builder() => Outcome { code: EX_USAGE, message: format!("bad --url {url}: {e}") },
        Err(e) => Outcome { code: EX_TEMPFAIL, message: format!("cannot reach {endpoint}: {e}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_an_mta_does() {
        assert_eq!(exit_code(202), EX_OK);
        assert_eq!(exit_code(413), EX_DATAERR);
        assert_eq!(exit_code(415), EX_DATAERR);
        assert_eq!(exit_code(401), EX_NOPERM);
        assert_eq!(exit_code(429), EX_TEMPFAIL);
        assert_eq!(exit_code(500), EX_TEMPFAIL);
        assert_eq!(exit_code(503), EX_TEMPFAIL);
    }
}
