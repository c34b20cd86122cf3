//! The change feed behind live pages: after a ticket change commits, a hint goes out in-process
//! (a `watch` counter every open stream waits on) and, on PostgreSQL, to every other node (one
//! coalesced `pg_notify` per [`NOTIFY_COALESCE`], sent after commit by [`run_change_notifier`];
//! [`run_change_listener`] turns other nodes' notifications back into the in-process hint).
//!
//! A hint carries nothing. Whoever wakes reads the events after its own last position from the
//! database ([`Services::live_changes`]), so a lost hint delays nothing that the next hint, or
//! the stream's heartbeat, does not bring; nothing is lost.
//!
//! Presence ("also viewing"): each open stream on a ticket writes a row on its heartbeat
//! ([`PRESENCE_HEARTBEAT`]); rows not refreshed within [`PRESENCE_EXPIRY`] no longer count.

use crate::{ServiceError, Services};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steward_domain::auth::{Permission, Principal};
use steward_domain::event::EventPosition;
use steward_domain::ids::{TicketId, TicketNumber, TicketRef};
use steward_domain::ticket::Ticket;
use steward_storage::live::{Heard, TicketViewer};
use tokio::sync::{watch, Notify};

/// At most one cross-node notification per node in this time, however many commits.
pub const NOTIFY_COALESCE: Duration = Duration::from_millis(50);
/// How often an open ticket stream says it is still there (and rereads who else is).
pub const PRESENCE_HEARTBEAT: Duration = Duration::from_secs(10);
/// A viewer not heard from for this long no longer counts as viewing.
pub const PRESENCE_EXPIRY: Duration = Duration::from_secs(30);
/// How soon a stream reads again when committed events were held back behind a running
/// transaction (PostgreSQL), which may end without anyone sending a hint.
pub const HELD_BACK_RETRY: Duration = Duration::from_millis(100);
/// How many events one resync reads at most; a stream reads again at once when it got as many.
pub const FEED_BATCH: u32 = 500;

/// The in-process side of the change feed.
pub(crate) struct ChangeFeed {
    hint: watch::Sender<u64>,
    /// A cross-node notification is owed (PostgreSQL).
    owed: AtomicBool,
    wake_notifier: Notify,
    /// The server is shutting down: open streams end.
    closing: AtomicBool,
}

impl ChangeFeed {
    pub(crate) fn new() -> ChangeFeed {
        ChangeFeed {
            hint: watch::Sender::new(0),
            owed: AtomicBool::new(false),
            wake_notifier: Notify::new(),
            closing: AtomicBool::new(false),
        }
    }
}

/// What to follow: one ticket, or every ticket the viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveScope {
    Ticket(TicketId),
    AllTickets,
}

/// The tickets changed since a position, as the caller may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBatch {
    /// Where the next read starts: past every event read, shown or not.
    pub position: EventPosition,
    /// Each changed ticket with how many of its events this batch saw, in order of first change.
    pub tickets: Vec<LiveChange>,
    /// The read was full: more events may follow at once.
    pub more: bool,
    /// Committed events are held back behind a transaction still running: read again shortly.
    pub held_back: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChange {
    pub ticket_id: TicketId,
    pub number: TicketNumber,
    pub events: usize,
    /// Each of those events' number on its ticket (`seq`), in the order read: a page that
    /// already shows a ticket up to some event tells its own news from what it has shown.
    pub seqs: Vec<i64>,
}

impl Services {
    /// Hints that events committed: at once to this node's streams and, on PostgreSQL, owes the
    /// other nodes a notification. Call after commit only.
    pub(crate) fn changes_committed(&self) {
        self.hint_local();
        if self.store.backend() == steward_storage::Backend::Postgres {
            self.feed.owed.store(true, Ordering::Release);
            self.feed.wake_notifier.notify_one();
        }
    }

