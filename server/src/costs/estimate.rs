//! The estimate rules, as pure functions of what a backend reports.

use super::{FargatePrices, HOURS_PER_MONTH, cents};

/// Every Fargate task gets this much ephemeral storage without charge.
const FREE_STORAGE_GIB: u64 = 20;

/// What a target runs, as far as its cost goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Footprint {
    Fargate(FargateTasks),
    /// The EC2 launch type: the instances are on the bill, not in an estimate.
    Ec2,
    /// A Docker container: its limits, for sharing its host's cost.
    Container(ContainerLimits),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FargateTasks {
    /// CPU units: 1024 is one vCPU.
    pub cpu_units: u64,
    pub memory_mib: u64,
    pub arm: bool,
    /// Ephemeral storage per task (20 when the task definition sets none).
    pub storage_gib: u64,
    pub running: u64,
    pub desired: u64,
    /// The service's capacity-provider strategy; empty means plain FARGATE.
    pub strategy: Vec<Provider>,
}

/// One entry of a capacity-provider strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// FARGATE_SPOT (else FARGATE).
    pub spot: bool,
    /// Tasks placed here first.
    pub base: u64,
    pub weight: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContainerLimits {
    /// CPUs × 10⁹ (Docker's NanoCpus).
    pub nano_cpus: Option<u64>,
    pub memory_bytes: Option<u64>,
}

/// A monthly estimate for the tasks running, and for the desired count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub running_cents: i64,
    pub desired_cents: i64,
    /// How it is made up, for people: "1 task × (0.25 vCPU × $0.04048 + 0.5 GB × $0.004445)
    /// × 730 h".
    pub how: String,
}

/// A Fargate service's monthly cost: per task, vCPU and memory at the architecture's prices
/// plus storage above the free 20 GB, for 730 hours; tasks on FARGATE_SPOT at
/// `spot_discount_percent` off.
pub fn monthly_fargate(
    tasks: &FargateTasks,
    prices: &FargatePrices,
    spot_discount_percent: u64,
) -> Estimate {
    let (vcpu_price, gb_price) = if tasks.arm {
        (prices.arm_vcpu_hour, prices.arm_gb_hour)
    } else {
        (prices.x86_vcpu_hour, prices.x86_gb_hour)
    };
    let extra_storage = tasks.storage_gib.saturating_sub(FREE_STORAGE_GIB);
    // One task-hour × 1024, so CPU units and MiB stay whole numbers.
    let task_hour_1024 = u128::from(tasks.cpu_units) * u128::from(vcpu_price)
        + u128::from(tasks.memory_mib) * u128::from(gb_price)
        + u128::from(extra_storage) * 1024 * u128::from(prices.storage_gb_hour);
    let discount = u128::from(spot_discount_percent.min(100));
    let for_count = |n: u64| {
        let spot = spot_tasks(&tasks.strategy, n);
        // Task-months in hundredths of a percent of the on-demand price.
        let weighted = (u128::from(n) - spot) * 100 + spot * (100 - discount);
        cents(task_hour_1024 * u128::from(HOURS_PER_MONTH) * weighted / (1024 * 100))
    };
    let vcpu = tasks.cpu_units as f64 / 1024.0;
    let gb = tasks.memory_mib as f64 / 1024.0;
    let mut how = format!(
        "{} × ({} vCPU × ${} + {} GB × ${}{}) × {HOURS_PER_MONTH} h, {}",
        plural(tasks.running, "task", "tasks"),
        trim(vcpu),
        price(vcpu_price),
        trim(gb),
        price(gb_price),
        if extra_storage > 0 {
            format!(
                " + {extra_storage} GB storage × ${}",
                price(prices.storage_gb_hour)
            )
        } else {
            String::new()
        },
        if tasks.arm { "ARM" } else { "x86" },
    );
    let spot = spot_tasks(&tasks.strategy, tasks.running.max(tasks.desired));
    if spot > 0 {
        how.push_str(&format!(
            "; FARGATE_SPOT tasks at {spot_discount_percent} % off"
        ));
    }
    Estimate {
        running_cents: for_count(tasks.running),
        desired_cents: for_count(tasks.desired),
        how,
    }
}

