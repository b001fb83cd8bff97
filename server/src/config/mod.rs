//! The declarative `flightdeck.toml`: environments, services and where each service runs.
//!
//! The file is the single source of truth for what exists; the database only records what
//! happened. A config with any problem is refused as a whole, with every problem listed (file,
//! line, key), so the console never starts on a half-understood configuration.

mod notify;
mod parse;
pub(crate) mod reader;
mod schedule;

use std::{
    collections::BTreeMap,
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use ipnet::IpNet;

use flightdeck_app::model::{EnvName, ServiceName};
use url::Url;

pub use notify::{EVENT_KINDS, NotifyFormat, NotifyTarget, Secret, signing_key};
pub(crate) use parse::parse_duration;
pub use reader::{ConfigError, ConfigErrors};
pub use schedule::Schedule;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from, for messages.
    pub source: PathBuf,
    pub console: ConsoleSettings,
    pub access: AccessSettings,
    /// `[tls]`: serve HTTPS directly. `None`: plain HTTP.
    pub tls: Option<TlsSettings>,
    pub health: HealthSettings,
    pub deploy: DeploySettings,
    /// In display order.
    pub environments: Vec<Environment>,
    /// In file order.
    pub services: Vec<Service>,
    /// `[runbooks]`: Markdown runbooks kept beside the configuration. `None`: none.
    pub runbooks: Option<RunbookSettings>,
    /// `[[freeze]]`: windows when deploys are refused (a weekend, the holidays).
    pub freezes: Vec<FreezeWindow>,
    /// `[[notify]]`: where to tell what happens.
    pub notify: Vec<NotifyTarget>,
    /// `[logs]`: how many may follow logs at once, and what is masked in them.
    pub logs: LogSettings,
}

/// `[logs]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// Live follows this console serves at once.
    pub max_follows: usize,
    /// Live follows one person may have open at once.
    pub max_follows_per_person: usize,
    /// Masked in every line, after the built-in rules (AWS keys, bearer tokens, password
    /// pairs).
    pub redact: Vec<RedactPattern>,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            max_follows: 32,
            max_follows_per_person: 4,
            redact: Vec::new(),
        }
    }
}

/// A `[logs] redact` pattern, checked to compile when the file was read. Masks its `secret`
/// group when it names one, else the whole match.
#[derive(Debug, Clone)]
pub struct RedactPattern(pub regex::Regex);

impl PartialEq for RedactPattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// A window in which deploys and promotions to some environments (and services) are refused.
#[derive(Debug, Clone, PartialEq)]
pub struct FreezeWindow {
    pub name: String,
    pub environments: Vec<EnvName>,
    /// Empty: every service.
    pub services: Vec<ServiceName>,
    pub reason: String,
    /// The zone its times are in (`Europe/Berlin`; UTC by default).
    pub time_zone: jiff::tz::TimeZone,
    pub when: FreezeWhen,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FreezeWhen {
    /// Starts whenever the schedule fires and lasts `duration`.
    Recurring {
        schedule: Schedule,
        duration: Duration,
    },
    /// Date ranges, local to the window's zone: from the first up to the second.
    Dates(Vec<(jiff::civil::DateTime, jiff::civil::DateTime)>),
}

/// `[runbooks]`: where the Markdown runbooks are and how they are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookSettings {
    /// The directory, resolved against the configuration file's own.
    pub dir: PathBuf,
    /// A runbook not reviewed for this long is shown as stale (each may set its own).
    pub review_every: Duration,
    /// Where a runbook is edited: a URL with `{path}`, the file's path below `dir`.
    pub edit_url: Option<String>,
}

impl RunbookSettings {
    /// 90 days: a runbook older than a quarter has probably drifted from the system.
    pub const DEFAULT_REVIEW_EVERY: Duration = Duration::from_secs(90 * 24 * 3600);
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSettings {
    /// Shown in the page header and title.
    pub title: String,
    /// Where people open the console (`https://deck.example`), for the links in
    /// notifications; without it they carry the page's path only.
    pub url: Option<String>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            title: "Flightdeck".to_owned(),
            url: None,
        }
    }
}

