//! Building and running the HTTP server. The server is built from a listener handed in,
//! so tests bind port 0 and drive the very same app over real HTTP.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};

use crate::auth::{Passwords, Throttle};
use crate::config::{Config, DatabaseUrl};
use crate::db::{self, CatalogueReads, DbError, DbPool, SchemaState};
use crate::domain::WebhookSecret;
use crate::http::cors;
use crate::http::observe_request;
use crate::http::ApiError;
use crate::http::{drain, extract};
use crate::jobs;
use crate::openapi;
use crate::outbound::webhooks::WebhookSender;
use crate::outbound::TestGateway;
use crate::payments::Payments;
use crate::routes;
use crate::routes::products::SearchLane;
use crate::shutdown::{self, Draining};
use crate::telemetry::{Metrics, REPLICA};

/// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
const SHUTDOWN_GRACE_SECS: u64 = 30;

/// What the app shares between requests, built before the server.
pub struct Services {
    pub pool: DbPool,
    pub reads: CatalogueReads,
    pub metrics: Metrics,
    pub schema: SchemaState,
    /// Set on SIGTERM / Ctrl-C (see `shutdown`).
    pub draining: Draining,
    /// The payment providers, reached over HTTP.
    pub payments: Payments,
}

impl Services {
    /// Builds the pools (reporting to a fresh metrics registry) for a database that is
    /// already migrated; fails fast, naming the server, when the primary cannot be
    /// reached. The replica, if any, is only probed: one that is down is used once it
    /// is up.
    pub fn connect(config: &Config) -> Result<Self, DbError> {
        let metrics = Metrics::new();
        let pool = db::build_pool(&config.database, metrics.pool_events())?;
        Ok(Self::around(config, pool, metrics, SchemaState::ready()))
    }

    /// Builds the pools without touching the database; `schema` turns ready once the
    /// migrations have been applied (see `serve`).
    fn connect_lazily(config: &Config) -> Self {
        let metrics = Metrics::new();
        let pool = db::build_pool_lazily(&config.database, metrics.pool_events());
        Self::around(config, pool, metrics, SchemaState::pending())
    }

    fn around(config: &Config, pool: DbPool, metrics: Metrics, schema: SchemaState) -> Self {
        let reads = match (config.replica_database(), &config.replica) {
            (Some(database), Some(replica)) => {
                let replica_pool =
                    db::build_pool_lazily(&database, metrics.pool_events_for(REPLICA));
                CatalogueReads::with_replica(
                    pool.clone(),
                    replica_pool,
                    replica.max_lag,
                    metrics.clone(),
                )
            }
            _ => CatalogueReads::primary_only(pool.clone(), metrics.clone()),
        };
        let payments_config = &config.payments;
        // Without a shared secret no webhook verifies: payments are then settled by the
        // shopper's return and the reconciliation job alone.
        let secret = payments_config
            .webhook_secret
            .clone()
            .unwrap_or_else(WebhookSecret::random);
        let payments = Payments::new(TestGateway::new(
            &payments_config.gateway_url(),
            payments_config.gateway_timeout,
            secret,
        ));
        Self {
            pool,
            reads,
            metrics,
            schema,
            draining: Draining::default(),
            payments,
        }
    }
}

