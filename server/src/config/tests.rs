use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(Path::new("f.toml"), text)
}

/// Every error as "line:key: message".
fn errors(text: &str) -> Vec<String> {
    parse(text)
        .expect_err("the config must be refused")
        .0
        .into_iter()
        .map(|e| format!("{}:{}: {}", e.line, e.key, e.message))
        .collect()
}

const MINIMAL: &str = r#"
[[environment]]
name = "dev"
docker = {}
"#;

#[test]
fn the_example_configuration_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flightdeck.example.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["dev", "staging", "production"]);
    assert!(config.environments[2].protected);
    assert_eq!(config.services.len(), 3);
    let mailer = &config.services[2];
    assert_eq!(mailer.targets.len(), 2, "the mailer is not in production");
    assert!(
        config
            .services
            .iter()
            .all(|s| !s.runbooks.is_empty() || s.name.as_str() == "mailer")
    );
}

#[test]
fn defaults_fill_what_is_left_out() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.console.title, "Flightdeck");
    assert!(!config.environments[0].protected);
    assert_eq!(
        config.environments[0].backend,
        Backend::Docker(DockerBackend {
            host: DEFAULT_DOCKER_HOST.to_owned()
        })
    );
    assert!(config.services.is_empty());
}

#[test]
fn display_order_follows_order_or_else_the_file() {
    let config = parse(
        r#"
[[environment]]
name = "production"
order = 30
docker = {}
[[environment]]
name = "dev"
order = 10
docker = {}
[[environment]]
name = "staging"
order = 20
docker = {}
"#,
    )
    .unwrap();
    let names: Vec<&str> = config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["dev", "staging", "production"]);

    let config = parse(
        "[[environment]]\nname = \"b\"\ndocker = {}\n[[environment]]\nname = \"a\"\ndocker = {}\n",
    )
    .unwrap();
    let names: Vec<&str> = config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["b", "a"]);
}

#[test]
fn order_on_some_environments_only_is_refused() {
    let errs = errors(
        r#"
[[environment]]
name = "dev"
order = 1
docker = {}
[[environment]]
name = "scratch"
docker = {}
"#,
    );
    assert_eq!(
        errs,
        [
            "6:environment[1].order: missing; other environments set `order`, so every environment \
          must (or remove it everywhere to use the file order)"
        ]
    );
}

#[test]
fn a_full_service_is_read_with_both_backends() {
    let config = parse(
        r#"
[[environment]]
name = "staging"
docker = { host = "tcp://10.0.0.5:2375" }

[[environment]]
name = "production"
protected = true
[environment.ecs]
region = "eu-west-1"
cluster = "prod-cluster"
endpoint_url = "http://127.0.0.1:5000"
profile = "ops"

[[service]]
name = "api"
description = "  The API  "
owner = "team-a"
[service.targets.staging]
container = "api-staging"
health_url = "https://api.staging.lan/healthz"
[service.targets.production]
service = "api-prod"
container = "app"
[[service.runbook]]
title = "Rollback"
url = "https://wiki.lan/api/rollback"
"#,
    )
    .unwrap();
    let ecs = &config.environments[1];
    assert_eq!(
        ecs.backend,
        Backend::Ecs(EcsBackend {
            region: "eu-west-1".into(),
            cluster: "prod-cluster".into(),
            endpoint_url: Some(url::Url::parse("http://127.0.0.1:5000").unwrap()),
            profile: Some("ops".into()),
        })
    );
    let api = &config.services[0];
    assert_eq!(api.description, "The API");
    let staging = &api.targets[&EnvName::parse("staging").unwrap()];
    assert_eq!(staging.kind, TargetKind::Container("api-staging".into()));
    assert_eq!(
        staging.health_url.as_ref().map(url::Url::as_str),
        Some("https://api.staging.lan/healthz")
    );
    let production = &api.targets[&EnvName::parse("production").unwrap()];
    assert_eq!(
        production.kind,
        TargetKind::EcsService {
            service: "api-prod".into(),
            container: Some("app".into())
        }
    );
    assert_eq!(api.runbooks[0].title, "Rollback");
}

