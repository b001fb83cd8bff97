//! Sign in. The only page reachable without an account.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{api::Login, components::FormResult};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/".to_owned()));

    view! {
        <Title text="Sign in" />
        <section class="login" aria-labelledby="login-heading">
            <h1 id="login-heading">"Sign in"</h1>
            <ActionForm action=login attr:class="stacked-form">
                <input type="hidden" name="next" value=next />
                <label for="login-name">"Name"</label>
                <input
                    id="login-name"
                    name="name"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                />
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                <button type="submit" disabled=move || login.pending().get()>
                    "Sign in"
                </button>
                <FormResult value=login.value() success="Signed in." />
            </ActionForm>
            <p class="muted">
                "No account? An admin creates one. The first admin is created on the console's machine with "
                <code>"flightdeck user add NAME --role admin"</code> "."
            </p>
        </section>
    }
}
