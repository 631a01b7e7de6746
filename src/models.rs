//! Row types of the tables: what Diesel reads (`Queryable` + `Selectable`), inserts
//! (`New*`) and updates (`*Changes`).
//!
//! These are database shapes, not JSON shapes: handlers build response types from them, so
//! a column added here never leaks into the API by accident. `User` carries the password
//! hash and therefore derives neither `Serialize` nor `Debug`.

use std::fmt;
use std::io::Write;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Jsonb, Text};

use crate::domain::{OptionAxis, ProductImage};
use crate::schema::{
    addresses, cart_items, carts, categories, fulfilments, order_addresses, orders, payments,
    price_changes, product_groups, products, refunds, sessions, shipping_methods, stock_movements,
    tax_rates, users, webhook_deliveries, webhook_endpoints,
};

/// A user without the password hash: what every query outside login selects, so the hash
/// is not even fetched.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = users, check_for_backend(Pg))]
pub struct UserProfile {
    pub id: i32,
    pub username: String,
    pub email: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub name: String,
}

/// A full user row, password hash included. Only the login path reads this.
#[derive(Queryable, Selectable, Clone, PartialEq, Eq)]
#[diesel(table_name = users, check_for_backend(Pg))]
pub struct User {
    #[diesel(embed)]
    pub profile: UserProfile,
    pub password_hash: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    /// `None`: the username (filled in by the database).
    pub name: Option<&'a str>,
}

/// A catalogue row. `search_vector` is maintained by PostgreSQL and never read into Rust.
#[derive(Queryable, QueryableByName, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = products, check_for_backend(Pg))]
pub struct Product {
    pub id: i32,
    pub name: String,
    pub description: Option<String>,
    pub price: BigDecimal,
    pub inventory_count: i32,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Units a cart may take: none once archived.
    pub fn available_stock(&self) -> i32 {
        if self.archived_at.is_some() {
            0
        } else {
            self.inventory_count
        }
    }
}

#[derive(Insertable, Debug)]
#[diesel(table_name = products)]
pub struct NewProduct<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub price: &'a BigDecimal,
    pub inventory_count: i32,
    /// Ascending and distinct; `products::insert` files the product under them.
    pub category_ids: &'a [i32],
    pub images: StoredImages,
    pub group_id: Option<i32>,
    pub options: Option<StoredOptions>,
}

/// What files a product in the catalogue's structure: its categories, images, and its
/// variant group with its options. Read only where the catalogue shows products (cart and
/// order lines do not need it).
#[derive(Queryable, QueryableByName, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = products, check_for_backend(Pg))]
pub struct ProductStructure {
    /// Never holds `None` (`products_category_ids_check`); PostgreSQL arrays may.
    pub category_ids: Vec<Option<i32>>,
    pub images: StoredImages,
    pub group_id: Option<i32>,
    pub options: Option<StoredOptions>,
}

/// Implements reading and writing a JSONB column as a typed value, through serde.
macro_rules! jsonb_column {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(AsExpression, FromSqlRow, Debug, Clone, PartialEq, Eq, Default)]
        #[diesel(sql_type = Jsonb)]
        pub struct $name(pub $inner);

        impl FromSql<Jsonb, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                // JSONB's binary format: a version byte (1), then the text, read straight
                // into the type (not through a `serde_json::Value`: half the work).
                match bytes.as_bytes() {
                    [1, text @ ..] => Ok(Self(serde_json::from_slice(text)?)),
                    _ => Err("unsupported JSONB encoding version".into()),
                }
            }
        }

        impl ToSql<Jsonb, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                // JSONB's binary format: a version byte, then the text.
                out.write_all(&[1])?;
                serde_json::to_writer(out, &self.0)?;
                Ok(IsNull::No)
            }
        }
    };
}

jsonb_column! {
    /// `products.images`: the pictures in display order.
    StoredImages(Vec<ProductImage>)
}
jsonb_column! {
    /// `products.options`: a variant's value on each axis of its group.
    StoredOptions(std::collections::BTreeMap<String, String>)
}
jsonb_column! {
    /// `product_groups.options`: the group's axes in display order.
    StoredAxes(Vec<OptionAxis>)
}

