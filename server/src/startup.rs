//! Building and running the server.
//!
//! The order is chosen so that a failure leaves nothing half-started: the configuration is
//! already valid when we get here, then the port is bound (a port in use fails before the
//! database is touched), then the database is opened and migrated, and only then are requests
//! served and background work started.

use std::{future::Future, net::SocketAddr, sync::Arc};

use flightdeck_app::model::Timestamp;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::AuthService,
    backend,
    background::Background,
    clock::{Clock, SystemClock},
    config::{Config, ConfigErrors},
    console::ConsoleService,
    costs::measure::Measurer,
    deploy::{DeployEngine, DeployService},
    health::HealthMonitor,
    http::{self, AppState, metrics::Metrics},
    incidents::IncidentService,
    leptos_options,
    logs::LogService,
    notify::Notifier,
    runbooks::Catalog,
    store::{self, KeptReads, OpenError, Store, StoreError},
    tls::{self, TlsError},
    views::{Revisions, Views},
};

pub struct Settings {
    pub config: Config,
    pub database_url: String,
    pub addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(ConfigErrors),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error("{0}")]
    Leptos(String),
    #[error("cannot read the accounts from the database: {0}")]
    Accounts(StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot set up the health prober: {0}")]
    Prober(reqwest::Error),
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
}

pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: axum::Router,
    /// Present when `[tls]` is configured.
    tls: Option<TlsAcceptor>,
    store: Arc<dyn Store>,
    auth: Arc<AuthService>,
    health: Arc<HealthMonitor>,
    deploys: Arc<DeployEngine>,
    runbooks: Arc<Catalog>,
    measurer: Arc<Measurer>,
    incidents: Arc<IncidentService>,
    notifier: Arc<Notifier>,
    views: Arc<Views>,
    /// The dashboard's count of changes, followed by open dashboards.
    revisions: Arc<Revisions>,
    /// Cancelled on shutdown; background loops watch it.
    stopping: CancellationToken,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Self::build`] with the clock that session expiry and sign-in throttling read (tests
    /// pass one they set).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let Settings {
            config,
            database_url,
            addr,
        } = settings;

        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| StartupError::Bind {
                addr,
                reason: bind_reason(&e),
            })?;
        let local_addr = listener.local_addr().map_err(|e| StartupError::Bind {
            addr,
            reason: e.to_string(),
        })?;

        // Certificates before the database: a wrong path fails fast, with nothing touched.
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let leptos = leptos_options::load(local_addr).map_err(StartupError::Leptos)?;
        let store: Arc<dyn Store> = Arc::new(store::open(&database_url).await?);
        let config = Arc::new(config);
        tracing::info!(
            store = store.describe(),
            config = %config.source.display(),
            "{}",
            config.summary()
        );

        let users = store.count_users().await.map_err(StartupError::Accounts)?;
        if users == 0 {
            tracing::warn!(
                "No accounts yet. Create the first admin on this machine with: \
                 flightdeck user add NAME --role admin --database-url <the same URL>"
            );
        }

        let auth = Arc::new(
            AuthService::new(store.clone(), config.access.clone()).with_clock(clock.clone()),
        );
        // One backend per environment, shared by the monitor, the engine and the views.
        let backends = backend::for_environments(&config).await;
        let health = Arc::new(
            HealthMonitor::new(&config, store.clone(), backends.clone())
                .map_err(StartupError::Prober)?,
        );
        let engine = Arc::new(
            DeployEngine::new(
                config.clone(),
                store.clone(),
                backends.clone(),
                config.deploy,
            )
            .map_err(StartupError::Prober)?
            .with_clock(clock.clone()),
        );
        // Read now (a problem is logged, never fatal), then kept current by its loop.
        let runbooks = Arc::new(Catalog::new(config.clone()));
        let measurer = Arc::new(Measurer::new(config.clone(), store.clone(), clock.clone()).await);
        let revisions = Arc::new(Revisions::new());
        // Shared by the dashboard and the incident banner on every page.
        let kept = Arc::new(KeptReads::new(store.clone()));
        let views = Arc::new(Views::new(
            config.clone(),
            kept.clone(),
            health.clone(),
            backends.clone(),
            runbooks.clone(),
            measurer.clone(),
            revisions.clone(),
        ));
        let logs = Arc::new(LogService::new(
            config.clone(),
            backends.clone(),
            auth.clone(),
            clock.clone(),
        ));
        let deploys = Arc::new(DeployService::new(
            config.clone(),
            auth.clone(),
            health.clone(),
            engine.clone(),
            backends,
        ));
        let incidents = Arc::new(IncidentService::new(
            config.clone(),
            kept,
            auth.clone(),
            runbooks.clone(),
            clock.clone(),
        ));
        let notifier = Arc::new(Notifier::new(config.clone(), store.clone(), clock.clone()));
        let stopping = CancellationToken::new();
        let state = AppState {
            leptos,
            console: Arc::new(ConsoleService::new(
                auth.clone(),
                health.clone(),
                deploys,
                views.clone(),
                incidents.clone(),
                notifier.clone(),
                logs.clone(),
            )),
            store: store.clone(),
            auth: auth.clone(),
            access: Arc::new(config.access.clone()),
            metrics: Arc::new(Metrics::new(health.stats())),
            deploy_changes: engine.changes(),
            revisions: revisions.clone(),
            health_json: Arc::default(),
            logs,
            stopping: stopping.clone(),
        };
        Ok(Self {
            listener,
            local_addr,
            router: http::router(state),
            tls,
            store,
            auth,
            health,
            deploys: engine,
            runbooks,
            measurer,
            incidents,
            notifier,
            views,
            revisions,
            stopping,
        })
    }

    /// What sends notifications (tests move their clock and wake it).
    pub fn notifier(&self) -> Arc<Notifier> {
        self.notifier.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The runbook catalog this console serves (tests wait on its changes).
    pub fn runbooks(&self) -> Arc<Catalog> {
        self.runbooks.clone()
    }

    /// What asks AWS for the measured costs (tests move their clock and call it).
    pub fn costs(&self) -> Arc<Measurer> {
        self.measurer.clone()
    }

    /// The health monitor (tests wait on its changes of state).
    pub fn health(&self) -> Arc<HealthMonitor> {
        self.health.clone()
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Serves until `shutdown` resolves, then lets requests under way finish, stops background
    /// work and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Self {
            listener,
            local_addr,
            router,
            tls,
            store,
            auth,
            health,
            deploys,
            runbooks,
            measurer,
            incidents,
            notifier,
            views,
            revisions,
            stopping,
        } = self;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("Flightdeck listening on {scheme}://{local_addr}");
        // Before taking new work: a job whose console stopped more than a lease ago (this one
        // before a restart, or another sharing the database) is interrupted and read back. A
        // job another live console runs is left to it.
        match deploys.take_over_stale(Timestamp::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "marked deploys whose console had stopped as interrupted"
            ),
            Err(e) => tracing::error!(error = %e, "cannot check for abandoned deploys"),
        }
        let mut loops = Background::new(stopping.clone());
        loops.spawn("session sweeper", |stopping| auth.sweep_loop(stopping));
        // On shutdown the monitor writes its partial minute of samples before it returns.
        let monitor = health.clone();
        let monitor_for_revisions = health.clone();
        let deploy_changes = deploys.changes();
        loops.spawn("health monitor", |stopping| health.run(stopping));
        loops.spawn("deploy worker", |stopping| deploys.run(stopping));
        loops.spawn("runbooks watcher", |stopping| runbooks.run(stopping));
        loops.spawn("costs measurer", |stopping| measurer.run(stopping));
        loops.spawn("incident timelines", |stopping| {
            incidents.run(monitor, stopping)
        });
        loops.spawn("notifier", |stopping| notifier.run(stopping));
        loops.spawn("dashboard revisions", |stopping| {
            revisions.run(views, monitor_for_revisions, deploy_changes, stopping)
        });

        let stop_signal = stopping.clone();
        let shutdown = async move {
            shutdown.await;
            stop_signal.cancel();
        };
        let served = match tls {
            Some(acceptor) => tls::serve(listener, acceptor, router, shutdown).await,
            None => {
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
        };

        loops.stop().await;
        store.close().await;
        tracing::info!("Flightdeck stopped");
        served.map_err(StartupError::Serve)
    }
}

fn bind_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is already in use (another Flightdeck? choose one with --addr)".to_owned()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges; try --addr 0.0.0.0:3000)"
                .to_owned()
        }
        _ => e.to_string(),
    }
}