/// What changing the task size from `before` to `after` does to the month at the desired
/// count, said for people ("+$12.41 a month: 0.5 → 1 vCPU"); `None` when the size, the
/// architecture and the storage stay as they are.
pub fn size_change(
    before: &FargateTasks,
    after: &FargateTasks,
    prices: &FargatePrices,
    spot_discount_percent: u64,
) -> Option<String> {
    let vcpu = |t: &FargateTasks| trim(t.cpu_units as f64 / 1024.0);
    let gb = |t: &FargateTasks| trim(t.memory_mib as f64 / 1024.0);
    let arch = |t: &FargateTasks| if t.arm { "ARM" } else { "x86" };
    let mut what = Vec::new();
    if before.cpu_units != after.cpu_units {
        what.push(format!("{} → {} vCPU", vcpu(before), vcpu(after)));
    }
    if before.memory_mib != after.memory_mib {
        what.push(format!("{} → {} GB", gb(before), gb(after)));
    }
    if before.arm != after.arm {
        what.push(format!("{} → {}", arch(before), arch(after)));
    }
    if before.storage_gib != after.storage_gib {
        what.push(format!(
            "{} → {} GB storage",
            before.storage_gib, after.storage_gib
        ));
    }
    if what.is_empty() {
        return None;
    }
    let month = |t: &FargateTasks| monthly_fargate(t, prices, spot_discount_percent).desired_cents;
    let delta = month(after) - month(before);
    let sign = if delta >= 0 { "+" } else { "-" };
    Some(format!(
        "{sign}{} a month: {}",
        super::dollars(delta.abs()),
        what.join(", ")
    ))
}

/// How many of `n` tasks a capacity-provider strategy puts on FARGATE_SPOT: the `base` first,
/// the rest by weight (rounded down, as a whole task is on one or the other).
pub fn spot_tasks(strategy: &[Provider], n: u64) -> u128 {
    let n = u128::from(n);
    let mut spot = 0_u128;
    let mut left = n;
    for p in strategy {
        let base = u128::from(p.base).min(left);
        left -= base;
        if p.spot {
            spot += base;
        }
    }
    let total: u128 = strategy.iter().map(|p| u128::from(p.weight)).sum();
    let spot_weight: u128 = strategy
        .iter()
        .filter(|p| p.spot)
        .map(|p| u128::from(p.weight))
        .sum();
    // No weights at all: only the bases place tasks.
    spot += (left * spot_weight).checked_div(total).unwrap_or(0);
    spot.min(n)
}

/// How a Docker host's cost was shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// By each container's CPU and memory limits (half each).
    ByLimits,
    /// Evenly: not every container sets both limits.
    Evenly,
}

/// `host_cents` shared among the containers: by their CPU and memory limits when every one
/// sets both, else evenly. The shares add up to the host's cost exactly.
pub fn share_host(host_cents: i64, containers: &[ContainerLimits]) -> (Vec<i64>, Share) {
    if containers.is_empty() {
        return (Vec::new(), Share::Evenly);
    }
    let limits: Option<Vec<(u128, u128)>> = containers
        .iter()
        .map(|c| Some((u128::from(c.nano_cpus?), u128::from(c.memory_bytes?))))
        .collect();
    let total = u128::try_from(host_cents.max(0)).unwrap_or(0);
    let (weights, share) = match limits {
        Some(limits) if limits.iter().all(|&(c, m)| c > 0 && m > 0) => {
            let (cpus, mems): (u128, u128) = limits
                .iter()
                .fold((0, 0), |(c, m), &(lc, lm)| (c + lc, m + lm));
            // Each container's part of the CPUs plus its part of the memory, over a common
            // denominator (cpus × mems), so the weights stay whole numbers.
            let weights: Vec<u128> = limits.iter().map(|&(c, m)| c * mems + m * cpus).collect();
            (weights, Share::ByLimits)
        }
        _ => (vec![1; containers.len()], Share::Evenly),
    };
    (largest_remainder(total, &weights), share)
}

/// `total` split in proportion to `weights`, in whole cents that add up to `total`: each gets
/// its share rounded down, then the cents left go to the largest remainders.
fn largest_remainder(total: u128, weights: &[u128]) -> Vec<i64> {
    let sum: u128 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<(usize, u128, u128)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (i, total * w / sum, total * w % sum))
        .collect();
    let given: u128 = parts.iter().map(|p| p.1).sum();
    let mut left = total - given;
    let mut by_remainder: Vec<usize> = (0..parts.len()).collect();
    by_remainder.sort_by(|&a, &b| parts[b].2.cmp(&parts[a].2).then(a.cmp(&b)));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|p| i64::try_from(p.1).unwrap_or(i64::MAX))
        .collect()
}

