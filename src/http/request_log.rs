//! One log line and one metrics sample per request, and the `X-Request-Id` header on every
//! response (the client's own id when it sent a sane one, a fresh one otherwise).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use rand::Rng;

use super::client_addr::client_addr;
use crate::telemetry::Metrics;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client-supplied request id that is echoed (and logged) as is.
const MAX_REQUEST_ID_LEN: usize = 128;

fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    sane.then(|| value.to_owned())
}

/// 128 random bits as hex. From the thread-local generator: no system call per request,
/// and an id needs to be unique, not secret.
fn new_request_id() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = client_request_id(&req).unwrap_or_else(new_request_id);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let client = client_addr(req.request());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();

    let mut response = next.call(req).await?;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    // The route pattern (`/api/v1/products/{id}`), not the path, keeps label counts bounded.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    if let Some(metrics) = metrics {
        metrics.observe_request(&method, &route, status, elapsed);
    }
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        client = client.map(|ip| ip.to_string()).as_deref().unwrap_or("-"),
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    Ok(response)
}
