//! The test payment gateway: a payment provider of its own, run by `storefront
//! payment-gateway`, that the service talks to only over HTTP, exactly as it would to a
//! real one. It keeps its state (intents, idempotency keys, undelivered webhooks) in its
//! own database, so it survives its own restart, and it sends its events to the service
//! as signed webhooks, at least once. Nothing in the service imports this module.

mod api;
mod deliver;
mod store;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use diesel::r2d2::{ConnectionManager, Pool};

use crate::config::{Config, DatabaseUrl};
use crate::db;
use crate::domain::WebhookSecret;

pub use api::GatewayState;

/// What a gateway needs beyond its listener.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub database: DatabaseUrl,
    /// Where its webhooks go, and what signs them.
    pub webhook_url: String,
    pub webhook_secret: WebhookSecret,
    /// How long a `pm_ok_slow` capture waits before it answers (after capturing).
    pub slow_answer: Duration,
}

impl GatewaySettings {
    /// From the service's configuration; a random secret when none is set.
    pub fn from_config(config: &Config) -> Self {
        let payments = &config.payments;
        let webhook_secret = payments.webhook_secret.clone().unwrap_or_else(|| {
            tracing::warn!(
                "PAYMENT_WEBHOOK_SECRET is not set: the gateway signs with a random secret \
                 that only this process knows"
            );
            WebhookSecret::random()
        });
        Self {
            database: payments.gateway_database.clone(),
            webhook_url: payments.webhook_url.clone(),
            webhook_secret,
            slow_answer: payments.gateway_timeout + Duration::from_secs(1),
        }
    }
}

/// Creates the gateway's database and schema if missing, then builds its server on
/// `listener` and starts delivering webhooks (on the current actix runtime).
pub fn start(listener: TcpListener, settings: GatewaySettings) -> anyhow::Result<Server> {
    db::ensure_database_exists(&settings.database)?;
    let manager = ConnectionManager::new(settings.database.expose());
    let pool = Pool::builder()
        .max_size(8)
        .connection_timeout(Duration::from_secs(5))
        .build(manager)?;
    store::create_schema(&mut *pool.get()?)?;
    let public_url = format!("http://{}", listener.local_addr()?);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let deliverer = deliver::Deliverer {
        pool: pool.clone(),
        client,
        url: settings.webhook_url.clone(),
        secret: settings.webhook_secret.clone(),
    };
    actix_web::rt::spawn(deliverer.run());
    let state = web::Data::new(GatewayState {
        pool,
        public_url,
        slow_answer: settings.slow_answer,
    });
    let server =
        HttpServer::new(move || App::new().app_data(state.clone()).configure(api::configure))
            .listen(listener)?
            .workers(2)
            .run();
    Ok(server)
}

/// `storefront payment-gateway`: serves until Ctrl-C / SIGTERM.
pub fn serve(config: &Config) -> anyhow::Result<()> {
    let bind = config.payments.gateway_bind;
    let listener = TcpListener::bind(bind)
        .map_err(|err| anyhow::anyhow!("cannot listen on PAYMENT_GATEWAY_BIND={bind}: {err}"))?;
    let settings = GatewaySettings::from_config(config);
    tracing::info!(
        address = %listener.local_addr()?,
        webhooks = %settings.webhook_url,
        "payment gateway listening"
    );
    actix_web::rt::System::new()
        .block_on(async move { start(listener, settings)?.await.map_err(Into::into) })
}

/// Starts a gateway inside this process, on a free local port, in a thread of its own
/// (its own actix runtime), for `storefront serve` when `PAYMENT_GATEWAY_URL` is unset:
/// a newcomer's single command gets a working payment flow. Returns its URL.
pub fn start_in_process(settings: GatewaySettings) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let (started, outcome) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("payment-gateway".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match start(listener, settings) {
                    Ok(server) => {
                        let _ = started.send(Ok(()));
                        if let Err(err) = server.await {
                            tracing::error!(%err, "the in-process payment gateway stopped");
                        }
                    }
                    Err(err) => {
                        let _ = started.send(Err(err));
                    }
                }
            });
        })?;
    outcome
        .recv()
        .map_err(|_| anyhow::anyhow!("the in-process payment gateway did not start"))??;
    Ok(url)
}
