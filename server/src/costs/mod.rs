//! What services cost, estimated from what runs: Fargate tasks priced by the region's
//! on-demand prices (`prices`), Docker hosts' monthly cost shared among their containers, and
//! the fixed monthly items an environment lists. The rules are pure functions of what the
//! backends report (`estimate`); the read model that puts them on pages is `views::costs`.
//!
//! Money is whole numbers throughout: prices in units of 10⁻⁸ dollars (every published
//! Fargate price has at most 8 decimals), totals in cents, rounded once, half up.

pub mod aws;
pub mod budget;
pub mod estimate;
pub mod measure;
pub mod month;
pub mod prices;

pub use estimate::{Footprint, Share, monthly_fargate, share_host};
pub use flightdeck_app::model::dollars;
pub use prices::{FargatePrices, PRICES_AS_OF};

/// Hours in the month AWS prices by.
pub const HOURS_PER_MONTH: u64 = 730;

/// 10⁻⁸ dollars in a cent.
const UNITS_PER_CENT: u128 = 1_000_000;

/// Cents from an amount in 10⁻⁸ dollars, rounded half up.
pub fn cents(units: u128) -> i64 {
    i64::try_from((units + UNITS_PER_CENT / 2) / UNITS_PER_CENT).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_rounds_half_up() {
        assert_eq!(cents(2_883_500_000), 2884);
        assert_eq!(cents(2_883_499_999), 2883);
    }
}
