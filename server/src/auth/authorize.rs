//! The one permission check. Every server function and API route reaches it, through the
//! [`crate::console::ConsoleService`] methods or the HTTP handlers; there is no other `if` on
//! roles anywhere in the server.

use flightdeck_app::{
    console::Caller,
    model::{Action, permits},
};

use crate::error::AppError;

/// Allows `caller` to perform `action`, or says which role it would need.
pub fn authorize(caller: &Caller, action: Action) -> Result<(), AppError> {
    if permits(caller.role, action) {
        return Ok(());
    }
    tracing::warn!(
        caller = %caller.name,
        role = %caller.role,
        action = action.describe(),
        "permission denied"
    );
    Err(AppError::Denied(format!(
        "your role ({}) may not {}; that needs the {} role",
        caller.role,
        action.describe(),
        action.required_role()
    )))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use flightdeck_app::{
        console::CallerKind,
        model::{Protection::*, Role},
    };

    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            name: format!("a-{role}"),
            person: format!("a-{role}"),
            role,
            kind: CallerKind::Token { token_id: 1 },
            source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// Every role x every action, written out by hand (not derived from the code under test),
    /// so a change to the rules must change this table too.
    #[test]
    fn every_role_and_action() {
        use Action::*;
        #[rustfmt::skip]
        let table: &[(Action, [bool; 4])] = &[
            //                         viewer deployer releaser admin
            (View,                     [true,  true,  true,  true]),
            (ViewAudit,                [true,  true,  true,  true]),
            (ManageOwnSessions,        [true,  true,  true,  true]),
            (Deploy(Unprotected),      [false, true,  true,  true]),
            (Rollback(Unprotected),    [false, true,  true,  true]),
            (Promote(Unprotected),     [false, true,  true,  true]),
            (Deploy(Protected),        [false, false, true,  true]),
            (Rollback(Protected),      [false, false, true,  true]),
            (Promote(Protected),       [false, false, true,  true]),
            (Restart(Unprotected),     [false, true,  true,  true]),
            (Restart(Protected),       [false, false, true,  true]),
            (ManageUsers,              [false, false, false, true]),
            (ManageTokens,             [false, false, false, true]),
            (ViewRunbookProblems,      [false, false, false, true]),
            (RefreshCosts,             [false, false, false, true]),
            (ManageIncidents,          [false, true,  true,  true]),
            (OverrideFreeze,           [false, false, true,  true]),
            (Approve,                  [false, false, true,  true]),
            (ManageNotifications,      [false, false, false, true]),
            (ReadLogs,                 [false, true,  true,  true]),
        ];
        assert_eq!(
            table.len(),
            Action::ALL.len(),
            "every action is in the table"
        );
        for (action, expected) in table {
            for (role, allowed) in Role::ALL.into_iter().zip(expected) {
                let result = authorize(&caller(role), *action);
                assert_eq!(result.is_ok(), *allowed, "{role} {action:?}");
                if let Err(AppError::Denied(message)) = result {
                    assert!(message.contains(role.as_str()), "{message}");
                    assert!(message.contains(action.describe()), "{message}");
                }
            }
        }
    }
}
