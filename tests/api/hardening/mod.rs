//! Issue #13's drills, each a test that failed before its fix: control characters at the parsing
//! edge, `If-Match` semantics under concurrent writers, slow clients, webhook destinations that
//! probe the inside, failing plugin scorecards, and the OpenAPI document checked by schemathesis.

mod control_characters;
mod if_match;
mod malformed_heads;
mod schemathesis;
mod scorecards;
mod slow_clients;
mod ssrf;
