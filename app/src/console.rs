//! The port between the UI and the back end.
//!
//! Server functions are thin: they take the [`Console`] from the Leptos context and the
//! [`Caller`] the server's authentication middleware attached to the request, call one method
//! and return its result. Every method that needs an account takes the caller; the server's
//! implementation authorizes it first, through one function. The `server` crate implements the
//! trait and provides it as context for every request.

use std::{net::IpAddr, sync::Arc};

use leptos::prelude::use_context;

use crate::{
    error::ConsoleError,
    model::{
        ApprovalForm, AuditFilter, AuditPage, CostsPage, CreatedToken, Dashboard, DeclareForm,
        DeployForm, DeployPanel, DeploymentView, IncidentList, IncidentPage, IncidentView,
        LiveService, LogQuery, LogsPage, MatrixView, Me, NotifyPage, PromotionPreview, Role,
        RunbookList, RunbookPage, RunbookProblem, ServiceHealthPage, SessionView, TargetHealth,
        TokenView, UserView,
    },
};

/// Who makes the current request, established by the server from a session cookie or an API
/// token. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    /// The person answerable for what the caller does: the account's name, or for an API
    /// token, whoever created it. Approvals compare people, so a second token is not a second
    /// person.
    pub person: String,
    pub role: Role,
    pub kind: CallerKind,
    /// The client address, as the network allow-list saw it.
    pub source: IpAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// A signed-in account. `session` is the SHA-256 of the cookie value, never the value.
    Session {
        user_id: i64,
        session: [u8; 32],
    },
    Token {
        token_id: i64,
    },
    /// The `flightdeck` command line, run by someone with access to the console's machine.
    System,
}

/// The client's address (after `trusted_proxies`) and user agent, for every request, signed in
/// or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    pub user_agent: String,
    /// Served over HTTPS (directly, or by a trusted proxy that says so).
    pub https: bool,
    /// The SHA-256 of the session cookie the request carried, valid or not: a login replaces
    /// it (the session id changes at every sign-in).
    pub presented_session: Option<[u8; 32]>,
}

/// A `Set-Cookie` header value the server function must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie(pub String);

