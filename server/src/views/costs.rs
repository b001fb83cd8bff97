//! `/costs`: every service's monthly estimate in every environment, from what its backend
//! reports now, with the environments' fixed items and totals. The rules are in
//! `crate::costs`; this asks the backends (all at once) and puts the figures together.

use std::{collections::HashMap, sync::Arc, time::Duration};

use flightdeck_app::model::{
    BudgetView, Cost, CostCell, CostsPage, EnvName, EnvironmentCosts, FixedItem, MeasuredCell,
    MeasuredCosts, ServiceCosts, ServiceName, ThresholdView, Timestamp,
};
use time::Date;

use super::Views;
use crate::{
    backend::BackendError,
    config::{Backend as BackendConfig, BudgetSettings, Environment},
    costs::{
        Footprint, PRICES_AS_OF, Share,
        budget::Budget,
        dollars,
        estimate::{ContainerLimits, size_change},
        measure::Measured,
        month::{day_index, day_of, month_name, month_to_date},
        monthly_fargate,
        prices::for_region,
        share_host,
    },
    store::{CostDay, Release},
};

/// A costs page this young is shown again rather than asking every backend again.
const KEEP_FOR: Duration = Duration::from_secs(15);
/// A backend that has not said what a target runs by then makes that cost unknown: the page
/// does not wait for the slowest (an ECS call may take 20 s to time out).
const ASK_FOR: Duration = Duration::from_secs(3);

impl Views {
    /// The costs page, at most [`KEEP_FOR`] old; concurrent callers share one computation, and
    /// the page itself (a service page takes one row of it).
    pub async fn costs(&self) -> Arc<CostsPage> {
        let mut kept = self.costs.lock().await;
        let now = Timestamp::now();
        let fetches = *self.measurer.changes().borrow();
        if let Some((page, shown)) = kept.as_ref()
            && *shown == fetches
            && u128::try_from(now.unix_millis() - page.generated_at.unix_millis())
                .is_ok_and(|age| age < KEEP_FOR.as_millis())
        {
            return page.clone();
        }
        let page = Arc::new(self.costs_now().await);
        *kept = Some((page.clone(), fetches));
        page
    }

    /// The environment named `name` when its costs are measured.
    pub fn measured_environment(&self, name: &str) -> Option<EnvName> {
        let env = EnvName::parse(name).ok()?;
        self.measurer.measures(&env).then_some(env)
    }

    /// Asks AWS for `env`'s measured costs now.
    pub async fn refresh_costs(&self, env: &EnvName) -> Result<(), String> {
        self.measurer.refresh_now(env).await
    }

    async fn costs_now(&self) -> CostsPage {
        let targets: Vec<(&Environment, usize, &crate::config::Target)> = self
            .config
            .environments
            .iter()
            .flat_map(|env| {
                self.config
                    .services
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, s)| s.targets.get(&env.name).map(|t| (env, i, t)))
            })
            .collect();
        // All at once: a slow backend costs one call's time, not one per target.
        let footprints = futures_util::future::join_all(targets.iter().map(|(env, _, t)| async {
            let Some(backend) = self.backends.get(&env.name) else {
                return Err(BackendError::Unreachable(format!(
                    "{} has no backend in this console",
                    env.name
                )));
            };
            tokio::time::timeout(ASK_FOR, backend.footprint(&t.kind))
                .await
                .unwrap_or_else(|_| {
                    Err(BackendError::Unreachable(format!(
                        "the {} did not answer within {} s",
                        backend.describe(),
                        ASK_FOR.as_secs()
                    )))
                })
        }))
        .await;

        let services = self.config.services.len();
        let mut columns = Vec::new();
        // cells[service][environment]
        let mut cells: Vec<Vec<CostCell>> = vec![Vec::new(); services];
        for env in &self.config.environments {
            let here: Vec<(usize, &Result<Option<Footprint>, BackendError>)> = targets
                .iter()
                .zip(&footprints)
                .filter(|((e, _, _), _)| e.name == env.name)
                .map(|((_, i, _), f)| (*i, f))
                .collect();
            let (costs, note, unshared) = environment_costs(env, &here);
            let mut by_service: Vec<Cost> = vec![Cost::NotHere; services];
            for (i, cost) in costs {
                by_service[i] = cost;
            }
            let mut fixed: Vec<FixedItem> = env
                .costs
                .fixed
                .iter()
                .map(|f| FixedItem {
                    name: f.name.clone(),
                    monthly_cents: f.monthly_cents,
                })
                .collect();
            // A host costs the same with nothing on it: its cost stays in the total.
            if let Some(monthly_cents) = unshared {
                fixed.push(FixedItem {
                    name: "Docker host (no container to share it now)".to_owned(),
                    monthly_cents,
                });
            }
            let total_cents = by_service.iter().map(Cost::monthly_cents).sum::<i64>()
                + fixed.iter().map(|f| f.monthly_cents).sum::<i64>();
            let measured = if self.measurer.measures(&env.name) {
                match self.measurer.measured(env).await {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::error!(environment = %env.name, error = %e, "cannot read measured costs");
                        None
                    }
                }
            } else {
                None
            };
            let today = day_of(self.measurer.now());
            let per_service = measured
                .as_ref()
                .map(|m| measured_by_group(&m.days, today))
                .unwrap_or_default();
            for (i, cost) in by_service.into_iter().enumerate() {
                let measured = measured.as_ref().map(|_| {
                    let name = self.config.services[i].name.as_str();
                    per_service.get(name).copied().unwrap_or(MeasuredCell {
                        spent_cents: 0,
                        forecast_cents: None,
                    })
                });
                cells[i].push(CostCell {
                    environment: env.name.clone(),
                    cost,
                    measured,
                });
            }
            let budget = budget_view(env, measured.as_ref(), total_cents);
            let measured = measured.map(|m| {
                let services: Vec<&str> = self
                    .config
                    .services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                measured_costs(env, &m, &per_service, &services, today)
            });
            columns.push(EnvironmentCosts {
                name: env.name.clone(),
                backend: match &env.backend {
                    BackendConfig::Docker(_) => "Docker".to_owned(),
                    BackendConfig::Ecs(ecs) => format!("ECS {}", ecs.region),
                },
                total_cents,
                fixed,
                note,
                measured,
                budget,
            });
        }
        CostsPage {
            generated_at: Timestamp::now(),
            prices_as_of: PRICES_AS_OF.to_owned(),
            total_cents: columns.iter().map(|c| c.total_cents).sum(),
            environments: columns,
            services: self
                .config
                .services
                .iter()
                .zip(cells)
                .map(|(s, cells)| ServiceCosts {
                    service: s.name.clone(),
                    cells,
                })
                .collect(),
        }
    }
}

