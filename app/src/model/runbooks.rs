//! Runbooks as the pages show them: the list (filtered or searched), one runbook, and what is
//! wrong with the files.

use serde::{Deserialize, Serialize};

use super::{DeployKind, EnvName, HealthNow, LogQuery, Role, ServiceName};

/// What the list and the service page show of a runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookSummary {
    /// Its address: `/runbooks/{slug}`.
    pub slug: String,
    pub title: String,
    pub services: Vec<ServiceName>,
    /// Empty: every environment.
    pub environments: Vec<EnvName>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`, when the front matter says.
    pub reviewed: Option<String>,
    /// Past its review period, or never reviewed.
    pub stale: bool,
}

/// A piece of a search result's snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    pub text: String,
    /// One of the words searched for (shown highlighted).
    pub matched: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookEntry {
    pub runbook: RunbookSummary,
    /// Empty unless the list answers a search.
    pub snippet: Vec<SnippetPart>,
}

/// A link to a runbook kept elsewhere (`[[service.runbook]]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRunbook {
    pub service: ServiceName,
    pub title: String,
    /// Always http or https (checked when the configuration is read).
    pub url: String,
}

/// `/runbooks`: every runbook, or those that match a search, a service or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookList {
    /// The search, as typed; empty when the list is not a search.
    pub query: String,
    pub service: Option<ServiceName>,
    pub tag: Option<String>,
    /// Best match first for a search (the best 50 only), else by title.
    pub entries: Vec<RunbookEntry>,
    /// How many matched, shown or not.
    pub matched: usize,
    /// How long the search took on the server, in microseconds (shown, as search engines do).
    pub search_micros: Option<u64>,
    /// The links kept elsewhere, for the same service filter (none for a search).
    pub external: Vec<ExternalRunbook>,
    /// Every runbook, before filtering.
    pub total: usize,
    /// Every service and tag that has a runbook, for the filters.
    pub services: Vec<ServiceName>,
    pub tags: Vec<String>,
    /// Runbook files that cannot be read now (their last good version is still listed).
    pub problems: usize,
}

/// An entry of a runbook's table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TocEntry {
    pub level: u8,
    pub text: String,
    /// The heading's element id.
    pub id: String,
}

/// A piece of a runbook's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunbookPart {
    /// Sanitized on the server (see the server's `runbooks::render`): safe to put in the page.
    Html(String),
    /// The service's health in every environment, live.
    Health {
        service: ServiceName,
    },
    Action(ActionBlockView),
    /// A `flightdeck-logs` block: the lines are loaded by the page (the reader's role decides).
    Logs {
        service: ServiceName,
        environment: EnvName,
        query: LogQuery,
    },
}

/// A `flightdeck-action` block, for the caller: what it would change and whether they may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionBlockView {
    /// Deploy, rollback or restart.
    pub kind: DeployKind,
    pub service: ServiceName,
    pub environment: EnvName,
    pub protected: bool,
    /// The caller's role allows it (the server checks again when it is used).
    pub allowed: bool,
    /// The least role that may.
    pub needs: Role,
    /// The version the console last saw running there.
    pub now: Option<String>,
    /// What will run after: the deploy's version, the release a rollback goes back to (none
    /// when there is no earlier one), what runs for a restart.
    pub to: Option<String>,
    /// The idempotency key of this block's form.
    pub form_key: String,
    /// A deploy already under way there (it holds the lock).
    pub in_progress: Option<i64>,
    /// What a rollback does to the monthly estimate when it changes the task size
    /// ("+$12.41 a month: 0.5 → 1 vCPU"); `None` when it does not.
    pub cost_change: Option<String>,
}

/// `/runbooks/{slug}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunbookPage {
    pub runbook: RunbookSummary,
    pub parts: Vec<RunbookPart>,
    pub toc: Vec<TocEntry>,
    /// From `[runbooks] edit_url`.
    pub edit_url: Option<String>,
    /// Its services' (and its blocks' services') health now, in every environment they run in.
    pub health: HealthNow,
}

/// One thing wrong with the runbook files, as `file:line:column: key: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookProblem(pub String);
