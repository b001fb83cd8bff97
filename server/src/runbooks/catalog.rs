//! The runbooks the console serves, kept current without a restart: read at start, then
//! looked at again every second by a background loop. A changed file is read again; a file
//! that now has a problem keeps its last good version readable while the problem is reported
//! (in the log, and to whoever asks for [`Catalog::problems`]); a removed file goes.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use tokio_util::sync::CancellationToken;

use super::{
    Runbook, markdown_files, problem, read_one,
    search::{Found, Index},
};
use crate::config::{Config, ConfigError};

/// How often the directory is looked at: an edit is live within this and a read.
const LOOK_EVERY: Duration = Duration::from_secs(1);

pub struct Catalog {
    config: Arc<Config>,
    state: RwLock<State>,
    /// Counts the refreshes that changed something, for whoever waits for a change.
    changes: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// The last good version of each file, by its path below the directory.
    good: BTreeMap<String, Arc<Runbook>>,
    /// The search index of the runbooks served, rebuilt when any changes.
    index: Arc<Index>,
    /// The problems of each file's current version, by path.
    problems: BTreeMap<String, Vec<ConfigError>>,
    /// Each file's modification time and size when it was last read.
    seen: HashMap<String, (Option<SystemTime>, u64)>,
    /// The directory itself could not be read.
    unreadable: Option<ConfigError>,
}

impl Catalog {
    /// Reads every runbook now. Without `[runbooks]` the catalog stays empty.
    pub fn new(config: Arc<Config>) -> Self {
        let catalog = Self {
            config,
            state: RwLock::new(State::default()),
            changes: tokio::sync::watch::Sender::new(0),
        };
        catalog.refresh();
        catalog
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads what changed since the last look; says whether anything did.
    pub fn refresh(&self) -> bool {
        let Some(settings) = &self.config.runbooks else {
            return false;
        };
        let mut files = Vec::new();
        let listed = markdown_files(&settings.dir, &mut files);
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = listed {
            let unreadable = problem(
                &settings.dir,
                format!("cannot read the runbooks directory: {e}"),
            );
            let changed = state.unreadable.as_ref() != Some(&unreadable);
            if changed {
                tracing::warn!("{unreadable}");
            }
            // What was read before stays readable: a directory on a share that went away.
            state.unreadable = Some(unreadable);
            if changed {
                drop(state);
                self.changes.send_modify(|n| *n += 1);
            }
            return changed;
        }
        let mut changed = state.unreadable.take().is_some();
        let mut present = Vec::new();
        for file in files {
            let relative = file
                .strip_prefix(&settings.dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            present.push(relative.clone());
            let stamp = std::fs::metadata(&file)
                .map(|m| (m.modified().ok(), m.len()))
                .unwrap_or((None, 0));
            if state.seen.get(&relative) == Some(&stamp) {
                continue;
            }
            changed = true;
            state.seen.insert(relative.clone(), stamp);
            match read_one(&file, &relative, &self.config) {
                Ok(runbook) => {
                    tracing::info!(path = %relative, "runbook read");
                    state.problems.remove(&relative);
                    state.good.insert(relative, Arc::new(runbook));
                }
                Err(errors) => {
                    for e in &errors.0 {
                        tracing::warn!("{e}");
                    }
                    state.problems.insert(relative, errors.0);
                }
            }
        }
        let State {
            good,
            problems,
            seen,
            ..
        } = &mut *state;
        for gone in seen
            .keys()
            .filter(|p| !present.contains(p))
            .cloned()
            .collect::<Vec<_>>()
        {
            tracing::info!(path = %gone, "runbook removed");
            seen.remove(&gone);
            good.remove(&gone);
            problems.remove(&gone);
            changed = true;
        }
        if changed {
            state.index = Arc::new(Index::new(served(&state.good)));
            drop(state);
            self.changes.send_modify(|n| *n += 1);
        }
        changed
    }

    /// Wakes on every refresh that changed what is served or what is wrong.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The count of refreshes that changed what is served or what is wrong.
    pub fn generation(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Every runbook that can be read, by path; of two with the same address, the first.
    pub fn runbooks(&self) -> Vec<Arc<Runbook>> {
        served(&self.read().good)
    }

    /// The runbook at `/runbooks/{slug}`: the first by path with that address.
    pub fn runbook(&self, slug: &str) -> Option<Arc<Runbook>> {
        self.read().good.values().find(|r| r.slug == slug).cloned()
    }

    /// The runbooks that match every word of `query`, best first (see [`super::search`]).
    pub fn search(&self, query: &str, limit: usize, keep: impl Fn(&Runbook) -> bool) -> Found {
        let index = self.read().index.clone();
        index.search(query, limit, keep)
    }

    /// What is wrong now: the directory, each file that cannot be read (whose last good
    /// version, if any, is still served), and addresses two files would share.
    pub fn problems(&self) -> Vec<ConfigError> {
        let state = self.read();
        let mut out: Vec<ConfigError> = state.unreadable.iter().cloned().collect();
        out.extend(state.problems.values().flatten().cloned());
        let mut taken: HashMap<&str, &str> = HashMap::new();
        for r in state.good.values() {
            let first = *taken.entry(r.slug.as_str()).or_insert(r.path.as_str());
            if first != r.path {
                let dir = self.config.runbooks.as_ref().map(|s| s.dir.join(&r.path));
                out.push(problem(
                    dir.as_deref().unwrap_or(std::path::Path::new(&r.path)),
                    format!(
                        "its address /runbooks/{} is taken by {first}; rename one of them",
                        r.slug
                    ),
                ));
            }
        }
        out
    }

    /// The background loop: looks at the directory every second until shutdown.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        if self.config.runbooks.is_none() {
            return;
        }
        // `new` has just read them: the first look is one period from now.
        let mut looks =
            tokio::time::interval_at(tokio::time::Instant::now() + LOOK_EVERY, LOOK_EVERY);
        looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = looks.tick() => {}
            }
            let this = self.clone();
            // File reads block: off the async workers.
            if let Err(e) = tokio::task::spawn_blocking(move || this.refresh()).await {
                tracing::error!(error = %e, "reading the runbooks failed");
            }
        }
    }
}