/// Answers 503 for API routes (`/api/...`) while the schema is not ready.
async fn require_schema(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let ready = !req.path().starts_with("/api/")
        || req
            .app_data::<web::Data<SchemaState>>()
            .is_some_and(|schema| schema.is_ready());
    if ready {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let problem =
        ApiError::ServiceUnavailable("schema migrations not applied yet".into()).error_response();
    Ok(req.into_response(problem).map_into_right_body())
}

/// HEAD is GET without the body (RFC 9110 §9.3.2), so every GET route answers it: the
/// GET handler runs, and actix's HTTP/1 encoder leaves the body out for a HEAD request
/// while keeping its headers (Content-Length included).
async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// The configured server, not yet running: await it (or spawn it) to serve. The
/// background jobs start with it, on the current runtime. It ignores
/// signals: `serve` handles them (`shutdown::stop_signal`).
pub fn build_server(
    listener: TcpListener,
    services: Services,
    config: &Config,
) -> std::io::Result<Server> {
    let background: Vec<jobs::Job> = jobs::sweeps::jobs(config.sweep_interval)
        .into_iter()
        .chain(jobs::orders::jobs())
        .collect();
    jobs::spawn(
        &background,
        services.pool.clone(),
        services.draining.clone(),
        services.metrics.clone(),
    );
    jobs::payments::spawn(
        services.payments.clone(),
        services.pool.clone(),
        services.draining.clone(),
        services.metrics.clone(),
    );
    jobs::relay::spawn(
        jobs::relay::Relay {
            sender: WebhookSender::new(config.webhooks.allow_private_targets)
                .map_err(std::io::Error::other)?,
            schedule: std::sync::Arc::new(config.webhooks.retry_schedule.clone()),
        },
        services.pool.clone(),
        services.draining.clone(),
        services.metrics.clone(),
    );
    let pool = web::Data::new(services.pool);
    let reads = web::Data::new(services.reads);
    let metrics = web::Data::new(services.metrics);
    let schema = web::Data::new(services.schema);
    let draining = web::Data::new(services.draining);
    let payments = web::Data::new(services.payments);
    let passwords = web::Data::new(Passwords::new(
        config.http.workers,
        config.password_queue_timeout,
    ));
    let throttle = web::Data::new(Throttle::new(
        &config.login_throttle,
        config.registration_limit,
        config.guest_cart_limit,
    ));
    let searches = web::Data::new(SearchLane::new(config.search_concurrency));
    let trusted_proxies = web::Data::new(config.http.trusted_proxies.clone());
    let shared_config = web::Data::new(config.clone());
    let cors_origins = config.http.cors_allowed_origins.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .app_data(reads.clone())
            .app_data(metrics.clone())
            .app_data(schema.clone())
            .app_data(draining.clone())
            .app_data(payments.clone())
            .app_data(passwords.clone())
            .app_data(searches.clone())
            .app_data(throttle.clone())
            .app_data(trusted_proxies.clone())
            .app_data(shared_config.clone())
            .app_data(extract::path_config())
            .wrap(from_fn(head_as_get))
            .wrap(ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, method_not_allowed))
            .wrap(from_fn(require_schema))
            // Outside everything that answers, so error responses carry CORS headers too.
            .wrap(cors::middleware(&cors_origins))
            .wrap(
                ErrorHandlers::new()
                    .handler(StatusCode::BAD_REQUEST, cors::plain_bad_request_as_problem),
            )
            // Outermost, so every answer (even require_schema's 503) is logged, counted
            // and carries a request id.
            .wrap(from_fn(observe_request))
            .wrap(from_fn(drain::close_while_draining))
            .configure(routes::configure)
            .configure(openapi::configure)
            .default_service(web::to(not_found))
    })
    .workers(config.http.workers)
    .worker_max_blocking_threads(config.http.blocking_threads_per_worker)
    .keep_alive(config.http.keep_alive)
    .client_request_timeout(config.http.client_request_timeout)
    .shutdown_timeout(SHUTDOWN_GRACE_SECS)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// The answer for paths no route matches.
async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// actix answers a known path with an unknown method by an empty 405; clients get the
/// same problem+json as for every other error, and the `Allow` header RFC 9110 requires
/// (the route's methods, from the OpenAPI document).
fn method_not_allowed<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (req, _) = res.into_parts();
    let mut problem = ApiError::MethodNotAllowed.error_response();
    let allow = req
        .match_pattern()
        .and_then(|pattern| openapi::allowed_methods(&pattern));
    match allow {
        Some(methods) => {
            problem.headers_mut().insert(
                actix_web::http::header::ALLOW,
                actix_web::http::header::HeaderValue::from_static(methods),
            );
        }
        None => {
            tracing::warn!(path = %req.path(), "405 for a route the OpenAPI document does not list")
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, problem).map_into_right_body(),
    ))
}

