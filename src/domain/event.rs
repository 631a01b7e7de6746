//! The events other systems hear about (DESIGN §11): their names, and the secrets that
//! sign their deliveries' names on the wire.

/// What happened, as a webhook's `type` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    OrderPlaced,
    OrderPaid,
    OrderCancelled,
    OrderRefunded,
    OrderFulfilled,
    ProductCreated,
    ProductUpdated,
    ProductArchived,
    /// A product's stock fell below the low-stock threshold.
    StockLow,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        Self::OrderPlaced,
        Self::OrderPaid,
        Self::OrderCancelled,
        Self::OrderRefunded,
        Self::OrderFulfilled,
        Self::ProductCreated,
        Self::ProductUpdated,
        Self::ProductArchived,
        Self::StockLow,
    ];

    /// The names, for documents and validation messages.
    pub const NAMES: [&'static str; 9] = [
        "order.placed",
        "order.paid",
        "order.cancelled",
        "order.refunded",
        "order.fulfilled",
        "product.created",
        "product.updated",
        "product.archived",
        "stock.low",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderPlaced => "order.placed",
            Self::OrderPaid => "order.paid",
            Self::OrderCancelled => "order.cancelled",
            Self::OrderRefunded => "order.refunded",
            Self::OrderFulfilled => "order.fulfilled",
            Self::ProductCreated => "product.created",
            Self::ProductUpdated => "product.updated",
            Self::ProductArchived => "product.archived",
            Self::StockLow => "stock.low",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|event| event.as_str() == name)
            .ok_or_else(|| format!("is not an event type ({})", Self::NAMES.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_variants_agree() {
        for (event, name) in EventType::ALL.into_iter().zip(EventType::NAMES) {
            assert_eq!(event.as_str(), name);
            assert_eq!(EventType::parse(name), Ok(event));
        }
        assert!(EventType::parse("order.lost").is_err());
    }
}