#[test]
fn no_environment_at_all_is_refused() {
    assert_eq!(
        errors("[console]\ntitle = \"x\"\n"),
        ["1:environment: no environments declared; add at least one [[environment]] table"]
    );
}

#[test]
fn unknown_keys_are_named_with_a_suggestion() {
    let errs = errors(
        r#"
[[environment]]
name = "dev"
protect = true
docker = { hots = "unix:///x.sock" }
[consol]
"#,
    );
    assert_eq!(
        errs,
        [
            "4:environment[0].protect: unknown key `protect`; did you mean `protected`?",
            "5:environment[0].docker.hots: unknown key `hots`; did you mean `host`?",
            "6:consol: unknown key `consol`; did you mean `console`?",
        ]
    );
}

#[test]
fn bad_names_and_types_are_named() {
    let errs = errors(
        r#"
[[environment]]
name = "Prod_1"
order = "first"
docker = {}
[[service]]
name = 42
"#,
    );
    assert_eq!(
        errs,
        [
            "3:environment[0].name: `Prod_1` is not a valid name: must start with a lowercase letter (a-z)",
            "4:environment[0].order: expected an integer, found string",
            "7:service[0].name: expected a string, found integer",
        ]
    );
}

#[test]
fn backends_must_be_exactly_one_and_well_formed() {
    let errs = errors(
        r#"
[[environment]]
name = "a"

[[environment]]
name = "b"
docker = {}
ecs = { region = "eu-west-1", cluster = "c" }

[[environment]]
name = "c"
docker = { host = "ftp://x" }

[[environment]]
name = "d"
ecs = { region = "EU WEST", endpoint_url = "file:///etc/passwd" }
"#,
    );
    assert_eq!(
        errs,
        [
            "2:environment[0]: missing a backend: add `docker = { host = \"unix:///var/run/docker.sock\" }` or `ecs = { region = \"…\", cluster = \"…\" }`",
            "8:environment[1]: declares both `docker` and `ecs`; an environment runs on exactly one backend",
            "12:environment[2].docker.host: `ftp` is not a Docker Engine address; use unix:///path/to/docker.sock, tcp://HOST:PORT or https://HOST:PORT",
            "16:environment[3].ecs.cluster: missing; expected a string",
            "16:environment[3].ecs.region: `EU WEST` is not an AWS region name such as `eu-west-1`",
            "16:environment[3].ecs.endpoint_url: `file:` URLs are not allowed; use http:// or https://",
        ]
    );
}

#[test]
fn duplicates_point_at_the_first_declaration() {
    let errs = errors(
        r#"
[[environment]]
name = "dev"
docker = {}
[[environment]]
name = "dev"
docker = {}
[[service]]
name = "api"
[[service]]
name = "api"
"#,
    );
    assert_eq!(
        errs,
        [
            "6:environment[1].name: environment `dev` is already declared on line 3",
            "11:service[1].name: service `api` is already declared on line 9",
        ]
    );
}

#[test]
fn targets_must_name_declared_environments_and_fit_their_backend() {
    let errs = errors(
        r#"
[[environment]]
name = "dev"
docker = {}
[[environment]]
name = "prod"
ecs = { region = "us-east-1", cluster = "main" }

[[service]]
name = "api"
targets.qa = { container = "api-qa" }
targets.dev = { service = "api" }
targets.prod = { container = "bad name!" }
"#,
    );
    assert_eq!(
        errs,
        [
            "11:service[0].targets.qa: environment `qa` is not declared; declared environments: dev, prod",
            // A missing key points at the start of its table, before the keys that are there.
            "12:service[0].targets.dev.container: missing; expected a string",
            "12:service[0].targets.dev.service: unknown key `service`; expected one of: container, health_url",
            "13:service[0].targets.prod.service: missing; expected a string",
            "13:service[0].targets.prod.container: `bad name!` is not a valid container name (letters, digits, '_', '.', '-')",
        ]
    );
}

