//! What the schema's named constraints guard, in one place: the migrations name them,
//! and this table says which request field each one is about.

/// A unique field of a new or changed row that another row already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakenField {
    Username,
    Email,
    /// A second rate for a country.
    TaxRateCountry,
    /// A category slug another category has.
    CategorySlug,
    /// A variant's options that another live variant of its group has.
    VariantOptions,
}

/// The field a unique constraint guards; `None` for one no request field maps to.
pub fn taken_field(constraint: &str) -> Option<TakenField> {
    match constraint {
        "users_username_key" => Some(TakenField::Username),
        "users_email_lower_key" => Some(TakenField::Email),
        "tax_rates_pkey" => Some(TakenField::TaxRateCountry),
        "categories_slug_key" => Some(TakenField::CategorySlug),
        "products_group_id_options_key" => Some(TakenField::VariantOptions),
        _ => None,
    }
}

/// The request field a CHECK constraint guards; `None` for one that only a bug can
/// violate (the lifecycle's state rules, the ledger's).
pub fn checked_field(constraint: &str) -> Option<&'static str> {
    match constraint {
        "products_price_check" | "cart_items_unit_price_check" => Some("price"),
        "products_inventory_count_check" => Some("inventory_count"),
        "cart_items_quantity_check" => Some("quantity"),
        "shipping_methods_price_check" => Some("price"),
        "shipping_methods_free_over_check" => Some("free_over"),
        "tax_rates_rate_check" => Some("rate"),
        "categories_slug_check" => Some("slug"),
        "categories_position_check" => Some("position"),
        "products_images_check" => Some("images"),
        _ => None,
    }
}