impl Views {
    /// What a rollback of `service` in `env` to each of `releases` does to the monthly
    /// estimate, when it changes the task size (an ECS rollback puts back an earlier revision
    /// with its own sizes); `None` for one that does not, or when that cannot be told within
    /// [`ASK_FOR`]. What runs now is read once; the earlier revisions all at once.
    pub(super) async fn rollback_cost_changes(
        &self,
        env: &EnvName,
        service: &ServiceName,
        releases: &[Release],
    ) -> Vec<Option<String>> {
        let none = || vec![None; releases.len()];
        let Some(environment) = self.config.environment(env) else {
            return none();
        };
        let (BackendConfig::Ecs(ecs), Some(target), Some(backend)) = (
            &environment.backend,
            self.config
                .service(service.as_str())
                .and_then(|s| s.targets.get(env)),
            self.backends.get(env),
        ) else {
            return none();
        };
        let Ok(prices) = for_region(&ecs.region, &environment.costs.prices) else {
            return none();
        };
        let asked = tokio::time::timeout(ASK_FOR, async {
            tokio::join!(
                backend.footprint(&target.kind),
                futures_util::future::join_all(
                    releases
                        .iter()
                        .map(|to| backend.rollback_footprint(&target.kind, to))
                )
            )
        })
        .await;
        let Ok((Ok(Some(Footprint::Fargate(now))), after)) = asked else {
            return none();
        };
        after
            .into_iter()
            .map(|after| match after {
                Ok(Some(Footprint::Fargate(after))) => size_change(
                    &now,
                    &after,
                    &prices,
                    environment.costs.spot_discount_percent,
                ),
                _ => None,
            })
            .collect()
    }
}

/// Cents from millionths of a dollar, rounded half up.
fn cents_of(micros: i64) -> i64 {
    (micros + 5_000).div_euclid(10_000)
}

/// Each service-tag value's month so far ("" is the untagged rest).
fn measured_by_group(days: &[CostDay], today: Date) -> HashMap<String, MeasuredCell> {
    let mut daily: HashMap<&str, Vec<i64>> = HashMap::new();
    for d in days {
        if let Some(i) = day_index(&d.day) {
            let row = daily.entry(d.group.as_str()).or_default();
            if row.len() <= i {
                row.resize(i + 1, 0);
            }
            row[i] += d.micros;
        }
    }
    daily
        .into_iter()
        .map(|(group, row)| {
            let m = month_to_date(&row, today);
            (
                group.to_owned(),
                MeasuredCell {
                    spent_cents: cents_of(m.spent_micros),
                    forecast_cents: m.forecast_micros.map(cents_of),
                },
            )
        })
        .collect()
}