#[test]
fn only_http_urls_without_credentials_are_accepted() {
    let errs = errors(
        r#"
[[environment]]
name = "dev"
docker = {}

[[service]]
name = "api"
targets.dev = { container = "api", health_url = "http://user:pw@api.lan/health" }
[[service.runbook]]
title = "Bad link"
url = "javascript:alert(document.cookie)"
[[service.runbook]]
title = ""
url = "not a url"
"#,
    );
    assert_eq!(
        errs,
        [
            "8:service[0].targets.dev.health_url: must not contain a user name or password; credentials do not belong in URLs",
            "11:service[0].runbook[0].url: `javascript:` URLs are not allowed; use http:// or https://",
            "13:service[0].runbook[1].title: must not be empty",
            "14:service[0].runbook[1].url: `not a url` is not a valid URL: relative URL without a base",
        ]
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let errs = errors("[[environment]]\nname = \"dev\"\nprotected = tru\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("3:: invalid TOML"), "{errs:?}");
}

#[test]
fn a_missing_file_says_so_and_how_to_start() {
    let e = Config::load(Path::new("/nonexistent/flightdeck.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent/flightdeck.toml: cannot read the configuration: file not found \
         (copy flightdeck.example.toml to start)"
    );
}

#[test]
fn access_settings_are_read_with_their_defaults() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.access, AccessSettings::default());
    assert!(config.access.allows("203.0.113.7".parse().unwrap()));

    let config = parse(&format!(
        "[access]\nallow = [\"192.168.0.0/16\", \"10.8.0.5\"]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\
         session_idle_timeout = \"30m\"\nsession_lifetime = \"2d\"\n{MINIMAL}"
    ))
    .unwrap();
    let access = &config.access;
    assert!(access.allows("192.168.44.2".parse().unwrap()));
    assert!(access.allows("10.8.0.5".parse().unwrap()));
    assert!(!access.allows("10.8.0.6".parse().unwrap()));
    assert!(access.is_trusted_proxy("127.0.0.1".parse().unwrap()));
    assert_eq!(
        access.session_idle_timeout,
        std::time::Duration::from_secs(30 * 60)
    );
    assert_eq!(
        access.session_lifetime,
        std::time::Duration::from_secs(2 * 86_400)
    );
}

#[test]
fn access_errors_name_the_line_and_key() {
    let errs = errors(&format!(
        "[access]\nallow = [\"192.168.0.0/33\", \"lan\"]\ntrusted_proxies = []\n\
         session_idle_timeout = \"12 hours\"\nsession_lifetime = \"0s\"\nalow = []\n{MINIMAL}"
    ));
    assert_eq!(
        errs,
        [
            "2:access.allow: `192.168.0.0/33` is not an IP network (like 192.168.0.0/16) or address",
            "2:access.allow: `lan` is not an IP network (like 192.168.0.0/16) or address",
            "4:access.session_idle_timeout: `12 hours` is not a duration; write a number and a unit: 500ms, 90s, 30m, 12h, 7d",
            "5:access.session_lifetime: `0s` must be longer than zero",
            "6:access.alow: unknown key `alow`; did you mean `allow`?",
        ]
    );
    let errs = errors(&format!("[access]\nallow = []\n{MINIMAL}"));
    assert_eq!(
        errs,
        [
            "2:access.allow: an empty list would refuse everyone; remove the key to allow every address"
        ]
    );
    let errs = errors(&format!(
        "[access]\nsession_idle_timeout = \"8d\"\n{MINIMAL}"
    ));
    assert_eq!(
        errs,
        [
            "2:access.session_idle_timeout: is longer than access.session_lifetime, so it would never apply"
        ]
    );
}

#[test]
fn health_settings_have_defaults_and_can_be_overridden_per_service() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.health, HealthSettings::default());
    assert_eq!(config.health.interval, std::time::Duration::from_secs(15));
    assert_eq!(config.health.timeout, std::time::Duration::from_secs(3));
    assert_eq!(config.health.down_after_failures, 2);

    let config = parse(&format!(
        "[health]\ninterval = \"10s\"\ntimeout = \"2s\"\nslow_after = \"750ms\"\n\
         down_after_failures = 3\n{MINIMAL}\n[[service]]\nname = \"api\"\n\
         down_after_failures = 5\ntargets.dev = {{ container = \"api\" }}\n"
    ))
    .unwrap();
    let h = config.health;
    assert_eq!(h.interval, std::time::Duration::from_secs(10));
    assert_eq!(h.timeout, std::time::Duration::from_secs(2));
    assert_eq!(h.slow_after, std::time::Duration::from_millis(750));
    assert_eq!(h.down_after_failures, 3);
    assert_eq!(config.services[0].down_after_failures, Some(5));
}

