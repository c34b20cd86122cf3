//! Idempotency keys of ticket creation: what a client's key claims and what is replayed.

use crate::ticket::Ticket;

/// A response remembered under an Idempotency-Key, replayed verbatim for the same request.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// Renders the response to remember: status, body and Location.
pub type ResponseRenderer = Box<dyn FnOnce(&Ticket) -> (u16, String, Option<String>) + Send>;

/// Claims an Idempotency-Key in the transaction that creates the ticket, so a ticket is never
/// created twice under one key, even by concurrent requests.
pub struct IdempotencyClaim {
    pub principal: String,
    pub key: String,
    pub request_hash: String,
    /// Renders the response once the ticket (and its number) exist.
    pub render: ResponseRenderer,
}