/// A partial update: `None` leaves a column alone; `Some(None)` clears the description.
#[derive(AsChangeset, Debug, Default, Clone)]
#[diesel(table_name = products)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub price: Option<BigDecimal>,
    pub inventory_count: Option<i32>,
    /// Ascending and distinct; `products::update` refiles the product under them.
    pub category_ids: Option<Vec<i32>>,
    pub images: Option<StoredImages>,
    /// `Some(None)` takes the product out of its group (with its options).
    pub group_id: Option<Option<i32>>,
    pub options: Option<Option<StoredOptions>>,
}

impl ProductChanges {
    /// Diesel rejects an empty changeset, so callers check first.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.price.is_none()
            && self.inventory_count.is_none()
            && self.category_ids.is_none()
            && self.images.is_none()
            && self.group_id.is_none()
            && self.options.is_none()
    }
}

/// A Rust enum stored as one of a fixed set of words in a text column (guarded by the
/// column's CHECK constraint), with `as_str`, `parse` and `ALL` (the words in order, for
/// OpenAPI enums and query filters).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(AsExpression, FromSqlRow, Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($word),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }

            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $($word => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let word = std::str::from_utf8(bytes.as_bytes())?;
                Self::parse(word).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), word).into())
            }
        }
    };
}

text_enum! {
    /// Where a cart is in its life; `carts_status_check`.
    CartStatus, "cart status" {
        Open => "open",
        CheckedOut => "checked_out",
    }
}

#[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = carts, belongs_to(UserProfile, foreign_key = user_id), check_for_backend(Pg))]
pub struct Cart {
    pub id: i32,
    /// `None` for a guest cart, owned by its cart token.
    pub user_id: Option<i32>,
    pub status: CartStatus,
    pub checked_out_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = carts)]
pub struct NewCart {
    pub user_id: i32,
}

/// A guest cart: owned by a cart token (its SHA-256 stored, never the token) until it
/// expires or is merged into a user's cart at login.
#[derive(Insertable, Debug)]
#[diesel(table_name = carts)]
pub struct NewGuestCart<'a> {
    pub guest_token_hash: &'a [u8],
    pub guest_expires_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = cart_items, belongs_to(Cart), belongs_to(Product), check_for_backend(Pg))]
pub struct CartItem {
    pub id: i32,
    pub cart_id: i32,
    pub product_id: i32,
    pub quantity: i32,
    /// Frozen at checkout; `None` while the cart is open.
    pub unit_price: Option<BigDecimal>,
    /// The line's tax, frozen at checkout; `None` while the cart is open.
    pub tax: Option<BigDecimal>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = cart_items)]
pub struct NewCartItem {
    pub cart_id: i32,
    pub product_id: i32,
    pub quantity: i32,
}

text_enum! {
    /// Why a product's stock moved; `stock_movements_reason_check`.
    StockReason, "stock movement reason" {
        /// The product was added (or the ledger began): the opening count.
        Created => "created",
        /// Staff set the count.
        Adjustment => "adjustment",
        /// An order took units.
        Checkout => "checkout",
        /// A cancelled or expired order gave them back.
        Release => "release",
    }
}

/// One change of a product's price, for the history (`at` defaults to the write's clock).
#[derive(Insertable, Debug)]
#[diesel(table_name = price_changes)]
pub struct NewPriceChange<'a> {
    pub product_id: i32,
    pub old_price: &'a BigDecimal,
    pub new_price: &'a BigDecimal,
    pub by_user_id: Option<i32>,
}

/// One movement of a product's stock (`at` defaults to the write's clock).
#[derive(Insertable, Debug)]
#[diesel(table_name = stock_movements)]
pub struct NewStockMovement {
    pub product_id: i32,
    pub delta: i32,
    pub resulting_count: i32,
    pub reason: StockReason,
    pub order_id: Option<i32>,
    pub by_user_id: Option<i32>,
}

