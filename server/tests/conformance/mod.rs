//! The backend conformance suite: what every [`Backend`] must do, whatever it runs on. Each
//! implementation's test file sets up a target running release 1 with releases 2 and 3
//! available, and calls [`run`].

use flightdeck::{
    backend::{Backend, BackendError, LogRequest},
    config::TargetKind,
    store::Release,
};
use flightdeck_app::model::HealthState;

pub struct Fixture<'a> {
    pub backend: &'a dyn Backend,
    /// Runs release 1.
    pub target: TargetKind,
    /// Does not exist.
    pub missing: TargetKind,
    pub v1: Release,
    pub v2: Release,
    /// A release that cannot be had.
    pub unavailable: Release,
    /// Whether the backend really runs tasks. moto (ECS) never starts any, so a running
    /// instance cannot be asserted there.
    pub runs_tasks: bool,
    /// Whether the backend can tell before a switch that a release cannot be had. Docker asks
    /// the engine and the registry; ECS learns it only when its tasks fail to pull, which the
    /// rollout reports.
    pub checks_images: bool,
    /// What [`Backend::pullable`] must say for release 1: the registry-pinned reference, or
    /// `None` for an image that no registry digest pins (built on the test host).
    pub v1_pullable: Option<String>,
}

fn quiet(_: String) {}

pub async fn run(f: &Fixture<'_>) {
    live_state_is_read_from_the_backend(f).await;
    the_footprint_is_what_prices_the_target(f).await;
    an_observation_says_what_runs_and_how_it_is(f).await;
    releases_list_what_can_run(f).await;
    settings_are_read_without_values(f).await;
    switch_and_restore(f).await;
    a_restart_starts_the_same_release_again(f).await;
    if f.checks_images {
        an_unavailable_release_changes_nothing(f).await;
    }
    a_missing_target_is_named(f).await;
    the_pullable_reference_is_exact(f).await;
    logs_are_read_from_what_runs(f).await;
}

/// What the health monitor reads each round: the release running and the backend's verdict,
/// with a reason whenever it is short of healthy, and a missing target as down with its name.
async fn an_observation_says_what_runs_and_how_it_is(f: &Fixture<'_>) {
    let seen = f.backend.observe(&f.target).await.unwrap();
    let release = seen.release.expect("the target exists");
    assert_eq!(release.version, f.v1.version);
    assert_eq!(release.image, f.v1.image);
    if f.runs_tasks {
        // Up, and maybe still in its own HEALTHCHECK's start period.
        assert!(
            matches!(seen.state, HealthState::Healthy | HealthState::Degraded),
            "{:?}: {}",
            seen.state,
            seen.reason
        );
    } else {
        assert_ne!(seen.state, HealthState::Unknown);
    }
    assert_eq!(
        seen.state == HealthState::Healthy,
        seen.reason.is_empty(),
        "a state short of healthy says why, and only then: {:?} {:?}",
        seen.state,
        seen.reason
    );
    let gone = f.backend.observe(&f.missing).await.unwrap();
    assert_eq!(gone.release, None);
    assert_eq!(gone.state, HealthState::Unhealthy);
    assert!(
        gone.reason.contains(f.missing.label()),
        "names the missing target: {}",
        gone.reason
    );
}

/// What a promotion to a backend that pulls by reference (ECS) is pinned to.
async fn the_pullable_reference_is_exact(f: &Fixture<'_>) {
    assert_eq!(
        f.backend.pullable(&f.target, &f.v1).await.unwrap(),
        f.v1_pullable
    );
}

async fn live_state_is_read_from_the_backend(f: &Fixture<'_>) {
    let live = f
        .backend
        .live(&f.target)
        .await
        .unwrap()
        .expect("the target exists");
    assert_eq!(live.release.version, f.v1.version);
    assert_eq!(live.release.image, f.v1.image);
    assert!(live.running || !f.runs_tasks);
    assert!(live.release.digest.is_some(), "an exact digest is reported");
    assert_eq!(f.backend.live(&f.missing).await.unwrap(), None);
}

/// What a promotion preview compares: the target's settings are read, a missing target has
/// none, and environment variables come as names, never with their values.
async fn settings_are_read_without_values(f: &Fixture<'_>) {
    let settings = f
        .backend
        .settings(&f.target)
        .await
        .unwrap()
        .expect("the target exists");
    assert!(
        settings.env_names.iter().all(|n| !n.contains('=')),
        "names only: {:?}",
        settings.env_names
    );
    assert!(
        !settings.resources.is_empty(),
        "resource limits are reported, set or not"
    );
    assert_eq!(f.backend.settings(&f.missing).await.unwrap(), None);
}

async fn releases_list_what_can_run(f: &Fixture<'_>) {
    let releases = f.backend.releases(&f.target).await.unwrap();
    let versions: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
    for wanted in [&f.v1.version, &f.v2.version] {
        assert!(
            versions.contains(&wanted.as_str()),
            "{wanted} in {versions:?}"
        );
    }
}

