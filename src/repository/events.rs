//! The outbox: an event is written in the transaction of the change it reports, with one
//! delivery for each enabled webhook endpoint that wants its type, in one statement. A
//! change that rolls back takes its event and deliveries with it; one that commits has
//! them, for the relay to send (DESIGN §11).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Text};
use rand::RngCore;
use serde_json::json;

use crate::domain::EventType;
use crate::models::StockReason;
use crate::schema::stock_movements;

/// Records `event` with `data` (ids and states) in the caller's transaction; returns its
/// id, the `webhook-id` of every delivery of it.
pub fn record(
    conn: &mut PgConnection,
    event: EventType,
    data: serde_json::Value,
) -> QueryResult<String> {
    let id = new_event_id();
    diesel::sql_query(RECORD)
        .bind::<Text, _>(&id)
        .bind::<Text, _>(event.as_str())
        .bind::<Jsonb, _>(data)
        .execute(conn)?;
    Ok(id)
}

const RECORD: &str = "
    WITH event AS (
        INSERT INTO events (id, type, data) VALUES ($1, $2, $3) RETURNING id, type
    )
    INSERT INTO webhook_deliveries (endpoint_id, event_id)
    SELECT endpoint.id, event.id FROM event, webhook_endpoints endpoint
    WHERE endpoint.enabled
      AND (cardinality(endpoint.events) = 0 OR event.type = ANY (endpoint.events))";

/// `evt_` and 24 hex digits (96 random bits).
fn new_event_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("evt_{hex}")
}

/// Records `stock.low` for each product that order `order_id`'s checkout took from at or
/// above `threshold` to below it (read from the order's stock movements, in the caller's
/// transaction).
pub fn record_low_stock_after_checkout(
    conn: &mut PgConnection,
    order_id: i32,
    threshold: i32,
) -> QueryResult<()> {
    let crossed: Vec<(i32, i32)> = stock_movements::table
        .filter(stock_movements::order_id.eq(order_id))
        .filter(stock_movements::reason.eq(StockReason::Checkout))
        .filter(stock_movements::resulting_count.lt(threshold))
        .filter((stock_movements::resulting_count - stock_movements::delta).ge(threshold))
        .select((
            stock_movements::product_id,
            stock_movements::resulting_count,
        ))
        .load(conn)?;
    for (product_id, inventory_count) in crossed {
        record_low_stock(conn, product_id, inventory_count, threshold)?;
    }
    Ok(())
}

/// Records `stock.low` for a product whose stock went from `before` to `after`, if that
/// crossed below `threshold`.
pub fn record_if_stock_fell(
    conn: &mut PgConnection,
    product_id: i32,
    before: i32,
    after: i32,
    threshold: i32,
) -> QueryResult<()> {
    if before >= threshold && after < threshold {
        record_low_stock(conn, product_id, after, threshold)?;
    }
    Ok(())
}

fn record_low_stock(
    conn: &mut PgConnection,
    product_id: i32,
    inventory_count: i32,
    threshold: i32,
) -> QueryResult<String> {
    record(
        conn,
        EventType::StockLow,
        json!({"product_id": product_id, "inventory_count": inventory_count, "threshold": threshold}),
    )
}
