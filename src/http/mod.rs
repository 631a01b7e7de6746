//! The HTTP edge: everything that knows a request or a response but no single resource.
//! Errors become problem+json here, input is parsed and validated here, and the
//! middleware (CORS, request log, draining) lives here, so `routes/` keeps one module
//! per resource and the layers below know nothing of HTTP.

pub mod address;
pub mod cart_response;
pub mod client_addr;
pub mod client_faults;
pub mod conditional;
pub mod cors;
pub mod credentials;
pub mod cursor;
pub mod database;
pub mod drain;
pub mod error;
pub mod extract;
pub mod order_response;
pub mod paging;
pub mod payment_response;
pub mod product_response;
pub mod quote_response;
pub mod request_log;
pub mod responses;
pub mod schemas;
mod timestamp;
pub mod user_response;
pub mod validate;

pub use cart_response::CartResponse;
pub use client_addr::client_addr;
pub use client_faults::ClientFaultsBelowError;
pub use database::with_conn;
pub use error::{ApiError, FieldError, Problem, StockShortage};
pub use order_response::OrderResponse;
pub use payment_response::PaymentResponse;
pub use product_response::{ImageResponse, ProductResponse};
pub use quote_response::QuoteResponse;
pub use request_log::{observe_request, REQUEST_ID_HEADER};
pub use user_response::UserResponse;
