//! What a promotion would change, worked out before anyone confirms it: how far the target is
//! behind the source, and which settings differ between them as the backend sees them.

use flightdeck_app::model::{DeployState, Lag, RunningRelease, SettingDifference};

use crate::{backend::RuntimeSettings, store::DeploymentRecord, store::Release};

/// Whether a recorded release is the one running: the same digest when both have one, else
/// the same image reference.
fn is_running(recorded: &Release, running: &RunningRelease) -> bool {
    match (&recorded.digest, &running.digest) {
        (Some(a), Some(b)) => a == b,
        _ => recorded.image == running.image,
    }
}

/// How far `target` is behind `source`, from the source's deploys (newest first): the versions
/// it ran successfully after the one the target runs. `None` when the history does not reach
/// the target's release (it was never deployed to the source through the console, or too
/// long ago).
pub fn lag_from_history(
    source_history: &[DeploymentRecord],
    source: &RunningRelease,
    target: &RunningRelease,
) -> Option<Lag> {
    if source.exact() == target.exact() {
        return Some(Lag::Same);
    }
    let mut versions = vec![source.version.clone()];
    for job in source_history
        .iter()
        .filter(|j| j.state == DeployState::Succeeded)
    {
        if is_running(&job.release, target) {
            return Some(Lag::Behind { versions });
        }
        if !versions.contains(&job.release.version) {
            versions.push(job.release.version.clone());
        }
    }
    None
}

/// The same question from version numbers, for a target whose release never went through the
/// source's history: the releases the backend knows (images on the host, for Docker) whose
/// version lies between the two. Behind when the source's version is the higher, ahead
/// (promoting goes back) when it is the lower. `None` unless both versions are plain dotted
/// numbers (`1.4.2`, `v2`): image creation times are too coarse and too easily rebuilt to
/// order releases by.
pub fn lag_from_versions(
    releases: &[Release],
    source: &RunningRelease,
    target: &RunningRelease,
) -> Option<Lag> {
    let (s, t) = (version_key(&source.version)?, version_key(&target.version)?);
    let between = |low: &[u64], high: &[u64]| {
        let mut found: Vec<(Vec<u64>, String)> = releases
            .iter()
            .filter_map(|r| Some((version_key(&r.version)?, r.version.clone())))
            .filter(|(k, _)| k.as_slice() > low && k.as_slice() <= high)
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0));
        found.dedup_by(|a, b| a.0 == b.0);
        found.into_iter().map(|(_, v)| v).collect::<Vec<_>>()
    };
    match s.cmp(&t) {
        // The same version number on different images says nothing about which is newer.
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => {
            let mut versions = between(&t, &s);
            if versions.first() != Some(&source.version) {
                versions.insert(0, source.version.clone());
            }
            Some(Lag::Behind { versions })
        }
        std::cmp::Ordering::Less => {
            let mut versions = between(&s, &t);
            if versions.first() != Some(&target.version) {
                versions.insert(0, target.version.clone());
            }
            Some(Lag::Ahead { versions })
        }
    }
}

/// `v1.4.2` → `[1, 4, 2]`; `None` for anything but dotted numbers (build suffixes after `+`
/// are ignored; a pre-release after `-` is not a plain number, so it is `None`).
fn version_key(version: &str) -> Option<Vec<u64>> {
    let plain = version.trim_start_matches('v').split('+').next()?;
    plain.split('.').map(|part| part.parse().ok()).collect()
}