#[test]
fn health_errors_name_the_line_and_key() {
    let errs = errors(&format!(
        "[health]\ninterval = \"5s\"\ntimeout = \"5s\"\nslow_after = \"fast\"\n\
         down_after_failures = 0\n{MINIMAL}"
    ));
    assert_eq!(
        errs,
        [
            "3:health.timeout: must be shorter than health.interval (5s), or probes would overlap",
            "4:health.slow_after: `fast` is not a duration; write a number and a unit: 500ms, 90s, 30m, 12h, 7d",
            "5:health.down_after_failures: must be a whole number from 1 to 100",
        ]
    );
    let errs = errors(&format!(
        "[health]\ntimeout = \"1s\"\nslow_after = \"2s\"\n{MINIMAL}"
    ));
    assert_eq!(
        errs,
        [
            "3:health.slow_after: must be shorter than health.timeout (1s), or nothing would ever be slow"
        ]
    );
}

#[test]
fn deploy_settings_have_defaults_and_are_checked() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.deploy, DeploySettings::default());
    assert_eq!(config.deploy.bake, std::time::Duration::from_secs(30));

    let config = parse(&format!(
        "[deploy]\nbake = \"10s\"\ndeadline = \"2m\"\nkeep_previous = 5\nparallel = 2\nlease = \"6s\"\n{MINIMAL}"
    ))
    .unwrap();
    assert_eq!(config.deploy.bake, std::time::Duration::from_secs(10));
    assert_eq!(config.deploy.deadline, std::time::Duration::from_secs(120));
    assert_eq!(config.deploy.keep_previous, 5);
    assert_eq!(config.deploy.parallel, 2);
    assert_eq!(config.deploy.heartbeat(), std::time::Duration::from_secs(2));

    let errs = errors(&format!(
        "[deploy]\nbake = \"10m\"\ndeadline = \"5m\"\nkeep_previous = 0\nparallel = 0\nlease = \"1s\"\n{MINIMAL}"
    ));
    assert_eq!(
        errs,
        [
            "2:deploy.bake: must be shorter than deploy.deadline (300s), or no deploy could pass",
            "4:deploy.keep_previous: must be a whole number from 1 to 20 (one is needed to roll back)",
            "5:deploy.parallel: must be a whole number from 1 to 64",
            "6:deploy.lease: must be at least 3s (a heartbeat is written every third of it)",
        ]
    );
}

#[test]
fn runbook_settings_are_resolved_and_checked() {
    assert_eq!(parse(MINIMAL).unwrap().runbooks, None);
    let config = Config::parse(
        Path::new("/etc/flightdeck/flightdeck.toml"),
        &format!(
            "[runbooks]\ndir = \"runbooks\"\nreview_every = \"30d\"\n\
             edit_url = \"https://git.example/ops/edit/main/{{path}}\"\n{MINIMAL}"
        ),
    )
    .unwrap();
    let runbooks = config.runbooks.unwrap();
    assert_eq!(runbooks.dir, Path::new("/etc/flightdeck/runbooks"));
    assert_eq!(
        runbooks.review_every,
        std::time::Duration::from_secs(30 * 86_400)
    );

    let errs = errors(&format!(
        "[runbooks]\nreview_every = \"1h\"\nedit_url = \"https://git.example/edit\"\n{MINIMAL}"
    ));
    assert_eq!(
        errs,
        [
            "1:runbooks.dir: missing; expected a string",
            "2:runbooks.review_every: must be at least 1d",
            "3:runbooks.edit_url: must be an http(s) URL with {path} where the runbook's file goes",
        ]
    );
}

