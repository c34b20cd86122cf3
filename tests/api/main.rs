//! End-to-end tests: the real server on port 0, fresh database per test, spoken to over HTTP.
//! One binary for the whole suite so it links once.

mod helpers;

mod attachments;
mod browser;
mod chinese_pages;
mod cli;
mod concurrency;
mod console;
mod console_screens;
mod errors;
mod feedback;
mod first_day;
mod golden;
mod hardening;
mod improvements;
mod kpis;
mod layering;
mod live_updates;
mod logins;
mod mail_inbound;
mod mail_outbound;
mod mail_pages;
mod observability;
mod partners;
mod plugins;
mod processes;
mod queue_backfill;
mod queue_pages;
mod readme;
mod schema;
mod seed;
mod sign_in_pages;
mod sla;
mod sla_admin_pages;
mod sla_calendars;
mod staff;
mod staff_pages;
mod storage_story;
mod system;
mod ticket_page;
mod tickets;
mod tokens;
mod training;
mod webhooks;
