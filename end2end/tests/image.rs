//! The container image (`scripts/image.sh`) on the real Docker Engine, as a team runs it: with a
//! PostgreSQL container, migrated on start, healthy by its own HEALTHCHECK, an admin made with
//! `docker exec … flightdeck user add`, data that outlives the container, and two replicas on one
//! database that see each other's deploys and finish each other's recoveries.
//!
//! `scripts/test.sh` builds the image (`FLIGHTDECK_IMAGE`, else `flightdeck:test`) and the
//! PostgreSQL test image (`FLIGHTDECK_TEST_POSTGRES_IMAGE`, made from this machine's PostgreSQL
//! because no registry is reachable here) before it runs these, and installs docker-compose for
//! `examples/compose`.

// Shared with the browser tests; these use its accounts, demo and polling only.
#[allow(dead_code)]
mod support;

use std::{
    io::Write,
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use serde_json::{Value, json};
use support::{Demo, PASSWORD, eventually, free_port};

const POSTGRES_PASSWORD: &str = "image-test-db-password";

fn image() -> String {
    std::env::var("FLIGHTDECK_IMAGE").unwrap_or_else(|_| "flightdeck:test".to_owned())
}

/// The PostgreSQL image, which only `scripts/lib/postgres.sh` knows how to make.
fn postgres_image() -> String {
    std::env::var("FLIGHTDECK_TEST_POSTGRES_IMAGE").expect(
        "FLIGHTDECK_TEST_POSTGRES_IMAGE names the PostgreSQL test image: scripts/test.sh builds \
         it (ensure_postgres_image in scripts/lib/postgres.sh) and sets it",
    )
}

/// Runs `cmd` with `stdin` (a line, or nothing); its trimmed standard output. Fails the test
/// with the command's own words.
fn output_of(mut cmd: Command, stdin: Option<&str>) -> String {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let input = child.stdin.take().unwrap();
    if let Some(line) = stdin {
        writeln!(&input, "{line}").unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs the docker CLI; its trimmed standard output.
fn docker(args: &[&str]) -> String {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    output_of(cmd, None)
}

/// `docker exec -i CONTAINER flightdeck ARGS` with `stdin`; its standard output.
fn exec_flightdeck(container: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new("docker");
    cmd.args(["exec", "-i", container, "flightdeck"]).args(args);
    output_of(cmd, stdin)
}

/// The group of the Docker Engine's socket, which a console that deploys (not root) joins.
fn docker_socket_group() -> String {
    std::fs::metadata("/var/run/docker.sock")
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m).to_string())
        .expect("the Docker Engine's socket")
}

/// The containers, networks and volumes a test made, removed when it ends, pass or fail.
struct Made {
    prefix: String,
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

/// A name no other test (or run) uses at the same time.
fn unique_prefix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "fd-image-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Made {
    fn new() -> Self {
        Self {
            prefix: unique_prefix(),
            containers: Vec::new(),
            networks: Vec::new(),
            volumes: Vec::new(),
        }
    }

    fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    fn network(&mut self) -> String {
        let name = self.name("net");
        docker(&["network", "create", &name]);
        self.networks.push(name.clone());
        name
    }

    fn volume(&mut self) -> String {
        let name = self.name("data");
        docker(&["volume", "create", &name]);
        self.volumes.push(name.clone());
        name
    }

    /// `docker run -d --name NAME ARGS`; NAME.
    fn run(&mut self, what: &str, args: &[&str]) -> String {
        let name = self.name(what);
        let mut all = vec!["run", "-d", "--name", name.as_str()];
        all.extend_from_slice(args);
        docker(&all);
        self.containers.push(name.clone());
        name
    }

    /// A PostgreSQL server in a container, accepting connections.
    async fn postgres(&mut self, args: &[&str]) -> String {
        let password = format!("POSTGRES_PASSWORD={POSTGRES_PASSWORD}");
        let image = postgres_image();
        let mut all = vec!["-e", password.as_str()];
        all.extend_from_slice(args);
        all.push(&image);
        let name = self.run("db", &all);
        eventually(
            "PostgreSQL accepts connections",
            Duration::from_secs(60),
            || {
                let said = docker_logs(&name);
                async move {
                    said.contains("database system is ready to accept connections")
                        .then_some(())
                }
            },
        )
        .await;
        name
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        let rm = |args: &[&str], names: &[String]| {
            if !names.is_empty() {
                let _ = Command::new("docker").args(args).args(names).output();
            }
        };
        rm(&["rm", "-f", "-v"], &self.containers);
        rm(&["network", "rm"], &self.networks);
        rm(&["volume", "rm", "-f"], &self.volumes);
    }
}

/// Waits until Docker runs the image's HEALTHCHECK (`flightdeck healthcheck`, asking
/// `/readyz`) and calls the container healthy; the console has migrated its store by then.
async fn healthy(container: &str) {
    eventually(
        &format!("{container} is healthy by its HEALTHCHECK"),
        Duration::from_secs(60),
        || {
            let state = docker(&[
                "inspect",
                "--format",
                "{{.State.Running}} {{.State.Health.Status}}",
                container,
            ]);
            let (running, health) = state.split_once(' ').unwrap_or((&state, ""));
            assert_eq!(
                running,
                "true",
                "{container} stopped: {}",
                docker_logs(container)
            );
            let healthy = health == "healthy";
            async move { healthy.then_some(()) }
        },
    )
    .await;
}

fn docker_logs(container: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The console's address on this machine, from its published port 3000.
fn published(container: &str) -> String {
    let port = docker(&["port", container, "3000/tcp"]);
    let first = port.lines().next().expect("port 3000 is published");
    format!("http://{first}")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the login form's endpoint; the session cookie.
async fn sign_in(base: &str, name: &str) -> String {
    let response = client()
        .post(format!("{base}/api/login"))
        .header("origin", base)
        .form(&[("name", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("flightdeck_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{name} could not sign in at {base} ({status})"))
}

/// GET `path` with the session cookie, as a signed-in browser asks.
async fn get_signed_in(base: &str, cookie: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The dashboard's HTML, as the signed-in browser gets it.
async fn dashboard(base: &str, cookie: &str) -> String {
    let response = get_signed_in(base, cookie, "/").await;
    assert_eq!(response.status(), 200, "the dashboard at {base}");
    response.text().await.unwrap()
}

const CONFIG: &str = "[[environment]]\nname = \"dev\"\ndocker = {}\n\n\
    [[service]]\nname = \"shop\"\ntargets.dev = { container = \"shop-dev\" }\n";

#[tokio::test]
async fn the_image_migrates_a_postgresql_database_takes_an_admin_and_keeps_its_data() {
    let mut made = Made::new();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mount = format!("{}:/etc/flightdeck/flightdeck.toml:ro", config.display());

    // On PostgreSQL, over a network of their own, as examples/compose runs them.
    let network = made.network();
    let db = made.postgres(&["--network", &network]).await;
    let database = format!(
        "FLIGHTDECK_DATABASE_URL=postgres://postgres:{POSTGRES_PASSWORD}@{db}:5432/postgres"
    );
    let run_console = |made: &mut Made, what: &str| {
        made.run(
            what,
            &[
                "--network",
                &network,
                "-e",
                &database,
                "-v",
                &mount,
                "-p",
                "127.0.0.1::3000",
                // As on Fargate with readonlyRootFilesystem: on PostgreSQL it writes no file.
                "--read-only",
                // The image's HEALTHCHECK, asked every second instead of every 15.
                "--health-interval",
                "1s",
                &image(),
            ],
        )
    };
    let first = run_console(&mut made, "console-1");
    healthy(&first).await;
    let base = published(&first);
    let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    exec_flightdeck(
        &first,
        &["user", "add", "ada", "--role", "admin"],
        Some(PASSWORD),
    );
    let cookie = sign_in(&base, "ada").await;
    let page = dashboard(&base, &cookie).await;
    assert!(
        page.contains("data-service=\"shop\""),
        "the dashboard shows the mounted configuration's service"
    );

    // The page's bundle (the wasm and its JS) is where the page says: the binary names the
    // files of the site copied beside it (a name the site lacks would leave every page
    // without its script).
    let bundle: Vec<&str> = page
        .split("\"/pkg/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(
        bundle.iter().any(|f| f.ends_with(".wasm")) && bundle.iter().any(|f| f.ends_with(".js")),
        "the page names its bundle: {bundle:?}"
    );
    for file in bundle {
        let status = client()
            .get(format!("{base}/pkg/{file}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "/pkg/{file}");
    }

    // A new container on the same database: the account and the session are still there.
    docker(&["rm", "-f", &first]);
    let second = run_console(&mut made, "console-2");
    healthy(&second).await;
    let base = published(&second);
    assert!(
        dashboard(&base, &cookie)
            .await
            .contains("data-service=\"shop\"")
    );
    sign_in(&base, "ada").await;

    // Without a database URL the console keeps SQLite in /data, as the non-root user: a named
    // volume outlives the container.
    let volume = made.volume();
    let data = format!("{volume}:/data");
    let run_on_sqlite = |made: &mut Made, what: &str| {
        made.run(
            what,
            &[
                "-v",
                &data,
                "-v",
                &mount,
                "--health-interval",
                "1s",
                &image(),
            ],
        )
    };
    let third = run_on_sqlite(&mut made, "sqlite-1");
    healthy(&third).await;
    exec_flightdeck(
        &third,
        &["user", "add", "ada", "--role", "admin"],
        Some(PASSWORD),
    );
    docker(&["rm", "-f", &third]);
    let fourth = run_on_sqlite(&mut made, "sqlite-2");
    healthy(&fourth).await;
    let accounts = exec_flightdeck(&fourth, &["user", "list"], None);
    assert!(accounts.contains("ada"), "{accounts}");
}

/// GET with the API token; the JSON answer.
async fn get(base: &str, token: &str, path: &str) -> Value {
    client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Requests a deploy of shop in dev; the job's id.
async fn deploy(base: &str, token: &str, version: &str, key: &str) -> i64 {
    let response = client()
        .post(format!("{base}/api/v1/deployments"))
        .bearer_auth(token)
        .json(
            &json!({"environment": "dev", "service": "shop", "version": version,
                      "idempotency_key": key}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Every `deployment` event of the deploy's stream on `base`, read until the server ends it.
async fn deploy_events(base: &str, token: &str, id: i64) -> Vec<Value> {
    let response = client()
        .get(format!("{base}/api/v1/deployments/{id}/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let body = tokio::time::timeout(Duration::from_secs(60), response.text())
        .await
        .expect("the stream ends when the deploy has ended")
        .unwrap();
    body.split("\n\n")
        .filter(|event| event.lines().any(|l| l == "event: deployment"))
        .map(|event| {
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            serde_json::from_str(&data).unwrap()
        })
        .collect()
}

/// The job as `base` reports it, once it is in `state` (waiting at most `limit`).
async fn job_once(base: &str, token: &str, id: i64, limit: Duration, state: &str) -> Value {
    eventually(
        &format!("deploy {id} is {state} at {base}"),
        limit,
        || async move {
            let job = get(base, token, &format!("/api/v1/deployments/{id}")).await;
            (job["state"] == state).then_some(job)
        },
    )
    .await
}

#[tokio::test]
async fn two_replicas_on_one_database_follow_and_recover_each_others_deploys() {
    let mut made = Made::new();
    let dir = tempfile::tempdir().unwrap();
    // The demo's shop runs on this machine, so the consoles share its network (host): the
    // health URL is the same for them as for the demo.
    let (shop_port, db_port) = (free_port(), free_port());
    let shop = made.name("shop");
    let config_text = format!(
        "[deploy]\nbake = \"6s\"\ndeadline = \"60s\"\nlease = \"3s\"\n\n\
         [[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ container = \"{shop}\", health_url = \"http://127.0.0.1:{shop_port}/health\" }}\n"
    );
    let _demo = Demo::set_up(&config_text, dir.path());
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(&config, &config_text).unwrap();
    let mount = format!("{}:/etc/flightdeck/flightdeck.toml:ro", config.display());

    let published_db = format!("127.0.0.1:{db_port}:5432");
    made.postgres(&["-p", &published_db]).await;
    let database = format!(
        "FLIGHTDECK_DATABASE_URL=postgres://postgres:{POSTGRES_PASSWORD}@127.0.0.1:{db_port}/postgres"
    );
    // The engine's socket, for the deploys; its group, since the console is not root.
    let group = docker_socket_group();
    // The container's name and the console's address.
    let replica = |made: &mut Made, what: &str, port: u16| {
        let addr = format!("FLIGHTDECK_ADDR=127.0.0.1:{port}");
        let name = made.run(
            what,
            &[
                "--network",
                "host",
                "-e",
                &addr,
                "-e",
                &database,
                "-v",
                &mount,
                "-v",
                "/var/run/docker.sock:/var/run/docker.sock",
                "--group-add",
                &group,
                "--read-only",
                "--health-interval",
                "1s",
                &image(),
            ],
        );
        (name, format!("http://127.0.0.1:{port}"))
    };
    let (first, first_base) = replica(&mut made, "replica-1", free_port());
    healthy(&first).await;
    let (second, second_base) = replica(&mut made, "replica-2", free_port());
    healthy(&second).await;

    // Both serve the dashboard, and a session made on one is good on the other.
    exec_flightdeck(
        &first,
        &["user", "add", "ada", "--role", "admin"],
        Some(PASSWORD),
    );
    let cookie = sign_in(&first_base, "ada").await;
    for base in [&first_base, &second_base] {
        assert!(
            dashboard(base, &cookie)
                .await
                .contains("data-service=\"shop\"")
        );
    }
    let token = exec_flightdeck(
        &first,
        &["token", "create", "ci", "--role", "deployer"],
        None,
    );

    // A deploy requested on the first is followed live on the second, step by step.
    let id = deploy(&first_base, &token, "1.1.0", "k1").await;
    let stream = deploy_events(&second_base, &token, id).await;
    let last = stream.last().expect("at least one event");
    assert_eq!(last["state"], "succeeded", "{last}");
    let steps = |e: &Value| e["steps"].as_array().map_or(0, Vec::len);
    assert!(
        stream.len() >= 2 && steps(last) > steps(&stream[0]),
        "steps arrived one by one: {stream:?}"
    );

    // The first stops (killed) while it verifies a rollback; the second takes the job over
    // once the lease (3 s) has run out, and frees the service.
    let id = deploy(&first_base, &token, "1.0.0", "k2").await;
    job_once(
        &second_base,
        &token,
        id,
        Duration::from_secs(30),
        "verifying",
    )
    .await;
    docker(&["kill", &first]);
    let job = job_once(
        &second_base,
        &token,
        id,
        Duration::from_secs(20),
        "interrupted",
    )
    .await;
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains("while this deploy was verifying health"),
        "{job}"
    );
    let live = get(&second_base, &token, "/api/v1/environments/dev/services").await;
    let engine_says = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"org.opencontainers.image.version\"}}",
        &shop,
    ]);
    assert_eq!(live[0]["version"], engine_says.as_str(), "{live}");
    assert_eq!(
        live[0]["deploying"],
        Value::Null,
        "no job holds the service"
    );
}

/// `docker-compose` for one project of `examples/compose`, taken down (with its volumes) when
/// the test ends.
struct Compose {
    project: String,
    files: [std::path::PathBuf; 2],
    env: Vec<(&'static str, String)>,
}

impl Compose {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker-compose");
        cmd.arg("-p").arg(&self.project);
        for file in &self.files {
            cmd.arg("-f").arg(file);
        }
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        output_of(self.command(args), None)
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self.command(&["down", "-v", "--timeout", "5"]).output();
    }
}

#[tokio::test]
async fn the_compose_example_comes_up_with_one_command() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    // What a user changes in the example: the image (here the test's), the port, and, as this
    // machine cannot pull postgres:16, the database image.
    let overrides = dir.path().join("compose.override.yaml");
    std::fs::write(
        &overrides,
        format!("services:\n  db:\n    image: {}\n", postgres_image()),
    )
    .unwrap();
    let group = docker_socket_group();
    let port = free_port();
    let compose = Compose {
        project: unique_prefix().replace('-', ""),
        files: [root.join("examples/compose/compose.yaml"), overrides],
        env: vec![
            ("FLIGHTDECK_IMAGE", image()),
            ("FLIGHTDECK_PORT", port.to_string()),
            ("POSTGRES_PASSWORD", POSTGRES_PASSWORD.to_owned()),
            ("DOCKER_GID", group),
        ],
    };
    compose.run(&["up", "-d"]);
    let console = compose.run(&["ps", "-q", "flightdeck"]);
    healthy(&console).await;

    let add = compose.command(&[
        "exec",
        "-T",
        "flightdeck",
        "flightdeck",
        "user",
        "add",
        "ada",
        "--role",
        "admin",
    ]);
    output_of(add, Some(PASSWORD));

    let base = format!("http://127.0.0.1:{port}");
    let cookie = sign_in(&base, "ada").await;
    let page = dashboard(&base, &cookie).await;
    // The example's services are there, and the console reaches the engine through the mounted
    // socket as user 10001 with the socket's group: the engine itself answers that the example's
    // containers do not exist here (an unreachable engine would be "cannot reach …").
    for service in ["shop-web", "orders-api", "mailer"] {
        assert!(
            page.contains(&format!("data-service=\"{service}\"")),
            "{service}"
        );
    }
    let dev: Value = get_signed_in(&base, &cookie, "/api/v1/environments/dev/services")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dev[0]["error"], "shop-web-dev does not exist", "{dev}");
    // And the runbooks, mounted from examples/runbooks, are read.
    let runbooks = get_signed_in(&base, &cookie, "/runbooks")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        runbooks.contains("Storefront is slow or down"),
        "the mounted runbooks are read: {runbooks}"
    );
}