/// Of two files with the same address, the first by path is served.
fn served(good: &BTreeMap<String, Arc<Runbook>>) -> Vec<Arc<Runbook>> {
    let mut taken: HashMap<&str, &str> = HashMap::new();
    good.values()
        .filter(|r| *taken.entry(r.slug.as_str()).or_insert(r.path.as_str()) == r.path)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn write(dir: &Path, path: &str, title: &str, services: &str) {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            file,
            format!("+++\ntitle = \"{title}\"\nservices = [{services}]\n+++\n# {title}\n"),
        )
        .unwrap();
    }

    fn titles(catalog: &Catalog) -> Vec<String> {
        catalog
            .runbooks()
            .into_iter()
            .map(|r| r.front.title.clone())
            .collect()
    }

    #[test]
    fn edits_are_picked_up_and_a_broken_edit_keeps_the_last_good_version() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[runbooks]\ndir = \"{}\"\n\n[[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
             [[service]]\nname = \"shop\"\ntargets.dev = {{ container = \"shop\" }}\n",
            dir.path().display()
        );
        let config = Arc::new(Config::parse(Path::new("flightdeck.toml"), &text).unwrap());
        write(dir.path(), "restart.md", "Restart", "\"shop\"");
        let catalog = Catalog::new(config);
        assert_eq!(titles(&catalog), ["Restart"]);
        assert!(!catalog.refresh(), "nothing changed");

        // Edited (the size changes with the title, so the change is seen at once).
        write(dir.path(), "restart.md", "Restart the shop", "\"shop\"");
        assert!(catalog.refresh());
        assert_eq!(titles(&catalog), ["Restart the shop"]);
        assert_eq!(
            catalog.runbook("restart").unwrap().front.title,
            "Restart the shop"
        );

        // Broken: the last good version is still served, and the problem says where.
        write(
            dir.path(),
            "restart.md",
            "Restart the shop",
            "\"shop\", \"nope\"",
        );
        assert!(catalog.refresh());
        assert_eq!(titles(&catalog), ["Restart the shop"]);
        let problems: Vec<String> = catalog.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("restart.md:3:21: services: no service `nope`"),
            "{problems:?}"
        );

        // Fixed, a second one added with an address already taken, then the first removed.
        write(dir.path(), "restart.md", "Restart", "\"shop\"");
        write(dir.path(), "old/restart.md", "Older restart", "\"shop\"");
        assert!(catalog.refresh());
        assert_eq!(titles(&catalog), ["Older restart"], "old/ sorts first");
        let problems: Vec<String> = catalog.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("its address /runbooks/restart is taken by old/restart.md"),
            "{problems:?}"
        );
        std::fs::remove_file(dir.path().join("old/restart.md")).unwrap();
        assert!(catalog.refresh());
        assert_eq!(titles(&catalog), ["Restart"]);
        assert!(catalog.problems().is_empty());
    }
}
