//! The test payment gateway (DESIGN.md §9), as a process of its own: `storefront
//! payment-gateway` on a free port with its own database, driven over HTTP as the service
//! and a shopper would drive it, its webhooks received by a server of the test's own.

use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use storefront::domain::WebhookSecret;

use crate::binary::{free_port, storefront};
use crate::common::TestDb;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A webhook as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// A receiver on port 0 that records every delivery and answers each with the next of
/// `statuses` (then 200).
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(statuses: Vec<u16>) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(statuses));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (log, queue) = (received.clone(), answers.clone());
        let server = HttpServer::new(move || {
            let (log, queue) = (log.clone(), queue.clone());
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (log, queue) = (log.clone(), queue.clone());
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        log.lock().unwrap().push(Received {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let mut queue = queue.lock().unwrap();
                        let status = if queue.is_empty() {
                            200
                        } else {
                            queue.remove(0)
                        };
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                            .finish()
                    }
                }),
            )
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .run();
        tokio::spawn(server);
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` deliveries have arrived.
    pub async fn until(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} webhooks: {received:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The gateway process.
pub struct Gateway {
    pub process: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Gateway {
    pub async fn start(db: &TestDb, webhook_url: &str, timeout_ms: u32) -> Self {
        Self::start_on(free_port(), db, webhook_url, timeout_ms).await
    }

    /// On a port chosen beforehand (a service must know it before it starts; a restarted
    /// gateway comes back where it was).
    pub async fn start_on(port: u16, db: &TestDb, webhook_url: &str, timeout_ms: u32) -> Self {
        let process = storefront()
            .arg("payment-gateway")
            .env("DATABASE_URL", db.url().expose())
            .env("PAYMENT_GATEWAY_BIND", format!("127.0.0.1:{port}"))
            .env("PAYMENT_WEBHOOK_URL", webhook_url)
            .env("PAYMENT_WEBHOOK_SECRET", SECRET)
            .env("PAYMENT_GATEWAY_TIMEOUT_MS", timeout_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let gateway = Self {
            process,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while gateway
            .client
            .get(gateway.url("/v1/test/events"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the gateway never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        gateway
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The shopper confirms an intent at the gateway with `method`; its answer.
    pub async fn confirm(&self, payment: &Value, method: &str) -> Value {
        self.client
            .post(payment["next_action"]["url"].as_str().unwrap())
            .json(&json!({"client_secret": payment["client_secret"], "payment_method": method}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn intent(&self, id: &Value) -> Value {
        let path = format!("/v1/intents/{}", id.as_str().unwrap());
        self.client
            .get(self.url(&path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A new intent for `amount`, confirmed by the shopper with `method`.
    pub async fn confirmed(&self, key: &str, amount: &str, method: &str) -> Value {
        let (status, intent) = self
            .post(
                "/v1/intents",
                Some(key),
                &json!({"amount": amount, "currency": "EUR"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        let url = intent["next_action"]["url"].as_str().unwrap().to_owned();
        let confirmed = self
            .client
            .post(url)
            .json(&json!({"client_secret": intent["client_secret"], "payment_method": method}))
            .send()
            .await
            .unwrap();
        assert_eq!(confirmed.status(), StatusCode::OK);
        intent
    }
}

/// Intents and captures are idempotent by key: the same key twice is one intent; twenty
/// concurrent captures with one key capture once and all get the same answer; a capture
/// with a new key is refused, and the gateway still counts one capture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_merchant_call_happens_once_per_key() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    let gateway = Gateway::start(&db, &receiver.url, 5_000).await;

    let intent = gateway
        .confirmed("order-1-payment-0", "34.97", "pm_ok")
        .await;
    assert_eq!(intent["status"], "requires_confirmation");
    assert_eq!(intent["amount"], "34.97");
    let (_, again) = gateway
        .post(
            "/v1/intents",
            Some("order-1-payment-0"),
            &json!({"amount": "34.97", "currency": "EUR"}),
        )
        .await;
    assert_eq!(again["id"], intent["id"], "the same key is the same intent");
    assert_eq!(
        gateway.intent(&intent["id"]).await["status"],
        "requires_capture"
    );

    let path = format!("/v1/intents/{}/capture", intent["id"].as_str().unwrap());
    let empty = json!({});
    let captures = join_all((0..20).map(|_| gateway.post(&path, Some("capture-1"), &empty))).await;
    for (status, answer) in &captures {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer["status"], "succeeded");
        assert_eq!(answer["capture_count"], 1);
    }
    let (status, refused) = gateway.post(&path, Some("capture-2"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let read = gateway.intent(&intent["id"]).await;
    assert_eq!(read["capture_count"], 1);
    assert_eq!(read["captured_amount"], "34.97");
    let (status, _) = gateway.post(&path, None, &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a capture without a key");
}

/// `pm_ok_slow`: the gateway captures, then answers after the caller's timeout; the retry
/// with the same key gets the capture's answer at once, and there is one capture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_capture_captures_once_and_its_retry_is_answered_at_once() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    // The service would wait 300 ms: the slow capture answers after 1.3 s.
    let gateway = Gateway::start(&db, &receiver.url, 300).await;
    let intent = gateway.confirmed("slow-1", "10.00", "pm_ok_slow").await;
    let path = format!("/v1/intents/{}/capture", intent["id"].as_str().unwrap());
    let timed_out = gateway
        .client
        .post(gateway.url(&path))
        .header("idempotency-key", "capture-slow-1")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        timed_out.is_err(),
        "the slow capture answered in time: {timed_out:?}"
    );
    assert_eq!(
        gateway.intent(&intent["id"]).await["capture_count"],
        1,
        "captured already"
    );
    let started = Instant::now();
    let (status, answer) = gateway
        .post(&path, Some("capture-slow-1"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "succeeded");
    assert!(
        started.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gateway.intent(&intent["id"]).await["capture_count"], 1);
}

/// What the payment method decides: `pm_declined` is declined (with a reason, and a
/// `payment.failed` event), `pm_requires_action` asks again and then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_methods_decide_the_outcome() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    let gateway = Gateway::start(&db, &receiver.url, 5_000).await;
    let (_, intent) = gateway
        .post(
            "/v1/intents",
            Some("k1"),
            &json!({"amount": "5.00", "currency": "EUR"}),
        )
        .await;
    let confirm = |method: &str| {
        gateway
            .client
            .post(intent["next_action"]["url"].as_str().unwrap())
            .json(&json!({"client_secret": intent["client_secret"], "payment_method": method}))
            .send()
    };
    let first: Value = confirm("pm_requires_action")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "requires_action");
    let second: Value = confirm("pm_requires_action")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["status"], "succeeded");

    let (_, declined) = gateway
        .post(
            "/v1/intents",
            Some("k2"),
            &json!({"amount": "5.00", "currency": "EUR"}),
        )
        .await;
    let answer: Value = gateway
        .client
        .post(declined["next_action"]["url"].as_str().unwrap())
        .json(&json!({"client_secret": declined["client_secret"], "payment_method": "pm_declined"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"status": "declined", "reason": "card_declined"})
    );
    let failed = receiver.until(1).await;
    let body: Value = serde_json::from_str(&failed[0].body).unwrap();
    assert_eq!(body["type"], "payment.failed");
    assert_eq!(body["data"]["intent_id"], declined["id"]);
    let wrong = gateway
        .client
        .post(declined["next_action"]["url"].as_str().unwrap())
        .json(&json!({"client_secret": "nope", "payment_method": "pm_ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
}

/// Webhooks: signed as Standard Webhooks v1 (they verify with the secret), retried after
/// a 500 with the same `webhook-id`, sent again on demand, held back while paused and then
/// sent newest first; and refunds never exceed what was captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arrive_signed_at_least_once_late_twice_and_out_of_order() {
    let db = TestDb::new();
    let receiver = Receiver::start(vec![500]);
    let gateway = Gateway::start(&db, &receiver.url, 5_000).await;
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let intent = gateway.confirmed("w1", "20.00", "pm_ok").await;
    let id = intent["id"].as_str().unwrap().to_owned();
    gateway
        .post(&format!("/v1/intents/{id}/capture"), Some("c1"), &json!({}))
        .await;

    // 500, then 200: the same event twice.
    let got = receiver.until(2).await;
    assert_eq!(got[0].id, got[1].id);
    let now = chrono::Utc::now().timestamp();
    for delivery in &got {
        secret
            .verify(
                &delivery.id,
                &delivery.timestamp,
                &delivery.signature,
                delivery.body.as_bytes(),
                now,
            )
            .expect("the signature verifies");
    }
    let body: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(body["id"], got[1].id.as_str());
    assert_eq!(body["type"], "payment.succeeded");
    assert_eq!(
        body["data"],
        json!({"intent_id": id, "amount": "20.00", "currency": "EUR"})
    );

    // Twice on demand: the same id again.
    let (status, _) = gateway
        .post(
            &format!("/v1/test/events/{}/redeliver", got[0].id),
            None,
            &json!({"times": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = receiver.until(5).await;
    assert!(got.iter().all(|delivery| delivery.id == got[0].id));

    // Late and out of order: held back, then newest first.
    gateway
        .post("/v1/test/delivery", None, &json!({"paused": true}))
        .await;
    for (n, amount) in ["1.00", "2.00"].iter().enumerate() {
        let (status, refund) = gateway
            .post(
                &format!("/v1/intents/{id}/refunds"),
                Some(&format!("r{n}")),
                &json!({"amount": amount}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{refund}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 5, "nothing while paused");
    gateway
        .post(
            "/v1/test/delivery",
            None,
            &json!({"paused": false, "newest_first": true}),
        )
        .await;
    let got = receiver.until(7).await;
    let amounts: Vec<String> = got[5..]
        .iter()
        .map(|delivery| {
            serde_json::from_str::<Value>(&delivery.body).unwrap()["data"]["amount"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(amounts, ["2.00", "1.00"], "newest first");

    let (status, _) = gateway
        .post(
            &format!("/v1/intents/{id}/refunds"),
            Some("r9"),
            &json!({"amount": "17.01"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "17.00 is left");
    assert_eq!(
        gateway.intent(&intent["id"]).await["refunded_amount"],
        "3.00"
    );
}

/// The gateway keeps its state in its own database: stopped and started again, it knows
/// its intents and still honours their keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_survives_its_own_restart() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    let first = Gateway::start(&db, &receiver.url, 5_000).await;
    let intent = first.confirmed("r1", "7.50", "pm_ok").await;
    drop(first);
    let second = Gateway::start(&db, &receiver.url, 5_000).await;
    assert_eq!(
        second.intent(&intent["id"]).await["status"],
        "requires_capture"
    );
    let (_, again) = second
        .post(
            "/v1/intents",
            Some("r1"),
            &json!({"amount": "7.50", "currency": "EUR"}),
        )
        .await;
    assert_eq!(again["id"], intent["id"]);
}
