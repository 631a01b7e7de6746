//! Paying orders (DESIGN §9) over HTTP, with the test gateway as a process of its own:
//! the shopper's return and the gateway's webhooks in either order, concurrently, on two
//! instances, repeated; a gateway that is slow or down; refunds and cancels. "Once" is
//! checked where it shows: the gateway's own capture count, the order's state, the
//! webhook inbox, the refunds.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use storefront::domain::WebhookSecret;

use crate::binary::free_port;
use crate::common::{TestApp, TestDb};
use crate::helpers::{eventually, expect_json, expect_problem, Customer};
use crate::payment_gateway::{Gateway, Received, Receiver, SECRET};

/// Where the gateway sends its webhooks.
enum Webhooks<'a> {
    /// To the first instance's webhook route, as in production.
    ToService,
    /// To a receiver of the test's own, which forwards them when and where it likes.
    To(&'a Receiver),
}

/// A shop with a payment gateway: one instance (more on demand), an admin, a customer,
/// and a product.
struct PayShop {
    app: TestApp,
    gateway: Gateway,
    gateway_port: u16,
    timeout_ms: u32,
    admin: Customer,
    alice: Customer,
    product: Value,
}

impl PayShop {
    async fn start(timeout_ms: u32, webhooks: Webhooks<'_>) -> Self {
        let db = Arc::new(TestDb::new());
        let gateway_port = free_port();
        let app = instance(&db, gateway_port, timeout_ms);
        let webhook_url = match webhooks {
            Webhooks::ToService => app.url("/api/v1/payments/webhooks/test"),
            Webhooks::To(receiver) => receiver.url.clone(),
        };
        let gateway = Gateway::start_on(gateway_port, &db, &webhook_url, timeout_ms).await;
        let admin = app.admin("staff").await;
        let alice = app.customer("alice").await;
        let product = app.product(&admin, "Teapot", "blue", "19.99", 10).await;
        Self {
            app,
            gateway,
            gateway_port,
            timeout_ms,
            admin,
            alice,
            product,
        }
    }

    /// Another instance on the same database and gateway.
    fn another_instance(&self) -> TestApp {
        instance(&self.app.db, self.gateway_port, self.timeout_ms)
    }

    /// An order of `quantity` teapots (19.99 each), awaiting payment.
    async fn order(&self, quantity: i64) -> Value {
        self.app
            .place_order(&self.alice, &[(&self.product, quantity)])
            .await
    }

    async fn start_payment(&self, app: &TestApp, order: &Value) -> Response {
        app.client
            .post(app.url(&format!("/api/v1/orders/{}/payments", order["id"])))
            .bearer_auth(&self.alice.token)
            .json(&json!({"provider": "test"}))
            .send()
            .await
            .unwrap()
    }

    /// A new payment for `order`, confirmed at the gateway with `method`.
    async fn confirmed_payment(&self, order: &Value, method: &str) -> Value {
        let payment = expect_json(
            self.start_payment(&self.app, order).await,
            StatusCode::CREATED,
        )
        .await;
        self.gateway.confirm(&payment, method).await;
        payment
    }

    async fn complete(&self, app: &TestApp, order: &Value, payment: &Value) -> Response {
        let path = format!(
            "/api/v1/orders/{}/payments/{}/complete",
            order["id"], payment["id"]
        );
        app.client
            .post(app.url(&path))
            .bearer_auth(&self.alice.token)
            .send()
            .await
            .unwrap()
    }

    async fn read_order(&self, order: &Value) -> Value {
        let path = format!("/api/v1/orders/{}", order["id"]);
        expect_json(
            self.app.get_as(&path, &self.alice.token).await,
            StatusCode::OK,
        )
        .await
    }

    async fn capture_count(&self, payment: &Value) -> i64 {
        self.gateway.intent(&payment["provider_ref"]).await["capture_count"]
            .as_i64()
            .unwrap()
    }