/// Every setting that is not the same in both: environment variable names and ports present
/// in one only, resource limits with different values.
pub fn differences(source: &RuntimeSettings, target: &RuntimeSettings) -> Vec<SettingDifference> {
    let mut out = Vec::new();
    let mut presence = |kind: &str,
                        a: &std::collections::BTreeSet<String>,
                        b: &std::collections::BTreeSet<String>| {
        for name in a.symmetric_difference(b) {
            let set = |side: &std::collections::BTreeSet<String>| {
                side.contains(name).then(|| "set".to_owned())
            };
            out.push(SettingDifference {
                kind: kind.to_owned(),
                name: name.clone(),
                source: set(a),
                target: set(b),
            });
        }
    };
    presence("environment variable", &source.env_names, &target.env_names);
    presence("port", &source.ports, &target.ports);
    let names: std::collections::BTreeSet<&String> = source
        .resources
        .keys()
        .chain(target.resources.keys())
        .collect();
    for name in names {
        let (a, b) = (source.resources.get(name), target.resources.get(name));
        if a != b {
            out.push(SettingDifference {
                kind: "resource".to_owned(),
                name: name.clone(),
                source: a.cloned(),
                target: b.cloned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{DeployKind, EnvName, ServiceName, Timestamp};

    use super::*;

    fn running(version: &str, digest: &str) -> RunningRelease {
        RunningRelease {
            version: version.to_owned(),
            image: format!("shop:{version}"),
            digest: Some(digest.to_owned()),
            running: true,
            started_at: None,
        }
    }

    fn release(version: &str, digest: &str) -> Release {
        Release {
            version: version.to_owned(),
            image: format!("shop:{version}"),
            digest: Some(digest.to_owned()),
        }
    }

    fn job(version: &str, digest: &str, state: DeployState) -> DeploymentRecord {
        DeploymentRecord {
            id: 1,
            environment: EnvName::parse("staging").unwrap(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Deploy,
            release: release(version, digest),
            promoted_from: None,
            previous: None,
            state,
            reason: String::new(),
            requested_by: "ada".to_owned(),
            requester: "ada".into(),
            approval: None,
            idempotency_key: String::new(),
            created_at: Timestamp::from_unix_millis(0),
            started_at: None,
            finished_at: None,
            heartbeat_at: None,
        }
    }

    #[test]
    fn the_versions_the_source_ran_since_the_target_release_are_how_far_behind() {
        let history = [
            job("1.3.0", "d3", DeployState::Succeeded),
            job("1.2.5", "d25", DeployState::RolledBack),
            job("1.2.0", "d2", DeployState::Succeeded),
            job("1.1.0", "d1", DeployState::Succeeded),
            job("1.0.0", "d0", DeployState::Succeeded),
        ];
        let lag = lag_from_history(&history, &running("1.3.0", "d3"), &running("1.1.0", "d1"));
        assert_eq!(
            lag,
            Some(Lag::Behind {
                versions: vec!["1.3.0".into(), "1.2.0".into()]
            }),
            "a rolled-back deploy is not a release the target misses"
        );
        assert_eq!(
            lag_from_history(&history, &running("1.3.0", "d3"), &running("1.3.0", "d3")),
            Some(Lag::Same)
        );
        assert_eq!(
            lag_from_history(&history, &running("1.3.0", "d3"), &running("0.9.0", "d9")),
            None,
            "a release the history does not reach"
        );
    }

    #[test]
    fn version_numbers_tell_behind_from_ahead_whatever_the_listing_order() {
        let releases = [
            release("1.2.0", "b"),
            release("1.10.0", "d"),
            release("1.0.0", "a"),
            release("1.9.1", "c"),
        ];
        assert_eq!(
            lag_from_versions(&releases, &running("1.10.0", "d"), &running("1.2.0", "b")),
            Some(Lag::Behind {
                versions: vec!["1.10.0".into(), "1.9.1".into()]
            }),
            "1.10.0 is newer than 1.9.1 (numbers, not text)"
        );
        assert_eq!(
            lag_from_versions(&releases, &running("1.0.0", "a"), &running("1.9.1", "c")),
            Some(Lag::Ahead {
                versions: vec!["1.9.1".into(), "1.2.0".into()]
            }),
            "promoting would go back"
        );
        assert_eq!(
            lag_from_versions(&[], &running("v3", "x"), &running("v2", "y")),
            Some(Lag::Behind {
                versions: vec!["v3".into()]
            }),
            "the source's own version counts even when the backend does not list it"
        );
        assert_eq!(
            lag_from_versions(
                &releases,
                &running("main-abc123", "e"),
                &running("1.0.0", "a")
            ),
            None,
            "a version that is not a number"
        );
        assert_eq!(
            lag_from_versions(
                &releases,
                &running("2.0.0-rc.1", "f"),
                &running("1.0.0", "a")
            ),
            None
        );
    }

    #[test]
    fn differences_name_what_only_one_side_has_and_differing_limits() {
        let settings = |env: &[&str], ports: &[&str], memory: &str| RuntimeSettings {
            env_names: env.iter().map(|s| (*s).to_owned()).collect(),
            ports: ports.iter().map(|s| (*s).to_owned()).collect(),
            resources: [("memory".to_owned(), memory.to_owned())].into(),
        };
        let staging = settings(&["DB_URL", "FEATURE_X"], &["8080/tcp"], "512 MiB");
        let production = settings(&["DB_URL", "LEGACY"], &["8080/tcp"], "no limit");
        let found = differences(&staging, &production);
        let show: Vec<(String, String, Option<String>, Option<String>)> = found
            .into_iter()
            .map(|d| (d.kind, d.name, d.source, d.target))
            .collect();
        assert_eq!(
            show,
            vec![
                (
                    "environment variable".into(),
                    "FEATURE_X".into(),
                    Some("set".into()),
                    None
                ),
                (
                    "environment variable".into(),
                    "LEGACY".into(),
                    None,
                    Some("set".into())
                ),
                (
                    "resource".into(),
                    "memory".into(),
                    Some("512 MiB".into()),
                    Some("no limit".into())
                ),
            ]
        );
        assert!(differences(&staging, &staging).is_empty());
    }
}
