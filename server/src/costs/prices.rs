//! Fargate's on-demand Linux prices per region, as published, in 10⁻⁸ dollars. Dated: AWS
//! changes them rarely, and an environment may set its own (`[environment.costs] prices`), which
//! is also how a region missing here gets an estimate.

use crate::config::PriceOverrides;

/// When the built-in table was last checked against AWS's price list.
pub const PRICES_AS_OF: &str = "2026-11";

/// Prices per hour, in 10⁻⁸ dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FargatePrices {
    pub x86_vcpu_hour: u64,
    pub x86_gb_hour: u64,
    pub arm_vcpu_hour: u64,
    pub arm_gb_hour: u64,
    /// Ephemeral storage above the 20 GB every task gets free.
    pub storage_gb_hour: u64,
}

/// us-east-1's prices, which several regions share.
const US_EAST_1: FargatePrices = FargatePrices {
    x86_vcpu_hour: 4_048_000,
    x86_gb_hour: 444_500,
    arm_vcpu_hour: 3_238_000,
    arm_gb_hour: 356_000,
    storage_gb_hour: 11_100,
};

const EU_CENTRAL_1: FargatePrices = FargatePrices {
    x86_vcpu_hour: 4_656_000,
    x86_gb_hour: 511_000,
    arm_vcpu_hour: 3_725_000,
    arm_gb_hour: 409_000,
    storage_gb_hour: 12_200,
};

/// The built-in prices of `region`, if this table has them.
pub fn built_in(region: &str) -> Option<FargatePrices> {
    match region {
        "us-east-1" | "us-east-2" | "us-west-2" | "eu-west-1" => Some(US_EAST_1),
        "eu-central-1" => Some(EU_CENTRAL_1),
        _ => None,
    }
}

/// The prices of an environment in `region`: the built-in ones with the environment's own
/// over them; every price must come from one or the other.
pub fn for_region(region: &str, own: &PriceOverrides) -> Result<FargatePrices, String> {
    let base = built_in(region);
    let pick = |own: Option<u64>, built: Option<u64>| own.or(built);
    let prices = (|| {
        Some(FargatePrices {
            x86_vcpu_hour: pick(own.x86_vcpu_hour, base.map(|b| b.x86_vcpu_hour))?,
            x86_gb_hour: pick(own.x86_gb_hour, base.map(|b| b.x86_gb_hour))?,
            arm_vcpu_hour: pick(own.arm_vcpu_hour, base.map(|b| b.arm_vcpu_hour))?,
            arm_gb_hour: pick(own.arm_gb_hour, base.map(|b| b.arm_gb_hour))?,
            storage_gb_hour: pick(own.storage_gb_hour, base.map(|b| b.storage_gb_hour))?,
        })
    })();
    prices.ok_or_else(|| {
        format!(
            "no built-in Fargate prices for {region}: set all five in [environment.costs] prices \
             (x86_vcpu_hour, x86_gb_hour, arm_vcpu_hour, arm_gb_hour, storage_gb_hour)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_overrides_some_prices_and_an_unknown_region_needs_all() {
        let own = PriceOverrides {
            x86_vcpu_hour: Some(5_000_000),
            ..PriceOverrides::default()
        };
        let prices = for_region("eu-west-1", &own).unwrap();
        assert_eq!(prices.x86_vcpu_hour, 5_000_000);
        assert_eq!(prices.x86_gb_hour, 444_500);
        let missing = for_region("ap-south-2", &own).unwrap_err();
        assert!(
            missing.starts_with("no built-in Fargate prices for ap-south-2"),
            "{missing}"
        );
        let all = PriceOverrides {
            x86_vcpu_hour: Some(1),
            x86_gb_hour: Some(2),
            arm_vcpu_hour: Some(3),
            arm_gb_hour: Some(4),
            storage_gb_hour: Some(5),
        };
        assert_eq!(for_region("ap-south-2", &all).unwrap().storage_gb_hour, 5);
    }
}
