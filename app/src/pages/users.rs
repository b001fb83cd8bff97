//! Accounts (admins only): add, change role, disable or enable, reset password.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{AddUser, ResetPassword, SetUserDisabled, SetUserRole, load_users},
    components::{ErrorPanel, FormResult},
    model::{Role, UserView},
    time_format,
};

#[derive(Clone, Copy)]
struct Actions {
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetPassword>,
    role: ServerAction<SetUserRole>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let actions = Actions {
        disable: ServerAction::new(),
        reset: ServerAction::new(),
        role: ServerAction::new(),
    };
    let users = Resource::new(
        move || {
            (
                add.version().get(),
                actions.disable.version().get(),
                actions.role.version().get(),
            )
        },
        |_| load_users(),
    );

    view! {
        <Title text="Users" />
        <section aria-labelledby="users-heading">
            <h1 id="users-heading">"Users"</h1>
            <FormResult value=actions.disable.value() success="Account updated." />
            <FormResult value=actions.role.value() success="Role changed." />
            <FormResult
                value=actions.reset.value()
                success="Password reset; the account's sessions have ended."
            />
            <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UserTable users=list actions /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section aria-labelledby="add-user-heading">
            <h2 id="add-user-heading">"Add an account"</h2>
            <ActionForm action=add attr:class="stacked-form">
                <label for="new-user-name">"Name (lowercase letters, digits, . _ -)"</label>
                <input id="new-user-name" name="name" type="text" autocomplete="off" required />
                <label for="new-user-role">"Role"</label>
                <RoleSelect id="new-user-role" selected=Role::Viewer />
                <label for="new-user-password">"Initial password (12 to 128 characters)"</label>
                <input
                    id="new-user-password"
                    name="password"
                    type="password"
                    autocomplete="new-password"
                    minlength="12"
                    maxlength="128"
                    required
                />
                <button type="submit">"Add account"</button>
                <FormResult value=add.value() success="Account added." />
            </ActionForm>
        </section>
    }
}

/// A `<select name="role">` of every role.
#[component]
pub fn RoleSelect(id: &'static str, selected: Role) -> impl IntoView {
    view! {
        <select id=id name="role">
            {Role::ALL
                .into_iter()
                .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.as_str()}</option> })
                .collect_view()}
        </select>
    }
}

#[component]
fn UserTable(users: Vec<UserView>, actions: Actions) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="list">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {users.into_iter().map(|u| view! { <UserRow user=u actions /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn UserRow(user: UserView, actions: Actions) -> impl IntoView {
    let name = user.name.clone();
    let role_id = format!("role-{name}");
    let password_id = format!("password-{name}");
    let role_label = format!("Role of {name}");
    let password_label = format!("New password for {name}");
    // Each form's children own their copy.
    let (for_row, for_role, for_disable, for_reset) =
        (name.clone(), name.clone(), name.clone(), name.clone());
    view! {
        <tr data-user=for_row>
            <th scope="row">{name}</th>
            <td>
                <ActionForm action=actions.role attr:class="inline-form">
                    <input type="hidden" name="name" value=for_role />
                    <label class="visually-hidden" for=role_id.clone()>
                        {role_label}
                    </label>
                    <select id=role_id name="role">
                        {Role::ALL
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <option value=r.as_str() selected=r == user.role>
                                        {r.as_str()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <button type="submit">"Set"</button>
                </ActionForm>
            </td>
            <td>{if user.disabled { "disabled" } else { "active" }}</td>
            <td>
                {user.last_login_at.map(time_format::utc).unwrap_or_else(|| "never".to_owned())}
            </td>
            <td class="row-actions">
                <ActionForm action=actions.disable attr:class="inline-form">
                    <input type="hidden" name="name" value=for_disable />
                    <input
                        type="hidden"
                        name="disabled"
                        value=if user.disabled { "false" } else { "true" }
                    />
                    <button type="submit">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </ActionForm>
                <ActionForm action=actions.reset attr:class="inline-form">
                    <input type="hidden" name="name" value=for_reset />
                    <label class="visually-hidden" for=password_id.clone()>
                        {password_label}
                    </label>
                    <input
                        id=password_id
                        name="password"
                        type="password"
                        autocomplete="new-password"
                        placeholder="New password"
                        minlength="12"
                        maxlength="128"
                        required
                    />
                    <button type="submit">"Reset password"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