/// `[access]`: who may reach the console and how long sessions last.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessSettings {
    /// Networks whose clients may connect; `None` (no `allow` key) lets every address in, for
    /// a console that sits behind a VPN or firewall already.
    pub allow: Option<Vec<IpNet>>,
    /// Reverse proxies whose `X-Forwarded-For` is believed. Empty: the header is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// A session unused for this long ends.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub session_lifetime: Duration,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            allow: None,
            trusted_proxies: Vec::new(),
            session_idle_timeout: Duration::from_secs(12 * 60 * 60),
            session_lifetime: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

impl AccessSettings {
    /// Whether a client at `addr` may connect at all.
    pub fn allows(&self, addr: IpAddr) -> bool {
        match &self.allow {
            None => true,
            Some(nets) => nets.iter().any(|n| n.contains(&addr)),
        }
    }

    pub fn is_trusted_proxy(&self, addr: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&addr))
    }
}

/// PEM files for HTTPS, resolved against the configuration file's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[health]`: how services are probed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthSettings {
    /// Time between the starts of two probe rounds.
    pub interval: Duration,
    /// A probe without a complete answer by then fails.
    pub timeout: Duration,
    /// A slower answer makes the service degraded.
    pub slow_after: Duration,
    /// Consecutive failed probes before a service is shown unhealthy (services may override).
    pub down_after_failures: u32,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(3),
            slow_after: Duration::from_secs(1),
            down_after_failures: 2,
        }
    }
}

/// `[deploy]`: how long a new release must stay healthy, and what is kept for rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploySettings {
    /// Healthy without a break for this long passes the gate.
    pub bake: Duration,
    /// Not passed by then: the deploy is rolled back.
    pub deadline: Duration,
    /// Previous instances kept after a successful deploy.
    pub keep_previous: usize,
    /// Deploys of different services (or environments) that may run at the same time; the
    /// same service in the same environment is always one at a time.
    pub parallel: usize,
    /// How long a running deploy stays its console's after that console's last heartbeat
    /// (written every third of it). Past it, another console sharing the database takes the
    /// job over: marks it interrupted, reads back what runs and frees the lock.
    pub lease: Duration,
}

impl DeploySettings {
    /// How often a console writes the heartbeat of each deploy it runs.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 3
    }
}

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            bake: Duration::from_secs(30),
            deadline: Duration::from_secs(5 * 60),
            keep_previous: 3,
            parallel: 4,
            lease: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: EnvName,
    /// Production-like: deploys and rollbacks here need the releaser role.
    pub protected: bool,
    /// Deploys and promotions here wait for this many releasers other than the requester to
    /// approve them (0: they run at once). A deployer may then request them, even here.
    pub approvals: u32,
    /// How long a request waits for its approvals before it expires and frees the lock.
    pub approval_timeout: Duration,
    pub backend: Backend,
    /// `[environment.costs]`: what the estimates need beyond what the backend reports.
    pub costs: CostSettings,
    /// Viewers may read this environment's logs too (by default only deployers and up).
    pub logs_for_viewers: bool,
}

/// An environment's cost settings. Money in cents, prices in 10⁻⁸ dollars per hour.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CostSettings {
    /// Docker: what the host costs a month, shared among its containers (0: self-hosted).
    pub host_monthly_cents: i64,
    /// ECS: FARGATE_SPOT's discount off the on-demand price, in percent.
    pub spot_discount_percent: u64,
    /// ECS: prices that replace the built-in table's for this environment.
    pub prices: PriceOverrides,
    /// Monthly items that run no service: a NAT gateway, the load balancer, the database.
    pub fixed: Vec<FixedCost>,
    /// `[environment.costs.aws]`: what AWS Cost Explorer measured, for an ECS environment.
    pub measured: Option<MeasuredSettings>,
    /// `[environment.costs.budget]`: the month's budget and its alert thresholds.
    pub budget: Option<BudgetSettings>,
}

/// Which of the account's costs are this environment's, and how often to ask Cost Explorer
/// (every request costs $0.01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasuredSettings {
    /// The cost-allocation tag whose value names the service (`service`).
    pub service_tag: String,
    /// A tag that tells this environment's resources apart in a shared account, and its value
    /// here (by default the environment's name); `None` counts the whole account.
    pub environment_tag: Option<(String, String)>,
    /// Figures younger than this are not asked for again (6 hours).
    pub refresh: Duration,
}

impl MeasuredSettings {
    pub const DEFAULT_REFRESH: Duration = Duration::from_secs(6 * 3600);
}

