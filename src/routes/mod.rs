//! HTTP routes: the route table. Each resource module parses and validates its input,
//! makes one blocking call into the repository, and maps the result to a response.

pub mod addresses;
pub mod admin_orders;
pub mod carts;
pub mod categories;
pub mod guest_carts;
pub mod health;
pub mod metrics;
pub mod orders;
pub mod payments;
pub mod product_groups;
pub mod products;
pub mod sessions;
pub mod shipping_methods;
pub mod tax_rates;
pub mod users;
pub mod webhook_endpoints;

use actix_web::web;

/// Every resource route. Resource routes live under `/api/v1`; probes at the root.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(metrics::configure)
        .service(
            web::scope("/api/v1")
                .configure(users::configure)
                .configure(addresses::configure)
                .configure(sessions::configure)
                .configure(products::configure)
                .configure(categories::configure)
                .configure(product_groups::configure)
                .configure(guest_carts::configure)
                .configure(carts::configure)
                .configure(shipping_methods::configure)
                .configure(tax_rates::configure)
                .configure(orders::configure)
                .configure(payments::configure)
                .configure(webhook_endpoints::configure)
                .configure(admin_orders::configure),
        );
}
