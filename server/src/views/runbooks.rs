//! The runbook pages: the list (all, by service or tag, or a search), one runbook with its
//! services' health, and what is wrong with the files. Also the link from a red cell of the
//! dashboard to the right runbook.

use std::collections::{BTreeSet, HashMap};

use flightdeck_app::{
    console::Caller,
    model::{
        Action, ActionBlockView, DeployKind, ExternalRunbook, HealthNow, LogQuery, Protection,
        RunbookEntry, RunbookList, RunbookPage, RunbookPart, RunbookProblem, RunbookSummary,
        ServiceName, SnippetPart, TargetHealth, Timestamp, TocEntry, permits,
    },
};

use super::{
    Views,
    deploys::{HISTORY_SHOWN, fresh_key, rollback_options},
};
use crate::{
    error::AppError,
    runbooks::{ActionBlock, Block, Runbook, Section, edit_url, is_stale, search::Hit},
    store::Release,
};

/// A search shows at most this many results: past them, a better query beats scrolling.
const MOST_RESULTS: usize = 50;
/// The tag filter offers the most used tags, at most this many (a list to choose from, not
/// an index of every word someone once used).
const MOST_TAGS: usize = 40;

impl Views {
    /// `/runbooks`, narrowed by a search (`query`), a service and a tag; empty strings narrow
    /// nothing.
    pub fn runbook_list(
        &self,
        query: &str,
        service: &str,
        tag: &str,
    ) -> Result<RunbookList, AppError> {
        let service = match service.trim() {
            "" => None,
            name => Some(
                self.config
                    .service(name)
                    .ok_or_else(|| {
                        AppError::NotFound(format!(
                            "There is no service named “{name}” in the configuration."
                        ))
                    })?
                    .name
                    .clone(),
            ),
        };
        let tag = Some(tag.trim().to_lowercase()).filter(|t| !t.is_empty());
        let all = self.runbooks.runbooks();
        let today = today();
        let wanted = |r: &Runbook| {
            service
                .as_ref()
                .is_none_or(|s| r.front.services.contains(s))
                && tag.as_ref().is_none_or(|t| r.front.tags.contains(t))
        };
        let query = query.trim().to_owned();
        let mut took = None;
        let (entries, matched): (Vec<RunbookEntry>, usize) = if query.is_empty() {
            let mut listed: Vec<&Runbook> = all
                .iter()
                .map(AsRef::as_ref)
                .filter(|r| wanted(r))
                .collect();
            listed.sort_by_cached_key(|r| r.front.title.to_lowercase());
            let entries: Vec<RunbookEntry> = listed
                .into_iter()
                .map(|r| RunbookEntry {
                    runbook: summary(r, today),
                    snippet: Vec::new(),
                })
                .collect();
            let matched = entries.len();
            (entries, matched)
        } else {
            let started = std::time::Instant::now();
            let found = self.runbooks.search(&query, MOST_RESULTS, wanted);
            took = Some(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
            let entries = found.hits.iter().map(|hit| entry(hit, today)).collect();
            (entries, found.matched)
        };
        let external = if query.is_empty() && tag.is_none() {
            self.config
                .services
                .iter()
                .filter(|s| service.as_ref().is_none_or(|name| *name == s.name))
                .flat_map(|s| {
                    s.runbooks.iter().map(|link| ExternalRunbook {
                        service: s.name.clone(),
                        title: link.title.clone(),
                        url: link.url.to_string(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let with_runbooks: BTreeSet<&ServiceName> =
            all.iter().flat_map(|r| &r.front.services).collect();
        let tags = tag_choices(&all, tag.as_deref());
        Ok(RunbookList {
            query,
            service,
            tag,
            entries,
            matched,
            search_micros: took,
            external,
            total: all.len(),
            // In the configuration's order, like the dashboard.
            services: self
                .config
                .services
                .iter()
                .filter(|s| with_runbooks.contains(&s.name))
                .map(|s| s.name.clone())
                .collect(),
            tags,
            problems: self.runbooks.problems().len(),
        })
    }

    /// `/runbooks/{slug}` for `caller` (whose role decides which action blocks are buttons);
    /// not found when no runbook has that address.
    pub async fn runbook_page(&self, caller: &Caller, slug: &str) -> Result<RunbookPage, AppError> {
        let runbook = self.runbooks.runbook(slug).ok_or_else(|| {
            AppError::NotFound(format!("There is no runbook at /runbooks/{slug}."))
        })?;
        let shown = runbook.health_services();
        let health: Vec<TargetHealth> = self
            .health
            .snapshot()
            .targets
            .iter()
            .filter(|t| shown.contains(&t.service))
            .cloned()
            .collect();
        let health = HealthNow {
            generated_at: Timestamp::now(),
            targets: health,
        };
        let mut parts = Vec::new();
        for section in &runbook.sections {
            parts.push(match section {
                Section::Html(html) => RunbookPart::Html(html.clone()),
                Section::Block(Block::Health { service }) => RunbookPart::Health {
                    service: service.clone(),
                },
                Section::Block(Block::Action(block)) => {
                    RunbookPart::Action(self.action_view(caller, block).await?)
                }
                // The lines are read by the page through the logs' own authorization and
                // audit, like the logs page's.
                Section::Block(Block::Logs(block)) => RunbookPart::Logs {
                    service: block.service.clone(),
                    environment: block.environment.clone(),
                    query: LogQuery {
                        filter: block.filter.clone(),
                        minutes: block.minutes,
                        until: None,
                        previous: false,
                    },
                },
            });
        }
        Ok(RunbookPage {
            runbook: summary(&runbook, today()),
            parts,
            toc: runbook
                .headings
                .iter()
                .map(|h| TocEntry {
                    level: h.level,
                    text: h.text.clone(),
                    id: h.id.clone(),
                })
                .collect(),
            edit_url: edit_url(&self.config, &runbook),
            health,
        })
    }

    /// An action block as `caller` sees it: what it would change, and whether they may.
    async fn action_view(
        &self,
        caller: &Caller,
        block: &ActionBlock,
    ) -> Result<ActionBlockView, AppError> {
        let protected = self
            .config
            .environment(&block.environment)
            .is_some_and(|e| e.protected);
        let protection = Protection::from_flag(protected);
        let action = match block.action {
            DeployKind::Rollback => Action::Rollback(protection),
            DeployKind::Restart => Action::Restart(protection),
            DeployKind::Deploy | DeployKind::Promote => Action::Deploy(protection),
        };
        let jobs = self
            .store
            .deployments_of(&block.environment, &block.service, HISTORY_SHOWN)
            .await?;
        let now = self
            .store
            .current_versions()
            .await?
            .into_iter()
            .find(|v| v.environment == block.environment && v.service == block.service)
            .map(|v| v.version);
        let back_to = rollback_options(&jobs).into_iter().next();
        let cost_change = match (&back_to, block.action) {
            (Some(option), DeployKind::Rollback) => {
                let release = Release {
                    version: option.version.clone(),
                    image: option.image.clone(),
                    digest: option.digest.clone(),
                };
                self.rollback_cost_changes(&block.environment, &block.service, &[release])
                    .await
                    .pop()
                    .flatten()
            }
            _ => None,
        };
        let to = match block.action {
            DeployKind::Rollback => back_to.map(|r| r.version),
            DeployKind::Restart => now.clone(),
            DeployKind::Deploy | DeployKind::Promote => block.version.clone(),
        };
        Ok(ActionBlockView {
            kind: block.action,
            service: block.service.clone(),
            environment: block.environment.clone(),
            protected,
            allowed: permits(caller.role, action),
            needs: action.required_role(),
            now,
            to,
            form_key: fresh_key(),
            in_progress: jobs.iter().find(|j| !j.state.is_final()).map(|j| j.id),
            cost_change,
        })
    }

    /// Every runbook in one self-contained HTML file (see [`crate::runbooks::export`]).
    pub fn runbook_export(&self) -> String {
        crate::runbooks::export::export_now(&self.config.console.title, &self.runbooks.runbooks())
    }

    /// Every file that cannot be read now, and why.
    pub fn runbook_problems(&self) -> Vec<RunbookProblem> {
        self.runbooks
            .problems()
            .into_iter()
            .map(|p| RunbookProblem(p.to_string()))
            .collect()
    }

    /// The runbooks of one service, by title, for its page.
    pub(super) fn runbooks_of(&self, service: &ServiceName) -> Vec<RunbookSummary> {
        let today = today();
        let mut found: Vec<RunbookSummary> = self
            .runbooks
            .runbooks()
            .iter()
            .filter(|r| r.front.services.contains(service))
            .map(|r| summary(r, today))
            .collect();
        found.sort_by_cached_key(|r| r.title.to_lowercase());
        found
    }

    /// Where a red cell of each service links: its one runbook, the list of its runbooks, or
    /// its page's links kept elsewhere; services with none are left out. One pass over the
    /// catalog for the whole dashboard.
    pub(super) fn runbook_links(&self) -> HashMap<ServiceName, String> {
        let all = self.runbooks.runbooks();
        let mut slugs: HashMap<&ServiceName, Vec<&str>> = HashMap::new();
        for r in &all {
            for service in &r.front.services {
                slugs.entry(service).or_default().push(&r.slug);
            }
        }
        self.config
            .services
            .iter()
            .filter_map(|s| {
                let name = &s.name;
                let href = match slugs.get(name).map(Vec::as_slice).unwrap_or_default() {
                    [one] => format!("/runbooks/{one}"),
                    // Service names are URL-safe by their rules.
                    [_, _, ..] => format!("/runbooks?service={name}"),
                    [] if !s.runbooks.is_empty() => format!("/services/{name}#runbooks"),
                    [] => return None,
                };
                Some((name.clone(), href))
            })
            .collect()
    }
}

/// The tags to offer, by name: the most used (ties by name), and `chosen` whatever its use.
fn tag_choices(runbooks: &[std::sync::Arc<Runbook>], chosen: Option<&str>) -> Vec<String> {
    let mut uses: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for tag in runbooks.iter().flat_map(|r| &r.front.tags) {
        *uses.entry(tag).or_insert(0) += 1;
    }
    let mut by_use: Vec<(&str, usize)> = uses.into_iter().collect();
    by_use.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut offered: BTreeSet<&str> = by_use.iter().take(MOST_TAGS).map(|(t, _)| *t).collect();
    offered.extend(chosen);
    offered.into_iter().map(str::to_owned).collect()
}

fn entry(hit: &Hit, today: time::Date) -> RunbookEntry {
    RunbookEntry {
        runbook: summary(&hit.runbook, today),
        snippet: hit
            .snippet
            .iter()
            .map(|f| SnippetPart {
                text: f.text.clone(),
                matched: f.matched,
            })
            .collect(),
    }
}

fn summary(runbook: &Runbook, today: time::Date) -> RunbookSummary {
    let front = &runbook.front;
    RunbookSummary {
        slug: runbook.slug.clone(),
        title: front.title.clone(),
        services: front.services.clone(),
        environments: front.environments.clone(),
        tags: front.tags.clone(),
        owner: front.owner.clone(),
        reviewed: front.reviewed.map(|d| d.to_string()),
        stale: is_stale(front.reviewed, front.review_every, today),
    }
}

/// The day in UTC, for the review state.
fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}