    fn hint_local(&self) {
        self.feed.hint.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Ends every open live stream (graceful shutdown: they would hold their connections open).
    pub fn end_live_streams(&self) {
        self.feed.closing.store(true, Ordering::Release);
        self.hint_local();
    }

    pub fn live_closing(&self) -> bool {
        self.feed.closing.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever some change may have committed (on any node).
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.feed.hint.subscribe()
    }

    /// Sends the owed cross-node notification, if any. Returns whether one was sent. One pass
    /// of [`run_change_notifier`]; tests call it to decide when other nodes hear.
    pub async fn notify_changes(&self) -> Result<bool, ServiceError> {
        if !self.feed.owed.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        if let Err(e) = self.store.notify_change().await {
            // Owed still: the next pass tries again.
            self.feed.owed.store(true, Ordering::Release);
            return Err(e.into());
        }
        Ok(true)
    }

    /// Where a stream that starts now begins: it hears every event after this.
    pub async fn live_head(&self) -> Result<EventPosition, ServiceError> {
        Ok(self.store.feed_head().await?)
    }

    /// The ticket a live stream follows, if the caller may read it (a partner: only its
    /// delegated tickets; any other is "not found").
    pub async fn live_ticket(&self, principal: &Principal, reference: TicketRef) -> Result<Ticket, ServiceError> {
        let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
        self.ticket_for(reference, partner).await
    }

    /// The changes after `after` that `principal` may see: every ticket for staff who read
    /// tickets, only its delegated tickets for a partner. A ticket the caller may no longer see
    /// (a withdrawn delegation) makes a ticket stream answer "not found".
    pub async fn live_changes(&self, principal: &Principal, scope: LiveScope, after: EventPosition) -> Result<LiveBatch, ServiceError> {
        let partner = principal.require_ticket_access(Permission::ReadTickets, Permission::ReadDelegatedTickets)?;
        let only = match scope {
            LiveScope::Ticket(id) => {
                self.ticket_for(TicketRef::Id(id), partner).await?;
                Some(id)
            }
            LiveScope::AllTickets => None,
        };
        let read = self.store.events_after(after, only, FEED_BATCH).await?;
        let (events, held_back) = (read.events, read.held_back);
        let more = events.len() == FEED_BATCH as usize;
        let position = events.last().map_or(after, |e| e.position);
        let mut order: Vec<LiveChange> = Vec::new();
        let mut visible: BTreeMap<TicketId, bool> = BTreeMap::new();
        for event in &events {
            let seen = match visible.get(&event.ticket_id) {
                Some(seen) => *seen,
                None => {
                    let seen = match (partner, only) {
                        (Some(p), None) => match self.ticket_for(TicketRef::Id(event.ticket_id), Some(p)).await {
                            Ok(_) => true,
                            Err(ServiceError::NotFound { .. }) => false,
                            Err(e) => return Err(e),
                        },
                        _ => true,
                    };
                    visible.insert(event.ticket_id, seen);
                    seen
                }
            };
            if !seen {
                continue;
            }
            match order.iter_mut().find(|c| c.ticket_id == event.ticket_id) {
                Some(change) => {
                    change.events += 1;
                    change.seqs.push(event.seq);
                }
                None => {
                    order.push(LiveChange { ticket_id: event.ticket_id, number: event.ticket_number, events: 1, seqs: vec![event.seq] })
                }
            }
        }
        Ok(LiveBatch { position, tickets: order, more, held_back })
    }

    /// Records that the stream `viewer_id` of `principal` has `ticket` open now; a newcomer is
    /// announced to the other viewers (on every node).
    pub async fn touch_presence(&self, principal: &Principal, ticket: TicketId, viewer_id: &str) -> Result<(), ServiceError> {
        let now = self.now();
        let viewer = TicketViewer { viewer_id: viewer_id.to_owned(), staff_id: principal.staff_id, name: principal.name.clone() };
        let expired_before = now.plus_millis(-(PRESENCE_EXPIRY.as_millis() as i64));
        if self.store.touch_viewer(ticket, &viewer, now, expired_before).await? {
            self.changes_committed();
        }
        Ok(())
    }

    /// The stream `viewer_id` closed: the other viewers hear it at once.
    pub async fn leave_presence(&self, ticket: TicketId, viewer_id: &str) -> Result<(), ServiceError> {
        self.store.remove_viewer(ticket, viewer_id).await?;
        self.changes_committed();
        Ok(())
    }

    /// The names of the others who have `ticket` open now (not `principal` itself, in any of
    /// its tabs), each once, in name order.
    pub async fn ticket_viewers(&self, principal: &Principal, ticket: TicketId) -> Result<Vec<String>, ServiceError> {
        let since = self.now().plus_millis(-(PRESENCE_EXPIRY.as_millis() as i64));
        let mut names: Vec<String> = self
            .store
            .ticket_viewers(ticket, since)
            .await?
            .into_iter()
            .filter(|v| v.staff_id.is_none() || v.staff_id != principal.staff_id)
            .map(|v| v.name)
            .collect();
        names.dedup();
        Ok(names)
    }
}

/// Sends this node's owed notifications, at most one per [`NOTIFY_COALESCE`]: the first commit
/// after a quiet spell is announced at once, and commits during the pause share the next one.
pub async fn run_change_notifier(services: Arc<Services>) {
    loop {
        services.feed.wake_notifier.notified().await;
        if let Err(e) = services.notify_changes().await {
            tracing::warn!(error = %e, "sending the change notification failed; retrying");
        }
        tokio::time::sleep(NOTIFY_COALESCE).await;
    }
}

/// Listens for other nodes' notifications (PostgreSQL) and hints this node's streams. Every
/// (re)connection hints too: notifications sent while no connection listened are lost, and the
/// streams' resync from their positions recovers what they announced.
pub async fn run_change_listener(services: Arc<Services>) {
    loop {
        match services.store.listen_changes().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                services.hint_local();
                loop {
                    match listener.next().await {
                        Ok(Heard::Change) => services.hint_local(),
                        Ok(Heard::Reconnected) => {
                            tracing::info!("the change listener reconnected");
                            services.hint_local();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the change listener lost its connection");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the change listener cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
