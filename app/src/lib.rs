//! Flightdeck's user interface.
//!
//! This crate is compiled twice: with `ssr` into the server (it renders pages and runs the thin
//! server functions in [`api`]) and with `hydrate` into the browser bundle (it takes over the
//! server-rendered HTML). It never talks to a database, Docker or AWS itself: on the server, the
//! server functions reach the back end through the [`console::Console`] trait that the `server`
//! crate implements and provides as context.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
#[cfg(feature = "ssr")]
pub mod console;
pub mod error;
pub mod model;
pub mod pages;
pub mod time_format;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{A, Route, Router, Routes},
};

/// The HTML document around the app. Rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Both schemes are supported; the stylesheet follows the system setting.
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The root component: layout, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="flightdeck-css" href="/pkg/flightdeck.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="Flightdeck: environments, versions and health at a glance" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Flightdeck".to_string() } else { format!("{page} · Flightdeck") }
        } />
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="site-header">
                <nav aria-label="Main">
                    <A href="/" attr:class="brand">
                        <span aria-hidden="true">"✈ "</span>
                        "Flightdeck"
                    </A>
                    <ul class="nav-links">
                        <li>
                            <A href="/">"Services"</A>
                        </li>
                    </ul>
                </nav>
            </header>
            <main id="main" tabindex="-1">
                <Routes fallback=pages::not_found::NotFound>
                    // Async: the whole page is rendered before it is sent, so it reads fine
                    // before (or without) the wasm bundle, e.g. on a slow phone link.
                    <Route
                        path=StaticSegment("")
                        view=pages::dashboard::DashboardPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <footer class="site-footer">
                <p>"Flightdeck " {env!("CARGO_PKG_VERSION")}</p>
            </footer>
        </Router>
    }
}

/// Entry point of the browser bundle: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
