//! Flightdeck in real headless Chromium: the dashboard renders, hydrates, fits a phone and
//! follows the system's dark mode. Needs a built site: `cargo leptos build` (or `--release`);
//! `cargo leptos end-to-end` builds and then runs these.

mod support;

use std::time::Duration;

use fantoccini::{Locator, key::Key};
use support::{Browser, Console, Screen, eventually};

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
    c.goto(&console.url).await.unwrap();

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
    browser.close().await;
}

#[tokio::test]
async fn a_360_px_phone_sees_every_service_without_horizontal_scrolling() {
    let console = Console::start();
    let browser = Browser::start(Screen::Phone).await;
    let c = &browser.client;
    c.goto(&console.url).await.unwrap();
    c.find(Locator::Css("table.matrix tbody")).await.unwrap();

    let widths = c
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
        "horizontal scroll: page {doc} px, body {body} px in a {viewport} px viewport"
    );

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

#[tokio::test]
async fn dark_mode_follows_the_system_setting() {
    let console = Console::start();
    let light = Browser::start(Screen::Desktop).await;
    light.client.goto(&console.url).await.unwrap();
    let dark = Browser::start(Screen::DesktopDark).await;
    dark.client.goto(&console.url).await.unwrap();

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
    c.goto(&console.url).await.unwrap();
    let focused = "return document.activeElement.id || document.activeElement.className;";

    let body = c.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&Key::Tab.to_string()).await.unwrap();
    assert_eq!(c.execute(focused, vec![]).await.unwrap(), "skip-link");

    // Tab onward until the filter box has focus: it must be reachable without a mouse.
    let mut reached = false;
    for _ in 0..6 {
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
