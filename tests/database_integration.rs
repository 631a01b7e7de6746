//! The data layer against a real PostgreSQL: the schema the migrations build, the
//! constraints that guard it, the repository functions, the migration machinery and the
//! pool's behaviour when the database cannot be reached.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::str::FromStr;
use std::time::{Duration, Instant};

use bigdecimal::BigDecimal;
use chrono::Utc;
use common::{database_config, in_rolled_back_transaction, TestDb};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Integer, Nullable, Text};
use diesel_migrations::MigrationHarness;
use storefront::config::DatabaseUrl;
use storefront::db::{self, DbError, MIGRATIONS};
use storefront::domain::Quantity;
use storefront::models::{
    CartStatus, NewProduct, NewSession, NewUser, ProductChanges, UserProfile,
};
use storefront::repository::carts::CartOwner;
use storefront::repository::{self, carts, products, sessions, users, ShopError};
use storefront::schema;

// ---------------------------------------------------------------- helpers

fn new_user(conn: &mut PgConnection, username: &str) -> UserProfile {
    users::insert(
        conn,
        &NewUser {
            username,
            email: &format!("{username}@example.com"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            name: None,
        },
    )
    .expect("insert user")
}

fn money(text: &str) -> BigDecimal {
    BigDecimal::from_str(text).expect("decimal literal")
}

/// Puts `quantity` of a product in the user's open cart, as the cart routes do.
fn add_to_cart(
    conn: &mut PgConnection,
    user_id: i32,
    product_id: i32,
    quantity: i64,
) -> carts::CartWithLines {
    let quantity = Quantity::parse(quantity).expect("a valid quantity");
    carts::add_to_open_cart(conn, CartOwner::User(user_id), product_id, quantity, None)
        .expect("add to cart")
}

fn new_product(
    conn: &mut PgConnection,
    name: &str,
    price: &str,
    stock: i32,
) -> storefront::models::Product {
    products::insert(
        conn,
        &NewProduct {
            name,
            description: Some("A thing worth buying"),
            price: &money(price),
            inventory_count: stock,
            category_ids: &[],
            images: Default::default(),
            group_id: None,
            options: None,
        },
        None,
    )
    .expect("insert product")
}

/// The constraint a failed statement violated, and of what kind.
fn violation(result: QueryResult<impl std::fmt::Debug>) -> (DatabaseErrorKind, String) {
    match result {
        Err(DieselError::DatabaseError(kind, info)) => {
            (kind, info.constraint_name().unwrap_or_default().to_owned())
        }
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
    #[diesel(sql_type = Nullable<Integer>)]
    character_maximum_length: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    column_default: Option<String>,
}

fn columns(conn: &mut PgConnection) -> Vec<ColumnInfo> {
    diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                character_maximum_length::int, column_default::text
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'
         ORDER BY table_name, ordinal_position",
    )
    .load(conn)
    .expect("read information_schema")
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct NamedDefinition {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

fn indexes(conn: &mut PgConnection) -> BTreeSet<NamedDefinition> {
    diesel::sql_query(
        "SELECT indexname::text AS name, indexdef AS definition FROM pg_indexes
         WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'",
    )
    .load::<NamedDefinition>(conn)
    .expect("read pg_indexes")
    .into_iter()
    .collect()
}

fn constraints(conn: &mut PgConnection) -> BTreeSet<NamedDefinition> {
    diesel::sql_query(
        "SELECT c.conname::text AS name, pg_get_constraintdef(c.oid) AS definition
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE n.nspname = 'public' AND c.conrelid <> 0
           AND c.conrelid::regclass::text <> '__diesel_schema_migrations'",
    )
    .load::<NamedDefinition>(conn)
    .expect("read pg_constraint")
    .into_iter()
    .collect()
}

fn triggers(conn: &mut PgConnection) -> BTreeSet<String> {
    #[derive(QueryableByName)]
    struct Trigger {
        #[diesel(sql_type = Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT tgrelid::regclass::text || '.' || tgname AS name FROM pg_trigger WHERE NOT tgisinternal",
    )
    .load::<Trigger>(conn)
    .expect("read pg_trigger")
    .into_iter()
    .map(|t| t.name)
    .collect()
}

fn definition_of<'a>(set: &'a BTreeSet<NamedDefinition>, name: &str) -> &'a str {
    &set.iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {set:#?}"))
        .definition
}

// ---------------------------------------------------------------- schema shape

#[test]
fn every_column_has_its_designed_type_and_nullability() {
    in_rolled_back_transaction(|conn| {
        let actual: Vec<(String, String, String, String, Option<i32>)> = columns(conn)
            .into_iter()
            .map(|c| {
                (
                    c.table_name,
                    c.column_name,
                    c.data_type,
                    c.is_nullable,
                    c.character_maximum_length,
                )
            })
            .collect();
        let address = |table| {
            [
                (table, "name", "character varying", "NO", Some(100)),
                (table, "line1", "character varying", "NO", Some(200)),
                (table, "line2", "character varying", "YES", Some(200)),
                (table, "city", "character varying", "NO", Some(100)),
                (table, "postal_code", "character varying", "YES", Some(20)),
                (table, "region", "character varying", "YES", Some(100)),
                (table, "country", "character varying", "NO", Some(2)),
                (table, "phone", "character varying", "YES", Some(30)),
            ]
        };
        let mut expected: Vec<(&str, &str, &str, &str, Option<i32>)> = vec![
            ("addresses", "id", "integer", "NO", None),
            ("addresses", "user_id", "integer", "NO", None),
        ];
        expected.extend(address("addresses"));
        expected.extend([
            ("addresses", "is_default", "boolean", "NO", None),
            (
                "addresses",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "addresses",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
        ]);
        expected.extend([
            ("cart_items", "id", "integer", "NO", None),
            ("cart_items", "cart_id", "integer", "NO", None),
            ("cart_items", "product_id", "integer", "NO", None),
            ("cart_items", "quantity", "integer", "NO", None),
            ("cart_items", "unit_price", "numeric", "YES", None),
            ("cart_items", "tax", "numeric", "YES", None),
            ("carts", "id", "integer", "NO", None),
            ("carts", "user_id", "integer", "YES", None),
            ("carts", "status", "character varying", "NO", Some(20)),
            (
                "carts",
                "checked_out_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "carts",
                "idempotency_key",
                "character varying",
                "YES",
                Some(255),
            ),
            (
                "carts",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "carts",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("carts", "guest_token_hash", "bytea", "YES", None),
            (
                "carts",
                "guest_expires_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            ("categories", "id", "integer", "NO", None),
            ("categories", "parent_id", "integer", "YES", None),
            ("categories", "name", "character varying", "NO", Some(255)),
            ("categories", "slug", "character varying", "NO", Some(100)),
            ("categories", "position", "integer", "NO", None),
            (
                "categories",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "categories",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("category_listings", "category_id", "integer", "NO", None),
            ("category_listings", "product_id", "integer", "NO", None),
            (
                "category_listings",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("category_listings", "price", "numeric", "NO", None),
            ("events", "id", "character varying", "NO", Some(40)),
            ("events", "type", "character varying", "NO", Some(40)),
            ("events", "data", "jsonb", "NO", None),
            (
                "events",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("fulfilments", "id", "integer", "NO", None),
            ("fulfilments", "order_id", "integer", "NO", None),
            (
                "fulfilments",
                "carrier",
                "character varying",
                "NO",
                Some(100),
            ),
            (
                "fulfilments",
                "tracking_number",
                "character varying",
                "NO",
                Some(100),
            ),
            ("fulfilments", "by_user_id", "integer", "YES", None),
            (
                "fulfilments",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
        ]);
        expected.push(("order_addresses", "order_id", "integer", "NO", None));
        expected.extend(address("order_addresses"));
        expected.extend([
            ("orders", "id", "integer", "NO", None),
            ("orders", "status", "character varying", "NO", Some(20)),
            (
                "orders",
                "payment_status",
                "character varying",
                "NO",
                Some(20),
            ),
            (
                "orders",
                "fulfilment_status",
                "character varying",
                "NO",
                Some(20),
            ),
            (
                "orders",
                "payment_due_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "orders",
                "cancelled_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "orders",
                "cancel_reason",
                "character varying",
                "YES",
                Some(500),
            ),
            (
                "orders",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "orders",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("orders", "subtotal", "numeric", "NO", None),
            ("orders", "shipping", "numeric", "NO", None),
            ("orders", "tax", "numeric", "NO", None),
            ("orders", "total", "numeric", "NO", None),
            ("orders", "tax_rate", "numeric", "NO", None),
            ("orders", "prices_include_tax", "boolean", "NO", None),
            ("orders", "shipping_method_id", "integer", "YES", None),
            (
                "orders",
                "shipping_method_name",
                "character varying",
                "YES",
                Some(100),
            ),
            ("payments", "id", "integer", "NO", None),
            ("payments", "order_id", "integer", "NO", None),
            ("payments", "provider", "character varying", "NO", Some(20)),
            (
                "payments",
                "provider_ref",
                "character varying",
                "NO",
                Some(100),
            ),
            ("payments", "status", "character varying", "NO", Some(20)),
            ("payments", "amount", "numeric", "NO", None),
            ("payments", "currency", "character varying", "NO", Some(3)),
            (
                "payments",
                "client_secret",
                "character varying",
                "NO",
                Some(255),
            ),
            (
                "payments",
                "confirm_url",
                "character varying",
                "NO",
                Some(500),
            ),
            ("payments", "captured_amount", "numeric", "NO", None),
            ("payments", "requires_review", "boolean", "NO", None),
            (
                "payments",
                "failure_reason",
                "character varying",
                "YES",
                Some(200),
            ),
            (
                "payments",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "payments",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "payments",
                "next_check_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("price_changes", "id", "bigint", "NO", None),
            ("price_changes", "product_id", "integer", "NO", None),
            ("price_changes", "old_price", "numeric", "NO", None),
            ("price_changes", "new_price", "numeric", "NO", None),
            ("price_changes", "by_user_id", "integer", "YES", None),
            (
                "price_changes",
                "at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "processed_webhooks",
                "provider",
                "character varying",
                "NO",
                Some(20),
            ),
            (
                "processed_webhooks",
                "webhook_id",
                "character varying",
                "NO",
                Some(200),
            ),
            (
                "processed_webhooks",
                "received_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("product_groups", "id", "integer", "NO", None),
            (
                "product_groups",
                "name",
                "character varying",
                "NO",
                Some(255),
            ),
            ("product_groups", "options", "jsonb", "NO", None),
            (
                "product_groups",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "product_groups",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("product_search_terms", "product_id", "integer", "NO", None),
            ("product_search_terms", "lexeme", "text", "NO", None),
            ("product_search_terms", "rank", "real", "NO", None),
            ("products", "id", "integer", "NO", None),
            ("products", "name", "character varying", "NO", Some(255)),
            ("products", "description", "text", "YES", None),
            ("products", "price", "numeric", "NO", None),
            ("products", "inventory_count", "integer", "NO", None),
            (
                "products",
                "archived_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "products",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "products",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("products", "search_vector", "tsvector", "NO", None),
            (
                "products",
                "price_changed_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            ("products", "low_price", "numeric", "YES", None),
            (
                "products",
                "low_price_until",
                "timestamp with time zone",
                "YES",
                None,
            ),
            ("products", "category_ids", "ARRAY", "NO", None),
            ("products", "group_id", "integer", "YES", None),
            ("products", "options", "jsonb", "YES", None),
            ("products", "images", "jsonb", "NO", None),
            ("refunds", "id", "integer", "NO", None),
            ("refunds", "order_id", "integer", "NO", None),
            ("refunds", "payment_id", "integer", "NO", None),
            ("refunds", "amount", "numeric", "NO", None),
            ("refunds", "reason", "character varying", "YES", Some(500)),
            ("refunds", "source", "character varying", "NO", Some(20)),
            ("refunds", "status", "character varying", "NO", Some(20)),
            (
                "refunds",
                "provider_ref",
                "character varying",
                "YES",
                Some(100),
            ),
            (
                "refunds",
                "idempotency_key",
                "character varying",
                "YES",
                Some(255),
            ),
            ("refunds", "requested_by", "integer", "YES", None),
            (
                "refunds",
                "next_attempt_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "refunds",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "refunds",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("sessions", "id", "bigint", "NO", None),
            ("sessions", "user_id", "integer", "NO", None),
            ("sessions", "token_hash", "bytea", "NO", None),
            (
                "sessions",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "sessions",
                "expires_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("shipping_methods", "id", "integer", "NO", None),
            (
                "shipping_methods",
                "name",
                "character varying",
                "NO",
                Some(100),
            ),
            ("shipping_methods", "price", "numeric", "NO", None),
            ("shipping_methods", "countries", "ARRAY", "NO", None),
            ("shipping_methods", "free_over", "numeric", "YES", None),
            (
                "shipping_methods",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "shipping_methods",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("stock_movements", "id", "bigint", "NO", None),
            ("stock_movements", "product_id", "integer", "NO", None),
            ("stock_movements", "delta", "integer", "NO", None),
            ("stock_movements", "resulting_count", "integer", "NO", None),
            (
                "stock_movements",
                "reason",
                "character varying",
                "NO",
                Some(20),
            ),
            ("stock_movements", "order_id", "integer", "YES", None),
            ("stock_movements", "by_user_id", "integer", "YES", None),
            (
                "stock_movements",
                "at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("tax_rates", "country", "character varying", "NO", Some(2)),
            ("tax_rates", "rate", "numeric", "NO", None),
            (
                "tax_rates",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "tax_rates",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("throttle_counters", "key", "text", "NO", None),
            ("throttle_counters", "attempts", "integer", "NO", None),
            (
                "throttle_counters",
                "expires_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("users", "id", "integer", "NO", None),
            ("users", "username", "character varying", "NO", Some(50)),
            ("users", "email", "character varying", "NO", Some(255)),
            ("users", "password_hash", "character varying", "NO", None),
            ("users", "is_admin", "boolean", "NO", None),
            (
                "users",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "users",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("users", "name", "character varying", "NO", Some(255)),
            ("webhook_deliveries", "id", "bigint", "NO", None),
            ("webhook_deliveries", "endpoint_id", "integer", "NO", None),
            (
                "webhook_deliveries",
                "event_id",
                "character varying",
                "NO",
                Some(40),
            ),
            (
                "webhook_deliveries",
                "status",
                "character varying",
                "NO",
                Some(20),
            ),
            ("webhook_deliveries", "attempts", "integer", "NO", None),
            (
                "webhook_deliveries",
                "next_attempt_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "webhook_deliveries",
                "last_status_code",
                "integer",
                "YES",
                None,
            ),
            (
                "webhook_deliveries",
                "last_error",
                "character varying",
                "YES",
                Some(500),
            ),
            (
                "webhook_deliveries",
                "delivered_at",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "webhook_deliveries",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "webhook_deliveries",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            ("webhook_endpoints", "id", "integer", "NO", None),
            (
                "webhook_endpoints",
                "url",
                "character varying",
                "NO",
                Some(2000),
            ),
            (
                "webhook_endpoints",
                "description",
                "character varying",
                "YES",
                Some(500),
            ),
            ("webhook_endpoints", "events", "ARRAY", "NO", None),
            ("webhook_endpoints", "enabled", "boolean", "NO", None),
            (
                "webhook_endpoints",
                "secret",
                "character varying",
                "NO",
                Some(100),
            ),
            (
                "webhook_endpoints",
                "previous_secret",
                "character varying",
                "YES",
                Some(100),
            ),
            (
                "webhook_endpoints",
                "previous_secret_until",
                "timestamp with time zone",
                "YES",
                None,
            ),
            (
                "webhook_endpoints",
                "disabled_reason",
                "character varying",
                "YES",
                Some(200),
            ),
            (
                "webhook_endpoints",
                "created_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
            (
                "webhook_endpoints",
                "updated_at",
                "timestamp with time zone",
                "NO",
                None,
            ),
        ]);
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(t, c, ty, null, len)| (t.into(), c.into(), ty.into(), null.into(), len))
            .collect();
        assert_eq!(actual, expected);
    });
}

#[test]
fn money_columns_are_numeric_12_2_and_defaults_are_set() {
    in_rolled_back_transaction(|conn| {
        #[derive(QueryableByName)]
        struct Numeric {
            #[diesel(sql_type = Text)]
            name: String,
        }
        let numeric: Vec<String> = diesel::sql_query(
            "SELECT table_name || '.' || column_name AS name FROM information_schema.columns
             WHERE table_schema = 'public' AND numeric_precision = 12 AND numeric_scale = 2
             ORDER BY 1",
        )
        .load::<Numeric>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
        assert_eq!(
            numeric,
            [
                "cart_items.unit_price",
                "category_listings.price",
                "price_changes.new_price",
                "price_changes.old_price",
                "products.low_price",
                "products.price",
                "shipping_methods.free_over",
                "shipping_methods.price",
            ]
        );
        // An order's amounts and a line's tax hold sums: room for 999 units of the
        // dearest product over many lines.
        let sums: Vec<String> = diesel::sql_query(
            "SELECT table_name || '.' || column_name AS name FROM information_schema.columns
             WHERE table_schema = 'public' AND numeric_precision = 18 AND numeric_scale = 2
             ORDER BY 1",
        )
        .load::<Numeric>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
        assert_eq!(
            sums,
            [
                "cart_items.tax",
                "orders.shipping",
                "orders.subtotal",
                "orders.tax",
                "orders.total",
                "payments.amount",
                "payments.captured_amount",
                "refunds.amount",
            ]
        );

        let defaults: Vec<(String, String)> = columns(conn)
            .into_iter()
            .filter_map(|c| {
                Some((
                    format!("{}.{}", c.table_name, c.column_name),
                    c.column_default?,
                ))
            })
            .filter(|(name, _)| !name.ends_with(".id"))
            .collect();
        for (column, default) in [
            ("users.is_admin", "false"),
            ("users.created_at", "now()"),
            ("users.updated_at", "now()"),
            ("products.created_at", "now()"),
            ("products.updated_at", "now()"),
            ("carts.status", "'open'::character varying"),
            ("carts.created_at", "now()"),
            ("sessions.created_at", "now()"),
            // The ledger's clock at the write, not the transaction's start (see the migration).
            ("price_changes.at", "clock_timestamp()"),
            ("stock_movements.at", "clock_timestamp()"),
        ] {
            assert!(
                defaults.contains(&(column.to_owned(), default.to_owned())),
                "{column} should default to {default}; defaults are {defaults:?}"
            );
        }
    });
}

#[test]
fn every_designed_index_exists_with_its_definition() {
    in_rolled_back_transaction(|conn| {
        let indexes = indexes(conn);
        let expect = |name: &str, fragments: &[&str]| {
            let definition = definition_of(&indexes, name);
            for fragment in fragments {
                assert!(
                    definition.contains(fragment),
                    "{name}: {definition} lacks {fragment}"
                );
            }
        };
        expect("users_username_key", &["UNIQUE", "(username)"]);
        expect("users_email_lower_key", &["UNIQUE", "lower((email)::text)"]);
        expect("users_created_at_idx", &["(created_at)"]);
        expect("products_search_vector_idx", &["USING gin (search_vector)"]);
        expect(
            "products_price_id_idx",
            &["(price, id)", "WHERE (archived_at IS NULL)"],
        );
        expect(
            "products_created_at_id_idx",
            &["(created_at, id)", "WHERE (archived_at IS NULL)"],
        );
        expect("carts_user_id_idx", &["(user_id)"]);
        expect(
            "carts_one_open_per_user_idx",
            &[
                "UNIQUE",
                "(user_id)",
                "WHERE ((status)::text = 'open'::text)",
            ],
        );
        expect(
            "carts_user_id_idempotency_key_idx",
            &[
                "UNIQUE",
                "(user_id, idempotency_key)",
                "WHERE (idempotency_key IS NOT NULL)",
            ],
        );
        expect(
            "carts_orders_idx",
            &["(user_id, checked_out_at, id)", "checked_out"],
        );
        expect(
            "cart_items_cart_id_product_id_key",
            &["UNIQUE", "(cart_id, product_id)"],
        );
        expect("cart_items_product_id_idx", &["(product_id)"]);
        expect(
            "carts_guest_token_hash_key",
            &["UNIQUE", "(guest_token_hash)"],
        );
        expect(
            "carts_guest_expires_at_idx",
            &["(guest_expires_at)", "WHERE (guest_expires_at IS NOT NULL)"],
        );
        expect(
            "carts_checked_out_at_idx",
            &["(checked_out_at DESC, id DESC)", "checked_out"],
        );
        expect(
            "orders_payment_due_at_idx",
            &["(payment_due_at)", "WHERE (payment_due_at IS NOT NULL)"],
        );
        expect(
            "orders_states_idx",
            &["(status, payment_status, fulfilment_status)"],
        );
        expect("fulfilments_order_id_idx", &["(order_id)"]);
        expect(
            "fulfilments_by_user_id_idx",
            &["(by_user_id)", "WHERE (by_user_id IS NOT NULL)"],
        );
        expect(
            "stock_movements_one_release_idx",
            &["UNIQUE", "(order_id, product_id)", "'release'"],
        );
        expect("sessions_token_hash_key", &["UNIQUE", "(token_hash)"]);
        expect("sessions_user_id_idx", &["(user_id)"]);
        expect("sessions_expires_at_idx", &["(expires_at)"]);
        expect("throttle_counters_expires_at_idx", &["(expires_at)"]);
        expect(
            "price_changes_product_id_at_idx",
            &["(product_id, at DESC, id DESC) INCLUDE (old_price)"],
        );
        expect(
            "price_changes_by_user_id_idx",
            &["(by_user_id)", "WHERE (by_user_id IS NOT NULL)"],
        );
        expect(
            "stock_movements_product_id_at_idx",
            &["(product_id, at DESC, id DESC)"],
        );
        expect(
            "stock_movements_order_id_idx",
            &["(order_id)", "WHERE (order_id IS NOT NULL)"],
        );
        expect(
            "stock_movements_by_user_id_idx",
            &["(by_user_id)", "WHERE (by_user_id IS NOT NULL)"],
        );
        expect(
            "product_search_terms_lexeme_rank_idx",
            &["(lexeme, rank DESC, product_id)"],
        );
        expect(
            "product_search_terms_pkey",
            &["UNIQUE", "(product_id, lexeme)"],
        );
        expect("addresses_user_id_idx", &["(user_id, id)"]);
        expect(
            "addresses_one_default_per_user",
            &["UNIQUE", "(user_id)", "WHERE is_default"],
        );
        expect("shipping_methods_countries_idx", &["USING gin (countries)"]);
        expect(
            "payments_one_open_per_order",
            &["UNIQUE", "(order_id)", "pending", "requires_action"],
        );
        expect("payments_order_id_idx", &["(order_id)"]);
        expect(
            "payments_open_next_check_idx",
            &["(next_check_at)", "pending", "requires_action"],
        );
        expect(
            "refunds_one_automatic_per_payment",
            &["UNIQUE", "(payment_id, source)", "WHERE"],
        );
        expect(
            "refunds_order_id_idempotency_key_key",
            &["UNIQUE", "(order_id, idempotency_key)"],
        );
        expect(
            "refunds_pending_idx",
            &[
                "(next_attempt_at)",
                "WHERE ((status)::text = 'pending'::text)",
            ],
        );
        expect("refunds_order_id_idx", &["(order_id)"]);
        expect("refunds_payment_id_idx", &["(payment_id)"]);
        expect("refunds_requested_by_idx", &["(requested_by)"]);
        expect("events_created_at_idx", &["(created_at)"]);
        expect(
            "webhook_deliveries_due_idx",
            &[
                "(next_attempt_at)",
                "WHERE ((status)::text = 'pending'::text)",
            ],
        );
        expect(
            "webhook_deliveries_endpoint_id_event_id_key",
            &["UNIQUE", "(endpoint_id, event_id)"],
        );
        expect("webhook_deliveries_endpoint_id_idx", &["(endpoint_id, id)"]);
        expect("webhook_deliveries_event_id_idx", &["(event_id)"]);
        expect(
            "payments_provider_ref_key",
            &["UNIQUE", "(provider, provider_ref)"],
        );
        expect(
            "orders_shipping_method_id_idx",
            &[
                "(shipping_method_id)",
                "WHERE (shipping_method_id IS NOT NULL)",
            ],
        );
        expect("categories_slug_key", &["UNIQUE", "(slug)"]);
        expect(
            "categories_parent_id_position_idx",
            &["(parent_id, \"position\")"],
        );
        expect(
            "category_listings_pkey",
            &["UNIQUE", "(category_id, product_id)"],
        );
        expect(
            "category_listings_newest_idx",
            &["(category_id, created_at DESC, product_id DESC)"],
        );
        expect(
            "category_listings_price_idx",
            &["(category_id, price, product_id)"],
        );
        expect("category_listings_product_id_idx", &["(product_id)"]);
        expect(
            "products_group_id_options_key",
            &[
                "UNIQUE",
                "(group_id, options)",
                "WHERE ((group_id IS NOT NULL) AND (archived_at IS NULL))",
            ],
        );
        let names: BTreeSet<&str> = indexes.iter().map(|i| i.name.as_str()).collect();
        for pkey in [
            "addresses_pkey",
            "shipping_methods_pkey",
            "tax_rates_pkey",
            "order_addresses_pkey",
            "payments_pkey",
            "processed_webhooks_pkey",
            "refunds_pkey",
            "events_pkey",
            "webhook_endpoints_pkey",
            "webhook_deliveries_pkey",
            "users_pkey",
            "products_pkey",
            "carts_pkey",
            "cart_items_pkey",
            "sessions_pkey",
            "throttle_counters_pkey",
            "price_changes_pkey",
            "stock_movements_pkey",
            "orders_pkey",
            "fulfilments_pkey",
            "categories_pkey",
            "product_groups_pkey",
        ] {
            assert!(names.contains(pkey), "{pkey} missing");
        }
        assert_eq!(names.len(), 79, "unexpected indexes: {names:?}");
    });
}

#[test]
fn every_designed_constraint_exists_with_its_definition() {
    in_rolled_back_transaction(|conn| {
        let constraints = constraints(conn);
        for (name, definition) in [
            ("products_price_check", "CHECK ((price >= (0)::numeric))"),
            (
                "products_inventory_count_check",
                "CHECK ((inventory_count >= 0))",
            ),
            ("cart_items_quantity_check", "CHECK ((quantity > 0))"),
            (
                "cart_items_unit_price_check",
                "CHECK ((unit_price >= (0)::numeric))",
            ),
            (
                "carts_user_id_fkey",
                "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
            ),
            (
                "cart_items_cart_id_fkey",
                "FOREIGN KEY (cart_id) REFERENCES carts(id) ON DELETE CASCADE",
            ),
            (
                "cart_items_product_id_fkey",
                "FOREIGN KEY (product_id) REFERENCES products(id)",
            ),
            (
                "sessions_user_id_fkey",
                "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
            ),
            (
                "sessions_token_hash_check",
                "CHECK ((octet_length(token_hash) = 32))",
            ),
            ("users_username_key", "UNIQUE (username)"),
            (
                "cart_items_cart_id_product_id_key",
                "UNIQUE (cart_id, product_id)",
            ),
            ("sessions_token_hash_key", "UNIQUE (token_hash)"),
            ("carts_guest_token_hash_key", "UNIQUE (guest_token_hash)"),
            (
                "carts_owner_check",
                "CHECK (((user_id IS NULL) = (guest_token_hash IS NOT NULL)))",
            ),
            (
                "carts_guest_expires_at_check",
                "CHECK (((guest_token_hash IS NULL) = (guest_expires_at IS NULL)))",
            ),
            (
                "carts_guest_token_hash_check",
                "CHECK ((octet_length(guest_token_hash) = 32))",
            ),
            (
                "price_changes_product_id_fkey",
                "FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE CASCADE",
            ),
            (
                "price_changes_by_user_id_fkey",
                "FOREIGN KEY (by_user_id) REFERENCES users(id) ON DELETE SET NULL",
            ),
            (
                "price_changes_changed_check",
                "CHECK ((old_price <> new_price))",
            ),
            (
                "stock_movements_product_id_fkey",
                "FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE CASCADE",
            ),
            (
                "stock_movements_order_id_fkey",
                "FOREIGN KEY (order_id) REFERENCES carts(id) ON DELETE SET NULL",
            ),
            (
                "stock_movements_by_user_id_fkey",
                "FOREIGN KEY (by_user_id) REFERENCES users(id) ON DELETE SET NULL",
            ),
            (
                "stock_movements_resulting_count_check",
                "CHECK ((resulting_count >= 0))",
            ),
            (
                "orders_id_fkey",
                "FOREIGN KEY (id) REFERENCES carts(id) ON DELETE CASCADE",
            ),
            (
                "orders_cancelled_at_check",
                "CHECK ((((status)::text = 'cancelled'::text) = (cancelled_at IS NOT NULL)))",
            ),
            (
                "orders_completed_check",
                "CHECK ((((status)::text = 'completed'::text) = ((fulfilment_status)::text = 'fulfilled'::text)))",
            ),
            (
                "orders_payment_due_at_check",
                "CHECK (((payment_due_at IS NULL) OR (((payment_status)::text = 'awaiting_payment'::text) AND ((status)::text = 'checked_out'::text))))",
            ),
            (
                "fulfilments_order_id_fkey",
                "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
            ),
            (
                "fulfilments_by_user_id_fkey",
                "FOREIGN KEY (by_user_id) REFERENCES users(id) ON DELETE SET NULL",
            ),
            ("categories_slug_key", "UNIQUE (slug)"),
            (
                "categories_slug_check",
                "CHECK (((slug)::text ~ '^[a-z0-9]+(-[a-z0-9]+)*$'::text))",
            ),
            ("categories_parent_id_check", "CHECK ((parent_id <> id))"),
            (
                "categories_parent_id_fkey",
                "FOREIGN KEY (parent_id) REFERENCES categories(id) ON DELETE RESTRICT",
            ),
            (
                "category_listings_category_id_fkey",
                "FOREIGN KEY (category_id) REFERENCES categories(id) ON DELETE CASCADE",
            ),
            (
                "category_listings_product_id_fkey",
                "FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE CASCADE",
            ),
            (
                "products_category_ids_check",
                "CHECK ((array_position(category_ids, NULL::integer) IS NULL))",
            ),
            (
                "products_group_id_fkey",
                "FOREIGN KEY (group_id) REFERENCES product_groups(id) ON DELETE RESTRICT",
            ),
            (
                "products_group_id_options_check",
                "CHECK (((group_id IS NULL) = (options IS NULL)))",
            ),
            (
                "products_images_check",
                "CHECK (((jsonb_typeof(images) = 'array'::text) AND (jsonb_array_length(images) <= 20)))",
            ),
        ] {
            assert_eq!(definition_of(&constraints, name), definition, "{name}");
        }
        let status_check = definition_of(&constraints, "carts_status_check");
        assert!(status_check.contains("'open'") && status_check.contains("'checked_out'"));
        assert!(definition_of(&constraints, "carts_checked_out_at_check")
            .contains("checked_out_at IS NOT NULL"));
        let guest_open = definition_of(&constraints, "carts_guest_open_check");
        assert!(
            guest_open.contains("user_id IS NOT NULL") && guest_open.contains("'open'"),
            "{guest_open}"
        );
        let reason_check = definition_of(&constraints, "stock_movements_reason_check");
        for reason in ["'created'", "'adjustment'", "'checkout'", "'release'"] {
            assert!(reason_check.contains(reason), "{reason_check}");
        }
        assert!(definition_of(&constraints, "stock_movements_delta_check").contains("CASE"));
        assert!(
            definition_of(&constraints, "stock_movements_order_id_check")
                .contains("order_id IS NULL")
        );
        for (check, words) in [
            (
                "orders_status_check",
                &["'checked_out'", "'completed'", "'cancelled'"][..],
            ),
            (
                "orders_payment_status_check",
                &[
                    "'awaiting_payment'",
                    "'authorized'",
                    "'paid'",
                    "'partially_refunded'",
                    "'refunded'",
                    "'voided'",
                ][..],
            ),
            (
                "orders_fulfilment_status_check",
                &["'unfulfilled'", "'fulfilled'"][..],
            ),
        ] {
            let definition = definition_of(&constraints, check);
            for word in words {
                assert!(definition.contains(word), "{check}: {definition}");
            }
        }
    });
}

#[test]
fn a_cart_has_exactly_one_owner_and_a_guest_cart_is_never_an_order() {
    let violation = |sql: &str| {
        in_rolled_back_transaction(|conn| {
            diesel::sql_query(
                "INSERT INTO users (username, email, password_hash, name)
                 VALUES ('owner', 'owner@example.com', 'x', 'owner')",
            )
            .execute(conn)
            .unwrap();
            match diesel::sql_query(sql).execute(conn) {
                Err(DieselError::DatabaseError(_, info)) => {
                    info.constraint_name().map(str::to_owned)
                }
                other => panic!("{sql}: {other:?}"),
            }
        })
    };
    let hash = "decode(repeat('ab', 32), 'hex')";
    let user = "(SELECT id FROM users WHERE username = 'owner')";
    for (sql, constraint) in [
        (
            "INSERT INTO carts (status) VALUES ('open')".to_owned(),
            "carts_owner_check",
        ),
        (
            format!("INSERT INTO carts (user_id, guest_token_hash, guest_expires_at) VALUES ({user}, {hash}, now())"),
            "carts_owner_check",
        ),
        (
            format!("INSERT INTO carts (guest_token_hash) VALUES ({hash})"),
            "carts_guest_expires_at_check",
        ),
        (
            "INSERT INTO carts (guest_token_hash, guest_expires_at) VALUES ('\\x00', now())".to_owned(),
            "carts_guest_token_hash_check",
        ),
        (
            format!("INSERT INTO carts (guest_token_hash, guest_expires_at, status, checked_out_at) VALUES ({hash}, now(), 'checked_out', now())"),
            "carts_guest_open_check",
        ),
        (
            format!("INSERT INTO carts (guest_token_hash, guest_expires_at) VALUES ({hash}, now()), ({hash}, now())"),
            "carts_guest_token_hash_key",
        ),
    ] {
        assert_eq!(violation(&sql).as_deref(), Some(constraint), "{sql}");
    }
}

#[test]
fn updated_at_triggers_exist_on_the_mutable_tables() {
    in_rolled_back_transaction(|conn| {
        let mut expected: BTreeSet<String> = [
            "addresses",
            "carts",
            "categories",
            "orders",
            "payments",
            "product_groups",
            "products",
            "refunds",
            "shipping_methods",
            "tax_rates",
            "users",
            "webhook_deliveries",
            "webhook_endpoints",
        ]
        .iter()
        .map(|t| format!("{t}.set_updated_at"))
        .collect();
        // And the one that names a new user after their username, and the ones that keep
        // the one-word search index.
        expected.insert("users.users_default_name".into());
        expected.insert("products.product_search_terms_insert".into());
        expected.insert("products.product_search_terms_update".into());
        // And the one that copies a product's new price to its category listings.
        expected.insert("products.products_price_to_category_listings".into());
        assert_eq!(triggers(conn), expected);
    });
}

// ---------------------------------------------------------------- behaviour of constraints

#[test]
fn an_update_moves_updated_at_forward() {
    // Own database: now() is fixed within a transaction, so commits must be real.
    let db = TestDb::new();
    let mut conn = db.connect();
    let user = new_user(&mut conn, "mover");
    let product = new_product(&mut conn, "Lamp", "10.00", 1);
    let cart = carts::open_cart_for(&mut conn, user.id).unwrap();
    // The clock must have moved on from the inserts (microseconds; it usually has).
    let latest = user.updated_at.max(product.updated_at).max(cart.updated_at);
    let deadline = Instant::now() + Duration::from_secs(10);
    let later = || {
        diesel::dsl::sql::<diesel::sql_types::Bool>("now() > ")
            .bind::<diesel::sql_types::Timestamptz, _>(latest)
    };
    while diesel::select(later())
        .get_result::<bool>(&mut conn)
        .map(|later| !later)
        .unwrap()
    {
        assert!(Instant::now() < deadline, "the database clock stands still");
    }

    let user_after = users::set_admin(&mut conn, "mover", true).unwrap().unwrap();
    let product_after = products::update(
        &mut conn,
        product.id,
        &ProductChanges {
            inventory_count: Some(2),
            ..Default::default()
        },
        None,
        5,
    )
    .unwrap()
    .product;
    let cart_after: chrono::DateTime<Utc> = diesel::update(schema::carts::table.find(cart.id))
        .set(schema::carts::idempotency_key.eq("k"))
        .returning(schema::carts::updated_at)
        .get_result(&mut conn)
        .unwrap();

    assert!(user_after.updated_at > user.updated_at);
    assert_eq!(user_after.created_at, user.created_at);
    assert!(product_after.updated_at > product.updated_at);
    assert!(cart_after > cart.updated_at);
}

#[test]
fn check_constraints_reject_out_of_range_values() {
    in_rolled_back_transaction(|conn| {
        let user = new_user(conn, "checker");
        let product = new_product(conn, "Mug", "4.50", 3);
        let cart = carts::open_cart_for(conn, user.id).unwrap();

        // Each violation aborts its statement; a savepoint keeps the test transaction usable.
        let mut savepoint =
            |f: &dyn Fn(&mut PgConnection) -> QueryResult<usize>| conn.transaction(|c| f(c));
        assert_eq!(
            violation(savepoint(&|c| {
                products::insert(
                    c,
                    &NewProduct {
                        name: "Bad",
                        description: None,
                        price: &money("-0.01"),
                        inventory_count: 1,
                        category_ids: &[],
                        images: Default::default(),
                        group_id: None,
                        options: None,
                    },
                    None,
                )
                .map(|_| 1)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "products_price_check".into()
            )
        );
        assert_eq!(
            violation(savepoint(&|c| {
                diesel::update(schema::products::table.find(product.id))
                    .set(schema::products::price.eq(money("-1")))
                    .execute(c)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "products_price_check".into()
            )
        );
        assert_eq!(
            violation(savepoint(&|c| {
                diesel::update(schema::products::table.find(product.id))
                    .set(schema::products::inventory_count.eq(-1))
                    .execute(c)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "products_inventory_count_check".into()
            )
        );
        assert_eq!(
            violation(savepoint(&|c| {
                diesel::insert_into(schema::cart_items::table)
                    .values((
                        schema::cart_items::cart_id.eq(cart.id),
                        schema::cart_items::product_id.eq(product.id),
                        schema::cart_items::quantity.eq(0),
                    ))
                    .execute(c)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "cart_items_quantity_check".into()
            )
        );
        assert_eq!(
            violation(savepoint(&|c| {
                diesel::sql_query("UPDATE carts SET status = 'shipped'").execute(c)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "carts_status_check".into()
            )
        );
        assert_eq!(
            violation(savepoint(&|c| {
                diesel::update(schema::carts::table.find(cart.id))
                    .set(schema::carts::status.eq(CartStatus::CheckedOut))
                    .execute(c)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "carts_checked_out_at_check".into()
            )
        );
        assert_eq!(
            violation(savepoint(&|c| {
                sessions::insert(
                    c,
                    &NewSession {
                        user_id: user.id,
                        token_hash: b"too short",
                        expires_at: Utc::now(),
                    },
                )
                .map(|_| 1)
            })),
            (
                DatabaseErrorKind::CheckViolation,
                "sessions_token_hash_check".into()
            )
        );
    });
}

#[test]
fn email_is_unique_whatever_its_case_and_username_is_unique() {
    in_rolled_back_transaction(|conn| {
        new_user(conn, "alice");
        let same_email_other_case = conn.transaction(|c| {
            users::insert(
                c,
                &NewUser {
                    username: "alice2",
                    email: "ALICE@Example.COM",
                    password_hash: "x",
                    name: None,
                },
            )
        });
        assert_eq!(
            violation(same_email_other_case),
            (
                DatabaseErrorKind::UniqueViolation,
                "users_email_lower_key".into()
            )
        );
        let same_username = conn.transaction(|c| {
            users::insert(
                c,
                &NewUser {
                    username: "alice",
                    email: "other@example.com",
                    password_hash: "x",
                    name: None,
                },
            )
        });
        assert_eq!(
            violation(same_username),
            (
                DatabaseErrorKind::UniqueViolation,
                "users_username_key".into()
            )
        );
    });
}

#[test]
fn foreign_keys_reject_rows_that_point_nowhere() {
    in_rolled_back_transaction(|conn| {
        let user = new_user(conn, "fk");
        let cart = carts::open_cart_for(conn, user.id).unwrap();
        let orphan_cart = conn.transaction(|c| carts::open_cart_for(c, 999_999));
        assert_eq!(
            violation(orphan_cart),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "carts_user_id_fkey".into()
            )
        );
        let missing_product = conn.transaction(|c| {
            diesel::insert_into(schema::cart_items::table)
                .values((
                    schema::cart_items::cart_id.eq(cart.id),
                    schema::cart_items::product_id.eq(999_999),
                    schema::cart_items::quantity.eq(1),
                ))
                .execute(c)
        });
        assert_eq!(
            violation(missing_product),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "cart_items_product_id_fkey".into()
            )
        );
        let orphan_session = conn.transaction(|c| {
            sessions::insert(
                c,
                &NewSession {
                    user_id: 999_999,
                    token_hash: &[7; 32],
                    expires_at: Utc::now(),
                },
            )
        });
        assert_eq!(
            violation(orphan_session),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "sessions_user_id_fkey".into()
            )
        );
    });
}

#[test]
fn deleting_a_user_cascades_to_carts_items_and_sessions_but_products_stay() {
    in_rolled_back_transaction(|conn| {
        let user = new_user(conn, "leaver");
        let product = new_product(conn, "Kettle", "30.00", 5);
        add_to_cart(conn, user.id, product.id, 2);
        sessions::insert(
            conn,
            &NewSession {
                user_id: user.id,
                token_hash: &[1; 32],
                expires_at: Utc::now() + chrono::Duration::hours(1),
            },
        )
        .unwrap();

        // A product that some cart refers to cannot be deleted (orders keep their products).
        let delete_product = conn
            .transaction(|c| diesel::delete(schema::products::table.find(product.id)).execute(c));
        assert_eq!(
            violation(delete_product),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "cart_items_product_id_fkey".into()
            )
        );

        diesel::delete(schema::users::table.find(user.id))
            .execute(conn)
            .unwrap();
        let count = |table: &str, conn: &mut PgConnection| -> i64 {
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result::<Count>(conn)
                .unwrap()
                .n
        };
        assert_eq!(count("carts", conn), 0);
        assert_eq!(count("cart_items", conn), 0);
        assert_eq!(count("sessions", conn), 0);
        assert_eq!(count("products", conn), 1);
    });
}

#[test]
fn the_ledger_refuses_impossible_rows_and_outlives_a_deleted_buyer() {
    in_rolled_back_transaction(|conn| {
        let admin = new_user(conn, "staff");
        let buyer = new_user(conn, "buyer");
        let product = products::insert(
            conn,
            &NewProduct {
                name: "Kettle",
                description: None,
                price: &money("30.00"),
                inventory_count: 5,
                category_ids: &[],
                images: Default::default(),
                group_id: None,
                options: None,
            },
            Some(admin.id),
        )
        .unwrap();
        let (cart, _) = add_to_cart(conn, buyer.id, product.id, 2);
        let request = repository::checkout::CheckoutRequest {
            user_id: buyer.id,
            idempotency_key: None,
            payment_window: None,
            delivery: &repository::pricing::DeliveryRequest::default(),
            tax_mode: storefront::domain::TaxMode::Included,
            expected_total: None,
            low_stock_threshold: 5,
        };
        repository::checkout::checkout(conn, request, None).unwrap();

        let mut savepoint = |sql: &str| {
            conn.transaction(|c| {
                diesel::sql_query(
                    sql.replace("$product", &product.id.to_string())
                        .replace("$cart", &cart.id.to_string()),
                )
                .execute(c)
            })
        };
        for (sql, constraint) in [
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason)
                 VALUES ($product, 1, 4, 'checkout')",
                "stock_movements_delta_check",
            ),
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason)
                 VALUES ($product, 0, 3, 'adjustment')",
                "stock_movements_delta_check",
            ),
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason)
                 VALUES ($product, 3, 4, 'created')",
                "stock_movements_delta_check",
            ),
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason, order_id)
                 VALUES ($product, 1, 4, 'adjustment', $cart)",
                "stock_movements_order_id_check",
            ),
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason)
                 VALUES ($product, 1, 4, 'refund')",
                "stock_movements_reason_check",
            ),
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason, order_id)
                 VALUES ($product, -1, 2, 'release', $cart)",
                "stock_movements_delta_check",
            ),
            (
                "UPDATE orders SET status = 'cancelled' WHERE id = $cart",
                "orders_cancelled_at_check",
            ),
            (
                "UPDATE orders SET status = 'completed' WHERE id = $cart",
                "orders_completed_check",
            ),
            (
                "UPDATE orders SET payment_status = 'paid', payment_due_at = now() WHERE id = $cart",
                "orders_payment_due_at_check",
            ),
            (
                "UPDATE orders SET payment_status = 'free' WHERE id = $cart",
                "orders_payment_status_check",
            ),
            (
                "INSERT INTO stock_movements (product_id, delta, resulting_count, reason)
                 VALUES ($product, -4, -1, 'adjustment')",
                "stock_movements_resulting_count_check",
            ),
            (
                "INSERT INTO price_changes (product_id, old_price, new_price)
                 VALUES ($product, 30.00, 30)",
                "price_changes_changed_check",
            ),
        ] {
            assert_eq!(
                violation(savepoint(sql)),
                (DatabaseErrorKind::CheckViolation, constraint.into()),
                "{sql}"
            );
        }

        // The buyer's account goes, with their orders; the movement stays, anonymous.
        diesel::delete(schema::users::table.find(buyer.id))
            .execute(conn)
            .unwrap();
        use schema::stock_movements as sm;
        let movements: Vec<(i32, String, Option<i32>, Option<i32>)> = sm::table
            .filter(sm::product_id.eq(product.id))
            .order(sm::id)
            .select((sm::delta, sm::reason, sm::order_id, sm::by_user_id))
            .load(conn)
            .unwrap();
        assert_eq!(
            movements,
            [
                (5, "created".to_owned(), None, Some(admin.id)),
                (-2, "checkout".to_owned(), None, None),
            ]
        );
        assert_eq!(repository::ledger::unbalanced_products(conn).unwrap(), []);
    });
}

#[test]
fn a_long_history_is_paged_from_its_indexes() {
    use storefront::repository::ledger::{self, HistoryKind, HistoryPosition};
    in_rolled_back_transaction(|conn| {
        let product = new_product(conn, "Bestseller", "9.99", 5000);
        // Years of restocks and price changes, then fresh statistics.
        diesel::sql_query(
            "INSERT INTO stock_movements (product_id, delta, resulting_count, reason, at)
             SELECT $1, 1, 5000, 'adjustment', now() - g * interval '1 hour'
             FROM generate_series(1, 20000) g",
        )
        .bind::<diesel::sql_types::Integer, _>(product.id)
        .execute(conn)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO price_changes (product_id, old_price, new_price, at)
             SELECT $1, 1 + g % 50, 2 + g % 50, now() - g * interval '1 day'
             FROM generate_series(1, 2000) g",
        )
        .bind::<diesel::sql_types::Integer, _>(product.id)
        .execute(conn)
        .unwrap();
        diesel::sql_query("ANALYZE price_changes, stock_movements")
            .execute(conn)
            .unwrap();
        let deep = HistoryPosition {
            at: Utc::now() - chrono::Duration::days(300),
            kind: HistoryKind::Stock,
            id: 1,
        };
        for after in [None, Some(deep)] {
            let plan = ledger::explain_history(conn, product.id, after, 21).unwrap();
            for index in [
                "price_changes_product_id_at_idx",
                "stock_movements_product_id_at_idx",
            ] {
                assert!(plan.contains(index), "{index} unused: {plan}");
            }
            assert!(!plan.contains("Seq Scan"), "{plan}");
            if after.is_some() {
                // The page starts where the cursor points, inside the index range: a
                // row comparison in each branch's Index Cond, not a filter.
                assert_eq!(plan.matches("ROW(at, id) <= ROW(").count(), 2, "{plan}");
                assert!(!plan.contains("Filter"), "{plan}");
            }
        }
    });
}

// ---------------------------------------------------------------- repository functions

#[test]
fn users_are_found_by_username_or_email_in_any_case() {
    in_rolled_back_transaction(|conn| {
        let created = new_user(conn, "bob");
        assert!(!created.is_admin);
        let by_name = users::find_for_login(conn, "bob")
            .unwrap()
            .expect("found by username");
        let by_email = users::find_for_login(conn, "BOB@EXAMPLE.com")
            .unwrap()
            .expect("by email");
        assert_eq!(by_name.profile.id, created.id);
        assert_eq!(by_email.profile.id, created.id);
        assert!(by_name.password_hash.starts_with("$argon2id$"));
        assert!(users::find_for_login(conn, "nobody").unwrap().is_none());
        // Debug output of the full row must not carry the hash into logs.
        assert!(!format!("{by_name:?}").contains("argon2"));

        assert_eq!(users::find_profile(conn, created.id).unwrap(), created);
        let promoted = users::set_admin(conn, "bob", true)
            .unwrap()
            .expect("bob exists");
        assert!(promoted.is_admin);
        assert!(users::set_admin(conn, "nobody", true).unwrap().is_none());
    });
}

#[test]
fn products_are_created_updated_and_archived() {
    in_rolled_back_transaction(|conn| {
        let product = new_product(conn, "Teapot", "19.99", 7);
        assert_eq!(product.price, money("19.99"));
        assert_eq!(product.archived_at, None);
        assert_eq!(products::find_live(conn, product.id).unwrap(), product);

        let updated = products::update(
            conn,
            product.id,
            &ProductChanges {
                price: Some(money("17.50")),
                description: Some(None),
                ..Default::default()
            },
            None,
            5,
        )
        .unwrap()
        .product;
        assert_eq!(updated.price, money("17.50"));
        assert_eq!(updated.description, None);
        assert_eq!(updated.name, "Teapot");
        assert_eq!(updated.inventory_count, 7);
        // An empty change set changes nothing and still finds the product.
        assert_eq!(
            products::update(conn, product.id, &ProductChanges::default(), None, 5)
                .unwrap()
                .product,
            updated
        );

        let archived = products::archive(conn, product.id).unwrap();
        assert!(archived.archived_at.is_some());
        assert_eq!(
            products::find_live(conn, product.id),
            Err(DieselError::NotFound)
        );
        assert_eq!(
            products::archive(conn, product.id),
            Err(DieselError::NotFound)
        );
        assert!(matches!(
            products::update(
                conn,
                product.id,
                &ProductChanges {
                    inventory_count: Some(1),
                    ..Default::default()
                },
                None,
                5,
            ),
            Err(ShopError::NotFound)
        ));
    });
}

#[test]
fn prices_keep_their_exact_cents() {
    in_rolled_back_transaction(|conn| {
        let dime = new_product(conn, "Dime", "0.10", 1);
        let twenty = new_product(conn, "Twenty", "0.20", 1);
        assert_eq!(dime.price.clone() + twenty.price.clone(), money("0.30"));
        assert_eq!(dime.price.to_string(), "0.10");
    });
}

#[test]
fn a_user_has_one_open_cart_and_adding_twice_sums_the_line() {
    in_rolled_back_transaction(|conn| {
        let user = new_user(conn, "shopper");
        let product = new_product(conn, "Socks", "3.99", 100);
        let cart = carts::open_cart_for(conn, user.id).unwrap();
        assert_eq!(cart.status, CartStatus::Open);
        assert_eq!(carts::open_cart_for(conn, user.id).unwrap().id, cart.id);

        let second_open = conn.transaction(|c| {
            diesel::insert_into(schema::carts::table)
                .values(schema::carts::user_id.eq(user.id))
                .execute(c)
        });
        assert_eq!(
            violation(second_open),
            (
                DatabaseErrorKind::UniqueViolation,
                "carts_one_open_per_user_idx".into()
            )
        );

        let (_, first) = add_to_cart(conn, user.id, product.id, 2);
        let (_, second) = add_to_cart(conn, user.id, product.id, 3);
        let (first, second) = (&first[0].0, &second[0].0);
        assert_eq!(second.id, first.id);
        assert_eq!(second.quantity, 5);
        assert_eq!(second.unit_price, None);

        let lines = carts::items_with_products(conn, cart.id).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].1.name, "Socks");
        assert_eq!(lines[0].0.quantity, 5);
    });
}

#[test]
fn cart_items_can_only_be_changed_by_their_owner() {
    in_rolled_back_transaction(|conn| {
        let owner = new_user(conn, "owner");
        let intruder = new_user(conn, "intruder");
        let product = new_product(conn, "Hat", "12.00", 10);
        let (cart, lines) = add_to_cart(conn, owner.id, product.id, 1);
        let item = &lines[0].0;
        let set_quantity = |conn: &mut PgConnection, user_id: i32, quantity: i64| {
            let quantity = Quantity::parse(quantity).unwrap();
            carts::set_quantity_in_open_cart(
                conn,
                CartOwner::User(user_id),
                item.id,
                quantity,
                None,
            )
        };
        let remove = |conn: &mut PgConnection, user_id: i32| {
            carts::remove_from_open_cart(conn, CartOwner::User(user_id), item.id, None)
        };

        assert!(matches!(
            set_quantity(conn, intruder.id, 9),
            Err(ShopError::NotFound)
        ));
        assert!(matches!(
            remove(conn, intruder.id),
            Err(ShopError::NotFound)
        ));
        let (_, lines) = set_quantity(conn, owner.id, 4).unwrap();
        assert_eq!(lines[0].0.quantity, 4);
        remove(conn, owner.id).unwrap();
        assert!(carts::items_with_products(conn, cart.id)
            .unwrap()
            .is_empty());
        assert!(matches!(remove(conn, owner.id), Err(ShopError::NotFound)));
    });
}

#[test]
fn sessions_authenticate_until_they_expire_or_are_deleted() {
    in_rolled_back_transaction(|conn| {
        let user = new_user(conn, "sessioned");
        let live = [9u8; 32];
        let expired = [8u8; 32];
        sessions::insert(
            conn,
            &NewSession {
                user_id: user.id,
                token_hash: &live,
                expires_at: Utc::now() + chrono::Duration::hours(1),
            },
        )
        .unwrap();
        sessions::insert(
            conn,
            &NewSession {
                user_id: user.id,
                token_hash: &expired,
                expires_at: Utc::now() - chrono::Duration::seconds(1),
            },
        )
        .unwrap();

        assert_eq!(
            sessions::find_user(conn, &live).unwrap(),
            Some(user.clone())
        );
        assert_eq!(sessions::find_user(conn, &expired).unwrap(), None);
        assert_eq!(sessions::find_user(conn, &[0; 32]).unwrap(), None);
        assert_eq!(sessions::delete_expired(conn).unwrap(), 1);
        assert!(sessions::delete(conn, &live).unwrap());
        assert_eq!(sessions::find_user(conn, &live).unwrap(), None);
        assert!(!sessions::delete(conn, &live).unwrap());
    });
}

#[test]
fn concurrent_first_requests_share_one_open_cart() {
    let db = TestDb::new();
    let user = new_user(&mut db.connect(), "racer");
    // Connecting takes longer than the query: without a barrier the threads would ask one
    // after the other. Each connects, then all ask at once.
    let start = std::sync::Barrier::new(8);
    let ids: BTreeSet<i32> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (db, start) = (&db, &start);
                scope.spawn(move || {
                    let mut conn = db.connect();
                    start.wait();
                    carts::open_cart_for(&mut conn, user.id).unwrap().id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 1, "one cart for all: {ids:?}");
}

#[test]
fn the_transaction_helper_commits_on_ok_and_rolls_back_on_err() {
    let db = TestDb::new();
    let mut conn = db.connect();

    let failed: Result<(), DieselError> = repository::in_transaction(&mut conn, |c| {
        new_user(c, "ghost");
        Err(DieselError::RollbackTransaction)
    });
    assert_eq!(failed, Err(DieselError::RollbackTransaction));
    assert!(users::find_for_login(&mut conn, "ghost").unwrap().is_none());

    let committed: Result<UserProfile, DieselError> =
        repository::in_transaction(&mut conn, |c| Ok(new_user(c, "real")));
    let committed = committed.unwrap();
    // Seen from another connection, so it really was committed.
    let seen = users::find_for_login(&mut db.connect(), "real")
        .unwrap()
        .unwrap();
    assert_eq!(seen.profile.id, committed.id);
}

#[test]
fn a_throttle_counter_allows_its_limit_per_window_and_starts_again_when_it_ends() {
    use storefront::repository::throttle::{self, Counter, TakeError};

    in_rolled_back_transaction(|conn| {
        let counter = |key: &str| Counter {
            key: key.into(),
            max: 3,
            window: Duration::from_secs(60),
        };
        let take = |conn: &mut PgConnection, keys: &[&str]| {
            throttle::take(conn, &keys.iter().map(|k| counter(k)).collect::<Vec<_>>())
        };
        for _ in 0..3 {
            take(conn, &["login:ann"]).unwrap();
        }
        match take(conn, &["login:ann"]) {
            Err(TakeError::Exhausted { retry_after }) => {
                assert!(retry_after <= Duration::from_secs(60), "{retry_after:?}");
                assert!(retry_after > Duration::from_secs(50), "{retry_after:?}");
            }
            other => panic!("the fourth attempt in the window: {other:?}"),
        }
        // Refused for one key, counted for none: the other key keeps its three.
        assert!(take(conn, &["login:ann", "address:192.0.2.1"]).is_err());
        for _ in 0..3 {
            take(conn, &["address:192.0.2.1"]).unwrap();
        }
        assert!(take(conn, &["address:192.0.2.1"]).is_err());

        // Time is the database's: the window ends when expires_at passes now(). Moving
        // it into the past is the clock moving on, without waiting for it.
        diesel::sql_query(
            "UPDATE throttle_counters SET expires_at = now() - interval '1 second'
             WHERE key = 'login:ann'",
        )
        .execute(conn)
        .unwrap();
        for _ in 0..3 {
            take(conn, &["login:ann"]).unwrap();
        }
        assert!(
            take(conn, &["login:ann"]).is_err(),
            "a new window, the same limit"
        );

        // Expired counters are swept; live ones stay.
        diesel::sql_query(
            "UPDATE throttle_counters SET expires_at = now() - interval '1 second'
             WHERE key = 'address:192.0.2.1'",
        )
        .execute(conn)
        .unwrap();
        assert_eq!(throttle::sweep_expired(conn, 1_000).unwrap(), 1);
        assert!(take(conn, &["login:ann"]).is_err());
    });
}

// ---------------------------------------------------------------- migrations

#[test]
fn reverting_every_migration_and_running_them_again_rebuilds_the_same_schema() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let before = (
        columns(&mut conn),
        indexes(&mut conn),
        constraints(&mut conn),
        triggers(&mut conn),
    );

    conn.revert_all_migrations(MIGRATIONS)
        .expect("every down.sql runs");
    assert!(
        columns(&mut conn).is_empty(),
        "down migrations leave no table behind"
    );
    assert!(triggers(&mut conn).is_empty());
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let functions =
        diesel::sql_query("SELECT count(*) AS n FROM pg_proc WHERE proname LIKE 'diesel\\_%'")
            .get_result::<Count>(&mut conn)
            .unwrap();
    assert_eq!(functions.n, 0, "the initial setup's functions are gone too");

    db::run_pending_migrations(&mut conn).expect("every up.sql runs again");
    let after = (
        columns(&mut conn),
        indexes(&mut conn),
        constraints(&mut conn),
        triggers(&mut conn),
    );
    assert_eq!(before, after);
}

#[test]
fn status_lists_every_migration_as_applied_or_pending() {
    let db = TestDb::empty();
    let mut conn = db.connect();
    let migrations = common::migrations();
    let [.., (_, second_last), (_, last)] = migrations.as_slice() else {
        panic!("fewer than two migrations");
    };
    let status = db::migration_status(&mut conn).unwrap();
    assert_eq!(status.len(), migrations.len());
    assert!(status.iter().all(|m| !m.applied));
    assert_eq!(status[1].name, "2026-11-22-170001_create_users");

    db::run_pending_migrations(&mut conn).unwrap();
    assert!(db::migration_status(&mut conn)
        .unwrap()
        .iter()
        .all(|m| m.applied));
    let reverted = db::revert_last_migration(&mut conn).unwrap();
    assert_eq!(&reverted, last);
    let status = db::migration_status(&mut conn).unwrap();
    assert_eq!(status.iter().filter(|m| !m.applied).count(), 1);
    assert_eq!(&db::redo_last_migration(&mut conn).unwrap(), second_last);
    assert_eq!(db::run_pending_migrations(&mut conn).unwrap(), [&**last]);
}

#[test]
fn instances_starting_together_apply_each_migration_once() {
    let db = TestDb::not_yet_created();
    let applied: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| db::prepare_database(db.url(), false).expect("prepare database"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<String> = applied.into_iter().flatten().collect();
    all.sort();
    let expected: Vec<String> = common::migrations()
        .into_iter()
        .map(|(_, version)| version)
        .collect();
    assert_eq!(
        all, expected,
        "each migration applied by exactly one instance"
    );
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let recorded = diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
        .get_result::<Count>(&mut db.connect())
        .unwrap();
    assert_eq!(recorded.n as usize, expected.len());
}

// ---------------------------------------------------------------- pool

#[test]
fn the_pool_serves_connections_with_the_configured_session_settings() {
    let db = TestDb::new();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let timeout = diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
        .get_result::<Setting>(&mut conn)
        .unwrap();
    assert_eq!(timeout.value, "10s");
    let name = diesel::sql_query("SELECT current_setting('application_name') AS value")
        .get_result::<Setting>(&mut conn)
        .unwrap();
    assert_eq!(name.value, "storefront");
    assert_eq!(pool.max_size(), 4);
}

#[test]
fn a_refused_connection_fails_fast_with_an_error_naming_the_host() {
    // Port 1 on loopback: nothing listens, the kernel refuses at once.
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/storefront").unwrap();
    let config = database_config(url);
    let started = Instant::now();
    let err = db::build_pool(&config, storefront::telemetry::Metrics::new().pool_events())
        .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(matches!(err, DbError::Unreachable { .. }));
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(message.contains("DATABASE_URL"), "{message}");
    // Bounded by the configured pool timeout (plus a margin for a busy machine): a
    // refusal is not retried past it.
    assert!(
        started.elapsed() < config.pool_connection_timeout + Duration::from_secs(2),
        "took {:?}, pool timeout {:?}",
        started.elapsed(),
        config.pool_connection_timeout
    );
}

#[test]
fn a_server_that_never_answers_times_out_within_the_pool_timeout() {
    // A socket that accepts TCP (the kernel's backlog does) but never speaks: the hang a
    // half-dead database produces. The pool must give up after its connection timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url =
        DatabaseUrl::parse(&format!("postgres://postgres@127.0.0.1:{port}/storefront")).unwrap();
    let config = database_config(url);
    let started = Instant::now();
    let err = db::build_pool(&config, storefront::telemetry::Metrics::new().pool_events())
        .expect_err("a silent server yields no connection");
    let elapsed = started.elapsed();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        elapsed >= config.pool_connection_timeout,
        "gave up early: {elapsed:?}"
    );
    // Generous bound: the point is "bounded by the timeout", not a speed target.
    assert!(
        elapsed < config.pool_connection_timeout + Duration::from_secs(5),
        "hung: {elapsed:?}"
    );
    drop(silent);
}

#[test]
fn the_database_is_created_when_missing_and_creation_is_idempotent() {
    let db = TestDb::not_yet_created();
    db::ensure_database_exists(db.url()).unwrap();
    db::ensure_database_exists(db.url()).unwrap();
    db.connect(); // it exists now
}

// ---------------------------------------------------------------- catalogue query plans

#[test]
fn catalogue_listings_are_prepared_and_planned_once() {
    use storefront::repository::catalogue::{
        self, After, ProductFilter, ProductListing, ProductSort,
    };

    #[derive(QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        generic_plans: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        custom_plans: i64,
    }
    in_rolled_back_transaction(|conn| {
        let listing = |text: Option<&str>, sort, after| ProductListing {
            filter: ProductFilter {
                text: text.map(str::to_owned),
                ..Default::default()
            },
            sort,
            after,
            limit: 21,
        };
        let newest_after = |id| {
            Some(After::Newest {
                created_at: Utc::now(),
                id,
            })
        };
        // Enough rows, known to the planner, that a plan reading a tenth of them (its
        // guess for an unknown LIMIT) is clearly worse than one reading a page.
        diesel::sql_query(
            "INSERT INTO products (name, price, inventory_count)
             SELECT 'Product ' || g, 10, 1 FROM generate_series(1, 5000) g",
        )
        .execute(conn)
        .unwrap();
        diesel::sql_query("ANALYZE products").execute(conn).unwrap();
        // Three shapes, each listed eight times with different values: one prepared
        // statement per shape, reused.
        for n in 0..8 {
            let text = if n % 2 == 0 { "teapot" } else { "kettle" };
            catalogue::list(conn, &listing(Some(text), ProductSort::Relevance, None)).unwrap();
            catalogue::list(conn, &listing(None, ProductSort::Newest, None)).unwrap();
            catalogue::list(conn, &listing(None, ProductSort::Newest, newest_after(n))).unwrap();
        }
        let prepared: Vec<Prepared> = diesel::sql_query(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             WHERE statement LIKE '%FROM products p%'",
        )
        .load(conn)
        .unwrap();
        let statements: Vec<_> = prepared.iter().map(|p| &p.statement).collect();
        assert_eq!(prepared.len(), 3, "{statements:#?}");
        assert!(prepared.iter().all(|p| !p.statement.contains("teapot")));
        // And planned once: PostgreSQL plans the first five executions for their values,
        // then keeps a generic plan when it is no worse, so the newest-first pages must
        // not be planned anew each time (as they were with a LIMIT it could not see).
        for p in prepared
            .iter()
            .filter(|p| p.statement.contains("ORDER BY p.created_at"))
        {
            assert!(
                p.generic_plans >= 3 && p.custom_plans <= 5,
                "generic {} custom {}: {}",
                p.generic_plans,
                p.custom_plans,
                p.statement
            );
        }
    });
}

/// A signed-in user's cart read and cart add are each one statement text that the
/// connection keeps prepared, so PostgreSQL parses them once, not at every request.
#[test]
fn the_session_cart_statements_are_kept_prepared() {
    use storefront::repository::session_carts;

    #[derive(QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = Text)]
        statement: String,
    }
    in_rolled_back_transaction(|conn| {
        let hash = [7u8; 32];
        diesel::sql_query(
            "WITH buyer AS (
                 INSERT INTO users (username, email, password_hash)
                 VALUES ('prepared', 'prepared@example.com', 'h') RETURNING id
             ), session AS (
                 INSERT INTO sessions (user_id, token_hash, expires_at)
                 SELECT id, $1, now() + interval '1 day' FROM buyer
             )
             INSERT INTO carts (user_id) SELECT id FROM buyer",
        )
        .bind::<diesel::sql_types::Bytea, _>(hash.to_vec())
        .execute(conn)
        .unwrap();
        let product: i32 = diesel::insert_into(schema::products::table)
            .values((
                schema::products::name.eq("Kept"),
                schema::products::price.eq(BigDecimal::from(3)),
                schema::products::inventory_count.eq(100),
            ))
            .returning(schema::products::id)
            .get_result(conn)
            .unwrap();
        let one = Quantity::parse(1).unwrap();
        for round in 1..=6 {
            let (_, lines) = session_carts::add_to_open_cart(conn, &hash, product, one)
                .unwrap()
                .expect("the session's open cart");
            assert_eq!(lines[0].0.quantity, round);
            let (_, lines) = session_carts::open_cart_with_lines(conn, &hash)
                .unwrap()
                .expect("the session's open cart");
            assert_eq!(lines.len(), 1);
        }
        let prepared: Vec<Prepared> = diesel::sql_query(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%sessions%'",
        )
        .load(conn)
        .unwrap();
        let statements: Vec<&str> = prepared.iter().map(|p| p.statement.as_str()).collect();
        let add = statements
            .iter()
            .filter(|s| s.contains("FOR UPDATE OF carts"));
        let read = statements.iter().filter(|s| s.contains("LEFT OUTER JOIN"));
        assert_eq!((add.count(), read.count()), (1, 1), "{statements:#?}");
    });
}

#[test]
fn catalogue_queries_use_their_indexes_on_a_large_catalogue() {
    use diesel::connection::SimpleConnection;
    use storefront::repository::catalogue::{
        self, After, ProductFilter, ProductListing, ProductSort,
    };

    let db = TestDb::new();
    let mut conn = db.connect();
    // 50,000 products, one in a thousand a teapot: big enough that the planner prefers
    // the indexes over a sequential scan.
    conn.batch_execute(
        "INSERT INTO products (name, description, price, inventory_count, created_at)
         SELECT CASE WHEN g % 1000 = 0 THEN 'Teapot ' ELSE 'Widget ' END || g,
                'sturdy item number ' || g, (g % 1000) + 0.99, g % 7,
                now() - g * interval '1 second'
         FROM generate_series(1, 50000) g;
         ANALYZE products;",
    )
    .unwrap();
    let listing = |sort, text: Option<&str>, after| ProductListing {
        filter: ProductFilter {
            text: text.map(str::to_owned),
            ..Default::default()
        },
        sort,
        after,
        limit: 21,
    };
    let cases = [
        // One word: the top of the page from the per-lexeme ranking index.
        (
            listing(ProductSort::Relevance, Some("teapot"), None),
            "product_search_terms_lexeme_rank_idx",
        ),
        (
            listing(
                ProductSort::Relevance,
                Some("teapot"),
                Some(After::Relevance { rank: 0.5, id: 100 }),
            ),
            "product_search_terms_lexeme_rank_idx",
        ),
        // Anything else: every match from the GIN index, then ranked.
        (
            listing(ProductSort::Relevance, Some("sturdy teapot"), None),
            "products_search_vector_idx",
        ),
        (
            listing(ProductSort::PriceAsc, Some("teapot"), None),
            "products_search_vector_idx",
        ),
        (
            listing(ProductSort::PriceAsc, None, None),
            "products_price_id_idx",
        ),
        (
            listing(
                ProductSort::PriceAsc,
                None,
                Some(After::Price {
                    price: money("500.99"),
                    id: 9_500,
                }),
            ),
            "products_price_id_idx",
        ),
        (
            listing(
                ProductSort::PriceDesc,
                None,
                Some(After::Price {
                    price: money("500.99"),
                    id: 9_500,
                }),
            ),
            "products_price_id_idx",
        ),
        (
            listing(ProductSort::Newest, None, None),
            "products_created_at_id_idx",
        ),
        (
            listing(
                ProductSort::Newest,
                None,
                Some(After::Newest {
                    created_at: Utc::now() - chrono::Duration::hours(2),
                    id: 7_000,
                }),
            ),
            "products_created_at_id_idx",
        ),
    ];
    for (listing, index) in cases {
        let plan = catalogue::explain(&mut conn, &listing).unwrap();
        assert!(
            plan.contains(index),
            "{listing:?} should use {index}:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan"),
            "{listing:?} scans the table:\n{plan}"
        );
    }
    // And the keyset page really continues where the first ended.
    let first = catalogue::list(&mut conn, &listing(ProductSort::PriceAsc, None, None)).unwrap();
    let last = &first[19].product;
    let second = catalogue::list(
        &mut conn,
        &listing(
            ProductSort::PriceAsc,
            None,
            Some(After::Price {
                price: last.price.clone(),
                id: last.id,
            }),
        ),
    )
    .unwrap();
    // The next rows are those a plain ORDER BY .. OFFSET puts after the first page (many
    // products share each price, so the id decides within a price).
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let expected: Vec<i32> =
        diesel::sql_query("SELECT id FROM products ORDER BY price, id OFFSET 20 LIMIT 20")
            .load::<Id>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|row| row.id)
            .collect();
    let continued: Vec<i32> = second.iter().take(20).map(|row| row.product.id).collect();
    assert_eq!(continued.len(), 20);
    assert_eq!(continued, expected);
}

/// Whether a plan has a sort node of its own (not an index scan in the listing's order).
fn sorts(plan: &str) -> bool {
    plan.lines().any(|line| {
        let node = line.trim_start().trim_start_matches("->").trim_start();
        node.starts_with("Sort ") || node.starts_with("Incremental Sort ")
    })
}

#[test]
fn category_pages_read_one_index_range_on_a_large_catalogue() {
    use diesel::connection::SimpleConnection;
    use storefront::repository::catalogue::{
        self, After, ProductFilter, ProductListing, ProductSort,
    };
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }

    let db = TestDb::new();
    let mut conn = db.connect();
    // A three-level tree (8 departments, 7 sections each, 5 leaves each: 344 categories)
    // and 100,000 products, each filed under one leaf and every third under a second;
    // created_at shared by pairs and prices by many, so the id decides within a key; one
    // product in 97 archived.
    conn.batch_execute(
        "INSERT INTO categories (name, slug, position)
         SELECT 'Department ' || d, 'd' || d, d FROM generate_series(1, 8) d;
         INSERT INTO categories (parent_id, name, slug, position)
         SELECT c.id, 'Section ' || s, c.slug || '-s' || s, s
         FROM categories c, generate_series(1, 7) s WHERE c.parent_id IS NULL;
         INSERT INTO categories (parent_id, name, slug, position)
         SELECT c.id, 'Leaf ' || l, c.slug || '-l' || l, l
         FROM categories c JOIN categories parent ON parent.id = c.parent_id,
              generate_series(1, 5) l
         WHERE parent.parent_id IS NULL;
         INSERT INTO products (name, description, price, inventory_count, created_at, category_ids)
         SELECT 'Widget ' || g, 'sturdy item number ' || g, (g % 1000) + 0.99, g % 7,
                now() - (g / 2) * interval '1 second',
                ARRAY(SELECT DISTINCT unnest(ARRAY[leaves.ids[1 + g % 280],
                          leaves.ids[1 + CASE WHEN g % 3 = 0 THEN (g * 7) % 280 ELSE g % 280 END]])
                      ORDER BY 1)
         FROM generate_series(1, 100000) g,
              (SELECT array_agg(c.id ORDER BY c.id) AS ids FROM categories c
               WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)) leaves;
         UPDATE products SET archived_at = now() WHERE id % 97 = 0;",
    )
    .unwrap();
    let ids: Vec<i32> = schema::products::table
        .select(schema::products::id)
        .order(schema::products::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(ids.len(), 100_000);
    repository::categories::refile(&mut conn, &ids).unwrap();
    conn.batch_execute("ANALYZE categories, products, category_listings")
        .unwrap();

    let listing = |slug: &str, sort, after| ProductListing {
        filter: ProductFilter {
            category: Some(slug.to_owned()),
            ..Default::default()
        },
        sort,
        after,
        // 20 a page, and one more to know whether another follows, as the route asks.
        limit: 21,
    };
    // Every page of the category in this order, walked with the keyset cursor.
    let pages = |conn: &mut PgConnection, slug: &str, sort| -> Vec<i32> {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = catalogue::list(conn, &listing(slug, sort, after.clone())).unwrap();
            let shown = &page[..page.len().min(20)];
            seen.extend(shown.iter().map(|row| row.product.id));
            let Some(last) = shown.last().filter(|_| page.len() > 20) else {
                return seen;
            };
            after = Some(match sort {
                ProductSort::Newest => After::Newest {
                    created_at: last.product.created_at,
                    id: last.product.id,
                },
                _ => After::Price {
                    price: last.product.price.clone(),
                    id: last.product.id,
                },
            });
        }
    };
    // The same, from the products' own categories and the tree (not from
    // category_listings): the live products filed in the category or below it.
    let expected = |conn: &mut PgConnection, slug: &str, order: &str| -> Vec<i32> {
        diesel::sql_query(format!(
            "WITH RECURSIVE below(id) AS (
                 SELECT id FROM categories WHERE slug = $1
                 UNION ALL
                 SELECT c.id FROM categories c JOIN below b ON c.parent_id = b.id)
             SELECT id FROM products
             WHERE category_ids && ARRAY(SELECT id FROM below) AND archived_at IS NULL
             ORDER BY {order}"
        ))
        .bind::<Text, _>(slug)
        .load::<Id>(conn)
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect()
    };

    // A department (about 16,000 products) and a leaf (about 450).
    for (slug, at_least) in [("d3", 10_000), ("d3-s4-l2", 200)] {
        for (sort, index, order) in [
            (
                ProductSort::Newest,
                "category_listings_newest_idx",
                "created_at DESC, id DESC",
            ),
            (
                ProductSort::PriceAsc,
                "category_listings_price_idx",
                "price ASC, id ASC",
            ),
            (
                ProductSort::PriceDesc,
                "category_listings_price_idx",
                "price DESC, id DESC",
            ),
        ] {
            let walked = pages(&mut conn, slug, sort);
            let wanted = expected(&mut conn, slug, order);
            assert!(wanted.len() >= at_least, "{slug}: {}", wanted.len());
            assert_eq!(
                walked.len(),
                wanted.len(),
                "{slug} {sort:?}: as many rows paged as listed"
            );
            assert!(
                walked == wanted,
                "{slug} {sort:?}: pages differ from ORDER BY {order}"
            );

            // The plan of the first page and of one in the middle.
            let middle = &walked[wanted.len() / 2];
            let row = schema::products::table
                .find(middle)
                .select((schema::products::created_at, schema::products::price))
                .first::<(chrono::DateTime<Utc>, BigDecimal)>(&mut conn)
                .unwrap();
            let cursor = match sort {
                ProductSort::Newest => After::Newest {
                    created_at: row.0,
                    id: *middle,
                },
                _ => After::Price {
                    price: row.1,
                    id: *middle,
                },
            };
            for after in [None, Some(cursor)] {
                let listing = listing(slug, sort, after);
                let plan = catalogue::explain(&mut conn, &listing).unwrap();
                assert!(
                    plan.contains(index),
                    "{listing:?} should use {index}:\n{plan}"
                );
                // The slug's id is looked up once; in a few hundred categories (three
                // pages) the planner may well read them all rather than the index.
                assert!(
                    plan.lines()
                        .filter(|line| line.contains("Seq Scan"))
                        .all(|line| line.contains("Seq Scan on categories")),
                    "{listing:?} scans a table:\n{plan}"
                );
                assert!(!sorts(&plan), "{listing:?} sorts:\n{plan}");
            }
        }
    }
}

// ---------------------------------------------------------------- schema-doc and seed

#[test]
fn docs_schema_md_is_what_schema_doc_writes_for_a_fresh_database() {
    let db = TestDb::new();
    let generated = storefront::schema_doc::render(&mut db.connect()).unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md"))
        .expect("docs/schema.md is committed");
    assert!(
        generated == committed,
        "docs/schema.md is stale; regenerate it with `cargo run -- schema-doc -o docs/schema.md` \
         against a freshly migrated database"
    );
    for expected in [
        "## products",
        "products_search_vector_idx",
        "argon2id PHC string",
        "set_updated_at",
    ] {
        assert!(generated.contains(expected), "{expected} missing");
    }
}

#[test]
fn seed_loads_a_realistic_reproducible_data_set() {
    use storefront::cli::seed;
    let first = TestDb::new();
    let second = TestDb::new();
    // One reference time for both, so every row, timestamps included, must match.
    let as_of = Utc::now();
    let report = seed::seed_as_of(&mut first.connect(), as_of, 30, 300, "hash").unwrap();
    assert_eq!((report.users, report.products), (30, 300));
    assert!(
        report.carts > 0 && report.orders > 0 && report.cart_items >= report.carts + report.orders,
        "{report:?}"
    );
    assert_eq!(
        seed::seed_as_of(&mut second.connect(), as_of, 30, 300, "hash").unwrap(),
        report
    );

    type CatalogueRow = (i32, String, BigDecimal, i32, chrono::DateTime<Utc>);
    let catalogue = |db: &TestDb| -> Vec<CatalogueRow> {
        schema::products::table
            .order(schema::products::id)
            .select((
                schema::products::id,
                schema::products::name,
                schema::products::price,
                schema::products::inventory_count,
                schema::products::created_at,
            ))
            .load(&mut db.connect())
            .unwrap()
    };
    type CartRow = (
        i32,
        Option<i32>,
        CartStatus,
        Option<chrono::DateTime<Utc>>,
        Option<String>,
    );
    let carts_of = |db: &TestDb| -> Vec<CartRow> {
        schema::carts::table
            .order(schema::carts::id)
            .select((
                schema::carts::id,
                schema::carts::user_id,
                schema::carts::status,
                schema::carts::checked_out_at,
                schema::carts::idempotency_key,
            ))
            .load(&mut db.connect())
            .unwrap()
    };
    let products = catalogue(&first);
    assert_eq!(products, catalogue(&second), "same seed, same data");
    assert_eq!(carts_of(&first), carts_of(&second), "same seed, same carts");
    type LedgerRow = (
        i32,
        i32,
        i32,
        String,
        Option<i32>,
        Option<i32>,
        chrono::DateTime<Utc>,
    );
    let ledger = |db: &TestDb| -> (Vec<LedgerRow>, Vec<(i32, BigDecimal, BigDecimal)>) {
        use schema::{price_changes as pc, stock_movements as sm};
        let mut conn = db.connect();
        let movements = sm::table
            .order(sm::id)
            .select((
                sm::product_id,
                sm::delta,
                sm::resulting_count,
                sm::reason,
                sm::order_id,
                sm::by_user_id,
                sm::at,
            ))
            .load(&mut conn)
            .unwrap();
        let changes = pc::table
            .order(pc::id)
            .select((pc::product_id, pc::old_price, pc::new_price))
            .load(&mut conn)
            .unwrap();
        (movements, changes)
    };
    assert_eq!(ledger(&first), ledger(&second), "same seed, same history");
    type Structure = (
        Vec<storefront::models::Category>,
        Vec<storefront::models::ProductGroup>,
        Vec<(i32, storefront::models::ProductStructure)>,
    );
    let structure = |db: &TestDb| -> Structure {
        let mut conn = db.connect();
        (
            schema::categories::table
                .order(schema::categories::id)
                .select(storefront::models::Category::as_select())
                .load(&mut conn)
                .unwrap(),
            schema::product_groups::table
                .order(schema::product_groups::id)
                .select(storefront::models::ProductGroup::as_select())
                .load(&mut conn)
                .unwrap(),
            schema::products::table
                .order(schema::products::id)
                .select((
                    schema::products::id,
                    storefront::models::ProductStructure::as_select(),
                ))
                .load(&mut conn)
                .unwrap(),
        )
    };
    let (tree, groups, filed) = structure(&first);
    assert!(
        (tree, groups, filed) == structure(&second),
        "same seed, same structure"
    );
    assert_seeded_structure(&mut first.connect(), &report);
    assert!(
        products.iter().any(|(_, _, _, stock, _)| *stock == 0),
        "some products are out of stock"
    );
    assert!(products
        .iter()
        .any(|(_, _, price, _, _)| price.to_string().ends_with(|c: char| c != '0')));
    // Real words, so search finds things.
    let found = storefront::repository::catalogue::list(
        &mut first.connect(),
        &storefront::repository::catalogue::ProductListing {
            filter: storefront::repository::catalogue::ProductFilter {
                text: Some("handmade".into()),
                ..Default::default()
            },
            sort: storefront::repository::catalogue::ProductSort::Relevance,
            after: None,
            limit: 5,
        },
    )
    .unwrap();
    assert!(!found.is_empty());
    // Seeding again continues rather than colliding, in the same category tree.
    assert_eq!(
        seed::seed(&mut first.connect(), 5, 0, "hash")
            .unwrap()
            .users,
        5
    );
    let again = seed::seed(&mut first.connect(), 0, 40, "hash").unwrap();
    assert_eq!((again.products, again.categories), (40, report.categories));
    assert_eq!(
        schema::categories::table
            .count()
            .get_result::<i64>(&mut first.connect())
            .unwrap(),
        report.categories as i64
    );
    assert_seeded_structure(&mut first.connect(), &again);
}

/// The seeded catalogue's structure: a three-level tree, every product filed under one or
/// two of its leaves and listed under exactly those and their ancestors, one to three
/// https images each, and variant groups of 2 to 6 products with distinct options from
/// their group's axes, named after their group.
fn assert_seeded_structure(conn: &mut PgConnection, report: &storefront::cli::seed::SeedReport) {
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Tally {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        top_level: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        deepest: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        products_not_in_one_or_two_leaves: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        listings_missing: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        listings_extra: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        listings_off_their_product: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        products_without_1_to_3_https_images: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        groups_not_of_2_to_6: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        variants_off_their_axes: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        variants_not_named_after_their_group: i64,
    }
    let tally: Tally = diesel::sql_query(
        "WITH RECURSIVE depth(id, level) AS (
             SELECT id, 1 FROM categories WHERE parent_id IS NULL
             UNION ALL
             SELECT c.id, d.level + 1 FROM categories c JOIN depth d ON c.parent_id = d.id),
         leaves AS (SELECT id FROM categories c
                    WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)),
         listed(product_id, category_id) AS (
             SELECT p.id, f FROM products p CROSS JOIN LATERAL unnest(p.category_ids) f
             UNION
             SELECT l.product_id, c.parent_id FROM listed l JOIN categories c ON c.id = l.category_id
             WHERE c.parent_id IS NOT NULL)
         SELECT
           (SELECT count(*) FROM categories WHERE parent_id IS NULL) AS top_level,
           (SELECT max(level)::bigint FROM depth) AS deepest,
           (SELECT count(*) FROM products p
            WHERE cardinality(p.category_ids) NOT IN (1, 2)
               OR NOT p.category_ids <@ ARRAY(SELECT id FROM leaves))
             AS products_not_in_one_or_two_leaves,
           (SELECT count(*) FROM (SELECT * FROM listed
                                  EXCEPT SELECT product_id, category_id FROM category_listings) m)
             AS listings_missing,
           (SELECT count(*) FROM (SELECT product_id, category_id FROM category_listings
                                  EXCEPT SELECT * FROM listed) e) AS listings_extra,
           (SELECT count(*) FROM category_listings k JOIN products p ON p.id = k.product_id
            WHERE k.created_at <> p.created_at OR k.price <> p.price)
             AS listings_off_their_product,
           (SELECT count(*) FROM products p
            WHERE jsonb_array_length(p.images) NOT BETWEEN 1 AND 3
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(p.images) i
                          WHERE i->>'url' NOT LIKE 'https://images.example.com/products/' || p.id || '-%.jpg'
                             OR length(i->>'alt') < 5))
             AS products_without_1_to_3_https_images,
           (SELECT count(*) FROM product_groups g
            WHERE (SELECT count(*) FROM products p WHERE p.group_id = g.id) NOT BETWEEN 2 AND 6)
             AS groups_not_of_2_to_6,
           (SELECT count(*) FROM products p JOIN product_groups g ON g.id = p.group_id
            WHERE (SELECT array_agg(a->>'name' ORDER BY a->>'name') FROM jsonb_array_elements(g.options) a)
                    <> (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p.options) k)
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(g.options) a
                          WHERE NOT (a->'values') ? (p.options->>(a->>'name'))))
             AS variants_off_their_axes,
           (SELECT count(*) FROM products p JOIN product_groups g ON g.id = p.group_id
            WHERE p.name NOT LIKE g.name || ' (%) no. ' || p.id) AS variants_not_named_after_their_group",
    )
    .get_result(conn)
    .unwrap();
    assert_eq!(
        tally,
        Tally {
            top_level: 8,
            deepest: 3,
            products_not_in_one_or_two_leaves: 0,
            listings_missing: 0,
            listings_extra: 0,
            listings_off_their_product: 0,
            products_without_1_to_3_https_images: 0,
            groups_not_of_2_to_6: 0,
            variants_off_their_axes: 0,
            variants_not_named_after_their_group: 0,
        }
    );
    assert!(report.categories > 300, "{report:?}");
    assert!(
        report.category_listings >= 3 * report.products
            && report.category_listings <= 6 * report.products,
        "{report:?}"
    );
    if report.products >= 2 {
        assert!(
            report.product_groups >= 1
                && (2 * report.product_groups..=6 * report.product_groups)
                    .contains(&report.variants),
            "{report:?}"
        );
    }
}

#[test]
fn the_sql_functions_spell_the_price_window_the_code_uses() {
    #[derive(QueryableByName)]
    struct FunctionSource {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        source: String,
    }
    let db = TestDb::new();
    let sources: Vec<FunctionSource> = diesel::sql_query(
        "SELECT proname::text AS name, prosrc AS source FROM pg_proc
         WHERE proname IN ('lowest_earlier_price', 'refresh_low_price') ORDER BY proname",
    )
    .load(&mut db.connect())
    .unwrap();
    assert_eq!(sources.len(), 2);
    let window = format!(
        "interval '{} days'",
        storefront::repository::ledger::PRICE_WINDOW_DAYS
    );
    for function in sources {
        let intervals = function.source.matches("interval '").count();
        assert!(intervals > 0, "{} has no window", function.name);
        assert_eq!(
            function.source.matches(&window).count(),
            intervals,
            "{} spells another window than {window}",
            function.name
        );
    }
}

#[test]
fn seeded_low_prices_are_what_refresh_low_price_keeps() {
    use schema::products as product_rows;
    type LowPrice = (i32, Option<BigDecimal>, Option<chrono::DateTime<Utc>>);
    let db = TestDb::new();
    let mut conn = db.connect();
    storefront::cli::seed::seed(&mut conn, 0, 1_000, "hash").unwrap();
    let low_prices = |conn: &mut PgConnection| -> Vec<LowPrice> {
        product_rows::table
            .order(product_rows::id)
            .select((
                product_rows::id,
                product_rows::low_price,
                product_rows::low_price_until,
            ))
            .load(conn)
            .unwrap()
    };
    let seeded = low_prices(&mut conn);
    assert!(
        seeded.iter().any(|(_, low, _)| low.is_some()),
        "some seeded prices changed within the window"
    );
    diesel::sql_query("SELECT refresh_low_price(id) FROM products")
        .execute(&mut conn)
        .unwrap();
    let refreshed = low_prices(&mut conn);
    assert_eq!(refreshed.len(), seeded.len());
    let differing: Vec<_> = seeded
        .iter()
        .zip(&refreshed)
        .filter(|(seeded, refreshed)| seeded != refreshed)
        .collect();
    assert!(differing.is_empty(), "seeded, refreshed: {differing:?}");
}

#[test]
fn seeded_products_span_months_and_seeded_users_have_orders_with_frozen_prices() {
    use schema::{cart_items, carts as cart_rows, products as product_rows, users as user_rows};
    use storefront::cli::seed;
    type Time = chrono::DateTime<Utc>;
    /// (cart status, unit_price, product price, product created_at, cart created_at)
    type LineRow = (CartStatus, Option<BigDecimal>, BigDecimal, Time, Time);
    let db = TestDb::new();
    let mut conn = db.connect();
    let report = seed::seed(&mut conn, 60, 500, "hash").unwrap();

    // Creation times: all distinct, spread over months, in the past, growing with the id
    // (as in a shop that has been running), so sort=newest has a real order.
    let created: Vec<Time> = product_rows::table
        .order(product_rows::id)
        .select(product_rows::created_at)
        .load(&mut conn)
        .unwrap();
    let distinct: BTreeSet<_> = created.iter().collect();
    assert_eq!(distinct.len(), created.len(), "every created_at differs");
    assert!(created.windows(2).all(|pair| pair[0] < pair[1]));
    let (oldest, newest) = (created[0], created[created.len() - 1]);
    assert!(newest <= Utc::now(), "no product from the future");
    assert!(
        newest - oldest > chrono::Duration::days(90),
        "spread over months: {oldest} .. {newest}"
    );

    // Orders: checked-out carts with a checkout time, every line's price frozen at the
    // product's price; open carts keep unit_price NULL; at most one open cart per user.
    let carts: Vec<storefront::models::Cart> = cart_rows::table
        .select(storefront::models::Cart::as_select())
        .load(&mut conn)
        .unwrap();
    let (orders, open): (Vec<_>, Vec<_>) = carts
        .iter()
        .partition(|cart| cart.status == CartStatus::CheckedOut);
    assert_eq!((orders.len(), open.len()), (report.orders, report.carts));
    assert!(!orders.is_empty() && !open.is_empty(), "{report:?}");
    for order in &orders {
        let checked_out_at = order.checked_out_at.expect("an order has checked_out_at");
        assert!(order.created_at <= checked_out_at && checked_out_at <= Utc::now());
    }
    // The seed makes no guest carts: every cart has its user.
    assert!(carts.iter().all(|cart| cart.user_id.is_some()));
    let open_owners: BTreeSet<Option<i32>> = open.iter().map(|cart| cart.user_id).collect();
    assert_eq!(open_owners.len(), open.len(), "one open cart per user");
    let keys: BTreeSet<(i32, &str)> = orders
        .iter()
        .filter_map(|order| Some((order.user_id?, order.idempotency_key.as_deref()?)))
        .collect();
    assert!(!keys.is_empty(), "some orders carry an Idempotency-Key");
    assert!(open.iter().all(|cart| cart.idempotency_key.is_none()));

    let lines: Vec<LineRow> = cart_items::table
        .inner_join(cart_rows::table)
        .inner_join(product_rows::table)
        .select((
            cart_rows::status,
            cart_items::unit_price,
            product_rows::price,
            product_rows::created_at,
            cart_rows::created_at,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(lines.len(), report.cart_items);
    for (status, unit_price, _, product_created, cart_created) in lines {
        match status {
            // The price in force when the order was placed: checked below, with the ledger.
            CartStatus::CheckedOut => assert!(unit_price.is_some()),
            CartStatus::Open => assert_eq!(unit_price, None),
        }
        assert!(
            product_created <= cart_created,
            "no product bought before it existed"
        );
    }
    let registered: Vec<(i32, Time)> = user_rows::table
        .select((user_rows::id, user_rows::created_at))
        .load(&mut conn)
        .unwrap();
    for cart in &carts {
        let (_, at) = registered
            .iter()
            .find(|(id, _)| Some(*id) == cart.user_id)
            .unwrap();
        assert!(
            *at <= cart.created_at,
            "no cart before its owner registered"
        );
    }

    assert_seeded_ledger_tells_the_same_story(&mut conn, &report);

    // GET /orders has something to show: the order history of a seeded customer.
    let filter = storefront::repository::orders::OrderFilter {
        user_id: orders[0].user_id,
        ..Default::default()
    };
    let history = storefront::repository::orders::list_orders(&mut conn, filter, None, 20).unwrap();
    assert!(!history.is_empty());
    assert!(history.iter().all(|order| !order.lines.is_empty()));
    // Seeded orders were paid, as orders from before payments are.
    assert!(history
        .iter()
        .all(|order| order.order.payment_status == storefront::models::PaymentStatus::Paid));
}

/// The seeded price and stock ledger agrees with the products and orders: every product's
/// movements sum to its count, every order line is one `checkout` movement of its order by
/// its buyer at its checkout time, every order froze the price in force then, and there
/// is history to show (price changes, some within 30 days, restocks, write-downs).
fn assert_seeded_ledger_tells_the_same_story(
    conn: &mut PgConnection,
    report: &storefront::cli::seed::SeedReport,
) {
    assert_eq!(
        repository::ledger::unbalanced_products(conn).unwrap(),
        vec![],
        "(product, inventory_count, sum of deltas)"
    );
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Tally {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        order_lines: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        checkout_movements: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        lines_without_their_movement: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        lines_not_at_the_price_then: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        products_off_their_last_price_change: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        products_whose_kept_low_price_is_wrong: i64,
    }
    let tally: Tally = diesel::sql_query(
        "SELECT
           (SELECT count(*) FROM cart_items ci JOIN carts c ON c.id = ci.cart_id
            WHERE c.status = 'checked_out') AS order_lines,
           (SELECT count(*) FROM stock_movements WHERE reason = 'checkout') AS checkout_movements,
           (SELECT count(*) FROM cart_items ci JOIN carts c ON c.id = ci.cart_id
            WHERE c.status = 'checked_out' AND NOT EXISTS (
              SELECT 1 FROM stock_movements m
              WHERE m.order_id = c.id AND m.product_id = ci.product_id
                AND m.delta = -ci.quantity AND m.by_user_id = c.user_id
                AND m.at = c.checked_out_at AND m.reason = 'checkout'))
             AS lines_without_their_movement,
           (SELECT count(*) FROM cart_items ci JOIN carts c ON c.id = ci.cart_id
                JOIN products p ON p.id = ci.product_id
            WHERE c.status = 'checked_out' AND ci.unit_price IS DISTINCT FROM COALESCE(
              (SELECT pc.old_price FROM price_changes pc
               WHERE pc.product_id = p.id AND pc.at > c.checked_out_at
               ORDER BY pc.at, pc.id LIMIT 1), p.price)) AS lines_not_at_the_price_then,
           (SELECT count(*) FROM products p
            WHERE p.price_changed_at IS DISTINCT FROM
                  (SELECT max(at) FROM price_changes WHERE product_id = p.id)
               OR p.updated_at <> GREATEST(p.created_at, p.price_changed_at))
             AS products_off_their_last_price_change,
           (SELECT count(*) FROM products p
            WHERE p.price_changed_at > now() - interval '30 days'
              AND p.low_price_until > now()
              AND p.low_price IS DISTINCT FROM
                  (SELECT pc.old_price FROM price_changes pc
                   WHERE pc.product_id = p.id AND pc.at > now() - interval '30 days'
                   ORDER BY pc.old_price LIMIT 1))
             AS products_whose_kept_low_price_is_wrong",
    )
    .get_result(conn)
    .unwrap();
    assert_eq!(
        tally,
        Tally {
            order_lines: tally.order_lines,
            checkout_movements: tally.order_lines,
            lines_without_their_movement: 0,
            lines_not_at_the_price_then: 0,
            products_off_their_last_price_change: 0,
            products_whose_kept_low_price_is_wrong: 0,
        }
    );
    assert!(tally.order_lines > 0);

    #[derive(QueryableByName, Debug)]
    struct Variety {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        price_changes: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        recent_price_changes: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        orders_below_the_price_now: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        restocks: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        write_downs: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        movements: i64,
    }
    let variety: Variety = diesel::sql_query(
        "SELECT (SELECT count(*) FROM price_changes) AS price_changes,
                (SELECT count(*) FROM price_changes WHERE at > now() - interval '30 days')
                  AS recent_price_changes,
                (SELECT count(*) FROM cart_items ci JOIN products p ON p.id = ci.product_id
                 WHERE ci.unit_price < p.price) AS orders_below_the_price_now,
                (SELECT count(*) FROM stock_movements WHERE reason = 'adjustment' AND delta > 0)
                  AS restocks,
                (SELECT count(*) FROM stock_movements WHERE reason = 'adjustment' AND delta < 0)
                  AS write_downs,
                (SELECT count(*) FROM stock_movements) AS movements",
    )
    .get_result(conn)
    .unwrap();
    assert!(
        variety.price_changes > 0
            && variety.recent_price_changes > 0
            && variety.orders_below_the_price_now > 0
            && variety.restocks > 0
            && variety.write_downs > 0,
        "{variety:?}"
    );
    assert_eq!(variety.price_changes, report.price_changes as i64);
    assert_eq!(variety.movements, report.stock_movements as i64);
}

#[test]
fn the_name_migration_reverts_and_reapplies_naming_every_user() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let alice = new_user(&mut conn, "alice");
    assert_eq!(alice.name, "alice");
    users::set_name(&mut conn, alice.id, "Alice Liddell").unwrap();
    // Its down.sql drops the column, so reverting it (and the later ones first) and
    // applying it again names every user after their username: NOT NULL holds for rows
    // that existed before the migration.
    while db::revert_last_migration(&mut conn).unwrap() != "20261126000002" {}
    db::run_pending_migrations(&mut conn).unwrap();
    assert_eq!(
        users::find_profile(&mut conn, alice.id).unwrap().name,
        "alice"
    );
    let bob = new_user(&mut conn, "bob");
    assert_eq!(bob.name, "bob");
}

#[test]
fn orders_placed_before_the_lifecycle_migrate_as_paid_and_releases_revert_to_adjustments() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let admin = new_user(&mut conn, "staff");
    let buyer = new_user(&mut conn, "buyer");
    let product = products::insert(
        &mut conn,
        &NewProduct {
            name: "Kettle",
            description: None,
            price: &money("30.00"),
            inventory_count: 5,
            category_ids: &[],
            images: Default::default(),
            group_id: None,
            options: None,
        },
        Some(admin.id),
    )
    .unwrap();
    add_to_cart(&mut conn, buyer.id, product.id, 2);
    let request = repository::checkout::CheckoutRequest {
        user_id: buyer.id,
        idempotency_key: None,
        payment_window: None,
        delivery: &repository::pricing::DeliveryRequest::default(),
        tax_mode: storefront::domain::TaxMode::Included,
        expected_total: None,
        low_stock_threshold: 5,
    };
    let repository::checkout::CheckoutOutcome::Placed(placed) =
        repository::checkout::checkout(&mut conn, request, None).unwrap()
    else {
        panic!("a new order")
    };
    let order_id = placed.order.id;
    let caller = repository::order_lifecycle::Caller {
        user_id: buyer.id,
        is_admin: false,
    };
    repository::order_lifecycle::cancel(&mut conn, order_id, caller, None).unwrap();
    let balanced = || repository::ledger::unbalanced_products(&mut db.connect()).unwrap();
    assert!(balanced().is_empty());

    // Back to before orders existed: the release becomes an adjustment (the ledger still
    // sums), and the checked-out cart is an order again once the table returns: paid.
    while db::revert_last_migration(&mut conn).unwrap() != "20261202000001" {}
    assert!(
        balanced().is_empty(),
        "the ledger balances without releases"
    );
    let reasons: Vec<String> =
        diesel::sql_query("SELECT reason AS name FROM stock_movements ORDER BY id")
            .load::<Named>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|row| row.name)
            .collect();
    assert_eq!(reasons, ["created", "checkout", "adjustment"]);
    db::run_pending_migrations(&mut conn).unwrap();
    let migrated = repository::orders::find_order(&mut conn, Some(buyer.id), order_id).unwrap();
    assert_eq!(
        migrated.order.payment_status,
        storefront::models::PaymentStatus::Paid
    );
    assert_eq!(
        migrated.order.status,
        storefront::models::OrderStatus::CheckedOut
    );
    assert_eq!(migrated.order.payment_due_at, None);
    assert!(balanced().is_empty());
}

/// Orders placed before checkout totals charged their lines: migrated, subtotal and total
/// are the sum of the lines at their frozen prices, with no shipping and no tax. And the
/// total always adds up: a row whose parts do not make its total is refused.
#[test]
fn orders_placed_before_totals_migrate_charging_their_lines() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let buyer = new_user(&mut conn, "buyer");
    let product = new_product(&mut conn, "Kettle", "30.05", 5);
    add_to_cart(&mut conn, buyer.id, product.id, 2);
    let request = repository::checkout::CheckoutRequest {
        user_id: buyer.id,
        idempotency_key: None,
        payment_window: None,
        delivery: &repository::pricing::DeliveryRequest::default(),
        tax_mode: storefront::domain::TaxMode::Included,
        expected_total: None,
        low_stock_threshold: 5,
    };
    let repository::checkout::CheckoutOutcome::Placed(placed) =
        repository::checkout::checkout(&mut conn, request, None).unwrap()
    else {
        panic!("a new order")
    };
    let order_id = placed.order.id;
    while db::revert_last_migration(&mut conn).unwrap() != "20261207000004" {}
    db::run_pending_migrations(&mut conn).unwrap();
    let migrated = repository::orders::find_order(&mut conn, Some(buyer.id), order_id).unwrap();
    let shown = |amount: &bigdecimal::BigDecimal| storefront::domain::format_money(amount);
    assert_eq!(
        [
            shown(&migrated.order.subtotal),
            shown(&migrated.order.shipping),
            shown(&migrated.order.tax),
            shown(&migrated.order.total)
        ],
        ["60.10", "0.00", "0.00", "60.10"]
    );
    assert!(migrated.order.prices_include_tax);
    assert_eq!(migrated.address, None);

    let refused = diesel::sql_query("UPDATE orders SET total = total + 1")
        .execute(&mut conn)
        .unwrap_err();
    let diesel::result::Error::DatabaseError(_, info) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(info.constraint_name(), Some("orders_total_check"));
}

#[derive(diesel::QueryableByName)]
struct Named {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// What a constraint violation means to a client: one that guards a request field is the
/// client's (409 naming the taken field, 422 naming the checked one); any other only a
/// bug can break, and is a 500 that does not name it.
#[test]
fn only_constraints_that_guard_request_fields_reach_the_client() {
    use storefront::http::ApiError;
    in_rolled_back_transaction(|conn| {
        let buyer = new_user(conn, "buyer");
        let (cart, _) = {
            let product = products::insert(
                conn,
                &NewProduct {
                    name: "Kettle",
                    description: None,
                    price: &money("30.00"),
                    inventory_count: 5,
                    category_ids: &[],
                    images: Default::default(),
                    group_id: None,
                    options: None,
                },
                None,
            )
            .unwrap();
            add_to_cart(conn, buyer.id, product.id, 1)
        };
        let request = repository::checkout::CheckoutRequest {
            user_id: buyer.id,
            idempotency_key: None,
            payment_window: None,
            delivery: &repository::pricing::DeliveryRequest::default(),
            tax_mode: storefront::domain::TaxMode::Included,
            expected_total: None,
            low_stock_threshold: 5,
        };
        repository::checkout::checkout(conn, request, None).unwrap();
        let mut mapped = |sql: String| {
            let err = conn
                .transaction(|c| diesel::sql_query(sql).execute(c))
                .unwrap_err();
            let api = ApiError::from(err);
            let fields: Vec<String> = match &api {
                ApiError::AlreadyExists(fields) | ApiError::Validation(fields) => {
                    fields.iter().map(|f| f.field.clone()).collect()
                }
                _ => Vec::new(),
            };
            (api.code(), fields)
        };
        assert_eq!(
            mapped("INSERT INTO users (username, email, password_hash) VALUES ('buyer', 'x@example.com', 'h')".into()),
            ("already_exists", vec!["username".to_owned()])
        );
        assert_eq!(
            mapped("UPDATE products SET price = -1".into()),
            ("validation_failed", vec!["price".to_owned()])
        );
        // A state rule and the ledger's one-release rule: bugs, not input.
        assert_eq!(
            mapped(format!(
                "UPDATE orders SET status = 'cancelled' WHERE id = {}",
                cart.id
            )),
            ("internal", Vec::new())
        );
        let release = format!(
            "INSERT INTO stock_movements (product_id, delta, resulting_count, reason, order_id)
             SELECT product_id, 1, 5, 'release', cart_id FROM cart_items WHERE cart_id = {}",
            cart.id
        );
        conn.transaction(|c| {
            diesel::sql_query(&release).execute(c)?;
            let twice = diesel::sql_query(&release).execute(c).unwrap_err();
            assert_eq!(ApiError::from(twice).code(), "internal");
            Err::<(), _>(DieselError::RollbackTransaction)
        })
        .unwrap_err();
    });
}

// ---------------------------------------------------------------- payments

/// An order of `total` placed by a new buyer, and an intent for it recorded as `intent`.
fn order_with_intent(
    db: &TestDb,
    name: &str,
    price: &str,
    intent: &str,
) -> (i32, storefront::models::Payment) {
    let mut conn = db.connect();
    let buyer = new_user(&mut conn, name);
    let product = new_product(&mut conn, &format!("{name}'s lamp"), price, 5);
    add_to_cart(&mut conn, buyer.id, product.id, 1);
    let request = repository::checkout::CheckoutRequest {
        user_id: buyer.id,
        idempotency_key: None,
        payment_window: Some(Duration::from_secs(600)),
        delivery: &repository::pricing::DeliveryRequest::default(),
        tax_mode: storefront::domain::TaxMode::Included,
        expected_total: None,
        low_stock_threshold: 5,
    };
    let repository::checkout::CheckoutOutcome::Placed(placed) =
        repository::checkout::checkout(&mut conn, request, None).unwrap()
    else {
        panic!("a new order")
    };
    let payment = repository::payments::record_intent(
        &mut conn,
        &storefront::models::NewPayment {
            order_id: placed.order.id,
            provider: "test",
            provider_ref: intent,
            amount: &placed.order.total,
            currency: "EUR",
            client_secret: "secret",
            confirm_url: "http://gateway/confirm",
        },
    )
    .unwrap();
    (placed.order.id, payment)
}

/// Twenty reports of one capture at once (the shopper's return, webhooks, a
/// reconciliation, on several instances): one pays the order, nineteen change nothing.
#[test]
fn a_capture_is_applied_exactly_once_however_often_it_is_reported() {
    use repository::payments::{apply_capture, CaptureApplied};
    let db = TestDb::new();
    let (order_id, payment) = order_with_intent(&db, "payer", "19.90", "pi_once");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let outcomes: Vec<CaptureApplied> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (db, barrier, amount) = (&db, barrier.clone(), payment.amount.clone());
                scope.spawn(move || {
                    let mut conn = db.connect();
                    barrier.wait();
                    apply_capture(&mut conn, "test", "pi_once", &amount).unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let paid = outcomes
        .iter()
        .filter(|o| **o == CaptureApplied::Paid)
        .count();
    let already = outcomes
        .iter()
        .filter(|o| **o == CaptureApplied::AlreadyApplied)
        .count();
    assert_eq!((paid, already), (1, 19), "{outcomes:?}");
    let mut conn = db.connect();
    let order = repository::orders::find_order(&mut conn, None, order_id)
        .unwrap()
        .order;
    assert_eq!(
        order.payment_status,
        storefront::models::PaymentStatus::Paid
    );
    assert_eq!(order.payment_due_at, None);
    let payment = repository::payments::find_by_ref(&mut conn, "test", "pi_once").unwrap();
    assert_eq!(
        payment.status,
        storefront::models::PaymentAttemptStatus::Succeeded
    );
    assert_eq!(payment.captured_amount, order.total);
}

/// A capture of another amount than the order charges flags the payment and leaves the
/// order unpaid; a capture for an order cancelled meanwhile is money to give back.
#[test]
fn a_wrong_amount_needs_review_and_a_capture_after_cancel_is_refund_due() {
    use repository::payments::{apply_capture, CaptureApplied};
    let db = TestDb::new();
    let (order_id, _) = order_with_intent(&db, "short", "19.90", "pi_short");
    let mut conn = db.connect();
    assert_eq!(
        apply_capture(&mut conn, "test", "pi_short", &money("9.90")).unwrap(),
        CaptureApplied::NeedsReview
    );
    let order = repository::orders::find_order(&mut conn, None, order_id)
        .unwrap()
        .order;
    assert_eq!(
        order.payment_status,
        storefront::models::PaymentStatus::AwaitingPayment
    );
    assert!(
        repository::payments::find_by_ref(&mut conn, "test", "pi_short")
            .unwrap()
            .requires_review
    );

    let (order_id, payment) = order_with_intent(&db, "late", "5.00", "pi_late");
    let owner = repository::orders::owner_of(&mut conn, order_id)
        .unwrap()
        .unwrap();
    let caller = repository::order_lifecycle::Caller {
        user_id: owner,
        is_admin: false,
    };
    repository::order_lifecycle::cancel(&mut conn, order_id, caller, None).unwrap();
    assert_eq!(
        apply_capture(&mut conn, "test", "pi_late", &money("5.00")).unwrap(),
        CaptureApplied::RefundDue
    );
    let refunds = repository::refunds::pending_of_order(&mut conn, order_id).unwrap();
    assert_eq!(refunds.len(), 1, "a refund of all of it, to send");
    assert_eq!(refunds[0].amount, money("5.00"));
    assert_eq!(refunds[0].provider_ref, payment.provider_ref);
    assert_eq!(
        apply_capture(&mut conn, "test", "pi_late", &money("5.00")).unwrap(),
        CaptureApplied::AlreadyApplied,
        "and only once"
    );
    assert_eq!(
        repository::refunds::pending_of_order(&mut conn, order_id)
            .unwrap()
            .len(),
        1
    );
}

/// One open payment per order; recording the same intent twice is one row; a declined
/// intent fails once; an unknown intent is not found.
#[test]
fn payment_rows_follow_their_intents() {
    let db = TestDb::new();
    let (order_id, first) = order_with_intent(&db, "tabs", "8.00", "pi_tab1");
    let mut conn = db.connect();
    let again = repository::payments::record_intent(
        &mut conn,
        &storefront::models::NewPayment {
            order_id,
            provider: "test",
            provider_ref: "pi_tab1",
            amount: &first.amount,
            currency: "EUR",
            client_secret: "secret",
            confirm_url: "http://gateway/confirm",
        },
    )
    .unwrap();
    assert_eq!(again, first);
    let second_open = repository::payments::record_intent(
        &mut conn,
        &storefront::models::NewPayment {
            order_id,
            provider: "test",
            provider_ref: "pi_tab2",
            amount: &first.amount,
            currency: "EUR",
            client_secret: "secret",
            confirm_url: "http://gateway/confirm",
        },
    )
    .unwrap_err();
    let diesel::result::Error::DatabaseError(_, info) = second_open else {
        panic!("{second_open:?}")
    };
    assert_eq!(info.constraint_name(), Some("payments_one_open_per_order"));
    assert!(repository::payments::apply_failure(
        &mut conn,
        "test",
        "pi_tab1",
        Some("card_declined")
    )
    .unwrap());
    assert!(!repository::payments::apply_failure(&mut conn, "test", "pi_tab1", None).unwrap());
    assert_eq!(
        repository::payments::payments_of(&mut conn, order_id)
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        repository::payments::apply_capture(&mut conn, "test", "pi_nobody", &money("1.00")),
        Err(repository::ShopError::NotFound)
    ));
}

/// A webhook id is claimed once: twenty concurrent claims of one id, one wins; an id
/// whose transaction rolled back can be claimed again.
#[test]
fn a_webhook_is_claimed_once() {
    let db = TestDb::new();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let won: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (db, barrier) = (&db, barrier.clone());
                scope.spawn(move || {
                    let mut conn = db.connect();
                    barrier.wait();
                    repository::payments::claim_webhook(&mut conn, "test", "evt_1").unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .filter(|_| true)
            .map(|h| usize::from(h.join().unwrap()))
            .sum()
    });
    assert_eq!(won, 1);
    let mut conn = db.connect();
    let rolled_back: Result<(), diesel::result::Error> = conn.transaction(|conn| {
        assert!(repository::payments::claim_webhook(conn, "test", "evt_2").unwrap());
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(rolled_back.is_err());
    assert!(repository::payments::claim_webhook(&mut conn, "test", "evt_2").unwrap());
}
