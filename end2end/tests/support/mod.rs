//! The pieces of a browser test: the real flightdeck binary, chromedriver, and a WebDriver
//! session in headless Chromium.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub const CONFIG: &str = r#"
[console]
title = "Browser test deck"

[[environment]]
name = "dev"
docker = {}

[[environment]]
name = "staging"
docker = {}

[[environment]]
name = "production"
protected = true
docker = {}
costs = { host_monthly = 6, budget = { monthly = 10, alerts = [8, 10] } }

[[service]]
name = "shop-web"
description = "Storefront"
owner = "team-storefront"
targets.dev = { container = "shop-web-dev", health_url = "http://127.0.0.1:9/health" }
targets.staging = { container = "shop-web-staging" }
targets.production = { container = "shop-web-production" }

[[service]]
name = "orders-api"
description = "Order placement and tracking"
owner = "team-checkout"
targets.dev = { container = "orders-api-dev" }
targets.staging = { container = "orders-api-staging" }
targets.production = { container = "orders-api-production" }

[[service]]
name = "mailer"
description = "Transactional e-mail worker"
owner = "team-platform"
targets.dev = { container = "mailer-dev" }
"#;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The binary under test: FLIGHTDECK_E2E_BIN, else the newer of the release and debug builds
/// (cargo-leptos writes both to target/site, so the newer one matches the site there).
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("FLIGHTDECK_E2E_BIN") {
        return PathBuf::from(path);
    }
    let root = workspace_root();
    ["target/release/flightdeck", "target/debug/flightdeck"]
        .iter()
        .map(|p| root.join(p))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("no flightdeck binary: run `cargo leptos build` (or --release) first")
}

/// A child process that is killed when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The console, started from the built binary on a free port with its own SQLite file.
pub struct Console {
    pub url: String,
    process: Option<Guard>,
    config: PathBuf,
    database_url: String,
    _dir: tempfile::TempDir,
}

/// The accounts every test console has, created with `flightdeck user add` before it starts.
pub const ACCOUNTS: [(&str, &str); 2] = [("ada", "admin"), ("vic", "viewer")];

/// The password of every test account.
pub const PASSWORD: &str = "browser-test-passphrase";

