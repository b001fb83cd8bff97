use leptos::prelude::*;

use crate::error::ConsoleError;

/// A failed load, said plainly, with the server's message (never internals). A refusal says
/// which role would be needed; an ended session offers the way back in. A server-rendered page
/// that shows one answers with the error's status (404, 403, …), not 200.
#[component]
pub fn ErrorPanel(error: ConsoleError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    let (heading, sign_in) = match &error {
        ConsoleError::Forbidden(_) => ("Not allowed", false),
        ConsoleError::Unauthenticated => ("Signed out", true),
        _ => ("Could not load this page", false),
    };
    view! {
        <div class="panel error" role="alert">
            <h2>{heading}</h2>
            <p>{error.to_string()}</p>
            {sign_in.then(|| view! { <p><a href="/login">"Sign in"</a></p> })}
        </div>
    }
}