    async fn refund(&self, order: &Value, amount: &str, key: Option<&str>) -> Response {
        let mut request = self
            .app
            .client
            .post(
                self.app
                    .url(&format!("/api/v1/orders/{}/refunds", order["id"])),
            )
            .bearer_auth(&self.admin.token)
            .json(&json!({"amount": amount, "reason": "damaged in transit"}));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// An order of two teapots (39.98), paid with `pm_ok`.
    async fn paid_order(&self) -> (Value, Value) {
        let order = self.order(2).await;
        let payment = self.confirmed_payment(&order, "pm_ok").await;
        let paid = expect_json(
            self.complete(&self.app, &order, &payment).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(paid["payment_status"], "paid", "{paid}");
        (order, payment)
    }

    /// How many events of `kind` the outbox holds.
    fn events_of(&self, kind: &str) -> i64 {
        use storefront::schema::events;
        events::table
            .filter(events::type_.eq(kind))
            .count()
            .get_result(&mut self.app.db.connect())
            .unwrap()
    }

    fn applied_webhooks(&self) -> i64 {
        use storefront::schema::processed_webhooks;
        processed_webhooks::table
            .count()
            .get_result(&mut self.app.db.connect())
            .unwrap()
    }
}

fn instance(db: &Arc<TestDb>, gateway_port: u16, timeout_ms: u32) -> TestApp {
    TestApp::spawn_configured(db.clone(), |config| {
        config.payments.gateway_url = Some(format!("http://127.0.0.1:{gateway_port}"));
        config.payments.webhook_secret = Some(WebhookSecret::parse(SECRET).unwrap());
        config.payments.gateway_timeout = Duration::from_millis(u64::from(timeout_ms));
    })
}

/// Posts a delivery to an instance's webhook route, as the gateway would.
async fn deliver(app: &TestApp, id: &str, timestamp: i64, signature: &str, body: &str) -> Response {
    app.client
        .post(app.url("/api/v1/payments/webhooks/test"))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Sends a delivery the test's receiver got on to an instance, as it came.
async fn forward(app: &TestApp, hook: &Received) -> Response {
    let timestamp = hook.timestamp.parse().unwrap();
    deliver(app, &hook.id, timestamp, &hook.signature, &hook.body).await
}

/// Makes every open payment due for the reconciliation job now, rather than 30 s after
/// its creation.
fn checks_due_now(db: &TestDb) {
    use storefront::schema::payments;
    diesel::update(payments::table)
        .set(payments::next_check_at.eq(diesel::dsl::now))
        .execute(&mut db.connect())
        .unwrap();
}

/// The order as it reads once `settled` holds (or after 20 s, whatever it is then).
async fn order_once(shop: &PayShop, order: &Value, settled: impl Fn(&Value) -> bool) -> Value {
    let mut read = Value::Null;
    for _ in 0..100 {
        read = shop.read_order(order).await;
        if settled(&read) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    read
}

/// A `payment.succeeded` event for `payment`'s intent, signed now with `secret`.
fn signed_event(secret: &str, id: &str, payment: &Value, amount: &str) -> (i64, String, String) {
    let body = json!({
        "id": id,
        "type": "payment.succeeded",
        "created_at": "2026-12-07T12:00:00Z",
        "data": {"intent_id": payment["provider_ref"], "amount": amount, "currency": "EUR"},
    })
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let signature = WebhookSecret::parse(secret)
        .unwrap()
        .sign(id, now, body.as_bytes());
    (now, signature, body)
}

/// The whole flow: a payment for the order's total, a second start returning the open
/// one, the shopper confirming at the gateway, `complete` paying the order; the gateway's
/// webhook arriving afterwards changes nothing; one capture at the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_paid_once_through_the_gateway() {
    let shop = PayShop::start(5_000, Webhooks::ToService).await;
    let order = shop.order(2).await;
    assert_eq!(order["payment_status"], "awaiting_payment");

    let started = shop.start_payment(&shop.app, &order).await;
    assert_eq!(
        started.headers()["location"],
        format!("/api/v1/orders/{}", order["id"]).as_str()
    );
    let payment = expect_json(started, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["amount"], "39.98");
    assert_eq!(payment["currency"], "EUR");
    assert_eq!(payment["provider"], "test");
    assert_eq!(payment["next_action"]["type"], "confirm");
    let again = expect_json(shop.start_payment(&shop.app, &order).await, StatusCode::OK).await;
    assert_eq!(
        again["id"], payment["id"],
        "the open payment, not a second one"
    );

    let confirmed = shop.gateway.confirm(&payment, "pm_ok").await;
    assert_eq!(confirmed["status"], "succeeded");
    let paid = expect_json(
        shop.complete(&shop.app, &order, &payment).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(paid["payment_due_at"], Value::Null);
    assert_eq!(paid["payments"][0]["status"], "succeeded");
    assert_eq!(paid["payments"][0]["captured_amount"], "39.98");
    assert_eq!(paid["payments"][0]["next_action"], Value::Null);

    // The gateway's payment.succeeded arrives and is applied (as a no-op) once.
    eventually("the webhook was applied", || shop.applied_webhooks() == 1).await;
    let again = expect_json(
        shop.complete(&shop.app, &order, &payment).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["payment_status"], "paid");
    assert_eq!(shop.capture_count(&payment).await, 1);

    let problem = expect_problem(
        shop.start_payment(&shop.app, &order).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("paid"));
}

/// A declined method is 402 with the gateway's reason; the order still awaits payment and
/// a new payment can start. `pm_requires_action` needs a second confirm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_is_402_and_the_shopper_can_try_again() {
    let shop = PayShop::start(5_000, Webhooks::ToService).await;
    let order = shop.order(1).await;
    let declined = shop.confirmed_payment(&order, "pm_declined").await;
    let problem = expect_problem(
        shop.complete(&shop.app, &order, &declined).await,
        StatusCode::PAYMENT_REQUIRED,
        "payment_declined",
    )
    .await;
    assert!(!problem["reason"].as_str().unwrap().is_empty(), "{problem}");
    let read = shop.read_order(&order).await;
    assert_eq!(read["payment_status"], "awaiting_payment");
    assert_eq!(read["payments"][0]["status"], "failed");

    let second = shop.confirmed_payment(&order, "pm_requires_action").await;
    assert_ne!(second["id"], declined["id"]);
    let waiting = expect_json(
        shop.complete(&shop.app, &order, &second).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(waiting["payment_status"], "awaiting_payment");
    assert_eq!(waiting["payments"][1]["status"], "requires_action");
    assert_eq!(waiting["payments"][1]["next_action"]["type"], "confirm");
    shop.gateway.confirm(&second, "pm_requires_action").await;
    let paid = expect_json(
        shop.complete(&shop.app, &order, &second).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paid["payment_status"], "paid");
}

/// The webhook before the shopper's return, and the other way round, and both at once on
/// two instances with the webhook replayed twenty times: one capture at the gateway, the
/// order paid, nothing refunded, every answer a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_return_and_the_webhook_settle_a_payment_once_in_any_order_on_any_instance() {
    let receiver = Receiver::start(Vec::new());
    let shop = PayShop::start(1_000, Webhooks::To(&receiver)).await;
    let other = shop.another_instance();

    // Webhook first: the slow capture times out (503), the webhook pays the order on the
    // other instance, and the retried return finds it paid.
    let first = shop.order(1).await;
    let payment = shop.confirmed_payment(&first, "pm_ok_slow").await;
    let timed_out = shop.complete(&shop.app, &first, &payment).await;
    assert_eq!(timed_out.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(timed_out.headers().contains_key("retry-after"));
    let hook = receiver.until(1).await.remove(0);
    let applied = forward(&other, &hook).await;
    assert_eq!(applied.status(), StatusCode::OK);
    assert_eq!(shop.read_order(&first).await["payment_status"], "paid");
    let retried = expect_json(
        shop.complete(&shop.app, &first, &payment).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried["payment_status"], "paid");
    assert_eq!(shop.capture_count(&payment).await, 1);

    // Return first, then the webhook: the webhook changes nothing.
    let second = shop.order(1).await;
    let payment = shop.confirmed_payment(&second, "pm_ok").await;
    let paid = expect_json(
        shop.complete(&other, &second, &payment).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paid["payment_status"], "paid");
    let hook = receiver.until(2).await.remove(1);
    let replayed = forward(&shop.app, &hook).await;
    assert_eq!(replayed.status(), StatusCode::OK);
    assert_eq!(shop.capture_count(&payment).await, 1);

    // Returns racing each other right after the confirm, on both instances: each may find
    // the intent authorised and capture it; the capture's key makes that one capture.
    let racing = shop.order(1).await;
    let payment = shop.confirmed_payment(&racing, "pm_ok").await;
    let returns = join_all((0..8).map(|i| {
        let app = if i % 2 == 0 { &shop.app } else { &other };
        shop.complete(app, &racing, &payment)
    }))
    .await;
    for response in returns {
        let status = response.status();
        assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
    }
    assert_eq!(shop.read_order(&racing).await["payment_status"], "paid");
    assert_eq!(shop.capture_count(&payment).await, 1);
    receiver.until(3).await;

    // All at once: returns on both instances, and the webhook twenty times to both.
    let third = shop.order(1).await;
    let payment = shop.confirmed_payment(&third, "pm_ok_slow").await;
    let timed_out = shop.complete(&shop.app, &third, &payment).await;
    assert_eq!(timed_out.status(), StatusCode::SERVICE_UNAVAILABLE);
    let hook = receiver.until(4).await.remove(3);
    let timestamp: i64 = hook.timestamp.parse().unwrap();
    let returns = join_all((0..6).map(|i| {
        let app = if i % 2 == 0 { &shop.app } else { &other };
        shop.complete(app, &third, &payment)
    }));
    let hooks = join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { &shop.app } else { &other };
        deliver(app, &hook.id, timestamp, &hook.signature, &hook.body)
    }));
    let (returns, hooks) = tokio::join!(returns, hooks);
    for response in returns.into_iter().chain(hooks) {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let read = shop.read_order(&third).await;
    assert_eq!(read["payment_status"], "paid");
    assert_eq!(read["refunds"], json!([]));
    assert_eq!(shop.capture_count(&payment).await, 1);
    assert_eq!(
        shop.applied_webhooks(),
        3,
        "each webhook id delivered applied once"
    );
}

/// A bad signature, another secret, or a timestamp more than five minutes away: 400
/// `invalid_signature` and nothing changed. The genuine delivery replayed twenty times
/// applies once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_stale_webhooks_are_refused_and_replays_change_nothing() {
    let receiver = Receiver::start(Vec::new());
    let shop = PayShop::start(5_000, Webhooks::To(&receiver)).await;
    let order = shop.order(1).await;
    let payment = shop.confirmed_payment(&order, "pm_ok").await;

    let other_secret = "whsec_dGhpcyBpcyBub3QgdGhlIHNoYXJlZCBzZWNyZXQ=";
    let (now, forged, body) = signed_event(other_secret, "evt_forged", &payment, "19.99");
    let refused = deliver(&shop.app, "evt_forged", now, &forged, &body).await;
    expect_problem(refused, StatusCode::BAD_REQUEST, "invalid_signature").await;

    let (_, _, body) = signed_event(SECRET, "evt_stale", &payment, "19.99");
    let stale = chrono::Utc::now().timestamp() - 301;
    let signature = WebhookSecret::parse(SECRET)
        .unwrap()
        .sign("evt_stale", stale, body.as_bytes());
    let refused = deliver(&shop.app, "evt_stale", stale, &signature, &body).await;
    expect_problem(refused, StatusCode::BAD_REQUEST, "invalid_signature").await;

    let (now, signature, body) = signed_event(SECRET, "evt_altered", &payment, "19.99");
    let altered = body.replace("19.99", "0.01");
    let refused = deliver(&shop.app, "evt_altered", now, &signature, &altered).await;
    expect_problem(refused, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let unsigned = shop
        .app
        .client
        .post(shop.app.url("/api/v1/payments/webhooks/test"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_problem(unsigned, StatusCode::BAD_REQUEST, "invalid_signature").await;

    assert_eq!(shop.applied_webhooks(), 0);
    assert_eq!(
        shop.read_order(&order).await["payment_status"],
        "awaiting_payment"
    );

    // The genuine one, after the capture, twenty times over.
    let paid = expect_json(
        shop.complete(&shop.app, &order, &payment).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paid["payment_status"], "paid");
    let hook = receiver.until(1).await.remove(0);
    let replays = join_all((0..20).map(|_| forward(&shop.app, &hook))).await;
    assert!(replays.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(shop.applied_webhooks(), 1);
}

/// A capture that is not what the order charges leaves the order unpaid and the payment
/// flagged for review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_of_another_amount_is_held_for_review() {
    let receiver = Receiver::start(Vec::new());
    let shop = PayShop::start(5_000, Webhooks::To(&receiver)).await;
    let order = shop.order(1).await;
    let payment = shop.confirmed_payment(&order, "pm_ok").await;
    let (now, signature, body) = signed_event(SECRET, "evt_short", &payment, "9.99");
    let applied = deliver(&shop.app, "evt_short", now, &signature, &body).await;
    assert_eq!(applied.status(), StatusCode::OK);
    let read = shop.read_order(&order).await;
    assert_eq!(read["payment_status"], "awaiting_payment");
    assert_eq!(read["payments"][0]["status"], "succeeded");
    assert_eq!(read["payments"][0]["requires_review"], true);
}

/// The gateway down: starting and completing a payment answer 503 with Retry-After and
/// record nothing half-done; once it is back, the reconciliation job settles the payment
/// the shopper never came back for, with one capture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_gateway_down_nothing_is_half_done_and_reconciliation_settles_later() {
    let mut shop = PayShop::start(1_000, Webhooks::ToService).await;
    let order = shop.order(1).await;
    let db = shop.app.db.clone();
    shop.gateway.process.kill().unwrap();
    shop.gateway.process.wait().unwrap();

    let down = shop.start_payment(&shop.app, &order).await;
    assert!(down.headers().contains_key("retry-after"));
    expect_problem(down, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    assert_eq!(shop.read_order(&order).await["payments"], json!([]));

    let webhook_url = shop.app.url("/api/v1/payments/webhooks/test");
    shop.gateway = Gateway::start_on(shop.gateway_port, &db, &webhook_url, 1_000).await;
    let payment = shop.confirmed_payment(&order, "pm_ok").await;
    shop.gateway.process.kill().unwrap();
    shop.gateway.process.wait().unwrap();
    let down = shop.complete(&shop.app, &order, &payment).await;
    expect_problem(down, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    assert_eq!(
        shop.read_order(&order).await["payments"][0]["status"],
        "pending"
    );

    // Back up; the shopper never returns. Make the payment due for a check now rather
    // than 30 s after its creation.
    shop.gateway = Gateway::start_on(shop.gateway_port, &db, &webhook_url, 1_000).await;
    checks_due_now(&db);
    let settled = order_once(&shop, &order, |read| read["payment_status"] == "paid").await;
    assert_eq!(settled["payment_status"], "paid", "{settled}");
    assert_eq!(shop.capture_count(&payment).await, 1);
}

/// A capture that lands after the order was cancelled is refunded at once, in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_captured_after_the_order_was_cancelled_is_refunded_at_once() {
    let receiver = Receiver::start(Vec::new());
    let shop = PayShop::start(1_000, Webhooks::To(&receiver)).await;
    let order = shop.order(1).await;
    let payment = shop.confirmed_payment(&order, "pm_ok_slow").await;
    // The capture happens at the gateway; the answer comes too late.
    let timed_out = shop.complete(&shop.app, &order, &payment).await;
    assert_eq!(timed_out.status(), StatusCode::SERVICE_UNAVAILABLE);
    let cancelled = expect_json(
        shop.app.cancel_order(&shop.alice, &order, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["payment_status"], "voided");

    let hook = receiver.until(1).await.remove(0);
    let applied = forward(&shop.app, &hook).await;
    assert_eq!(applied.status(), StatusCode::OK);
    let read = shop.read_order(&order).await;
    assert_eq!(read["status"], "cancelled");
    assert_eq!(read["payment_status"], "refunded");
    assert_eq!(read["refunds"][0]["amount"], "19.99");
    assert_eq!(read["refunds"][0]["status"], "succeeded");
    let intent = shop.gateway.intent(&payment["provider_ref"]).await;
    assert_eq!(intent["refunded_amount"], "19.99");
    assert_eq!(intent["capture_count"], 1);
}

/// Staff refunds: partial, then the rest; a retried key refunds once; never more than was
/// captured; the gateway holds the same sums. Customers may not refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_are_idempotent_and_never_exceed_the_capture() {
    let shop = PayShop::start(5_000, Webhooks::ToService).await;
    let (order, payment) = shop.paid_order().await;

    expect_problem(
        shop.refund(&order, "5.00", None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let customer = shop
        .app
        .client
        .post(
            shop.app
                .url(&format!("/api/v1/orders/{}/refunds", order["id"])),
        )
        .bearer_auth(&shop.alice.token)
        .header("Idempotency-Key", "mine")
        .json(&json!({"amount": "5.00"}))
        .send()
        .await
        .unwrap();
    expect_problem(customer, StatusCode::FORBIDDEN, "forbidden").await;

    let partial = shop.refund(&order, "5.00", Some("r-1")).await;
    assert!(partial.headers().get("idempotent-replayed").is_none());
    let partial = expect_json(partial, StatusCode::CREATED).await;
    assert_eq!(partial["payment_status"], "partially_refunded");
    assert_eq!(partial["refunds"][0]["status"], "succeeded");
    let replayed = shop.refund(&order, "5.00", Some("r-1")).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    let replayed = expect_json(replayed, StatusCode::CREATED).await;
    assert_eq!(replayed["refunds"].as_array().unwrap().len(), 1);
    expect_problem(
        shop.refund(&order, "6.00", Some("r-1")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // Ten racing refunds of 10.00 each against 34.98 left: three fit.
    let (shop_ref, order_ref) = (&shop, &order);
    let racing = join_all((0..10).map(|i| async move {
        let key = format!("race-{i}");
        shop_ref
            .refund(order_ref, "10.00", Some(&key))
            .await
            .status()
    }))
    .await;
    let made = racing.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(made, 3, "{racing:?}");
    assert!(racing
        .iter()
        .all(|s| *s == StatusCode::CREATED || *s == StatusCode::UNPROCESSABLE_ENTITY));
    let too_much = shop.refund(&order, "4.99", Some("r-2")).await;
    let problem = expect_problem(
        too_much,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "amount");

    let rest = expect_json(
        shop.refund(&order, "4.98", Some("r-3")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(rest["payment_status"], "refunded");
    expect_problem(
        shop.refund(&order, "0.01", Some("r-4")).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    let intent = shop.gateway.intent(&payment["provider_ref"]).await;
    assert_eq!(intent["refunded_amount"], "39.98");
    assert_eq!(shop.events_of("order.refunded"), 5, "one per refund made");

    // Money only: the goods did not come back by themselves.
    let product = expect_json(
        shop.app
            .get(&format!("/api/v1/products/{}", shop.product["id"]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(product["inventory_count"], 8, "stock as checkout left it");
}

/// Staff cancel a paid order: the stock comes back and the capture is refunded in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_paid_order_refunds_what_was_captured() {
    let shop = PayShop::start(5_000, Webhooks::ToService).await;
    let (order, payment) = shop.paid_order().await;
    let cancelled = expect_json(
        shop.app
            .cancel_order(&shop.admin, &order, Some("out of stock after all"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment_status"], "refunded");
    assert_eq!(cancelled["refunds"][0]["amount"], "39.98");
    assert_eq!(cancelled["refunds"][0]["status"], "succeeded");
    assert_eq!(cancelled["refunds"][0]["reason"], "out of stock after all");
    let intent = shop.gateway.intent(&payment["provider_ref"]).await;
    assert_eq!(intent["refunded_amount"], "39.98");
}

/// The webhook's body is read only once its signature holds: signed, an array or a
/// string is not an event (400 `bad_request`), and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_body_that_is_not_an_event_is_400() {
    let shop = PayShop::start(5_000, Webhooks::ToService).await;
    let secret = WebhookSecret::parse(SECRET).unwrap();
    for (id, body) in [
        ("evt_a", r#"["evt_a","payment.succeeded"]"#),
        ("evt_s", r#""evt_s""#),
    ] {
        let now = chrono::Utc::now().timestamp();
        let signature = secret.sign(id, now, body.as_bytes());
        let refused = deliver(&shop.app, id, now, &signature, body).await;
        expect_problem(refused, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    assert_eq!(shop.applied_webhooks(), 0);
}

/// An order cancelled while its payment is open: no new payment starts, and the
/// reconciliation job cancels the abandoned intent at the gateway, so nobody can pay for
/// it later and it is not checked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_intent_of_a_cancelled_order_is_cancelled_at_the_gateway() {
    let shop = PayShop::start(5_000, Webhooks::ToService).await;
    let order = shop.order(1).await;
    let payment = expect_json(
        shop.start_payment(&shop.app, &order).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        shop.app.cancel_order(&shop.alice, &order, None).await,
        StatusCode::OK,
    )
    .await;
    expect_problem(
        shop.start_payment(&shop.app, &order).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    checks_due_now(&shop.app.db);
    let read = order_once(&shop, &order, |read| {
        read["payments"][0]["status"] == "cancelled"
    })
    .await;
    assert_eq!(read["payments"][0]["status"], "cancelled", "{read}");
    assert_eq!(read["payments"][0]["next_action"], Value::Null);
    assert_eq!(
        shop.gateway.intent(&payment["provider_ref"]).await["status"],
        "cancelled"
    );
    let late = shop.gateway.confirm(&payment, "pm_ok").await;
    assert_ne!(late["status"], "succeeded", "{late}");
}