/// The environment's measured month for the page: totals, the sparkline's days, the rows
/// that are no service (other tag values, the untagged rest) and what looks wrong.
fn measured_costs(
    env: &Environment,
    m: &Measured,
    per_group: &HashMap<String, MeasuredCell>,
    services: &[&str],
    today: Date,
) -> MeasuredCosts {
    let mut other: Vec<FixedItem> = per_group
        .iter()
        .filter(|(group, _)| !group.is_empty() && !services.contains(&group.as_str()))
        .map(|(group, cell)| FixedItem {
            name: format!("{group} (tagged)"),
            monthly_cents: cell.spent_cents,
        })
        .collect();
    other.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(untagged) = per_group.get("") {
        other.push(FixedItem {
            name: UNTAGGED.to_owned(),
            monthly_cents: untagged.spent_cents,
        });
    }
    let tag = env
        .costs
        .measured
        .as_ref()
        .map_or("service", |s| s.service_tag.as_str());
    let note = (m.month.spent_micros > 0 && per_group.keys().all(String::is_empty)).then(|| {
        format!(
            "No cost carries the tag {tag}: activate it under Billing → Cost allocation tags \
             (it counts from the day it is activated)"
        )
    });
    MeasuredCosts {
        month: month_name(today),
        fetched_at: m.fetch.as_ref().and_then(|f| f.succeeded_at),
        error: m.fetch.as_ref().and_then(|f| f.error.clone()),
        spent_cents: cents_of(m.month.spent_micros),
        forecast_cents: m.month.forecast_micros.map(cents_of),
        daily_cents: m.daily_micros.iter().copied().map(cents_of).collect(),
        other,
        note,
    }
}

/// The row of the costs that carry no service tag.
pub const UNTAGGED: &str = "Untagged";

/// The environment's budget against what was spent and the forecast (measured), or against
/// the estimate of what runs where nothing is measured.
fn budget_view(env: &Environment, m: Option<&Measured>, estimate_cents: i64) -> Option<BudgetView> {
    let budget = match m {
        Some(m) => m.budget.clone(),
        None => Budget::of(env.costs.budget.as_ref(), None),
    }?;
    let source = match &env.costs.budget {
        Some(BudgetSettings::Aws { name, .. }) => format!("AWS budget {name}"),
        _ => "configured".to_owned(),
    };
    let crossings = m.map(|m| m.crossings.as_slice()).unwrap_or_default();
    let (spent_cents, forecast_cents, forecast_is_estimate) = match m {
        Some(m) => (
            Some(cents_of(m.month.spent_micros)),
            m.month.forecast_micros.map(cents_of),
            false,
        ),
        None => (None, Some(estimate_cents), true),
    };
    Some(BudgetView {
        limit_cents: cents_of(budget.limit_micros),
        source,
        spent_cents,
        forecast_cents,
        forecast_is_estimate,
        thresholds: budget
            .alerts
            .iter()
            .map(|t| ThresholdView {
                cents: cents_of(t.micros),
                basis: t.basis.as_str().to_owned(),
                crossed_at: crossings
                    .iter()
                    .find(|c| c.threshold == *t)
                    .map(|c| c.crossed_at),
            })
            .collect(),
    })
}