#[test]
fn cost_settings_are_read_per_environment_and_checked() {
    let config = parse(
        r#"
[[environment]]
name = "home"
docker = {}
costs = { host_monthly = 12.5 }

[[environment]]
name = "prod"
ecs = { region = "eu-west-1", cluster = "prod" }

[environment.costs]
spot_discount = 65
prices = { x86_vcpu_hour = 0.05 }
fixed = [{ name = "ALB", monthly = 16.43 }, { name = "NAT gateway", monthly = 32 }]
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let home = &config.environments[0].costs;
    assert_eq!(home.host_monthly_cents, 1250);
    assert_eq!(
        home.spot_discount_percent,
        CostSettings::DEFAULT_SPOT_DISCOUNT_PERCENT
    );
    let prod = &config.environments[1].costs;
    assert_eq!(prod.spot_discount_percent, 65);
    assert_eq!(prod.prices.x86_vcpu_hour, Some(5_000_000));
    assert_eq!(prod.prices.arm_vcpu_hour, None);
    assert_eq!(
        prod.fixed,
        [
            FixedCost {
                name: "ALB".into(),
                monthly_cents: 1643
            },
            FixedCost {
                name: "NAT gateway".into(),
                monthly_cents: 3200
            }
        ]
    );

    assert_eq!(
        errors(
            r#"
[[environment]]
name = "home"
docker = {}
costs = { host_monthly = -3, spot_discount = 50, fixed = [{ name = "RDS" }] }

[[environment]]
name = "prod"
ecs = { region = "eu-west-1", cluster = "prod" }
costs = { host_monthly = 10, spot_discount = 150, prices = { x86_cpu_hour = 1 } }
"#
        ),
        [
            "5:environment[0].costs.host_monthly: must be dollars a month, from 0 (e.g. 16.43)",
            "5:environment[0].costs.spot_discount: is for an ECS environment; a Docker environment's is its host_monthly",
            "5:environment[0].costs.fixed[0].monthly: missing; expected dollars a month (e.g. 16.43)",
            "10:environment[1].costs.host_monthly: is for a Docker environment; an ECS environment is priced per task",
            "10:environment[1].costs.spot_discount: must be a percentage from 0 to 100 (70 means 70 % off on-demand)",
            "10:environment[1].costs.prices.x86_cpu_hour: unknown key `x86_cpu_hour`; did you mean `x86_vcpu_hour`?",
        ]
    );
}

#[test]
fn measured_costs_and_budgets_are_read_and_checked() {
    let config = parse(
        r#"
[[environment]]
name = "staging"
ecs = { region = "eu-west-1", cluster = "staging" }

[environment.costs.aws]
service_tag = "service"
environment_tag = "system"

[environment.costs.budget]
monthly = 100
alerts = [100, 130, 150]

[[environment]]
name = "prod"
ecs = { region = "eu-west-1", cluster = "prod" }
costs = { aws = { service_tag = "app", refresh_hours = 12 }, budget = { aws_name = "prod-monthly", account_id = "123456789012" } }

[[environment]]
name = "home"
docker = {}
costs = { budget = { monthly = 5 } }
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let staging = &config.environments[0].costs;
    let measured = staging.measured.as_ref().unwrap();
    assert_eq!(measured.service_tag, "service");
    assert_eq!(
        measured.environment_tag,
        Some(("system".to_owned(), "staging".to_owned())),
        "the tag's value defaults to the environment's name"
    );
    assert_eq!(measured.refresh, MeasuredSettings::DEFAULT_REFRESH);
    assert_eq!(
        staging.budget,
        Some(BudgetSettings::Configured {
            monthly_cents: 10_000,
            alerts_cents: vec![10_000, 13_000, 15_000]
        })
    );
    let prod = &config.environments[1].costs;
    assert_eq!(
        prod.measured
            .as_ref()
            .map(|m| (m.refresh, m.environment_tag.clone())),
        Some((std::time::Duration::from_secs(12 * 3600), None))
    );
    assert_eq!(
        prod.budget,
        Some(BudgetSettings::Aws {
            name: "prod-monthly".into(),
            account_id: "123456789012".into()
        })
    );
    assert_eq!(
        config.environments[2].costs.budget,
        Some(BudgetSettings::Configured {
            monthly_cents: 500,
            alerts_cents: vec![500]
        }),
        "without alerts the budget itself is the threshold"
    );

    assert_eq!(
        errors(
            r#"
[[environment]]
name = "home"
docker = {}
costs = { aws = { service_tag = "service" }, budget = { monthly = 10, alerts = [20, 15] } }

[[environment]]
name = "prod"
ecs = { region = "eu-west-1", cluster = "prod" }
costs = { aws = { service_tag = "", refresh_hours = 0.1, environment_value = "p" } }

[[environment]]
name = "qa"
ecs = { region = "eu-west-1", cluster = "qa" }
costs = { budget = { aws_name = "qa", account_id = "12" } }
"#
        ),
        [
            "5:environment[0].costs.aws: is for an ECS environment; a Docker environment's is its host_monthly",
            "5:environment[0].costs.budget.alerts: must go up: each alert above the one before (e.g. [100, 130, 150])",
            "10:environment[1].costs.aws.service_tag: must not be empty",
            "10:environment[1].costs.aws.refresh_hours: must be hours from 1 to 744 (each Cost Explorer request costs $0.01)",
            "10:environment[1].costs.aws.environment_value: needs environment_tag: the tag whose value this is",
            "15:environment[2].costs.budget.aws_name: is read with the measured costs: add [environment.costs.aws] (service_tag) to this environment, or write the budget here with monthly and alerts",
            "15:environment[2].costs.budget.account_id: must be the 12-digit AWS account id that holds the budget",
        ]
    );
}

#[test]
fn freeze_windows_are_checked_with_their_lines() {
    assert_eq!(
        errors(
            r#"
[[environment]]
name = "production"
docker = {}

[[freeze]]
name = "weekend"
environments = ["prod"]
reason = "quiet"
schedule = "0 16 * fri"
duration = "0h"
time_zone = "Europe/Berlinn"

[[freeze]]
name = "holidays"
environments = ["production"]
reason = "code freeze"
dates = [{ from = "Dec 23", to = "2026-12-31" }, { from = "2026-12-23", to = "2026-12-20 00:00" }]
"#
        ),
        [
            "8:freeze[0].environments: there is no environment `prod`",
            "10:freeze[0].schedule: `0 16 * fri` has 4 fields; write five: minute hour day-of-month month day-of-week (e.g. \"0 16 * * fri\")",
            "11:freeze[0].duration: `0h` must be longer than zero",
            "12:freeze[0].time_zone: `Europe/Berlinn` is not a time zone; write one like \"Europe/Berlin\"",
            "18:freeze[1].dates[0].from: `Dec 23` is not a date and time; write \"2026-12-23 00:00\"",
            "18:freeze[1].dates[1].to: must be after from",
        ]
    );
}

#[test]
fn approvals_are_checked_with_their_lines() {
    assert_eq!(
        errors(
            r#"
[[environment]]
name = "staging"
approval_timeout = "2h"
docker = {}

[[environment]]
name = "production"
approvals = 9
approval_timeout = "0s"
docker = {}

[[environment]]
name = "qa"
approvals = 1
approval_timeout = "30d"
docker = {}
"#
        ),
        [
            "4:environment[0].approval_timeout: is set, but approvals is not: add approvals = 1 or remove it",
            "9:environment[1].approvals: must be 0 to 5 (releasers other than the requester)",
            "10:environment[1].approval_timeout: `0s` must be longer than zero",
            "16:environment[2].approval_timeout: must be at most 7d",
        ]
    );
    let config = Config::parse(
        Path::new("t.toml"),
        "[[environment]]\nname = \"production\"\napprovals = 1\ndocker = {}\n",
    )
    .unwrap();
    assert_eq!(config.environments[0].approvals, 1);
    assert_eq!(
        config.environments[0].approval_timeout,
        Duration::from_secs(4 * 3600),
        "four hours unless said"
    );
}

#[test]
fn notify_targets_are_checked_with_their_lines_and_never_repeat_a_secret() {
    let text = r#"
[[environment]]
name = "production"
docker = {}

[[notify]]
name = "chat"
url = "hooks.example/T000/secret-path"
format = "teams"
events = ["deploy.*", "deploy.exploded"]
environments = ["prod"]

[[notify]]
name = "hook"
url_env = "NOT_SET_ANYWHERE"
format = "webhook"

[[notify]]
name = "chat"
url_env = "CHAT_URL"
secret_env = "CHAT_SECRET"
"#;
    let found: Vec<String> = Config::parse_with_env(Path::new("t.toml"), text, &|name| {
        (name == "CHAT_URL").then(|| "https://chat.example/hook".to_owned())
    })
    .expect_err("refused")
    .0
    .into_iter()
    .map(|e| format!("{}:{}: {}", e.line, e.key, e.message))
    .collect();
    assert_eq!(
        found,
        [
            "8:notify[0].url: is not an http or https URL (its value is not repeated here: it is a secret)",
            "9:notify[0].format: `teams` is not a format: write \"slack\" or \"webhook\"",
            "10:notify[0].events: `deploy.exploded` is no event; there are: deploy.requested, deploy.started, deploy.succeeded, deploy.failed, deploy.rolled_back, deploy.interrupted, health.unhealthy, health.degraded, health.recovered, incident.declared, incident.noted, incident.resolved, approval.requested, approval.approved, approval.rejected, approval.expired, freeze.overridden, budget.crossed (or a family like \"deploy.*\")",
            "11:notify[0].environments: there is no environment `prod`",
            "13:notify[1].secret_env: a webhook is signed: name the environment variable that holds its secret",
            "15:notify[1].url_env: the environment variable `NOT_SET_ANYWHERE` is not set",
            "19:notify[2].name: a target named `chat` is declared twice",
            "21:notify[2].secret_env: only a format = \"webhook\" target is signed",
        ]
    );
    assert!(
        found.iter().all(|e| !e.contains("secret-path")),
        "a URL is never repeated"
    );
}

#[test]
fn logs_settings_are_read_and_a_bad_pattern_is_refused_without_repeating_it() {
    let config = parse(&format!(
        "{MINIMAL}logs_for_viewers = true\n\n[logs]\nmax_follows = 8\nmax_follows_per_person = 2\nredact = ['card=(?P<secret>\\d+)']\n"
    ))
    .unwrap();
    assert_eq!(config.logs.max_follows, 8);
    assert_eq!(config.logs.max_follows_per_person, 2);
    assert_eq!(config.logs.redact[0].0.as_str(), r"card=(?P<secret>\d+)");
    assert!(config.environments[0].logs_for_viewers);
    // By default logs are for deployers, with the built-in limits.
    let plain = parse(MINIMAL).unwrap();
    assert!(!plain.environments[0].logs_for_viewers);
    assert_eq!(plain.logs, LogSettings::default());

    let refused = errors(&format!(
        "{MINIMAL}\n[logs]\nmax_follows = 0\nredact = ['ok', 'key=(sk-live-1234']\n"
    ));
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[0].starts_with("7:logs.max_follows: must be a whole number"),
        "{refused:?}"
    );
    assert!(
        refused[1].starts_with("8:logs.redact: is not a regular expression: "),
        "{refused:?}"
    );
    assert!(!refused[1].contains("sk-live-1234"), "{refused:?}");
}