/// `storefront serve`: serves until SIGTERM / Ctrl-C, then drains (`shutdown`) and lets
/// in-flight requests finish. It first creates the database if needed and applies migrations; if the database
/// is unreachable it serves anyway (liveness 200, everything else 503) while a background
/// thread retries with backoff, and becomes ready when the database does.
pub fn serve(config: &Config) -> anyhow::Result<()> {
    let url = db::connection_url(&config.migration_database());
    let allow_modified = config.migrations_allow_modified;
    // One attempt up front, before the pool exists: in the usual case (database reachable,
    // perhaps not yet created) the pool's first connections then find the database there
    // instead of logging connection errors.
    let services = match db::prepare_database(&url, allow_modified) {
        Ok(applied) => {
            log_prepared(&applied);
            warn_about_serving_role(config);
            let services = Services::connect_lazily(config);
            services.schema.mark_ready();
            services
        }
        // Not a database that is down: one whose schema is not what this build expects.
        Err(err @ DbError::ModifiedMigrations(_)) => return Err(err.into()),
        Err(err) => {
            tracing::warn!(%err, "database not ready; serving and retrying in the background");
            let services = Services::connect_lazily(config);
            prepare_in_background(url, allow_modified, services.schema.clone());
            services
        }
    };
    let listener = TcpListener::bind(config.http.bind_addr).map_err(|err| {
        anyhow::anyhow!(
            "cannot listen on BIND_ADDR={}: {err}",
            config.http.bind_addr
        )
    })?;
    tracing::info!(address = %config.http.bind_addr, "storefront listening");
    let draining = services.draining.clone();
    let drain = config.http.shutdown_drain;
    let gate = shutdown::ListenerGate::new(&listener);
    actix_web::rt::System::new().block_on(async {
        let server = build_server(listener, services, config)?;
        let handle = server.handle();
        actix_web::rt::spawn(async move {
            if let Some(mode) = shutdown::stop_signal(draining, drain, gate).await {
                handle.stop(mode.is_graceful()).await;
            }
        });
        server.await
    })?;
    tracing::info!("storefront stopped");
    Ok(())
}

/// A WARN when the serving role could do more than serve (drop tables, ...).
fn warn_about_serving_role(config: &Config) {
    let checked = db::establish(&db::connection_url(&config.database))
        .map_err(|err| err.to_string())
        .and_then(|mut conn| db::serving_role_warning(&mut conn).map_err(|err| err.to_string()));
    match checked {
        Ok(Some(warning)) => tracing::warn!("{warning}"),
        Ok(None) => {}
        Err(err) => tracing::warn!(%err, "could not check the serving role's privileges"),
    }
}

/// Backoff between attempts to reach the database at start: doubling up to a ceiling.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(10);

fn log_prepared(applied: &[String]) {
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    tracing::info!("database ready");
}

/// Retries `prepare_database` with backoff until it succeeds (the first attempt has
/// already failed), then marks the schema ready.
fn prepare_in_background(url: DatabaseUrl, allow_modified: bool, schema: SchemaState) {
    std::thread::spawn(move || {
        let mut delay = FIRST_RETRY;
        loop {
            std::thread::sleep(delay);
            match db::prepare_database(&url, allow_modified) {
                Ok(applied) => {
                    log_prepared(&applied);
                    schema.mark_ready();
                    return;
                }
                Err(err @ DbError::ModifiedMigrations(_)) => {
                    tracing::error!(%err, "refusing to serve");
                    std::process::exit(1);
                }
                Err(err) => {
                    delay = (delay * 2).min(MAX_RETRY);
                    tracing::warn!(%err, retry_in = ?delay, "database not ready");
                }
            }
        }
    });
}
