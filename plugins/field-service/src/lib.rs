//! Field-service industry pack: guards the move to verification and flags urgent on-site work.

use steward_sdk::{export_plugin, Action, Error, Event, Level, Plugin, Ticket};

const PROCESS: &str = "field_service";

struct FieldService;

impl Plugin for FieldService {
    /// Verification checks the parts used, so they must be recorded first.
    fn guard_transition(ticket: Ticket, _from: String, to: String) -> Result<(), String> {
        if ticket.process == PROCESS && to == "verification" && !ticket.has_custom_field("parts_log") {
            return Err(format!(
                "{}: record the parts used in the `parts_log` custom field (or \"none\") before verification",
                ticket.number
            ));
        }
        Ok(())
    }

    /// Urgent work that reaches the customer's site gets a tag dispatchers filter on.
    fn on_event(event: Event, ticket: Ticket) -> Result<Vec<Action>, Error> {
        let urgent_on_site = ticket.process == PROCESS
            && event.kind == "stage_changed"
            && ticket.stage == "on_site"
            && ticket.priority == "urgent"
            && !ticket.has_tag("urgent-onsite");
        if !urgent_on_site {
            return Ok(Vec::new());
        }
        steward_sdk::log(Level::Info, &format!("{} is urgent on-site work", ticket.number));
        Ok(vec![
            Action::add_tag("urgent-onsite"),
            Action::add_internal_note("Urgent on-site visit: confirm the technician's arrival time with the customer."),
        ])
    }
}

export_plugin!(FieldService);