/// The cost of each service (by index) that runs in `env`, a note for the environment, and a
/// Docker host's cost when no container is there to share it.
fn environment_costs(
    env: &Environment,
    footprints: &[(usize, &Result<Option<Footprint>, BackendError>)],
) -> (Vec<(usize, Cost)>, Option<String>, Option<i64>) {
    let unknown = |e: &BackendError| Cost::Unknown {
        reason: e.to_string(),
    };
    let missing = || Cost::Unknown {
        reason: "it does not exist on the backend".to_owned(),
    };
    match &env.backend {
        BackendConfig::Docker(_) => {
            let host = env.costs.host_monthly_cents;
            // The host is shared among the containers that exist; the others cost nothing.
            let present: Vec<(usize, ContainerLimits)> = footprints
                .iter()
                .filter_map(|(i, f)| match f {
                    Ok(Some(Footprint::Container(limits))) => Some((*i, *limits)),
                    _ => None,
                })
                .collect();
            let limits: Vec<ContainerLimits> = present.iter().map(|(_, l)| *l).collect();
            let unshared = (host > 0 && present.is_empty()).then_some(host);
            let (shares, share) = share_host(host, &limits);
            let how = if host == 0 {
                "self-hosted: the host costs $0 a month".to_owned()
            } else {
                match share {
                    Share::ByLimits => format!(
                        "a share of the host's {} a month, by CPU and memory limits",
                        dollars(host)
                    ),
                    Share::Evenly => format!(
                        "an even share of the host's {} a month (not every container sets CPU \
                         and memory limits)",
                        dollars(host)
                    ),
                }
            };
            let note = Some(if host == 0 {
                "Self-hosted: $0 a month".to_owned()
            } else {
                match share {
                    Share::ByLimits => format!(
                        "The host's {} a month, shared by CPU and memory limits",
                        dollars(host)
                    ),
                    Share::Evenly => format!(
                        "The host's {} a month, shared evenly: not every container sets CPU \
                         and memory limits",
                        dollars(host)
                    ),
                }
            });
            let mut shares = present.iter().map(|(i, _)| *i).zip(shares);
            let costs = footprints
                .iter()
                .map(|(i, f)| {
                    let cost = match f {
                        Ok(Some(Footprint::Container(_))) => {
                            let (_, cents) = shares.next().unwrap_or((*i, 0));
                            Cost::Estimate {
                                monthly_cents: cents,
                                desired_cents: None,
                                how: how.clone(),
                            }
                        }
                        Ok(Some(_)) => Cost::FromBill,
                        Ok(None) => missing(),
                        Err(e) => unknown(e),
                    };
                    (*i, cost)
                })
                .collect();
            (costs, note, unshared)
        }
        BackendConfig::Ecs(ecs) => {
            let prices = for_region(&ecs.region, &env.costs.prices);
            let note = prices.as_ref().err().cloned();
            let costs = footprints
                .iter()
                .map(|(i, f)| {
                    let cost = match (f, &prices) {
                        (Ok(Some(Footprint::Fargate(tasks))), Ok(prices)) => {
                            let e = monthly_fargate(tasks, prices, env.costs.spot_discount_percent);
                            Cost::Estimate {
                                monthly_cents: e.running_cents,
                                desired_cents: (e.desired_cents != e.running_cents)
                                    .then_some(e.desired_cents),
                                how: e.how,
                            }
                        }
                        (Ok(Some(Footprint::Fargate(_))), Err(why)) => Cost::Unknown {
                            reason: why.clone(),
                        },
                        (Ok(Some(_)), _) => Cost::FromBill,
                        (Ok(None), _) => missing(),
                        (Err(e), _) => unknown(e),
                    };
                    (*i, cost)
                })
                .collect();
            (costs, note, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{config::Config, costs::estimate::FargateTasks};

    fn environment(text: &str) -> Environment {
        Config::parse(Path::new("t.toml"), text)
            .unwrap()
            .environments
            .remove(0)
    }

    fn limited(cpus: u64, gib: u64) -> Result<Option<Footprint>, BackendError> {
        Ok(Some(Footprint::Container(ContainerLimits {
            nano_cpus: Some(cpus * 1_000_000_000),
            memory_bytes: Some(gib << 30),
        })))
    }

    #[test]
    fn a_docker_host_is_shared_and_its_cost_kept_when_nothing_runs_on_it() {
        let env = environment(
            "[[environment]]\nname = \"home\"\ndocker = {}\ncosts = { host_monthly = 30 }\n",
        );
        let (a, b, gone) = (limited(2, 2), limited(1, 1), Ok(None));
        let (costs, note, unshared) = environment_costs(&env, &[(0, &a), (1, &b), (2, &gone)]);
        let figures: Vec<i64> = costs.iter().map(|(_, c)| c.monthly_cents()).collect();
        assert_eq!(figures, [2000, 1000, 0]);
        assert!(matches!(costs[2].1, Cost::Unknown { .. }));
        assert_eq!(
            note.as_deref(),
            Some("The host's $30.00 a month, shared by CPU and memory limits")
        );
        assert_eq!(unshared, None);

        let (costs, _, unshared) = environment_costs(&env, &[(0, &gone)]);
        assert_eq!(costs[0].1.monthly_cents(), 0);
        assert_eq!(unshared, Some(3000), "the host still costs its $30");
    }

    #[test]
    fn an_ecs_region_without_prices_says_what_to_set() {
        let env = environment(
            "[[environment]]\nname = \"prod\"\necs = { region = \"ap-south-2\", cluster = \"c\" }\n",
        );
        let tasks = Ok(Some(Footprint::Fargate(FargateTasks {
            cpu_units: 256,
            memory_mib: 512,
            arm: false,
            storage_gib: 20,
            running: 1,
            desired: 1,
            strategy: Vec::new(),
        })));
        let (costs, note, _) = environment_costs(&env, &[(0, &tasks)]);
        let Cost::Unknown { reason } = &costs[0].1 else {
            panic!("{:?}", costs[0].1);
        };
        assert!(
            reason.starts_with("no built-in Fargate prices for ap-south-2"),
            "{reason}"
        );
        assert_eq!(note.as_deref(), Some(reason.as_str()));
    }
}