async fn switch_and_restore(f: &Fixture<'_>) {
    let steps = std::sync::Mutex::new(Vec::new());
    let record = |s: String| steps.lock().unwrap().push(s);
    let switched = f.backend.switch(&f.target, &f.v2, &record).await.unwrap();
    assert_eq!(switched.previous.version, f.v1.version);
    assert!(!steps.lock().unwrap().is_empty(), "progress is reported");
    let live = f.backend.live(&f.target).await.unwrap().unwrap();
    assert_eq!(live.release.version, f.v2.version);
    assert_eq!(live.release.digest, f.v2.digest);
    assert!(live.running || !f.runs_tasks);

    f.backend
        .restore(&f.target, &switched, &quiet)
        .await
        .unwrap();
    let live = f.backend.live(&f.target).await.unwrap().unwrap();
    assert_eq!(
        live.release.version, f.v1.version,
        "restore brings back what ran"
    );
    assert!(live.running || !f.runs_tasks);
}

/// What a cost estimate needs: the target's sizes or limits; nothing for a missing target.
async fn the_footprint_is_what_prices_the_target(f: &Fixture<'_>) {
    // Which kind depends on how the target was made (an ECS service without a launch type
    // runs on EC2); each adapter's own tests check the figures.
    let footprint = f.backend.footprint(&f.target).await.unwrap();
    assert!(footprint.is_some(), "an existing target has a footprint");
    assert_eq!(f.backend.footprint(&f.missing).await.unwrap(), None);
}

/// A restart runs what ran before, started anew; a missing target is named.
async fn a_restart_starts_the_same_release_again(f: &Fixture<'_>) {
    let before = f.backend.live(&f.target).await.unwrap().unwrap();
    let steps = std::sync::Mutex::new(Vec::new());
    let record = |s: String| steps.lock().unwrap().push(s);
    let restarted = f.backend.restart(&f.target, &record).await.unwrap();
    assert_eq!(restarted.version, f.v1.version);
    assert_eq!(restarted.image, before.release.image);
    assert!(!steps.lock().unwrap().is_empty(), "progress is reported");
    let after = f.backend.live(&f.target).await.unwrap().unwrap();
    assert_eq!(after.release, before.release, "the same release runs");
    if f.runs_tasks {
        assert!(after.running);
        assert_ne!(after.started_at, before.started_at, "it was started again");
    }
    let refused = f.backend.restart(&f.missing, &quiet).await.unwrap_err();
    assert!(matches!(refused, BackendError::NotFound(_)), "{refused:?}");
}

async fn an_unavailable_release_changes_nothing(f: &Fixture<'_>) {
    let refused = f
        .backend
        .switch(&f.target, &f.unavailable, &quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, BackendError::ReleaseUnavailable(_)),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains(&f.unavailable.image),
        "the message names the image: {refused}"
    );
    let live = f.backend.live(&f.target).await.unwrap().unwrap();
    assert_eq!(live.release.version, f.v1.version);
    assert!(
        live.running || !f.runs_tasks,
        "the last good version keeps running"
    );
}

async fn a_missing_target_is_named(f: &Fixture<'_>) {
    let refused = f
        .backend
        .switch(&f.missing, &f.v2, &quiet)
        .await
        .unwrap_err();
    assert!(matches!(refused, BackendError::NotFound(_)), "{refused:?}");
}

/// Logs: a read of what runs answers (lines, or none yet, with what was read), and a missing
/// target is named. The lines themselves are each backend's own test (a container's outputs,
/// CloudWatch Logs on moto).
async fn logs_are_read_from_what_runs(f: &Fixture<'_>) {
    let request = LogRequest {
        since: None,
        until: None,
        tail: 10,
        previous: false,
    };
    let read = f.backend.logs(&f.target, &request).await;
    match read {
        Ok(batch) => {
            assert!(!batch.source.is_empty());
            assert!(batch.lines.len() <= 10, "at most the tail: {batch:?}");
            assert!(
                batch.lines.windows(2).all(|w| w[0].at <= w[1].at),
                "oldest first: {batch:?}"
            );
        }
        // A service whose task definition sends its logs nowhere readable says why.
        Err(BackendError::Failed(why)) => assert!(why.contains("log"), "{why}"),
        Err(other) => panic!("{other:?}"),
    }
    let refused = f.backend.logs(&f.missing, &request).await.unwrap_err();
    assert!(matches!(refused, BackendError::NotFound(_)), "{refused:?}");
    let refused = f
        .backend
        .follow_logs(&f.missing, flightdeck_app::model::Timestamp::now())
        .await
        .err()
        .expect("no follow of a missing target");
    assert!(matches!(refused, BackendError::NotFound(_)), "{refused:?}");
}
