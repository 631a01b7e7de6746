// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    addresses (id) {
        id -> Int4,
        user_id -> Int4,
        #[max_length = 100]
        name -> Varchar,
        #[max_length = 200]
        line1 -> Varchar,
        #[max_length = 200]
        line2 -> Nullable<Varchar>,
        #[max_length = 100]
        city -> Varchar,
        #[max_length = 20]
        postal_code -> Nullable<Varchar>,
        #[max_length = 100]
        region -> Nullable<Varchar>,
        #[max_length = 2]
        country -> Varchar,
        #[max_length = 30]
        phone -> Nullable<Varchar>,
        is_default -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    cart_items (id) {
        id -> Int4,
        cart_id -> Int4,
        product_id -> Int4,
        quantity -> Int4,
        unit_price -> Nullable<Numeric>,
        tax -> Nullable<Numeric>,
    }
}

diesel::table! {
    carts (id) {
        id -> Int4,
        user_id -> Nullable<Int4>,
        #[max_length = 20]
        status -> Varchar,
        checked_out_at -> Nullable<Timestamptz>,
        #[max_length = 255]
        idempotency_key -> Nullable<Varchar>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        guest_token_hash -> Nullable<Bytea>,
        guest_expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    categories (id) {
        id -> Int4,
        parent_id -> Nullable<Int4>,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 100]
        slug -> Varchar,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    category_listings (category_id, product_id) {
        category_id -> Int4,
        product_id -> Int4,
        created_at -> Timestamptz,
        price -> Numeric,
    }
}

diesel::table! {
    events (id) {
        #[max_length = 40]
        id -> Varchar,
        #[sql_name = "type"]
        #[max_length = 40]
        type_ -> Varchar,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    fulfilments (id) {
        id -> Int4,
        order_id -> Int4,
        #[max_length = 100]
        carrier -> Varchar,
        #[max_length = 100]
        tracking_number -> Varchar,
        by_user_id -> Nullable<Int4>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_addresses (order_id) {
        order_id -> Int4,
        #[max_length = 100]
        name -> Varchar,
        #[max_length = 200]
        line1 -> Varchar,
        #[max_length = 200]
        line2 -> Nullable<Varchar>,
        #[max_length = 100]
        city -> Varchar,
        #[max_length = 20]
        postal_code -> Nullable<Varchar>,
        #[max_length = 100]
        region -> Nullable<Varchar>,
        #[max_length = 2]
        country -> Varchar,
        #[max_length = 30]
        phone -> Nullable<Varchar>,
    }
}

diesel::table! {
    orders (id) {
        id -> Int4,
        #[max_length = 20]
        status -> Varchar,
        #[max_length = 20]
        payment_status -> Varchar,
        #[max_length = 20]
        fulfilment_status -> Varchar,
        payment_due_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        #[max_length = 500]
        cancel_reason -> Nullable<Varchar>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        subtotal -> Numeric,
        shipping -> Numeric,
        tax -> Numeric,
        total -> Numeric,
        tax_rate -> Numeric,
        prices_include_tax -> Bool,
        shipping_method_id -> Nullable<Int4>,
        #[max_length = 100]
        shipping_method_name -> Nullable<Varchar>,
    }
}

diesel::table! {
    payments (id) {
        id -> Int4,
        order_id -> Int4,
        #[max_length = 20]
        provider -> Varchar,
        #[max_length = 100]
        provider_ref -> Varchar,
        #[max_length = 20]
        status -> Varchar,
        amount -> Numeric,
        #[max_length = 3]
        currency -> Varchar,
        #[max_length = 255]
        client_secret -> Varchar,
        #[max_length = 500]
        confirm_url -> Varchar,
        captured_amount -> Numeric,
        requires_review -> Bool,
        #[max_length = 200]
        failure_reason -> Nullable<Varchar>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        next_check_at -> Timestamptz,
    }
}

diesel::table! {
    price_changes (id) {
        id -> Int8,
        product_id -> Int4,
        old_price -> Numeric,
        new_price -> Numeric,
        by_user_id -> Nullable<Int4>,
        at -> Timestamptz,
    }
}

diesel::table! {
    processed_webhooks (provider, webhook_id) {
        #[max_length = 20]
        provider -> Varchar,
        #[max_length = 200]
        webhook_id -> Varchar,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    product_groups (id) {
        id -> Int4,
        #[max_length = 255]
        name -> Varchar,
        options -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    product_search_terms (product_id, lexeme) {
        product_id -> Int4,
        lexeme -> Text,
        rank -> Float4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    products (id) {
        id -> Int4,
        #[max_length = 255]
        name -> Varchar,
        description -> Nullable<Text>,
        price -> Numeric,
        inventory_count -> Int4,
        archived_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        search_vector -> Tsvector,
        price_changed_at -> Nullable<Timestamptz>,
        low_price -> Nullable<Numeric>,
        low_price_until -> Nullable<Timestamptz>,
        category_ids -> Array<Nullable<Int4>>,
        group_id -> Nullable<Int4>,
        options -> Nullable<Jsonb>,
        images -> Jsonb,
    }
}

diesel::table! {
    refunds (id) {
        id -> Int4,
        order_id -> Int4,
        payment_id -> Int4,
        amount -> Numeric,
        #[max_length = 500]
        reason -> Nullable<Varchar>,
        #[max_length = 20]
        source -> Varchar,
        #[max_length = 20]
        status -> Varchar,
        #[max_length = 100]
        provider_ref -> Nullable<Varchar>,
        #[max_length = 255]
        idempotency_key -> Nullable<Varchar>,
        requested_by -> Nullable<Int4>,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Int8,
        user_id -> Int4,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    shipping_methods (id) {
        id -> Int4,
        #[max_length = 100]
        name -> Varchar,
        price -> Numeric,
        countries -> Array<Nullable<Text>>,
        free_over -> Nullable<Numeric>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> Int8,
        product_id -> Int4,
        delta -> Int4,
        resulting_count -> Int4,
        #[max_length = 20]
        reason -> Varchar,
        order_id -> Nullable<Int4>,
        by_user_id -> Nullable<Int4>,
        at -> Timestamptz,
    }
}

diesel::table! {
    tax_rates (country) {
        #[max_length = 2]
        country -> Varchar,
        rate -> Numeric,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    throttle_counters (key) {
        key -> Text,
        attempts -> Int4,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int4,
        #[max_length = 50]
        username -> Varchar,
        #[max_length = 255]
        email -> Varchar,
        password_hash -> Varchar,
        is_admin -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        #[max_length = 255]
        name -> Varchar,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        endpoint_id -> Int4,
        #[max_length = 40]
        event_id -> Varchar,
        #[max_length = 20]
        status -> Varchar,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        #[max_length = 500]
        last_error -> Nullable<Varchar>,
        delivered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Int4,
        #[max_length = 2000]
        url -> Varchar,
        #[max_length = 500]
        description -> Nullable<Varchar>,
        events -> Array<Nullable<Text>>,
        enabled -> Bool,
        #[max_length = 100]
        secret -> Varchar,
        #[max_length = 100]
        previous_secret -> Nullable<Varchar>,
        previous_secret_until -> Nullable<Timestamptz>,
        #[max_length = 200]
        disabled_reason -> Nullable<Varchar>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(addresses -> users (user_id));
diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> products (product_id));
diesel::joinable!(carts -> users (user_id));
diesel::joinable!(category_listings -> categories (category_id));
diesel::joinable!(category_listings -> products (product_id));
diesel::joinable!(fulfilments -> orders (order_id));
diesel::joinable!(fulfilments -> users (by_user_id));
diesel::joinable!(order_addresses -> orders (order_id));
diesel::joinable!(orders -> carts (id));
diesel::joinable!(orders -> shipping_methods (shipping_method_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(price_changes -> products (product_id));
diesel::joinable!(price_changes -> users (by_user_id));
diesel::joinable!(product_search_terms -> products (product_id));
diesel::joinable!(products -> product_groups (group_id));
diesel::joinable!(refunds -> orders (order_id));
diesel::joinable!(refunds -> payments (payment_id));
diesel::joinable!(refunds -> users (requested_by));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(stock_movements -> carts (order_id));
diesel::joinable!(stock_movements -> products (product_id));
diesel::joinable!(stock_movements -> users (by_user_id));
diesel::joinable!(webhook_deliveries -> events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    addresses,
    cart_items,
    carts,
    categories,
    category_listings,
    events,
    fulfilments,
    order_addresses,
    orders,
    payments,
    price_changes,
    processed_webhooks,
    product_groups,
    product_search_terms,
    products,
    refunds,
    sessions,
    shipping_methods,
    stock_movements,
    tax_rates,
    throttle_counters,
    users,
    webhook_deliveries,
    webhook_endpoints,
);
