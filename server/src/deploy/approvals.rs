//! Approvals, as rules: which requests wait for a second person, what a request then needs of
//! its requester, and who may approve or reject it. The engine keeps the waiting jobs
//! (`DeployEngine::decide`, `expire_approvals`); `DeployService` asks these rules first.

use flightdeck_app::{
    console::Caller,
    model::{Action, DeployKind, DeployState, Protection, permits},
};

use crate::{
    config::Environment,
    store::{DecisionRecord, DeploymentRecord},
};

/// How many approvals a request of `kind` into `env` needs. Only deploys and promotions wait:
/// rollbacks and restarts are how incidents end, so they never do.
pub fn required(env: &Environment, kind: DeployKind) -> u32 {
    match kind {
        DeployKind::Deploy | DeployKind::Promote => env.approvals,
        DeployKind::Rollback | DeployKind::Restart => 0,
    }
}

/// The action a request of `kind` into `env` needs of its requester. Where a releaser must
/// approve a deploy or promotion before it runs, a deployer may request it, even into a
/// protected environment: the second person is the safeguard the role was.
pub fn action(env: &Environment, kind: DeployKind) -> Action {
    let protection = if required(env, kind) > 0 {
        Protection::Unprotected
    } else {
        Protection::from_flag(env.protected)
    };
    match kind {
        DeployKind::Deploy => Action::Deploy(protection),
        DeployKind::Rollback => Action::Rollback(protection),
        DeployKind::Promote => Action::Promote(protection),
        DeployKind::Restart => Action::Restart(protection),
    }
}

/// Why a caller may not approve or reject a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not theirs to decide (403): their role, or their own request.
    Denied(String),
    /// Not now (409): it is not awaiting approval, or they have decided already.
    Conflict(String),
}

/// Whether `caller` may approve or reject `job`, given the words already on it.
pub fn refusal(
    caller: &Caller,
    job: &DeploymentRecord,
    decisions: &[DecisionRecord],
) -> Option<Refusal> {
    if !permits(caller.role, Action::Approve) {
        return Some(Refusal::Denied(format!(
            "approving or rejecting a deploy needs the releaser role; you are a {}",
            caller.role.as_str()
        )));
    }
    if job.state != DeployState::AwaitingApproval {
        return Some(Refusal::Conflict(format!(
            "deploy #{} is not awaiting approval: it is {}",
            job.id,
            job.state.label().to_lowercase()
        )));
    }
    // People, not credentials: a token answers for whoever created it.
    if caller.person == job.requester || caller.name == job.requested_by {
        return Some(Refusal::Denied(format!(
            "deploy #{} was requested by {}: another releaser must approve it",
            job.id, job.requester
        )));
    }
    if decisions.iter().any(|d| d.person == caller.person) {
        return Some(Refusal::Conflict(format!(
            "{} has already approved deploy #{}; it waits for another releaser",
            caller.person, job.id
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr},
        path::Path,
    };

    use flightdeck_app::{
        console::CallerKind,
        model::{EnvName, Role, ServiceName, Timestamp},
    };

    use super::*;
    use crate::{
        config::Config,
        store::{ApprovalTerms, Release},
    };

    fn production(approvals: u32) -> Environment {
        let text = format!(
            "[[environment]]\nname = \"production\"\nprotected = true\napprovals = {approvals}\ndocker = {{}}\n"
        );
        Config::parse(Path::new("t.toml"), &text)
            .unwrap()
            .environments
            .remove(0)
    }

    fn caller(name: &str, person: &str, role: Role) -> Caller {
        Caller {
            name: name.to_owned(),
            person: person.to_owned(),
            role,
            kind: CallerKind::Token { token_id: 7 },
            source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    fn awaiting(requested_by: &str, requester: &str) -> DeploymentRecord {
        let at = Timestamp::from_unix_millis(1_800_000_000_000);
        DeploymentRecord {
            id: 12,
            environment: EnvName::parse("production").unwrap(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Promote,
            release: Release {
                version: "1.4.0".to_owned(),
                image: "shop:1.4.0".to_owned(),
                digest: None,
            },
            promoted_from: EnvName::parse("staging").ok(),
            previous: None,
            state: DeployState::AwaitingApproval,
            reason: String::new(),
            requested_by: requested_by.to_owned(),
            requester: requester.to_owned(),
            idempotency_key: "k".to_owned(),
            approval: Some(ApprovalTerms {
                required: 1,
                expires_at: at,
            }),
            created_at: at,
            started_at: None,
            finished_at: None,
            heartbeat_at: None,
        }
    }

    #[test]
    fn only_deploys_and_promotions_wait_and_a_deployer_may_then_request_them() {
        let env = production(1);
        assert_eq!(required(&env, DeployKind::Promote), 1);
        assert_eq!(required(&env, DeployKind::Deploy), 1);
        assert_eq!(required(&env, DeployKind::Rollback), 0);
        assert_eq!(required(&env, DeployKind::Restart), 0);
        assert!(permits(Role::Deployer, action(&env, DeployKind::Promote)));
        assert!(!permits(Role::Deployer, action(&env, DeployKind::Rollback)));
        // Without approvals the protected environment is the releaser's alone.
        let plain = production(0);
        assert!(!permits(
            Role::Deployer,
            action(&plain, DeployKind::Promote)
        ));
        assert!(permits(Role::Releaser, action(&plain, DeployKind::Promote)));
    }

    #[test]
    fn the_requester_cannot_approve_even_with_a_second_token() {
        // ci-deploy was created by ada; ada's releaser token is a second credential, not a
        // second person.
        let job = awaiting("ci-deploy", "ada");
        let second_token = caller("ada-release", "ada", Role::Releaser);
        assert!(matches!(
            refusal(&second_token, &job, &[]),
            Some(Refusal::Denied(m)) if m.contains("requested by ada")
        ));
        let deployer = caller("dee", "dee", Role::Deployer);
        assert!(matches!(
            refusal(&deployer, &job, &[]),
            Some(Refusal::Denied(m)) if m.contains("releaser role")
        ));
        let bob = caller("bob", "bob", Role::Releaser);
        assert_eq!(refusal(&bob, &job, &[]), None);
        let said = DecisionRecord {
            person: "bob".to_owned(),
            by: "bob".to_owned(),
            approved: true,
            comment: String::new(),
            at: job.created_at,
        };
        assert!(matches!(
            refusal(&bob, &job, &[said]),
            Some(Refusal::Conflict(m)) if m.contains("already approved")
        ));
        let mut done = job.clone();
        done.state = DeployState::Expired;
        assert!(matches!(
            refusal(&bob, &done, &[]),
            Some(Refusal::Conflict(m)) if m.contains("it is expired")
        ));
    }
}
