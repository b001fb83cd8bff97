//! My account: the sessions I have open (and ending them), and my password.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{ChangeMyPassword, EndMySession, load_my_sessions},
    components::{ErrorPanel, FormResult},
    model::SessionView,
    time_format,
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let end = ServerAction::<EndMySession>::new();
    let password = ServerAction::<ChangeMyPassword>::new();
    let sessions = Resource::new(move || end.version().get(), |_| load_my_sessions());

    view! {
        <Title text="Your account" />
        <section aria-labelledby="sessions-heading">
            <h1 id="sessions-heading">"Your sessions"</h1>
            <p class="muted">
                "Every browser signed in to your account. End any you do not recognise."
            </p>
            <FormResult value=end.value() success="Session ended." />
            <Transition fallback=|| view! { <p class="muted">"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => view! { <SessionTable sessions=list end /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section aria-labelledby="password-heading">
            <h2 id="password-heading">"Change your password"</h2>
            <p class="muted">"This signs you out everywhere, here included."</p>
            <ActionForm action=password attr:class="stacked-form">
                <label for="current-password">"Current password"</label>
                <input
                    id="current-password"
                    name="current"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                <label for="new-password">"New password (12 to 128 characters)"</label>
                <input
                    id="new-password"
                    name="new_password"
                    type="password"
                    autocomplete="new-password"
                    minlength="12"
                    maxlength="128"
                    required
                />
                <button type="submit">"Change password"</button>
                <FormResult
                    value=password.value()
                    success="Password changed. Sign in again with the new one."
                />
            </ActionForm>
        </section>
    }
}

#[component]
fn SessionTable(sessions: Vec<SessionView>, end: ServerAction<EndMySession>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="list">
                <thead>
                    <tr>
                        <th scope="col">"Browser"</th>
                        <th scope="col">"From"</th>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last active"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Action"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {sessions
                        .into_iter()
                        .map(|s| {
                            view! {
                                <tr>
                                    <td>
                                        {if s.user_agent.is_empty() {
                                            "unknown".to_owned()
                                        } else {
                                            s.user_agent.clone()
                                        }}
                                    </td>
                                    <td>{s.source.clone()}</td>
                                    <td>{time_format::utc(s.created_at)}</td>
                                    <td>{time_format::utc(s.last_seen_at)}</td>
                                    <td>
                                        {if s.current {
                                            view! { <span class="badge">"This browser"</span> }
                                                .into_any()
                                        } else {
                                            view! {
                                                <ActionForm action=end attr:class="inline-form">
                                                    <input type="hidden" name="id" value=s.id.clone() />
                                                    <button type="submit">"End"</button>
                                                </ActionForm>
                                            }
                                                .into_any()
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