#[async_trait::async_trait]
pub trait Console: Send + Sync + 'static {
    /// The environment x service matrix with what the console knows of each cell.
    async fn dashboard(&self, caller: &Caller) -> Result<Dashboard, ConsoleError>;

    /// The same, rendered as the dashboard page shows it.
    async fn dashboard_matrix(&self, caller: &Caller) -> Result<MatrixView, ConsoleError>;

    /// One service: health now, uptime, latency and changes in every environment it runs in.
    async fn service_health(
        &self,
        caller: &Caller,
        service: String,
    ) -> Result<ServiceHealthPage, ConsoleError>;

    /// The newest log lines of `service` in `environment` that match `query` (deployers and
    /// up, or viewers where the environment allows it); every read is audited.
    async fn logs(
        &self,
        caller: &Caller,
        service: String,
        environment: String,
        query: LogQuery,
    ) -> Result<LogsPage, ConsoleError>;

    /// What every service costs a month in every environment, estimated from what runs.
    async fn costs(&self, caller: &Caller) -> Result<CostsPage, ConsoleError>;

    /// `/incidents`: open and past incidents.
    async fn incidents(&self, caller: &Caller) -> Result<IncidentList, ConsoleError>;

    /// The open incidents, oldest first, for the banner on every page.
    async fn open_incidents(&self, caller: &Caller) -> Result<Vec<IncidentView>, ConsoleError>;

    /// One incident with its timeline.
    async fn incident(&self, caller: &Caller, id: i64) -> Result<IncidentPage, ConsoleError>;

    /// The post-incident record as Markdown.
    async fn incident_record(&self, caller: &Caller, id: i64) -> Result<String, ConsoleError>;

    /// Declares an incident (deployers and up); returns its number.
    async fn declare_incident(
        &self,
        caller: &Caller,
        form: DeclareForm,
    ) -> Result<i64, ConsoleError>;

    /// Adds a note; `happened_at` (empty for now) sets it back to when it happened.
    async fn note_incident(
        &self,
        caller: &Caller,
        id: i64,
        note: String,
        happened_at: String,
    ) -> Result<(), ConsoleError>;

    /// Resolves an open incident with a summary.
    async fn resolve_incident(
        &self,
        caller: &Caller,
        id: i64,
        summary: String,
    ) -> Result<(), ConsoleError>;

    /// Asks AWS for an environment's measured costs now (admins; each request costs $0.01).
    async fn refresh_costs(&self, caller: &Caller, environment: String)
    -> Result<(), ConsoleError>;

    /// The health of every service in every environment, in configuration order.
    /// Shared, not copied: one list per change of what the monitor shows.
    async fn health(&self, caller: &Caller) -> Result<Arc<Vec<TargetHealth>>, ConsoleError>;

    /// Queues a deploy, rollback or promotion; a held lock is `Conflict` naming the holder.
    async fn request_deploy(
        &self,
        caller: &Caller,
        form: DeployForm,
    ) -> Result<DeploymentView, ConsoleError>;

    /// Per environment of one service: what the caller may do there and the deploy history.
    async fn deploy_panels(
        &self,
        caller: &Caller,
        service: String,
    ) -> Result<Vec<DeployPanel>, ConsoleError>;

    /// What promoting the service to `target` from the environment before it would change.
    async fn promotion_preview(
        &self,
        caller: &Caller,
        service: String,
        target: String,
    ) -> Result<PromotionPreview, ConsoleError>;

    /// One deploy with its steps.
    async fn deployment(&self, caller: &Caller, id: i64) -> Result<DeploymentView, ConsoleError>;

    /// The same without what a job awaiting approval would change (which is read from the
    /// backends): for a live stream, which looks every second.
    async fn deployment_progress(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<DeploymentView, ConsoleError>;

    /// The notification targets and their recent deliveries (admins).
    async fn notifications(&self, caller: &Caller) -> Result<NotifyPage, ConsoleError>;

    /// Queues a test message to one target (admins; audited).
    async fn send_test_notification(
        &self,
        caller: &Caller,
        target: String,
    ) -> Result<(), ConsoleError>;

    /// Approves or rejects a deploy awaiting approval (a releaser other than its requester).
    async fn decide_deployment(
        &self,
        caller: &Caller,
        form: ApprovalForm,
    ) -> Result<DeploymentView, ConsoleError>;

    /// The services of one environment as the backend reports them now.
    async fn environment_services(
        &self,
        caller: &Caller,
        environment: String,
    ) -> Result<Vec<LiveService>, ConsoleError>;

    /// The runbooks that match a search (`query`), a service and a tag; empty strings narrow
    /// nothing.
    async fn runbooks(
        &self,
        caller: &Caller,
        query: String,
        service: String,
        tag: String,
    ) -> Result<RunbookList, ConsoleError>;

    /// One runbook with its services' health now.
    async fn runbook(&self, caller: &Caller, slug: String) -> Result<RunbookPage, ConsoleError>;

    /// Every runbook in one self-contained HTML file, to keep for when the console is down.
    async fn runbook_export(&self, caller: &Caller) -> Result<String, ConsoleError>;

    /// What is wrong with the runbook files now.
    async fn runbook_problems(&self, caller: &Caller) -> Result<Vec<RunbookProblem>, ConsoleError>;

    /// The caller's own name and role, for the header and for hiding what they may not do.
    async fn me(&self, caller: &Caller) -> Result<Me, ConsoleError>;

    /// Checks the password (with throttling) and starts a session.
    async fn login(
        &self,
        client: &Client,
        name: String,
        password: String,
    ) -> Result<SetCookie, ConsoleError>;

    /// Ends the caller's session on the server; the cookie to clear it in the browser.
    async fn logout(&self, caller: &Caller, client: &Client) -> Result<SetCookie, ConsoleError>;

    async fn my_sessions(&self, caller: &Caller) -> Result<Vec<SessionView>, ConsoleError>;

    async fn end_my_session(&self, caller: &Caller, id: String) -> Result<(), ConsoleError>;

    async fn change_my_password(
        &self,
        caller: &Caller,
        current: String,
        new: String,
    ) -> Result<(), ConsoleError>;

    async fn users(&self, caller: &Caller) -> Result<Vec<UserView>, ConsoleError>;

    async fn add_user(
        &self,
        caller: &Caller,
        name: String,
        role: String,
        password: String,
    ) -> Result<(), ConsoleError>;

    async fn set_user_disabled(
        &self,
        caller: &Caller,
        name: String,
        disabled: bool,
    ) -> Result<(), ConsoleError>;

    async fn reset_password(
        &self,
        caller: &Caller,
        name: String,
        password: String,
    ) -> Result<(), ConsoleError>;

    async fn set_user_role(
        &self,
        caller: &Caller,
        name: String,
        role: String,
    ) -> Result<(), ConsoleError>;

    async fn tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, ConsoleError>;

    async fn create_token(
        &self,
        caller: &Caller,
        name: String,
        role: String,
    ) -> Result<CreatedToken, ConsoleError>;

    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<(), ConsoleError>;

    async fn audit(&self, caller: &Caller, filter: AuditFilter) -> Result<AuditPage, ConsoleError>;
}

/// What the server provides as Leptos context.
#[derive(Clone)]
pub struct ConsoleContext(pub Arc<dyn Console>);

/// The console of the current request.
pub fn current() -> Result<Arc<dyn Console>, ConsoleError> {
    use_context::<ConsoleContext>()
        .map(|c| c.0)
        // A wiring bug, not a user error: the router always provides it.
        .ok_or(ConsoleError::Internal)
}

fn request_parts() -> Result<http::request::Parts, ConsoleError> {
    use_context::<http::request::Parts>().ok_or(ConsoleError::Internal)
}

/// The console and the signed-in caller of the current request, or `Unauthenticated`.
pub fn signed_in() -> Result<(Arc<dyn Console>, Caller), ConsoleError> {
    let caller = request_parts()?
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or(ConsoleError::Unauthenticated)?;
    Ok((current()?, caller))
}

/// The console and the client of the current request, signed in or not.
pub fn client() -> Result<(Arc<dyn Console>, Client), ConsoleError> {
    let client = request_parts()?
        .extensions
        .get::<Client>()
        .cloned()
        .ok_or(ConsoleError::Internal)?;
    Ok((current()?, client))
}
