//! Validated values: request input is parsed into these at the boundary, so code past a
//! handler's first lines holds only valid values. Each parser says what is wrong in
//! words a client can show its user.
//!
//! The bottom layer: pure types over std, bigdecimal and chrono. No IO, no HTTP, no
//! OpenAPI; the documents that describe these rules (http/schemas.rs) read the limits
//! from here.

mod account;
pub mod address;
mod cart;
mod catalogue;
mod category;
pub mod country;
pub mod event;
mod image;
mod order;
mod paging;
mod text;
mod totals;
mod variant;
pub mod webhook_signature;

pub use account::{DisplayName, Email, Password, Username};
pub use address::{Address, RawAddress};
pub use cart::Quantity;
pub use catalogue::{format_money, parse_decimal, Description, InventoryCount, Price, ProductName};
pub use category::{parse_position, CatalogueName, CategorySlug, MAX_POSITION};
pub use country::Country;
pub use event::EventType;
pub use image::{ImageError, ProductImage, ProductImages, RawImage};
pub use order::{CancelReason, Carrier, TrackingNumber};
pub use paging::PageSize;
pub use totals::{
    format_rate, totals, LineToTotal, LineTotal, ShippingCharge, TaxMode, TaxRate, Totals,
};
pub use variant::{OptionAxes, OptionAxis, VariantOptions, MAX_AXES, MAX_OPTION_LEN, MAX_VALUES};
pub use webhook_signature::WebhookSecret;
