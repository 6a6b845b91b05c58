//! An order's life, as an explicit state machine.
//!
//! ```text
//!  pending ──▶ paid ──▶ shipped ──▶ delivered
//!     │          │
//!     └────┬─────┘
//!          ▼
//!      cancelled
//! ```
//!
//! Every move not drawn is refused, including staying put: `PATCH {"status":"paid"}`
//! on a paid order is a conflict, not a silent success, so a retried payment cannot
//! look like a second one. Cancelling puts the items back on the shelf
//! ([`OrderStatus::restocks_on`]); once shipped, an order can no longer be cancelled.
//!
//! `delivered` is in the schema (`orders.status`) and reachable only from `shipped`;
//! issue 4 names the other four states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum OrderStatus {
    /// Placed; stock is reserved, payment not yet taken.
    Pending,
    /// Paid for, waiting to ship.
    Paid,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer (final).
    Delivered,
    /// Called off before shipping; its stock went back on the shelf (final).
    Cancelled,
}

/// Why a string is not an [`OrderStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum OrderStatusError {
    /// Not one of the status names.
    #[error("status must be one of: pending, paid, shipped, delivered, cancelled")]
    Unknown,
}

impl ValidationError for OrderStatusError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unknown => "unknown_status",
        }
    }
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("an order cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The order's current status.
    pub from: OrderStatus,
    /// The status that was asked for.
    pub to: OrderStatus,
}

impl ValidationError for TransitionError {
    fn code(&self) -> &'static str {
        "invalid_transition"
    }
}

impl OrderStatus {
    /// Every status, in life order.
    pub const ALL: [OrderStatus; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// Parses an exact, lower-case status name.
    pub fn parse(input: &str) -> Result<Self, OrderStatusError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == input)
            .ok_or(OrderStatusError::Unknown)
    }

    /// The name on the wire and in `orders.status`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The statuses an order in this status may move to.
    pub const fn successors(self) -> &'static [OrderStatus] {
        match self {
            Self::Pending => &[Self::Paid, Self::Cancelled],
            Self::Paid => &[Self::Shipped, Self::Cancelled],
            Self::Shipped => &[Self::Delivered],
            Self::Delivered | Self::Cancelled => &[],
        }
    }

    /// Whether the machine allows `self → to`.
    pub fn can_transition_to(self, to: OrderStatus) -> bool {
        self.successors().contains(&to)
    }

    /// The new status, or why the move is refused.
    pub fn transition(self, to: OrderStatus) -> Result<OrderStatus, TransitionError> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    /// Whether moving from this status to `to` puts the order's items back in stock:
    /// true exactly for the allowed cancellations.
    pub fn restocks_on(self, to: OrderStatus) -> bool {
        to == Self::Cancelled && self.can_transition_to(to)
    }

    /// Whether nothing can follow this status.
    pub const fn is_final(self) -> bool {
        self.successors().is_empty()
    }
}

impl FromStr for OrderStatus {
    type Err = OrderStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for OrderStatus {
    type Error = OrderStatusError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OrderStatus> for &'static str {
    fn from(status: OrderStatus) -> Self {
        status.as_str()
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{Cancelled, Delivered, Paid, Pending, Shipped};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_whole_transition_table() {
        // (from, to, allowed, restocks) for all 25 pairs.
        let table = [
            (Pending, Pending, false, false),
            (Pending, Paid, true, false),
            (Pending, Shipped, false, false),
            (Pending, Delivered, false, false),
            (Pending, Cancelled, true, true),
            (Paid, Pending, false, false),
            (Paid, Paid, false, false),
            (Paid, Shipped, true, false),
            (Paid, Delivered, false, false),
            (Paid, Cancelled, true, true),
            (Shipped, Pending, false, false),
            (Shipped, Paid, false, false),
            (Shipped, Shipped, false, false),
            (Shipped, Delivered, true, false),
            (Shipped, Cancelled, false, false),
            (Delivered, Pending, false, false),
            (Delivered, Paid, false, false),
            (Delivered, Shipped, false, false),
            (Delivered, Delivered, false, false),
            (Delivered, Cancelled, false, false),
            (Cancelled, Pending, false, false),
            (Cancelled, Paid, false, false),
            (Cancelled, Shipped, false, false),
            (Cancelled, Delivered, false, false),
            (Cancelled, Cancelled, false, false),
        ];
        for (from, to, allowed, restocks) in table {
            assert_eq!(from.can_transition_to(to), allowed, "{from} → {to}");
            assert_eq!(from.restocks_on(to), restocks, "{from} → {to} restocks");
            let expected = if allowed {
                Ok(to)
            } else {
                Err(TransitionError { from, to })
            };
            assert_eq!(from.transition(to), expected, "{from} → {to}");
        }
    }

    #[test]
    fn final_states_are_delivered_and_cancelled() {
        let finals: Vec<_> = OrderStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Delivered, Cancelled]);
    }

    #[test]
    fn refusals_name_both_ends() {
        let err = Shipped.transition(Cancelled).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("an order cannot go from shipped to cancelled")
        );
    }

    #[test]
    fn rejects_unknown_names() {
        let cases = [
            ("", "empty"),
            ("Paid", "names are lower-case"),
            ("canceled", "American spelling"),
            ("refunded", "not a state"),
            (" paid", "leading space"),
        ];
        for (input, reason) in cases {
            assert_eq!(
                OrderStatus::parse(input),
                Err(OrderStatusError::Unknown),
                "{reason}"
            );
        }
    }

    #[test]
    fn serde_uses_the_names() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&Paid)?, r#""paid""#);
        assert_eq!(
            serde_json::from_str::<OrderStatus>(r#""cancelled""#)?,
            Cancelled
        );
        assert!(serde_json::from_str::<OrderStatus>(r#""PAID""#).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = OrderStatus::parse(&input);
        }

        #[test]
        fn display_round_trips(index in 0usize..5) {
            let status = OrderStatus::ALL[index];
            prop_assert_eq!(OrderStatus::parse(&status.to_string()), Ok(status));
        }

        #[test]
        fn no_walk_returns_to_an_earlier_state(steps in proptest::collection::vec(0usize..5, 0..10)) {
            // Life only moves forward: ALL is in life order except that cancelled can
            // follow pending and paid, and nothing follows cancelled or delivered.
            let mut status = Pending;
            let mut seen = vec![status];
            for step in steps {
                if let Ok(next) = status.transition(OrderStatus::ALL[step]) {
                    prop_assert!(!seen.contains(&next), "{next} visited twice");
                    seen.push(next);
                    status = next;
                }
            }
        }
    }
}
