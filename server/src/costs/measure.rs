//! When to ask AWS what an environment costs, and keeping the answer: every console runs
//! [`Measurer::run`], which asks Cost Explorer (and AWS Budgets) for each environment whose
//! figures are due (`month::due`: older than `refresh_hours`, 6 by default), at start only
//! when they are stale. An admin's "refresh now" asks at once. The answers go to the store,
//! shared by every console on the database; a lease per environment keeps two consoles from
//! paying for the same request. A threshold the new figures reach is recorded once
//! ([`crate::store::BudgetCrossing`]) for the notifications to send.

use std::{collections::HashMap, sync::Arc, time::Duration};

use flightdeck_app::model::{EnvName, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::aws::AwsCosts;
use super::budget::Budget;
use super::month::{MonthToDate, day_index, day_of, due, month_key, month_to_date};
use crate::clock::Clock;
use crate::config::{Backend, BudgetSettings, Config, Environment};
use crate::store::{BudgetCrossing, CostDay, CostFetch, Store, StoreError, lease_holder};

/// How often each console looks whether figures are due. Cheap: one row per environment.
const LOOK_EVERY: Duration = Duration::from_secs(5 * 60);
/// A fetch takes a few requests of at most 20 s each; the lease outlives it.
const FETCH_LEASE: Duration = Duration::from_secs(5 * 60);

/// An environment's measured costs as kept: the last fetch, this month's days, the budget and
/// the thresholds crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub fetch: Option<CostFetch>,
    /// This month's days, oldest first (only when the kept figures are this month's).
    pub days: Vec<CostDay>,
    pub month: MonthToDate,
    /// Each day's total, the 1st first, up to today.
    pub daily_micros: Vec<i64>,
    pub budget: Option<Budget>,
    pub crossings: Vec<BudgetCrossing>,
}

pub struct Measurer {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// One per environment with `[environment.costs.aws]`.
    clients: HashMap<EnvName, AwsCosts>,
    holder: String,
    /// One fetch at a time in this console: the lease keeps other consoles out, but this
    /// console's loop and an admin's refresh would both hold it.
    fetching: tokio::sync::Mutex<()>,
    /// Counts saved fetches: pages showing figures start over when it moves (tests wait on it).
    changed: watch::Sender<u64>,
}

