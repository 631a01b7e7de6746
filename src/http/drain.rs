//! `Connection: close` while the instance drains before it stops: a proxy's keep-alive
//! connections are retired while the instance still answers, instead of being cut at the
//! stop with a request on them.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web;

use crate::shutdown::Draining;

/// While draining, every answer closes its connection. Checked after the handler, so a
/// request that was running when the signal came closes its connection too.
pub async fn close_while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let draining = response
        .request()
        .app_data::<web::Data<Draining>>()
        .is_some_and(|draining| draining.is_draining());
    if draining {
        // The connection type, not a header: actix then also closes the connection.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}
