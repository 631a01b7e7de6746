//! Who is asking: the client's address as logs and throttles name it, read through the
//! `TRUSTED_PROXIES` rule (`config::TrustedProxies`).

use std::net::IpAddr;

use actix_web::{web, HttpRequest};

use crate::config::TrustedProxies;

/// The client address of a request: the peer, or, behind trusted proxies, the address
/// they forwarded. `None` only for a request without a peer (in-process test requests).
pub fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    // Without trusted proxies (the default) the header is never read: nothing to collect
    // on every request.
    let Some(trusted) = req
        .app_data::<web::Data<TrustedProxies>>()
        .filter(|trusted| !trusted.is_empty())
    else {
        return Some(peer);
    };
    // A header line that is not text is malformed: it ends the walk like a bad entry.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|value| value.to_str().unwrap_or(""))
        .collect::<Vec<_>>();
    Some(trusted.client_address(peer, forwarded.into_iter()))
}