/// A login session. Holds the token's SHA-256, never the token.
#[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = sessions, belongs_to(UserProfile, foreign_key = user_id), check_for_backend(Pg))]
pub struct Session {
    pub id: i64,
    pub user_id: i32,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub user_id: i32,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

text_enum! {
    /// Where an order is in its life; `orders_status_check`.
    OrderStatus, "order status" {
        /// Placed: waiting for payment, or paid and waiting to ship.
        CheckedOut => "checked_out",
        /// Shipped.
        Completed => "completed",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// Where an order's money is; `orders_payment_status_check`.
    PaymentStatus, "payment status" {
        AwaitingPayment => "awaiting_payment",
        Authorized => "authorized",
        Paid => "paid",
        PartiallyRefunded => "partially_refunded",
        Refunded => "refunded",
        /// No payment will come: the order was cancelled before it was paid.
        Voided => "voided",
    }
}

text_enum! {
    /// Whether an order has shipped; `orders_fulfilment_status_check`.
    FulfilmentStatus, "fulfilment status" {
        Unfulfilled => "unfulfilled",
        Fulfilled => "fulfilled",
    }
}

/// An order's lifecycle row; its lines are those of the checked-out cart with the same id.
#[derive(Queryable, QueryableByName, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = orders, check_for_backend(Pg))]
pub struct Order {
    pub id: i32,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub fulfilment_status: FulfilmentStatus,
    pub payment_due_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub subtotal: BigDecimal,
    pub shipping: BigDecimal,
    pub tax: BigDecimal,
    pub total: BigDecimal,
    /// A percentage: the destination's rate at checkout.
    pub tax_rate: BigDecimal,
    pub prices_include_tax: bool,
    pub shipping_method_id: Option<i32>,
    pub shipping_method_name: Option<String>,
}

/// A shipment staff recorded.
#[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = fulfilments, belongs_to(Order), check_for_backend(Pg))]
pub struct Fulfilment {
    pub id: i32,
    pub order_id: i32,
    pub carrier: String,
    pub tracking_number: String,
    pub by_user_id: Option<i32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = fulfilments)]
pub struct NewFulfilment<'a> {
    pub order_id: i32,
    pub carrier: &'a str,
    pub tracking_number: &'a str,
    pub by_user_id: i32,
}

/// A saved address in a customer's address book.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = addresses, check_for_backend(Pg))]
pub struct SavedAddress {
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub phone: Option<String>,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = addresses)]
pub struct NewAddress<'a> {
    pub user_id: i32,
    pub name: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub postal_code: Option<&'a str>,
    pub region: Option<&'a str>,
    pub country: &'a str,
    pub phone: Option<&'a str>,
    pub is_default: bool,
}

/// A partial update of a saved address: `None` leaves a column alone; for the optional
/// columns, `Some(None)` clears it.
#[derive(AsChangeset, Debug, Default)]
#[diesel(table_name = addresses)]
pub struct AddressChanges {
    pub name: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<Option<String>>,
    pub city: Option<String>,
    pub postal_code: Option<Option<String>>,
    pub region: Option<Option<String>>,
    pub country: Option<String>,
    pub phone: Option<Option<String>>,
}

/// The address an order ships to, copied at checkout.
#[derive(Queryable, Selectable, Insertable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = order_addresses, primary_key(order_id), check_for_backend(Pg))]
pub struct OrderAddress {
    pub order_id: i32,
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub phone: Option<String>,
}

/// A way to ship orders.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = shipping_methods, check_for_backend(Pg))]
pub struct ShippingMethod {
    pub id: i32,
    pub name: String,
    pub price: BigDecimal,
    /// Never holds `None` (`shipping_methods_countries_check`); PostgreSQL arrays may.
    pub countries: Vec<Option<String>>,
    pub free_over: Option<BigDecimal>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ShippingMethod {
    pub fn ships_to(&self, country: &str) -> bool {
        self.countries.iter().flatten().any(|code| code == country)
    }
}

#[derive(Insertable, Debug)]
#[diesel(table_name = shipping_methods)]
pub struct NewShippingMethod<'a> {
    pub name: &'a str,
    pub price: &'a BigDecimal,
    pub countries: Vec<&'a str>,
    pub free_over: Option<&'a BigDecimal>,
}

/// A partial update of a shipping method; `free_over: Some(None)` makes it never free.
#[derive(AsChangeset, Debug, Default)]
#[diesel(table_name = shipping_methods)]
pub struct ShippingMethodChanges {
    pub name: Option<String>,
    pub price: Option<BigDecimal>,
    pub countries: Option<Vec<String>>,
    pub free_over: Option<Option<BigDecimal>>,
}

/// A country's tax rate.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = tax_rates, check_for_backend(Pg))]
pub struct TaxRateRow {
    pub country: String,
    /// A percentage.
    pub rate: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

text_enum! {
    /// Where one payment attempt is; `payments_status_check`.
    PaymentAttemptStatus, "payment attempt status" {
        /// The intent exists; the shopper has not finished, or it is not captured yet.
        Pending => "pending",
        /// The shopper must act again at the provider.
        RequiresAction => "requires_action",
        /// Captured.
        Succeeded => "succeeded",
        /// Declined.
        Failed => "failed",
        Cancelled => "cancelled",
    }
}

/// One attempt to pay an order: an intent at a provider.
#[derive(Queryable, QueryableByName, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = payments, check_for_backend(Pg))]
pub struct Payment {
    pub id: i32,
    pub order_id: i32,
    pub provider: String,
    pub provider_ref: String,
    pub status: PaymentAttemptStatus,
    pub amount: BigDecimal,
    pub currency: String,
    pub client_secret: String,
    pub confirm_url: String,
    pub captured_amount: BigDecimal,
    pub requires_review: bool,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = payments)]