/// A price in 10⁻⁸ dollars as written in price lists: `0.04048`.
fn price(units: u64) -> String {
    let text = format!("{}.{:08}", units / 100_000_000, units % 100_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::prices::built_in;

    fn tasks(cpu_units: u64, memory_mib: u64, arm: bool, count: u64) -> FargateTasks {
        FargateTasks {
            cpu_units,
            memory_mib,
            arm,
            storage_gib: 20,
            running: count,
            desired: count,
            strategy: Vec::new(),
        }
    }

    fn monthly(t: &FargateTasks) -> i64 {
        monthly_fargate(t, &built_in("us-east-1").unwrap(), 70).running_cents
    }

    /// The worked figures from AWS's us-east-1 prices over a 730-hour month.
    #[test]
    fn fargate_arithmetic_matches_the_worked_figures() {
        assert_eq!(monthly(&tasks(256, 512, false, 1)), 901);
        assert_eq!(monthly(&tasks(256, 512, true, 1)), 721);
        assert_eq!(monthly(&tasks(1024, 2048, false, 1)), 3604);
        assert_eq!(monthly(&tasks(1024, 2048, true, 1)), 2884);
        assert_eq!(monthly(&tasks(1024, 2048, false, 3)), 10812);
        assert_eq!(monthly(&tasks(1024, 2048, false, 0)), 0);
    }

    #[test]
    fn storage_above_twenty_gb_and_the_desired_count_are_priced() {
        let mut t = tasks(256, 512, false, 1);
        t.storage_gib = 50;
        t.desired = 2;
        let e = monthly_fargate(&t, &built_in("us-east-1").unwrap(), 70);
        // 30 GB × $0.000111 × 730 h = $2.43 more per task.
        assert_eq!(e.running_cents, 901 + 243);
        assert_eq!(e.desired_cents, 2 * (901 + 243));
        assert_eq!(
            e.how,
            "1 task × (0.25 vCPU × $0.04048 + 0.5 GB × $0.004445 + 30 GB storage × $0.000111) \
             × 730 h, x86"
        );
    }

    #[test]
    fn spot_tasks_follow_base_then_weight_and_are_discounted() {
        let spot = |base, weight| Provider {
            spot: true,
            base,
            weight,
        };
        let on_demand = |base, weight| Provider {
            spot: false,
            base,
            weight,
        };
        assert_eq!(spot_tasks(&[], 4), 0);
        assert_eq!(spot_tasks(&[on_demand(1, 1), spot(0, 3)], 5), 3);
        assert_eq!(spot_tasks(&[spot(0, 1)], 4), 4);
        assert_eq!(spot_tasks(&[spot(2, 0), on_demand(0, 1)], 5), 2);
        let mut t = tasks(1024, 2048, false, 2);
        t.strategy = vec![spot(0, 1)];
        let e = monthly_fargate(&t, &built_in("us-east-1").unwrap(), 70);
        // Two tasks at 30 % of $36.04.
        assert_eq!(e.running_cents, 2162);
        assert!(
            e.how.ends_with("; FARGATE_SPOT tasks at 70 % off"),
            "{}",
            e.how
        );
    }

    #[test]
    fn a_host_is_shared_by_limits_when_all_set_them_else_evenly_and_adds_up() {
        let limited = |cpus: u64, gib: u64| ContainerLimits {
            nano_cpus: Some(cpus * 1_000_000_000),
            memory_bytes: Some(gib << 30),
        };
        // One container has twice the CPUs and memory of the other: two thirds of $30.
        let (shares, how) = share_host(3000, &[limited(2, 2), limited(1, 1)]);
        assert_eq!((shares, how), (vec![2000, 1000], Share::ByLimits));
        // Half by CPU, half by memory: (3/4 + 1/4) / 2 and (1/4 + 3/4) / 2.
        let (shares, _) = share_host(1000, &[limited(3, 1), limited(1, 3)]);
        assert_eq!(shares, vec![500, 500]);
        let (shares, how) = share_host(
            1000,
            &[limited(1, 1), ContainerLimits::default(), limited(2, 2)],
        );
        assert_eq!((shares, how), (vec![334, 333, 333], Share::Evenly));
        assert_eq!(share_host(0, &[limited(1, 1)]).0, vec![0]);
        assert!(share_host(500, &[]).0.is_empty());
    }

    #[test]
    fn a_size_change_says_what_it_does_to_the_month_and_nothing_when_there_is_none() {
        let prices = built_in("us-east-1").unwrap();
        let small = tasks(512, 1024, false, 1);
        let big = tasks(1024, 2048, false, 1);
        // 0.5 vCPU / 1 GB is $18.02; 1 vCPU / 2 GB is $36.04.
        assert_eq!(
            size_change(&small, &big, &prices, 70).as_deref(),
            Some("+$18.02 a month: 0.5 → 1 vCPU, 1 → 2 GB")
        );
        let mut arm = big.clone();
        arm.arm = true;
        assert_eq!(
            size_change(&big, &arm, &prices, 70).as_deref(),
            Some("-$7.20 a month: x86 → ARM")
        );
        assert_eq!(size_change(&big, &big.clone(), &prices, 70), None);
    }

    #[test]
    fn prices_read_as_written() {
        assert_eq!(price(4_048_000), "0.04048");
        assert_eq!(price(11_100), "0.000111");
        assert_eq!(price(100_000_000), "1");
    }
}
