//! The service's client of the test gateway (`outbound::TestGateway`, a
//! `PaymentProvider`) against the gateway running as a process of its own: what each call
//! reports, how a timeout and an outage look (Unavailable: retry with the same key), how a
//! refusal looks (Rejected: nothing happened), and which webhooks it accepts.

use std::time::Duration;

use bigdecimal::BigDecimal;
use storefront::domain::WebhookSecret;
use storefront::outbound::{
    IntentStatus, NewIntent, PaymentProvider, ProviderError, TestGateway, WebhookError,
    WebhookHeaders, WebhookKind,
};

use crate::common::TestDb;
use crate::payment_gateway::{Gateway, Receiver, SECRET};

fn provider(gateway: &Gateway, timeout_ms: u64) -> TestGateway {
    TestGateway::new(
        &gateway.base,
        Duration::from_millis(timeout_ms),
        WebhookSecret::parse(SECRET).unwrap(),
    )
}

fn money(text: &str) -> BigDecimal {
    text.parse().unwrap()
}

/// Confirms an intent the way a shopper's browser does.
async fn confirm(gateway: &Gateway, url: &str, secret: &str, method: &str) {
    let answer = gateway
        .client
        .post(url)
        .json(&serde_json::json!({"client_secret": secret, "payment_method": method}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// The whole life of an intent through the client: created (once per key), authorised by
/// the shopper, captured (once per key), partly refunded; and a refusal is `Rejected`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_from_creation_to_refund() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    let gateway = Gateway::start(&db, &receiver.url, 5_000).await;
    let client = provider(&gateway, 5_000);
    let amount = money("34.97");
    let new = NewIntent {
        amount: &amount,
        currency: "EUR",
        idempotency_key: "order-7-payment-0",
    };
    let created = client.create_intent(new).await.unwrap();
    assert_eq!(created.state.status, IntentStatus::AwaitingShopper);
    assert_eq!(created.state.amount, amount);
    assert_eq!(
        client.create_intent(new).await.unwrap(),
        created,
        "one intent per key"
    );
    let intent = created.state.provider_ref.clone();

    let refused = client.capture(&intent, "capture-early").await.unwrap_err();
    assert!(
        matches!(&refused, ProviderError::Rejected { status: 409, code, .. } if code == "not_capturable"),
        "{refused:?}"
    );
    confirm(
        &gateway,
        &created.confirm_url,
        &created.client_secret,
        "pm_ok",
    )
    .await;
    assert_eq!(
        client.retrieve(&intent).await.unwrap().status,
        IntentStatus::Authorized
    );

    let captured = client.capture(&intent, "capture-7").await.unwrap();
    assert_eq!(captured.status, IntentStatus::Captured);
    assert_eq!(captured.captured_amount, amount);
    assert_eq!(
        client.capture(&intent, "capture-7").await.unwrap(),
        captured
    );
    assert_eq!(
        gateway.intent(&intent.as_str().into()).await["capture_count"],
        1
    );

    let refunded = client
        .refund(&intent, &money("4.97"), "refund-7-1")
        .await
        .unwrap();
    assert_eq!(refunded.amount, money("4.97"));
    let again = client
        .refund(&intent, &money("4.97"), "refund-7-1")
        .await
        .unwrap();
    assert_eq!(again, refunded, "one refund per key");
    assert_eq!(
        client.retrieve(&intent).await.unwrap().refunded_amount,
        money("4.97")
    );
    let too_much = client
        .refund(&intent, &money("30.01"), "refund-7-2")
        .await
        .unwrap_err();
    assert!(
        matches!(too_much, ProviderError::Rejected { status: 422, .. }),
        "{too_much:?}"
    );
}

/// A `pm_ok_slow` capture outlives the client's timeout: `Unavailable`, though it
/// happened; reading the intent shows it captured, and the retry with the same key is
/// answered at once without a second capture. A gateway that is gone is `Unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_an_outage_are_unavailable_and_a_retry_never_captures_twice() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    let mut gateway = Gateway::start(&db, &receiver.url, 300).await;
    let client = provider(&gateway, 300);
    let amount = money("10.00");
    let created = client
        .create_intent(NewIntent {
            amount: &amount,
            currency: "EUR",
            idempotency_key: "slow-order",
        })
        .await
        .unwrap();
    confirm(
        &gateway,
        &created.confirm_url,
        &created.client_secret,
        "pm_ok_slow",
    )
    .await;
    let intent = created.state.provider_ref;
    let timed_out = client.capture(&intent, "capture-slow").await.unwrap_err();
    assert!(
        matches!(timed_out, ProviderError::Unavailable(_)),
        "{timed_out:?}"
    );
    assert_eq!(
        client.retrieve(&intent).await.unwrap().status,
        IntentStatus::Captured
    );
    let retried = client.capture(&intent, "capture-slow").await.unwrap();
    assert_eq!(retried.status, IntentStatus::Captured);
    assert_eq!(
        gateway.intent(&intent.as_str().into()).await["capture_count"],
        1
    );

    let _ = gateway.process.kill();
    let _ = gateway.process.wait();
    let down = client.retrieve(&intent).await.unwrap_err();
    assert!(matches!(down, ProviderError::Unavailable(_)), "{down:?}");
}

/// Webhooks: a real delivery verifies and reads as its event; a body changed, a
/// signature from another secret, an id that is not the event's, or a timestamp more than
/// five minutes away are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_verify_only_as_sent() {
    let db = TestDb::new();
    let receiver = Receiver::start(Vec::new());
    let gateway = Gateway::start(&db, &receiver.url, 5_000).await;
    let client = provider(&gateway, 5_000);
    let intent = gateway.confirmed("hooked", "12.50", "pm_ok").await;
    let id = intent["id"].as_str().unwrap();
    client.capture(id, "capture-hooked").await.unwrap();
    let delivery = receiver.until(1).await.remove(0);
    let headers = WebhookHeaders {
        id: &delivery.id,
        timestamp: &delivery.timestamp,
        signature: &delivery.signature,
    };
    let now = chrono::Utc::now().timestamp();
    let event = client
        .verify_webhook(headers, delivery.body.as_bytes(), now)
        .unwrap();
    assert_eq!(event.kind, WebhookKind::PaymentSucceeded);
    assert_eq!(event.intent_ref, id);
    assert_eq!(event.amount, money("12.50"));
    assert_eq!(event.id, delivery.id);

    let tampered = delivery.body.replace("12.50", "1.25");
    assert_eq!(
        client.verify_webhook(headers, tampered.as_bytes(), now),
        Err(WebhookError::Signature)
    );
    let other = WebhookSecret::parse("whsec_c2VjcmV0LWZyb20tc29tZXdoZXJlLWVsc2U=").unwrap();
    let forged = other.sign(&delivery.id, now, delivery.body.as_bytes());
    let timestamp = now.to_string();
    assert_eq!(
        client.verify_webhook(
            WebhookHeaders {
                signature: &forged,
                timestamp: &timestamp,
                ..headers
            },
            delivery.body.as_bytes(),
            now
        ),
        Err(WebhookError::Signature)
    );
    assert_eq!(
        client.verify_webhook(headers, delivery.body.as_bytes(), now + 301),
        Err(WebhookError::Timestamp)
    );
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let renamed = secret.sign("evt_someone_else", now, delivery.body.as_bytes());
    assert_eq!(
        client.verify_webhook(
            WebhookHeaders {
                id: "evt_someone_else",
                timestamp: &timestamp,
                signature: &renamed
            },
            delivery.body.as_bytes(),
            now
        ),
        Err(WebhookError::Malformed)
    );
}
