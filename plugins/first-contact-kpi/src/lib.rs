//! KPIs over a window: first-contact resolution rate and reopen rate.

use steward_sdk::{export_plugin, Error, KpiInput, Plugin};

struct FirstContact;

fn ratio(part: u32, whole: u32, what: &str) -> Result<f64, Error> {
    if whole == 0 {
        return Err(Error::new("no-data", format!("no tickets were resolved in the window, so there is no {what}")));
    }
    Ok(f64::from(part.min(whole)) / f64::from(whole))
}

impl Plugin for FirstContact {
    fn compute_kpi(kpi: String, input: KpiInput) -> Result<f64, Error> {
        match kpi.as_str() {
            "first_contact_resolution" => ratio(input.first_contact_resolved, input.tickets_resolved, "first-contact resolution rate"),
            "reopen_rate" => ratio(input.tickets_reopened, input.tickets_resolved, "reopen rate"),
            other => Err(Error::new("unknown-kpi", format!("this plugin does not compute `{other}`"))),
        }
    }
}

export_plugin!(FirstContact);