impl Measurer {
    pub async fn new(config: Arc<Config>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let mut clients = HashMap::new();
        for env in &config.environments {
            if let (Some(_), Backend::Ecs(ecs)) = (&env.costs.measured, &env.backend) {
                clients.insert(env.name.clone(), AwsCosts::new(ecs).await);
            }
        }
        Self {
            config,
            store,
            clock,
            clients,
            holder: lease_holder(),
            fetching: tokio::sync::Mutex::new(()),
            changed: watch::channel(0).0,
        }
    }

    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Asks for every environment's figures when they are due, then every [`LOOK_EVERY`],
    /// until `stopping`.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        if self.clients.is_empty() {
            return;
        }
        // The first tick is at once: figures that are stale at start are asked for then.
        let mut looks = tokio::time::interval(LOOK_EVERY);
        looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = looks.tick() => {}
            }
            self.refresh_due().await;
        }
    }

    /// Fetches the figures of each environment whose figures are due; returns how many it
    /// fetched (tests call it after moving their clock).
    pub async fn refresh_due(&self) -> usize {
        let mut fetched = 0;
        for env in &self.config.environments {
            if self.clients.contains_key(&env.name) && self.fetch(env, false).await.is_ok_and(|f| f)
            {
                fetched += 1;
            }
        }
        fetched
    }

    /// An admin's "refresh now": asks AWS whatever the age of the figures. Says why not when
    /// the environment is not measured, another console is asking right now, or AWS refused.
    pub async fn refresh_now(&self, environment: &EnvName) -> Result<(), String> {
        let env = self
            .config
            .environment(environment)
            .filter(|e| self.clients.contains_key(&e.name))
            .ok_or_else(|| {
                format!("{environment} does not measure its costs ([environment.costs.aws])")
            })?;
        match self.fetch(env, true).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(format!(
                    "another console is fetching {environment}'s costs now; reload in a minute"
                ));
            }
            Err(e) => return Err(e),
        }
        match self.store.cost_fetch(environment).await {
            Ok(Some(CostFetch {
                error: Some(error), ..
            })) => Err(format!("{environment}: {error}")),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Asks AWS for `env`'s figures, if due (or `force`) and this console gets the lease.
    /// Returns whether it asked.
    async fn fetch(&self, env: &Environment, force: bool) -> Result<bool, String> {
        let (Some(settings), Some(client)) = (&env.costs.measured, self.clients.get(&env.name))
        else {
            return Ok(false);
        };
        let is_due = |fetch: Option<&CostFetch>, now| {
            force
                || due(
                    fetch.map(|f| (f.attempted_at, f.error.is_none(), f.month.as_str())),
                    settings.refresh,
                    now,
                )
        };
        let _one_at_a_time = self.fetching.lock().await;
        let now = self.clock.now();
        let store_error = |e: StoreError| {
            tracing::error!(environment = %env.name, error = %e, "cannot keep measured costs");
            e.to_string()
        };
        let last = self
            .store
            .cost_fetch(&env.name)
            .await
            .map_err(store_error)?;
        if !is_due(last.as_ref(), now) {
            return Ok(false);
        }
        let lease = format!("costs:{}", env.name);
        let until = Timestamp::from_unix_millis(
            now.unix_millis() + i64::try_from(FETCH_LEASE.as_millis()).unwrap_or(i64::MAX),
        );
        if !self
            .store
            .acquire_lease(&lease, &self.holder, now, until)
            .await
            .map_err(store_error)?
        {
            return Ok(false);
        }
        // Another console may have fetched between the look and the lease.
        let last = self
            .store
            .cost_fetch(&env.name)
            .await
            .map_err(store_error)?;
        let result = if is_due(last.as_ref(), now) {
            self.fetch_and_keep(env, client, now).await.map(|()| true)
        } else {
            Ok(false)
        };
        if let Err(e) = self.store.release_lease(&lease, &self.holder).await {
            tracing::warn!(environment = %env.name, error = %e, "cannot release the costs lease");
        }
        result
    }

    async fn fetch_and_keep(
        &self,
        env: &Environment,
        client: &AwsCosts,
        now: Timestamp,
    ) -> Result<(), String> {
        let Some(settings) = &env.costs.measured else {
            return Ok(());
        };
        let today = day_of(now);
        let month = month_key(today);
        let asked = async {
            let days = client.month_to_date(settings, today).await?;
            let budget = match &env.costs.budget {
                Some(BudgetSettings::Aws { name, account_id }) => {
                    Some(client.budget(account_id, name).await?)
                }
                _ => None,
            };
            Ok::<_, String>((days, budget))
        };
        let saved = match asked.await {
            Ok((days, budget)) => {
                tracing::info!(
                    environment = %env.name,
                    days = days.len(),
                    "measured costs fetched from AWS Cost Explorer"
                );
                self.store
                    .save_costs(&env.name, &month, now, &days, budget.as_ref())
                    .await
            }
            Err(error) => {
                tracing::warn!(environment = %env.name, %error, "cannot measure costs");
                self.store
                    .save_cost_failure(&env.name, &month, now, &error)
                    .await
            }
        };
        saved.map_err(|e| e.to_string())?;
        self.record_crossings(env, now).await;
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Records each budget threshold the kept figures reach that was not recorded yet.
    async fn record_crossings(&self, env: &Environment, now: Timestamp) {
        let Ok(measured) = self.measured(env).await else {
            return;
        };
        let Some(budget) = &measured.budget else {
            return;
        };
        let month = month_key(day_of(now));
        for (threshold, amount_micros) in
            budget.crossed(measured.month.spent_micros, measured.month.forecast_micros)
        {
            let crossing = BudgetCrossing {
                environment: env.name.clone(),
                month: month.clone(),
                threshold,
                amount_micros,
                crossed_at: now,
            };
            match self.store.record_budget_crossing(&crossing).await {
                Ok(true) => tracing::warn!(
                    environment = %env.name,
                    basis = threshold.basis.as_str(),
                    threshold_usd = threshold.micros / 1_000_000,
                    "budget threshold crossed"
                ),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "cannot record a budget crossing"),
            }
        }
    }

    /// What is kept for `env` now (`fetch` is `None` before the first attempt).
    pub async fn measured(&self, env: &Environment) -> Result<Measured, StoreError> {
        let today = day_of(self.clock.now());
        let month = month_key(today);
        let fetch = self.store.cost_fetch(&env.name).await?;
        let days = match &fetch {
            Some(f) if f.month == month => self.store.cost_days(&env.name, &month).await?,
            _ => Vec::new(),
        };
        let mut daily_micros = vec![0; usize::from(today.day())];
        for d in &days {
            if let Some(slot) = day_index(&d.day).and_then(|i| daily_micros.get_mut(i)) {
                *slot += d.micros;
            }
        }
        let month_figures = month_to_date(&daily_micros, today);
        let budget = Budget::of(
            env.costs.budget.as_ref(),
            fetch.as_ref().and_then(|f| f.budget.as_ref()),
        );
        let crossings = self.store.budget_crossings(&env.name, &month).await?;
        Ok(Measured {
            fetch,
            days,
            month: month_figures,
            daily_micros,
            budget,
            crossings,
        })
    }

    /// Whether `env`'s costs are measured by this console.
    pub fn measures(&self, env: &EnvName) -> bool {
        self.clients.contains_key(env)
    }

    /// Today, by the console's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
