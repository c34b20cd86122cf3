//! The webhook destination guard: the domain's [`Destinations`] rule applied to the addresses a
//! webhook URL names, after DNS resolution. Checked when a webhook is created or changed (so an
//! admin is told at once) and again at every delivery, where the HTTP client resolves names
//! through [`GuardedResolver`]: the address checked is the address connected to, so a name that
//! resolves elsewhere later (DNS rebinding) is caught too. Redirects are never followed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use steward_domain::destination::Destinations;
use steward_domain::FieldError;

/// What the delivery log says of a refused destination: coarse on purpose, so the log is no
/// port scanner.
pub const REFUSED: &str = "refused: the destination is not allowed (an inside address; see webhooks.allow_private)";

/// How long the check on create or PATCH waits for DNS.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[error("{REFUSED}")]
pub struct RefusedDestination;

/// The URL's host as an address, when it is a literal (in any form the URL standard accepts:
/// `2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]` all parse to addresses).
fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

fn refused(field: &str) -> FieldError {
    FieldError::new(
        field,
        "must not point inside (loopback, private, link-local or other non-public addresses are refused unless webhooks.allow_private lists them)",
    )
}

/// The check on create and PATCH. A name that does not resolve now is accepted: delivery checks
/// again, and fails coarsely if it still does not resolve.
pub async fn check_url(rule: &Destinations, field: &str, text: &str) -> Result<(), FieldError> {
    let Ok(url) = url::Url::parse(text) else { return Ok(()) };
    if let Some(ip) = literal_address(&url) {
        return if rule.permits(ip) { Ok(()) } else { Err(refused(field)) };
    }
    let Some(host) = url.host_str() else { return Ok(()) };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        // RFC 6761: always loopback, whatever a resolver says.
        return if rule.permits(IpAddr::from([127, 0, 0, 1])) { Ok(()) } else { Err(refused(field)) };
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await;
    let addresses: Vec<SocketAddr> = match resolved {
        Ok(Ok(addresses)) => addresses.collect(),
        _ => return Ok(()),
    };
    if addresses.iter().all(|a| rule.permits(a.ip())) {
        Ok(())
    } else {
        Err(refused(field))
    }
}

/// The check at delivery for a literal address, which no resolver sees.
pub fn literal_permitted(rule: &Destinations, text: &str) -> bool {
    url::Url::parse(text).ok().as_ref().and_then(literal_address).is_none_or(|ip| rule.permits(ip))
}

/// The webhook client's resolver: a name any of whose addresses is inside (and not allowed) is
/// refused as a whole, so no connection is tried.
pub struct GuardedResolver {
    pub rule: Destinations,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rule = self.rule.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let lowered = host.trim_end_matches('.').to_ascii_lowercase();
            let loopback_name = lowered == "localhost" || lowered.ends_with(".localhost");
            if addresses.iter().any(|a| !rule.permits(a.ip())) || (loopback_name && !rule.permits(IpAddr::from([127, 0, 0, 1]))) {
                return Err(Box::new(RefusedDestination) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
