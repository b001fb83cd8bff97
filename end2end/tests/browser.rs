//! Flightdeck in real headless Chromium: signing in and out, a refusal shown to a viewer, and
//! the dashboard that renders, hydrates, fits a phone and follows the system's dark mode. Needs a built site: `cargo leptos build` (or `--release`);
//! `cargo leptos end-to-end` builds and then runs these.

mod support;

use std::time::Duration;

use fantoccini::{Locator, key::Key};
use support::{Browser, Console, Demo, PASSWORD, Screen, eventually, free_port};

async fn visible_rows(browser: &Browser) -> Vec<String> {
    let value = browser
        .client
        .execute(
            "return [...document.querySelectorAll('table.matrix tbody tr')]
                 .filter(tr => !tr.hidden).map(tr => tr.dataset.service);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn the_dashboard_hydrates_and_its_filter_works() {
    let console = Console::start();
    let browser = Browser::start(Screen::Desktop).await;
    let c = &browser.client;
    browser.sign_in(&console, "vic").await;

    assert_eq!(c.title().await.unwrap(), "Services · Flightdeck");
    let headers = c
        .find_all(Locator::Css("table.matrix thead .env-name"))
        .await
        .unwrap();
    let mut names = Vec::new();
    for h in headers {
        names.push(h.text().await.unwrap());
    }
    assert_eq!(names, ["dev", "staging", "production"]);
    assert_eq!(
        visible_rows(&browser).await,
        ["shop-web", "orders-api", "mailer"]
    );
    // The matrix scans at a glance: each service is one line, so a laptop screen (1280 x 800)
    // shows at least 15 of them without scrolling.
    let (top, row): (f64, f64) = serde_json::from_value(
        c.execute(
            "const rows = [...document.querySelectorAll('table.matrix tbody tr')];
             return [document.querySelector('table.matrix tbody').getBoundingClientRect().top
                         + window.scrollY,
                     Math.max(...rows.map(r => r.getBoundingClientRect().height))];",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert!(
        top + 15.0 * row <= 800.0,
        "the matrix starts {top} px down and a row is {row} px high"
    );

    // Typing only filters once the wasm bundle has taken over the server-rendered page, so
    // this proves hydration. Retype until it takes effect (the bundle may still be loading).
    let input = c.find(Locator::Id("service-filter")).await.unwrap();
    eventually(
        "the filter to narrow the rows",
        Duration::from_secs(30),
        || async {
            input.clear().await.ok()?;
            input.send_keys("checkout").await.ok()?;
            let rows = visible_rows(&browser).await;
            (rows == ["orders-api"]).then_some(())
        },
    )
    .await;
    let count = c.find(Locator::Css(".filter-count")).await.unwrap();
    assert_eq!(count.text().await.unwrap(), "Showing 1 of 3");

    // Clearing the box shows everything again.
    input
        .send_keys(&Key::Backspace.to_string().repeat(8))
        .await
        .unwrap();
    eventually("all rows back", Duration::from_secs(5), || async {
        (visible_rows(&browser).await.len() == 3).then_some(())
    })
    .await;
    assert_eq!(count.text().await.unwrap(), "Showing 3 of 3");

    // Away to a service page and back by the header's link, both in the browser: the
    // dashboard then loads its matrix itself, in the same document.
    c.execute("window.__sameDocument = true;", vec![])
        .await
        .unwrap();
    browser
        .click("tr[data-service=mailer] a.service-name")
        .await;
    eventually("the service page", Duration::from_secs(20), || async {
        let heading = c.find(Locator::Css("#service-heading")).await.ok()?;
        (heading.text().await.ok()? == "mailer").then_some(())
    })
    .await;
    browser.click("a.brand").await;
    eventually(
        "the matrix, loaded by the browser",
        Duration::from_secs(20),
        || async { (visible_rows(&browser).await.len() == 3).then_some(()) },
    )
    .await;
    let same = c
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, serde_json::Value::Bool(true), "navigated in the page");
    browser.close().await;
}

#[tokio::test]
async fn a_360_px_phone_sees_every_service_without_horizontal_scrolling() {
    let console = Console::start();
    let browser = Browser::start(Screen::Phone).await;
    let c = &browser.client;
    browser.sign_in(&console, "vic").await;

    assert_no_horizontal_scroll(&browser, "/").await;

    // Each cell says which environment it is, since the column headers are not shown.
    let label = c
        .execute(
            "const td = document.querySelector('tr[data-service=\"shop-web\"] td[data-env=\"staging\"]');
             return getComputedStyle(td, '::before').content;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(label, "\"staging\"");
    browser.close().await;
}

/// The page fits the 360 px viewport: nothing wider than the screen.
async fn assert_no_horizontal_scroll(browser: &Browser, page: &str) {
    let widths = browser
        .client
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth,
                     document.body.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    let [viewport, doc, body]: [u64; 3] = serde_json::from_value(widths).unwrap();
    assert_eq!(viewport, 360, "the phone viewport is 360 px wide");
    assert!(
        doc <= viewport && body <= viewport,
        "{page}: horizontal scroll: page {doc} px, body {body} px in a {viewport} px viewport"
    );
}

#[tokio::test]
async fn the_account_admin_service_and_runbook_pages_fit_a_360_px_phone() {
    let console = Console::start();
    let browser = Browser::start(Screen::Phone).await;
    browser.sign_in(&console, "ada").await;
    for (page, heading) in [
        ("/admin/users", "Users"),
        ("/admin/tokens", "API tokens"),
        ("/audit", "Audit log"),
        ("/account", "Your sessions"),
        ("/services/shop-web", "shop-web"),
        ("/runbooks", "Runbooks"),
        ("/runbooks/shop-web-down", "Storefront is slow or down"),
        ("/runbooks?q=rollback", "Runbooks"),
        ("/costs", "Costs"),
        ("/admin/notifications", "Notifications"),
        ("/incidents", "Incidents"),
    ] {
        browser
            .client
            .goto(&format!("{}{page}", console.url))
            .await
            .unwrap();
        assert_eq!(text_of(&browser, "h1").await, heading, "{page}");
        assert_no_horizontal_scroll(&browser, page).await;
    }
    // Stacked into cards, the audit log's values keep their column names.
    browser
        .client
        .goto(&format!("{}/audit", console.url))
        .await
        .unwrap();
    let label = browser
        .client
        .execute(
            "return getComputedStyle(document.querySelector('table.list tbody td[data-label=Actor]'), '::before').content;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(label, "\"Actor: \"", "the actor's label shows at 360 px");
    browser
        .client
        .goto(&format!("{}/incidents", console.url))
        .await
        .unwrap();

    // Declared on the phone, from the form on /incidents: the page of the
    // incident follows, with its timeline, and the banner says what is open.
    let c = &browser.client;
    for (id, text) in [
        ("incident-title", "Checkout errors"),
        ("incident-environments", "production"),
        ("incident-services", "shop-web"),
        ("incident-runbooks", "shop-web-down"),
    ] {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    browser
        .click("#declare-heading ~ form button[type=submit]")
        .await;
    let heading = eventually("the incident's page", Duration::from_secs(20), || async {
        let h1 = c.find(Locator::Css("h1")).await.ok()?.text().await.ok()?;
        h1.starts_with('#').then_some(h1)
    })
    .await;
    assert_eq!(heading, "#1 Checkout errors");
    assert!(
        text_of(&browser, ".incident-banner")
            .await
            .starts_with("SEV1 incident #1: Checkout errors"),
        "the banner"
    );
    assert_eq!(
        text_of(&browser, ".timeline-entry .entry-text").await,
        "Declared Checkout errors (SEV1), led by ada"
    );
    assert_eq!(
        text_of(&browser, "#pinned-heading + ul a").await,
        "Storefront is slow or down"
    );
    // The pinned runbook is there to act from: its action blocks are on the incident's page.
    let blocks = c
        .find_all(Locator::Css(".pinned-runbook[open] .action-block"))
        .await
        .unwrap();
    assert_eq!(blocks.len(), 2, "the runbook's two action blocks");
    assert_no_horizontal_scroll(&browser, "/incidents/1").await;
    // The service page says production is frozen, and asks an admin for a reason to deploy.
    c.goto(&format!("{}/services/shop-web", console.url))
        .await
        .unwrap();
    let note = text_of(
        &browser,
        "section.deploy-panel[data-env=production] .freeze-note",
    )
    .await;
    assert!(
        note.starts_with("Deploys here are frozen by incident #1 (Checkout errors): give a reason"),
        "{note}"
    );
    c.find(Locator::Id("override-production")).await.unwrap();
    assert_no_horizontal_scroll(&browser, "/services/shop-web (frozen)").await;
    browser.close().await;
}

#[tokio::test]
async fn dark_mode_follows_the_system_setting() {
    let console = Console::start();
    let light = Browser::start(Screen::Desktop).await;
    light.sign_in(&console, "vic").await;
    let dark = Browser::start(Screen::DesktopDark).await;
    dark.sign_in(&console, "vic").await;

    let background = "return getComputedStyle(document.body).backgroundColor;";
    let light_bg = light.client.execute(background, vec![]).await.unwrap();
    let dark_bg = dark.client.execute(background, vec![]).await.unwrap();
    assert_eq!(light_bg, "rgb(246, 247, 249)");
    assert_eq!(dark_bg, "rgb(13, 17, 23)");
    light.close().await;
    dark.close().await;
}

#[tokio::test]
async fn the_keyboard_reaches_the_skip_link_and_the_filter() {
    let console = Console::start();
    let browser = Browser::start(Screen::Desktop).await;
    let c = &browser.client;
    browser.sign_in(&console, "vic").await;
    c.goto(&console.url).await.unwrap();
    let focused = "return document.activeElement.id || document.activeElement.className;";

    let body = c.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&Key::Tab.to_string()).await.unwrap();
    assert_eq!(c.execute(focused, vec![]).await.unwrap(), "skip-link");

    // Tab onward until the filter box has focus: it must be reachable without a mouse.
    let mut reached = false;
    for _ in 0..12 {
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Tab.to_string())
            .await
            .unwrap();
        if c.execute(focused, vec![]).await.unwrap() == "service-filter" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the filter box is reachable with Tab");
    browser.close().await;
}

async fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_see_a_refusal_as_a_viewer_and_sign_out() {
    let console = Console::start();
    let browser = Browser::start(Screen::Desktop).await;
    let c = &browser.client;

    // Any page sends a stranger to the login form, and back afterwards.
    c.goto(&format!("{}/audit", console.url)).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/login");
    assert_eq!(url.query(), Some("next=/audit"));

    // A wrong password is refused in words, next to the form.
    browser.submit_login("vic", "not the password").await;
    let alert = eventually("the refusal", Duration::from_secs(30), || async {
        let text = c
            .find(Locator::Css(".form-note.error"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(alert.contains("wrong name or password"), "{alert}");

    // The right one lands on the page asked for, signed in as vic.
    browser.submit_login("vic", PASSWORD).await;
    eventually("the audit page", Duration::from_secs(30), || async {
        (c.current_url().await.ok()?.path() == "/audit").then_some(())
    })
    .await;
    eventually(
        "the header to name the account",
        Duration::from_secs(10),
        || async {
            let who = c
                .find(Locator::Css(".whoami"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (who == "vic").then_some(())
        },
    )
    .await;
    assert_eq!(text_of(&browser, "h1").await, "Audit log");
    // A viewer has no admin links...
    assert!(c.find(Locator::LinkText("Users")).await.is_err());

    // ...and an admin page says plainly what is missing.
    c.goto(&format!("{}/admin/users", console.url))
        .await
        .unwrap();
    let panel = text_of(&browser, ".panel.error").await;
    assert!(panel.contains("Not allowed"), "{panel}");
    assert!(panel.contains("needs the admin role"), "{panel}");

    // Signing out ends the session: the dashboard asks to sign in again.
    c.goto(&console.url).await.unwrap();
    eventually(
        "the sign-out button to work",
        Duration::from_secs(30),
        || async {
            c.find(Locator::Css("button.link-button"))
                .await
                .ok()?
                .click()
                .await
                .ok()?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            (c.current_url().await.ok()?.path() == "/login").then_some(())
        },
    )
    .await;
    c.goto(&console.url).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    browser.close().await;
}

/// A health endpoint on loopback that answers 200 or 503, switched by the test.
async fn switchable_health() -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let failing = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let flag = failing.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let failing = flag.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0_u8; 2048];
                let _ = socket.read(&mut request).await;
                let (status, body) = if failing {
                    ("503 Service Unavailable", r#"{"status":"down"}"#)
                } else {
                    ("200 OK", r#"{"status":"ok"}"#)
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, failing)
}

/// The health badge of a dashboard cell: its class, its words, and whether this is still the
/// document `healthy_then_marked` marked.
async fn cell_state(browser: &Browser, service: &str, env: &str) -> Option<(String, String, bool)> {
    browser
        .client
        .execute(
            &format!(
                "const h = document.querySelector('tr[data-service=\"{service}\"] td[data-env={env}] .health');
                 return h ? [h.className, h.innerText, window.__sameDocument === true] : null;"
            ),
            vec![],
        )
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// Waits for the open dashboard to show the cell healthy, then marks the document, so that
/// `unhealthy_in_place` can tell a change in place from a reload.
async fn healthy_then_marked(browser: &Browser, service: &str, env: &str) {
    eventually(
        "the cell to show healthy",
        Duration::from_secs(30),
        || async {
            let (class, text, _) = cell_state(browser, service, env).await?;
            (class.contains("healthy") && !class.contains("unhealthy") && text.contains("Healthy"))
                .then_some(())
        },
    )
    .await;
    browser
        .client
        .execute("window.__sameDocument = true;", vec![])
        .await
        .unwrap();
}

/// Waits for the cell to turn unhealthy; its words, and whether the document is the marked one.
async fn unhealthy_in_place(browser: &Browser, service: &str, env: &str) -> (String, bool) {
    eventually(
        "the cell to show unhealthy",
        Duration::from_secs(30),
        || async {
            let (class, text, same) = cell_state(browser, service, env).await?;
            class.contains("unhealthy").then_some((text, same))
        },
    )
    .await
}

#[tokio::test]
async fn a_health_change_reaches_an_open_dashboard_and_a_red_cell_leads_to_the_runbook() {
    let (url, failing) = switchable_health().await;
    let runbooks = tempfile::tempdir().unwrap();
    std::fs::write(
        runbooks.path().join("shop-restart.md"),
        "+++\ntitle = \"Shop answers 503\"\nservices = [\"shop\"]\n+++\n\
         ## First checks\n\nLook at the graphs, then restart the shop.\n",
    )
    .unwrap();
    let console = Console::start_with(&format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [runbooks]\ndir = \"{}\"\n\n\
         [[environment]]\nname = \"dev\"\necs = {{ region = \"eu-west-1\", cluster = \"dev\", endpoint_url = \"http://127.0.0.1:1\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ service = \"shop\", health_url = \"{url}\" }}\n",
        runbooks.path().display()
    ));
    let browser = Browser::start(Screen::Desktop).await;
    let c = &browser.client;
    browser.sign_in(&console, "vic").await;

    healthy_then_marked(&browser, "shop", "dev").await;
    // Break the service, and wait for the word to change in place.
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let (text, same) = unhealthy_in_place(&browser, "shop", "dev").await;
    assert!(
        text.contains("Unhealthy") && text.contains("HTTP 503"),
        "{text}"
    );
    assert!(same, "the page changed without a reload");

    // One tap from the red cell to the service's runbook.
    eventually(
        "the red cell's runbook link",
        Duration::from_secs(20),
        || async {
            c.find(Locator::Css(
                "tr[data-service=shop] td[data-env=dev] a.runbook-link",
            ))
            .await
            .ok()?
            .click()
            .await
            .ok()
        },
    )
    .await;
    eventually("the runbook", Duration::from_secs(20), || async {
        let title = c.title().await.ok()?;
        (title == "Shop answers 503 · Flightdeck").then_some(())
    })
    .await;

    // `/` goes to the search box from anywhere; the words found are marked.
    eventually(
        "/ to focus the search box",
        Duration::from_secs(20),
        || async {
            c.find(Locator::Css("body"))
                .await
                .ok()?
                .send_keys("/")
                .await
                .ok()?;
            let focused = c
                .execute("return document.activeElement.id;", vec![])
                .await
                .ok()?;
            (focused == "site-search").then_some(())
        },
    )
    .await;
    c.find(Locator::Id("site-search"))
        .await
        .unwrap()
        .send_keys(&format!("restar{}", Key::Enter))
        .await
        .unwrap();
    let marked = eventually("the search results", Duration::from_secs(20), || async {
        let mark = c
            .find(Locator::Css(".runbook-list .snippet mark"))
            .await
            .ok()?;
        mark.text().await.ok()
    })
    .await;
    assert_eq!(marked, "restart");
    assert_eq!(
        c.current_url().await.unwrap().query(),
        Some("q=restar"),
        "a search is a link"
    );
    browser.close().await;
}

/// The deploy page's state class, state word and number of steps, and whether this is still
/// the document marked before the deploy started.
async fn deploy_page(browser: &Browser) -> Option<(String, String, usize, bool)> {
    browser
        .client
        .execute(
            "const s = document.querySelector('article.deployment .deploy-state');
             return s ? [s.className, s.innerText,
                         document.querySelectorAll('ol.steps li').length,
                         window.__sameDocument === true] : null;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// Clicks the submit button matched by `button`, then watches the deploy page: steps must
/// arrive while it runs (no reload), until the state is `outcome`.
async fn click_and_watch(browser: &Browser, button: &str, outcome: &str) -> String {
    let c = &browser.client;
    // The form must run in the browser first (the bundle loads after the page): clicked
    // before, it would still deploy, but as a plain form with a full page load.
    let live = format!(
        "const b = document.querySelector({button:?});
         return !!(b && b.closest('form[data-live=true]'));"
    );
    eventually(
        "the form to run in the browser",
        Duration::from_secs(30),
        || async {
            (c.execute(&live, vec![]).await.ok()? == serde_json::Value::Bool(true)).then_some(())
        },
    )
    .await;
    c.execute("window.__sameDocument = true;", vec![])
        .await
        .unwrap();
    browser.click(button).await;
    // Steps are counted while the deploy is under way: the count must grow on the open page.
    let seen = std::cell::RefCell::new(Vec::new());
    let counts = &seen;
    let (_, text, _, _) = eventually(
        &format!("the deploy to end {outcome}"),
        Duration::from_secs(60),
        || async move {
            let (class, text, steps, same) = deploy_page(browser).await?;
            assert!(same, "the deploy page came without a full page load");
            let mut counts = counts.borrow_mut();
            if counts.last() != Some(&steps) {
                counts.push(steps);
            }
            class
                .split_whitespace()
                .any(|c| c == outcome)
                .then_some((class, text, steps, same))
        },
    )
    .await;
    let counts = seen.into_inner();
    assert!(
        counts.len() >= 3,
        "steps arrived one after another on the open page: {counts:?}"
    );
    text
}

#[tokio::test]
async fn deploy_promote_and_roll_back_from_a_runbook_in_the_browser_with_live_steps() {
    let service = format!("e2e-shop-{}", std::process::id());
    let (dev, production) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    std::fs::write(
        runbooks.join("shop-down.md"),
        format!(
            "+++\ntitle = \"Shop is down\"\nservices = [\"{service}\"]\n+++\n\
             Roll back first.\n\n```flightdeck-action\naction = \"rollback\"\n\
             service = \"{service}\"\nenvironment = \"production\"\n```\n"
        ),
    )
    .unwrap();
    let config = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"3s\"\ndeadline = \"30s\"\n\n\
         [runbooks]\ndir = \"{runbooks}\"\n\n\
         [[environment]]\nname = \"dev\"\norder = 1\ndocker = {{}}\n\n\
         [[environment]]\nname = \"production\"\norder = 2\nprotected = true\ndocker = {{}}\n\n\
         [[service]]\nname = \"{service}\"\n\
         targets.dev = {{ container = \"{service}-dev\", health_url = \"http://127.0.0.1:{dev}/health\" }}\n\
         targets.production = {{ container = \"{service}-production\", health_url = \"http://127.0.0.1:{production}/health\" }}\n",
        runbooks = runbooks.display()
    );
    let _demo = Demo::set_up(&config, dir.path());
    let console = Console::start_with(&config);
    let browser = Browser::start(Screen::Desktop).await;
    let c = &browser.client;
    browser.sign_in(&console, "ada").await;
    let page = format!("{}/services/{service}", console.url);

    // dev runs 1.1.0; the broken 1.2.0 fails its health gate and dev is put back.
    c.goto(&page).await.unwrap();
    let version = c
        .find(Locator::Css(
            "section.deploy-panel[data-env=dev] form.deploy-form input[name=version]",
        ))
        .await
        .unwrap();
    version.send_keys("1.2.0").await.unwrap();
    let text = click_and_watch(
        &browser,
        "section.deploy-panel[data-env=dev] form.deploy-form button[type=submit]",
        "rolled_back",
    )
    .await;
    assert!(text.contains("1.1.0 runs again"), "{text}");

    // Production (1.0.0) gets exactly what dev runs, once dev is seen healthy again.
    let dev_state = format!(
        "return fetch('/api/v1/health').then(r => r.json()).then(rows =>
           (rows.find(r => r.service === '{service}' && r.environment === 'dev') || {{}}).state);"
    );
    eventually(
        "dev to be healthy again for the promotion",
        Duration::from_secs(30),
        || async {
            let state = c.execute(&dev_state, vec![]).await.ok()?;
            (state == "healthy").then_some(())
        },
    )
    .await;
    // The promotion is looked at before it is confirmed.
    c.goto(&page).await.unwrap();
    browser
        .click("section.deploy-panel[data-env=production] a[href$='/promote/production']")
        .await;
    let confirm = "article.promotion form.confirm-form button[type=submit]";
    let preview = eventually("the promotion preview", Duration::from_secs(20), || async {
        let text = c
            .find(Locator::Css("article.promotion"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("Promote 1.1.0 to production").then_some(text)
    })
    .await;
    for expected in [
        "What changes",
        "1.0.0",
        "Settings that differ",
        "Health in dev",
    ] {
        assert!(preview.contains(expected), "{expected:?} in {preview}");
    }
    let text = click_and_watch(&browser, confirm, "succeeded").await;
    assert!(text.contains("Succeeded"), "{text}");
    let version = c
        .find(Locator::Css("article.deployment dl.facts dd"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(version, "1.1.0");

    // From the runbook: production goes back to 1.0.0, the release the promotion replaced,
    // after a confirmation that says so, through the same engine and gate.
    c.goto(&format!("{}/runbooks/shop-down", console.url))
        .await
        .unwrap();
    let block = eventually(
        "the action block to open",
        Duration::from_secs(20),
        || async {
            c.find(Locator::Css("details.action-block summary"))
                .await
                .ok()?
                .click()
                .await
                .ok()?;
            let text = c
                .find(Locator::Css("details.action-block[open]"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains("Confirm").then_some(text)
        },
    )
    .await;
    assert!(
        block.contains(&format!(
            "{service} runs 1.1.0 in production; after this it runs 1.0.0"
        )),
        "{block}"
    );
    let text = click_and_watch(
        &browser,
        "details.action-block button[type=submit]",
        "succeeded",
    )
    .await;
    assert!(text.contains("Succeeded"), "{text}");
    c.goto(&format!("{}/audit?action=deploy.rollback", console.url))
        .await
        .unwrap();
    let audit = c
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("from runbook shop-down"), "{audit}");

    // dev's logs, live: a request the service logs after the page opened shows up without a
    // reload (the demo logs every request on stderr).
    c.goto(&format!("{}/services/{service}/logs/dev", console.url))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("section.logs[data-live]"))
        .await
        .unwrap();
    let marker = format!("/logs-marker-{}", std::process::id());
    let before = text_of(&browser, "ol.log-lines").await;
    assert!(!before.contains(&marker), "{before}");
    // Gone if the page were loaded again.
    c.execute("window.sameLogsPage = true; return true;", vec![])
        .await
        .unwrap();
    {
        use std::io::{Read, Write};
        let mut request = std::net::TcpStream::connect(("127.0.0.1", dev)).unwrap();
        write!(request, "GET {marker} HTTP/1.0\r\n\r\n").unwrap();
        let _ = request.read_to_end(&mut Vec::new());
    }
    eventually(
        "the service's new log line on the open page",
        Duration::from_secs(30),
        || async {
            text_of(&browser, "ol.log-lines")
                .await
                .contains(&marker)
                .then_some(())
        },
    )
    .await;
    let same = c
        .execute("return window.sameLogsPage === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same,
        serde_json::Value::Bool(true),
        "the line came without a reload"
    );

    // The dashboard, open while dev's container is stopped: its cell turns red in place.
    c.goto(&console.url).await.unwrap();
    healthy_then_marked(&browser, &service, "dev").await;
    let stop = std::process::Command::new("docker")
        .args(["stop", "--time", "1", &format!("{service}-dev")])
        .output()
        .expect("run docker stop");
    assert!(stop.status.success(), "docker stop: {stop:?}");
    let (text, same) = unhealthy_in_place(&browser, &service, "dev").await;
    assert!(text.contains("Unhealthy"), "{text}");
    assert!(same, "the cell changed without a reload");
    browser.close().await;
}

/// What the service worker keeps, by URL path.
async fn kept_pages(browser: &Browser) -> Option<Vec<String>> {
    let value = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             caches.keys()
               .then(names => Promise.all(names.map(n => caches.open(n).then(c => c.keys()))))
               .then(lists => done(lists.flat().map(r => new URL(r.url).pathname)))
               .catch(() => done(null));",
            vec![],
        )
        .await
        .ok()?;
    serde_json::from_value(value).ok()
}

#[tokio::test]
async fn runbooks_read_once_stay_readable_offline_until_sign_out() {
    let runbooks = tempfile::tempdir().unwrap();
    for (file, title) in [
        ("web-down.md", "Storefront is down"),
        ("slow.md", "Storefront is slow"),
    ] {
        std::fs::write(
            runbooks.path().join(file),
            format!(
                "+++\ntitle = \"{title}\"\nservices = [\"shop-web\"]\n+++\n## Steps\n\nLook.\n"
            ),
        )
        .unwrap();
    }
    let mut console = Console::start_with(&format!(
        "{}\n[runbooks]\ndir = \"{}\"\n",
        support::CONFIG,
        runbooks.path().display()
    ));
    let browser = Browser::start(Screen::Desktop).await;
    let c = &browser.client;
    browser.sign_in(&console, "vic").await;

    // The worker registers on the first page; once it controls the page, reads are kept.
    eventually(
        "the service worker to take over",
        Duration::from_secs(30),
        || async {
            c.goto(&format!("{}/runbooks", console.url)).await.ok()?;
            let controlled = c
                .execute("return !!navigator.serviceWorker.controller;", vec![])
                .await
                .ok()?;
            (controlled == true).then_some(())
        },
    )
    .await;
    for slug in ["web-down", "slow"] {
        c.goto(&format!("{}/runbooks/{slug}", console.url))
            .await
            .unwrap();
    }
    let kept = eventually(
        "both runbooks to be kept",
        Duration::from_secs(20),
        || async {
            let kept = kept_pages(&browser).await?;
            (kept.contains(&"/runbooks/web-down".to_owned())
                && kept.contains(&"/runbooks/slow".to_owned()))
            .then_some(kept)
        },
    )
    .await;
    assert!(
        kept.iter().any(|p| p == "/pkg/flightdeck.css"),
        "the stylesheet is kept too: {kept:?}"
    );

    // The console goes away; the runbook still reads, and says it is a copy.
    console.stop();
    c.goto(&format!("{}/runbooks/web-down", console.url))
        .await
        .unwrap();
    let banner = c
        .find(Locator::Css(".offline-banner"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(banner.starts_with("Offline copy from "), "{banner}");
    assert_eq!(
        c.find(Locator::Id("runbook-heading"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Storefront is down"
    );

    // Back (the session outlives the restart, as everything in the store does), then signed
    // out: what was kept is gone.
    console.restart();
    c.goto(&console.url).await.unwrap();
    browser
        .dashboard_shown("the dashboard, still signed in")
        .await;
    browser.click("form.inline-form button.link-button").await;
    eventually(
        "the sign-in page after signing out",
        Duration::from_secs(20),
        || async { (c.current_url().await.ok()?.path() == "/login").then_some(()) },
    )
    .await;
    eventually(
        "the kept pages to be gone",
        Duration::from_secs(20),
        || async { kept_pages(&browser).await?.is_empty().then_some(()) },
    )
    .await;
    browser.close().await;
}

/// The deploy page's number (from the address) once a form has led there.
async fn deployment_opened(browser: &Browser) -> i64 {
    let c = &browser.client;
    eventually("the deploy's page", Duration::from_secs(20), || async {
        let url = c.current_url().await.ok()?;
        url.path()
            .strip_prefix("/deployments/")
            .and_then(|id| id.parse().ok())
    })
    .await
}

/// Waits until the open deploy page (live, no reload) shows `state`.
async fn state_shown(browser: &Browser, state: &str, timeout: Duration) {
    let c = &browser.client;
    let class = format!("deploy-state {state}");
    eventually(&format!("the deploy to be {state}"), timeout, || async {
        let shown = c
            .find(Locator::Css("p.deploy-state"))
            .await
            .ok()?
            .attr("class")
            .await
            .ok()??;
        (shown == class).then_some(())
    })
    .await;
}

/// Types `comment` into the hydrated decision form and clicks `decision`.
async fn decide(browser: &Browser, comment: &str, decision: &str) {
    let c = &browser.client;
    let form = eventually(
        "the live decision form",
        Duration::from_secs(20),
        || async {
            c.find(Locator::Css("form.decide-form[data-live=true]"))
                .await
                .ok()
        },
    )
    .await;
    form.find(Locator::Css("textarea"))
        .await
        .unwrap()
        .send_keys(comment)
        .await
        .unwrap();
    form.find(Locator::Css(&format!("button[value={decision}]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Opens the promotion preview of `service` to production, once staging is seen healthy
/// (only a healthy release is promoted), and requests it.
async fn request_promotion(browser: &Browser, console: &Console, service: &str) -> i64 {
    let c = &browser.client;
    let staging = format!(
        "return fetch('/api/v1/health').then(r => r.json()).then(rows =>
           (rows.find(r => r.service === '{service}' && r.environment === 'staging') || {{}}).state);"
    );
    eventually("staging to be healthy", Duration::from_secs(30), || async {
        let state = c.execute(&staging, vec![]).await.ok()?;
        (state == "healthy").then_some(())
    })
    .await;
    c.goto(&format!(
        "{}/services/{service}/promote/production",
        console.url
    ))
    .await
    .unwrap();
    let found = eventually(
        "a promotion to request",
        Duration::from_secs(30),
        || async {
            let button = c
                .find(Locator::Css(
                    "form.confirm-form[data-live=true] button[type=submit]",
                ))
                .await
                .ok()?;
            let text = button.text().await.ok()?;
            Some((button, text))
        },
    )
    .await;
    let (button, text) = found;
    assert!(text.starts_with("Request promotion of"), "{text}");
    button.click().await.unwrap();
    deployment_opened(browser).await
}

#[tokio::test]
async fn production_promotions_wait_for_a_releaser_who_approves_rejects_or_lets_them_expire() {
    let name = format!("e2e-appr-{}", std::process::id());
    let (shop, orders) = (format!("{name}-shop"), format!("{name}-orders"));
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let dir = tempfile::tempdir().unwrap();
    // Long enough to approve one request by hand, short enough to watch another run out.
    let config = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"2s\"\ndeadline = \"30s\"\n\n\
         [[environment]]\nname = \"staging\"\norder = 1\ndocker = {{}}\n\n\
         [[environment]]\nname = \"production\"\norder = 2\nprotected = true\napprovals = 1\n\
         approval_timeout = \"25s\"\ndocker = {{}}\n\n\
         [[service]]\nname = \"{shop}\"\n\
         targets.staging = {{ container = \"{shop}-staging\", health_url = \"http://127.0.0.1:{}/health\" }}\n\
         targets.production = {{ container = \"{shop}-production\", health_url = \"http://127.0.0.1:{}/health\" }}\n\n\
         [[service]]\nname = \"{orders}\"\n\
         targets.staging = {{ container = \"{orders}-staging\", health_url = \"http://127.0.0.1:{}/health\" }}\n\
         targets.production = {{ container = \"{orders}-production\", health_url = \"http://127.0.0.1:{}/health\" }}\n",
        ports[0], ports[1], ports[2], ports[3]
    );
    let _demo = Demo::set_up(&config, dir.path());
    let console = Console::start_with(&config);
    console.add_account("dee", "deployer");
    console.add_account("rex", "releaser");
    let (dee, rex) = (
        Browser::start(Screen::Desktop).await,
        Browser::start(Screen::Desktop).await,
    );
    dee.sign_in(&console, "dee").await;
    rex.sign_in(&console, "rex").await;

    // The deployer asks for two promotions; the first is left to run out of time.
    let expiring = request_promotion(&dee, &console, &orders).await;
    state_shown(&dee, "awaiting_approval", Duration::from_secs(10)).await;
    let approved = request_promotion(&dee, &console, &shop).await;
    let waiting = text_of(&dee, "section.approval").await;
    assert!(
        waiting.contains("Runs once approved by a releaser other than dee"),
        "{waiting}"
    );
    assert!(
        dee.client
            .find(Locator::Css("form.decide-form"))
            .await
            .is_err(),
        "the requester has no approve button"
    );

    // The releaser, on their own session, sees what changes and approves; the requester's
    // open page follows it to the end.
    rex.client
        .goto(&format!("{}/deployments/{approved}", console.url))
        .await
        .unwrap();
    let shown = text_of(&rex, "section.approval").await;
    assert!(
        shown.contains("What changes") && shown.contains("Health in staging"),
        "{shown}"
    );
    decide(&rex, "staging has been fine all day", "approve").await;
    state_shown(&dee, "succeeded", Duration::from_secs(60)).await;
    let steps = text_of(&dee, "ol.steps").await;
    assert!(
        steps.contains("Approved by rex: staging has been fine all day; queued"),
        "{steps}"
    );

    // A second request, rejected with a reason; nothing runs.
    dee.client
        .goto(&format!("{}/services/{shop}", console.url))
        .await
        .unwrap();
    let form = eventually(
        "the production deploy form",
        Duration::from_secs(20),
        || async {
            dee.client
                .find(Locator::Css(
                    "section.deploy-panel[data-env=production] form.deploy-form[data-live=true]",
                ))
                .await
                .ok()
        },
    )
    .await;
    form.find(Locator::Css("input[name=version]"))
        .await
        .unwrap()
        .send_keys("1.0.0")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rejected = deployment_opened(&dee).await;
    assert_ne!(rejected, approved);
    state_shown(&dee, "awaiting_approval", Duration::from_secs(10)).await;
    rex.client
        .goto(&format!("{}/deployments/{rejected}", console.url))
        .await
        .unwrap();
    decide(&rex, "not during the sale", "reject").await;
    state_shown(&dee, "rejected", Duration::from_secs(20)).await;
    let reason = text_of(&dee, ".deploy-reason").await;
    assert_eq!(reason, "rejected by rex: not during the sale");

    // The first request ran out of time by itself and let go of its service.
    dee.client
        .goto(&format!("{}/deployments/{expiring}", console.url))
        .await
        .unwrap();
    state_shown(&dee, "expired", Duration::from_secs(40)).await;
    dee.close().await;
    rex.close().await;
}
