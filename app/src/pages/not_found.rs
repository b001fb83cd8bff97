use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path that is not a page. The server also sets status 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>
                "There is nothing at this address. "
                <a href="/">"Back to the services"</a>
            </p>
        </section>
    }
}