/// An environment's monthly budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetSettings {
    /// Written in the configuration: the amount and the alert thresholds, in cents.
    Configured {
        monthly_cents: i64,
        alerts_cents: Vec<i64>,
    },
    /// Read from AWS Budgets (`DescribeBudget` and its notifications) with the measured costs.
    Aws { name: String, account_id: String },
}

impl CostSettings {
    /// FARGATE_SPOT has run at about 70 % off on-demand.
    pub const DEFAULT_SPOT_DISCOUNT_PERCENT: u64 = 70;
}

/// Per hour, in 10⁻⁸ dollars; `None` keeps the built-in price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PriceOverrides {
    pub x86_vcpu_hour: Option<u64>,
    pub x86_gb_hour: Option<u64>,
    pub arm_vcpu_hour: Option<u64>,
    pub arm_gb_hour: Option<u64>,
    pub storage_gb_hour: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedCost {
    pub name: String,
    pub monthly_cents: i64,
}

/// Where an environment's services run.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Docker(DockerBackend),
    Ecs(EcsBackend),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DockerBackend {
    /// `unix:///var/run/docker.sock`, `tcp://host:2375`, `http(s)://host:port`.
    pub host: String,
}

pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone, PartialEq)]
pub struct EcsBackend {
    pub region: String,
    pub cluster: String,
    /// For ECS-compatible endpoints (moto, LocalStack, a VPC endpoint).
    pub endpoint_url: Option<Url>,
    /// A named profile of the standard AWS configuration files.
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: ServiceName,
    pub description: String,
    pub owner: Option<String>,
    /// Overrides `[health] down_after_failures` for this service.
    pub down_after_failures: Option<u32>,
    /// Where the service runs, per environment. Environments not listed do not run it.
    pub targets: BTreeMap<EnvName, Target>,
    pub runbooks: Vec<Runbook>,
}

/// The service in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub kind: TargetKind,
    pub health_url: Option<Url>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    /// The container's name on a Docker host.
    Container(String),
    /// An ECS service; `container` names the container of its task definition to update, when
    /// the task has several.
    EcsService {
        service: String,
        container: Option<String>,
    },
}

impl TargetKind {
    /// The name an operator recognises: the container or ECS service name.
    pub fn label(&self) -> &str {
        match self {
            TargetKind::Container(name) => name,
            TargetKind::EcsService { service, .. } => service,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    pub title: String,
    /// Always http or https: checked when the config is read.
    pub url: Url,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "file not found".to_owned(),
                _ => e.to_string(),
            };
            ConfigErrors(vec![ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                key: String::new(),
                message: format!(
                    "cannot read the configuration: {reason} (copy flightdeck.example.toml to start)"
                ),
            }])
        })?;
        Self::parse(path, &text)
    }

    /// Validates `text` as if read from `path`.
    /// Reads and validates `text`; secrets named by variable come from the process's
    /// environment.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
        parse::parse(path, text, &|name| std::env::var(name).ok())
    }

    /// The same with the variables `env` holds (tests give their own).
    pub fn parse_with_env(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        parse::parse(path, text, env)
    }

    pub fn environment(&self, name: &EnvName) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.name == name)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.as_str() == name)
    }

    /// The environment `service` is promoted to `target` from: the one before it, in the
    /// configured order, among those the service runs in.
    pub fn promotion_source(&self, service: &Service, target: &EnvName) -> Option<EnvName> {
        self.environments
            .iter()
            .map(|e| &e.name)
            .filter(|e| service.targets.contains_key(*e))
            .take_while(|e| *e != target)
            .last()
            .cloned()
    }

    /// Failed probes in a row before `service` is shown unhealthy: its own setting or `[health]`.
    pub fn down_after_failures(&self, service: &Service) -> u32 {
        service
            .down_after_failures
            .unwrap_or(self.health.down_after_failures)
    }

    /// One line for logs and `check-config`.
    pub fn summary(&self) -> String {
        let envs: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
        format!(
            "{} environment{} ({}), {} service{}",
            envs.len(),
            if envs.len() == 1 { "" } else { "s" },
            envs.join(", "),
            self.services.len(),
            if self.services.len() == 1 { "" } else { "s" },
        )
    }
}

#[cfg(test)]
mod tests;
