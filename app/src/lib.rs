//! Flightdeck's user interface.
//!
//! This crate is compiled twice: with `ssr` into the server (it renders pages and runs the thin
//! server functions in [`api`]) and with `hydrate` into the browser bundle (it takes over the
//! server-rendered HTML). It never talks to a database, Docker or AWS itself: on the server, the
//! server functions reach the back end through the [`console::Console`] trait that the `server`
//! crate implements and provides as context.

#![recursion_limit = "256"]

pub mod api;
mod bundle_script;
pub mod components;
#[cfg(feature = "ssr")]
pub mod console;
pub mod csp;
pub mod error;
pub mod live;
pub mod model;
pub mod pages;
pub mod time_format;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{A, Route, Router, Routes},
    hooks::use_location,
};

use crate::model::Me;

/// The HTML document around the app. Rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Both schemes are supported; the stylesheet follows the system setting.
                <meta name="color-scheme" content="light dark" />
                // Keeps runbooks readable offline where the browser allows a service worker.
                <script src="/sw-register.js" defer></script>
                <AutoReload options=options.clone() />
                // The bundle loads after the page has painted (see bundle_script.rs); every page
                // works before it (forms post, links navigate).
                <bundle_script::BundleScript options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Puts this response's Content-Security-Policy, with the nonce Leptos gives its inline
/// scripts, on the page response.
#[cfg(feature = "ssr")]
fn set_page_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = http::HeaderValue::from_str(&csp::page_policy(&nonce)) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Who is signed in, shared with every page (to hide what the role may not do; the server
/// checks regardless). Fetched again on every navigation, so it follows sign-in and sign-out.
pub type MeResource = Resource<Result<Option<Me>, error::ConsoleError>>;

/// The open incidents, shared with every page (the banner, the dashboard's cells in scope).
pub type OpenIncidents = Resource<Result<Vec<model::IncidentView>, error::ConsoleError>>;

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
            <Layout />
        </Router>
    }
}

#[component]
fn Layout() -> impl IntoView {
    let location = use_location();
    let me: MeResource = Resource::new(move || location.pathname.get(), |_| api::load_me());
    provide_context(me);
    // What is open, for the banner and the dashboard's cells; asked again on every navigation.
    let incidents: OpenIncidents = Resource::new(
        move || location.pathname.get(),
        |path| async move {
            if path == "/login" {
                Ok(Vec::new())
            } else {
                api::load_open_incidents().await
            }
        },
    );
    provide_context(incidents);

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <nav aria-label="Main">
                <A href="/" attr:class="brand">
                    <span aria-hidden="true">"✈ "</span>
                    "Flightdeck"
                </A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match me.await {
                            Ok(Some(me)) => view! { <NavLinks me /> }.into_any(),
                            _ => ().into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let open = incidents.await.unwrap_or_default();
                view! { <pages::incidents::IncidentBanner open /> }
            })}
        </Transition>
        <main id="main" tabindex="-1">
            <Routes fallback=pages::not_found::NotFound>
                // Async: the whole page is rendered before it is sent, so it reads fine
                // before (or without) the wasm bundle, e.g. on a slow phone link.
                <Route
                    path=StaticSegment("")
                    view=pages::dashboard::DashboardPage
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("login") view=pages::login::LoginPage />
                <Route
                    path=(StaticSegment("deployments"), ParamSegment("id"))
                    view=pages::deployment::DeploymentPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("services"), ParamSegment("name"))
                    view=pages::service::ServicePage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(
                        StaticSegment("services"),
                        ParamSegment("name"),
                        StaticSegment("promote"),
                        ParamSegment("env"),
                    )
                    view=pages::promote::PromotePage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(
                        StaticSegment("services"),
                        ParamSegment("name"),
                        StaticSegment("logs"),
                        ParamSegment("env"),
                    )
                    view=pages::logs::LogsPageView
                    ssr=SsrMode::Async
                />
                <Route
                    path=StaticSegment("costs")
                    view=pages::costs::CostsPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=StaticSegment("incidents")
                    view=pages::incidents::IncidentsPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("incidents"), ParamSegment("id"))
                    view=pages::incidents::IncidentPageView
                    ssr=SsrMode::Async
                />
                <Route
                    path=StaticSegment("runbooks")
                    view=pages::runbooks::RunbooksPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("runbooks"), ParamSegment("slug"))
                    view=pages::runbooks::RunbookPageView
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("runbooks"))
                    view=pages::runbooks::RunbookProblemsPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=StaticSegment("account")
                    view=pages::account::AccountPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=StaticSegment("audit")
                    view=pages::audit::AuditPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("users"))
                    view=pages::users::UsersPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("tokens"))
                    view=pages::tokens::TokensPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("notifications"))
                    view=pages::notifications::NotificationsPage
                    ssr=SsrMode::Async
                />
            </Routes>
        </main>
        <footer class="site-footer">
            <p>"Flightdeck " {env!("CARGO_PKG_VERSION")}</p>
        </footer>
    }
}

/// The links a signed-in person may use, and who they are.
#[component]
fn NavLinks(me: Me) -> impl IntoView {
    let admin = me.may(model::Action::ManageUsers);
    let logout = ServerAction::<api::Logout>::new();
    let search = NodeRef::<leptos::html::Input>::new();
    // `/` anywhere but in a text field goes to the search box, as on most sites.
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = document().active_element().is_some_and(|el| {
                matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                    || el.has_attribute("contenteditable")
            });
            let plain = !ev.ctrl_key() && !ev.meta_key() && !ev.alt_key();
            if ev.key() == "/"
                && plain
                && !typing
                && let Some(input) = search.get()
            {
                ev.prevent_default();
                let _ = input.focus();
            }
        });
        on_cleanup(move || handle.remove());
    });
    view! {
        // A plain GET form: it searches before the wasm bundle loads, and a result is a link.
        <form class="site-search" role="search" method="get" action="/runbooks">
            <label for="site-search" class="visually-hidden">"Search runbooks"</label>
            <input
                id="site-search"
                node_ref=search
                type="search"
                name="q"
                placeholder="Search runbooks  /"
                aria-keyshortcuts="/"
            />
        </form>
        <ul class="nav-links">
            <li>
                <A href="/">"Services"</A>
            </li>
            <li>
                <A href="/runbooks">"Runbooks"</A>
            </li>
            <li>
                <A href="/incidents">"Incidents"</A>
            </li>
            <li>
                <A href="/costs">"Costs"</A>
            </li>
            <li>
                <A href="/audit">"Audit log"</A>
            </li>
            {admin
                .then(|| {
                    view! {
                        <li>
                            <A href="/admin/users">"Users"</A>
                        </li>
                        <li>
                            <A href="/admin/tokens">"API tokens"</A>
                        </li>
                        <li>
                            <A href="/admin/notifications">"Notifications"</A>
                        </li>
                    }
                })}
            <li>
                <A href="/account">
                    <span class="whoami">{me.name.clone()}</span>
                    <span class="role-badge">{me.role.as_str()}</span>
                </A>
            </li>
            <li>
                <ActionForm action=logout attr:class="inline-form">
                    <button type="submit" class="link-button">"Sign out"</button>
                </ActionForm>
            </li>
        </ul>
    }
}

/// Entry point of the browser bundle: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