pub struct NewPayment<'a> {
    pub order_id: i32,
    pub provider: &'a str,
    pub provider_ref: &'a str,
    pub amount: &'a BigDecimal,
    pub currency: &'a str,
    pub client_secret: &'a str,
    pub confirm_url: &'a str,
}

text_enum! {
    /// Where a refund is; `refunds_status_check`.
    RefundStatus, "refund status" {
        /// Decided and recorded; not yet confirmed by the provider.
        Pending => "pending",
        Succeeded => "succeeded",
        /// The provider refused it.
        Failed => "failed",
    }
}

text_enum! {
    /// Why a refund was made; `refunds_source_check`.
    RefundSource, "refund source" {
        /// Staff asked for it.
        Admin => "admin",
        /// The order was cancelled after it was paid.
        Cancel => "cancel",
        /// Captured after the order stopped awaiting payment (cancelled or expired).
        LateCapture => "late_capture",
    }
}

/// Money given back on a payment.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = refunds, check_for_backend(Pg))]
pub struct Refund {
    pub id: i32,
    pub order_id: i32,
    pub payment_id: i32,
    pub amount: BigDecimal,
    pub reason: Option<String>,
    pub source: RefundSource,
    pub status: RefundStatus,
    pub provider_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = refunds)]
pub struct NewRefund<'a> {
    pub order_id: i32,
    pub payment_id: i32,
    pub amount: &'a BigDecimal,
    pub reason: Option<&'a str>,
    pub source: RefundSource,
    pub idempotency_key: Option<&'a str>,
    pub requested_by: Option<i32>,
}

/// Where staff want events sent.
#[derive(Queryable, Selectable, Identifiable, Clone, PartialEq, Eq)]
#[diesel(table_name = webhook_endpoints, check_for_backend(Pg))]
pub struct WebhookEndpoint {
    pub id: i32,
    pub url: String,
    pub description: Option<String>,
    /// Never holds `None` (`webhook_endpoints_events_check`); PostgreSQL arrays may.
    pub events: Vec<Option<String>>,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The secrets stay out of logs.
impl fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct NewWebhookEndpoint<'a> {
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub events: Vec<&'a str>,
    pub secret: &'a str,
}

text_enum! {
    /// Where one delivery is; `webhook_deliveries_status_check`.
    DeliveryStatus, "delivery status" {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
}

/// One event to one endpoint.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = webhook_deliveries, check_for_backend(Pg))]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i32,
    pub event_id: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A node of the category tree.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = categories, check_for_backend(Pg))]
pub struct Category {
    pub id: i32,
    /// `None` for a top-level category.
    pub parent_id: Option<i32>,
    pub name: String,
    pub slug: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = categories)]
pub struct NewCategory<'a> {
    pub parent_id: Option<i32>,
    pub name: &'a str,
    pub slug: &'a str,
    pub position: i32,
}

/// A partial update of a category; `parent_id: Some(None)` makes it top-level.
#[derive(AsChangeset, Debug, Default, Clone)]
#[diesel(table_name = categories)]
pub struct CategoryChanges {
    pub parent_id: Option<Option<i32>>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub position: Option<i32>,
}

impl CategoryChanges {
    pub fn is_empty(&self) -> bool {
        self.parent_id.is_none()
            && self.name.is_none()
            && self.slug.is_none()
            && self.position.is_none()
    }
}

/// A group of variants and its option axes.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = product_groups, check_for_backend(Pg))]
pub struct ProductGroup {
    pub id: i32,
    pub name: String,
    pub options: StoredAxes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = product_groups)]
pub struct NewProductGroup<'a> {
    pub name: &'a str,
    pub options: StoredAxes,
}

#[derive(AsChangeset, Debug, Default, Clone)]
#[diesel(table_name = product_groups)]
pub struct ProductGroupChanges {
    pub name: Option<String>,
    pub options: Option<StoredAxes>,
}

impl ProductGroupChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.options.is_none()
    }
}