/// Runs `flightdeck user add NAME --role ROLE` with the password on standard input.
fn add_account(database_url: &str, name: &str, role: &str) {
    let mut child = Command::new(binary())
        .args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--database-url",
            database_url,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flightdeck user add");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "flightdeck user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Console {
    /// The console on the test configuration, with the repository's example runbooks.
    pub fn start() -> Self {
        Self::start_with(&format!(
            "{CONFIG}\n[runbooks]\ndir = \"{}\"\n",
            workspace_root().join("examples/runbooks").display()
        ))
    }

    pub fn start_with(config_text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("flightdeck.toml");
        std::fs::write(&config, config_text).unwrap();
        let database_url = format!("sqlite://{}", dir.path().join("flightdeck.db").display());
        for (name, role) in ACCOUNTS {
            add_account(&database_url, name, role);
        }
        let root = workspace_root();
        assert!(
            root.join("target/site/pkg/flightdeck.wasm").exists(),
            "target/site has no wasm bundle: run `cargo leptos build` first"
        );
        let (process, addr) = serve(&config, &database_url, "127.0.0.1:0");
        Self {
            url: format!("http://{addr}"),
            process: Some(process),
            config,
            database_url,
            _dir: dir,
        }
    }

    /// One more account (password [`PASSWORD`]), for a test that needs other roles.
    pub fn add_account(&self, name: &str, role: &str) {
        add_account(&self.database_url, name, role);
    }

    /// Stops the console (as a crash or a pulled plug would: killed).
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Starts it again on the same address and database.
    pub fn restart(&mut self) {
        self.stop();
        let addr = self.url.trim_start_matches("http://").to_owned();
        let (process, _) = serve(&self.config, &self.database_url, &addr);
        self.process = Some(process);
    }
}

/// `flightdeck serve` on `addr`; the address it listens on.
fn serve(config: &Path, database_url: &str, addr: &str) -> (Guard, String) {
    let root = workspace_root();
    {
        let mut child = Command::new(binary())
            .args(["serve", "--addr", addr, "--config"])
            .arg(config)
            .arg("--database-url")
            .arg(database_url)
            // The site (wasm, CSS) is found relative to the working directory (Leptos.toml).
            .current_dir(&root)
            .env("FLIGHTDECK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flightdeck");
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            assert!(
                log.read_line(&mut line).unwrap() > 0,
                "flightdeck exited before listening"
            );
            if let Some(addr) = line.split("listening on http://").nth(1) {
                break addr.trim().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in log.lines() {});
        (Guard(child), addr)
    }
}

/// `flightdeck demo` for one configuration, removed again when the test ends.
pub struct Demo(PathBuf);

impl Demo {
    pub fn set_up(config_text: &str, dir: &Path) -> Self {
        let config = dir.join("demo.toml");
        std::fs::write(&config, config_text).unwrap();
        let out = Command::new(binary())
            .args(["demo", "--config"])
            .arg(&config)
            .output()
            .expect("run flightdeck demo");
        assert!(
            out.status.success(),
            "flightdeck demo: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Self(config)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new(binary())
            .args(["demo", "--remove", "--config"])
            .arg(&self.0)
            .output();
    }
}

/// How the browser presents itself.
pub enum Screen {
    Desktop,
    /// A 360 px wide phone (device emulation, as Chrome's device toolbar does it).
    Phone,
    /// A desktop whose system setting prefers dark colours.
    DesktopDark,
}

/// chromedriver plus one headless Chromium session.
pub struct Browser {
    pub client: Client,
    _driver: Guard,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(screen: Screen) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (apt-get install chromium-driver)");
        let driver = Guard(driver);
        let profile = tempfile::tempdir().unwrap();

        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({});
        match screen {
            Screen::Desktop => args.push("--window-size=1280,900".to_owned()),
            Screen::DesktopDark => {
                args.push("--window-size=1280,900".to_owned());
                args.push("--force-dark-mode".to_owned());
                args.push("--blink-settings=preferredColorScheme=0".to_owned());
            }
            Screen::Phone => {
                options["mobileEmulation"] = json!({
                    "deviceMetrics": { "width": 360, "height": 740, "pixelRatio": 3.0, "touch": true }
                });
            }
        }
        options["args"] = json!(args);
        options["binary"] = json!(chromium_binary());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);

        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start a Chromium session through chromedriver: {e}"),
            }
        };
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// chromedriver goes with its guard, but the Chromium it started would outlive it when a
    /// test fails before `close`: whatever still runs with this session's profile is killed.
    fn drop(&mut self) {
        let marker = format!("--user-data-dir={}", self._profile.path().display());
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return;
        };
        for process in processes.flatten() {
            let name = process.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let cmdline = std::fs::read(process.path().join("cmdline")).unwrap_or_default();
            // Arguments are NUL-separated; the profile is one whole argument.
            if cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == marker.as_bytes())
            {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
    }
}

fn chromium_binary() -> String {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .find(|p| Path::new(p).exists())
    .map(|p| p.to_string())
    .expect("Chromium is not installed (apt-get install chromium)")
}

impl Browser {
    /// Clicks the element `css` finds on the current page, failing the test if there is none.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Types a name and password into the login form on the current page and submits it.
    pub async fn submit_login(&self, name: &str, password: &str) {
        let c = &self.client;
        for (id, text) in [("login-name", name), ("login-password", password)] {
            let field = c.find(Locator::Id(id)).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(text).await.unwrap();
        }
        c.find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Signs in through the login form, as a person would, and waits for the dashboard.
    pub async fn sign_in(&self, console: &Console, name: &str) {
        let c = &self.client;
        c.goto(&format!("{}/login", console.url)).await.unwrap();
        self.submit_login(name, PASSWORD).await;
        self.dashboard_shown("the dashboard after signing in").await;
    }

    /// Waits until the dashboard's table is on the page.
    pub async fn dashboard_shown(&self, what: &str) {
        let c = &self.client;
        eventually(what, Duration::from_secs(30), || async {
            c.find(Locator::Css("table.matrix tbody"))
                .await
                .ok()
                .map(drop)
        })
        .await;
    }
}

/// A loopback TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it returns `Some`, or fails the test with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
