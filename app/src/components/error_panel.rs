use leptos::prelude::*;

use crate::error::ConsoleError;

/// A failed load or action, said plainly, with the server's message (never internals).
#[component]
pub fn ErrorPanel(error: ConsoleError) -> impl IntoView {
    view! {
        <div class="panel error" role="alert">
            <h2>"Could not load this page"</h2>
            <p>{error.to_string()}</p>
        </div>
    }
}
