//! The server's implementation of the UI's [`Console`] port. Each method authorizes the caller
//! (through [`crate::auth::authorize`]) before it does anything, then hands reads to
//! [`Views`] and changes to the services that make them, and maps errors once.

use std::sync::Arc;

use async_trait::async_trait;
use flightdeck_app::{
    console::{Caller, Client, Console, SetCookie},
    error::ConsoleError,
    model::{
        Action, ApprovalForm, AuditFilter, AuditPage, CostsPage, CreatedToken, Dashboard,
        DeclareForm, DeployForm, DeployPanel, DeploymentView, IncidentList, IncidentPage,
        IncidentView, LiveService, LogQuery, LogsPage, MatrixView, Me, NotifyPage,
        PromotionPreview, RunbookList, RunbookPage, RunbookProblem, ServiceHealthPage, SessionView,
        TargetHealth, TokenView, UserView,
    },
};

use crate::{
    auth::{AuthService, Password, authorize},
    deploy::DeployService,
    health::HealthMonitor,
    incidents::IncidentService,
    logs::LogService,
    notify::Notifier,
    store::Outcome,
    views::{Detail, Views},
};

/// Deliveries listed per target on the notifications page.
const NOTIFY_SHOWN: u32 = 25;

pub struct ConsoleService {
    auth: Arc<AuthService>,
    logs: Arc<LogService>,
    notifier: Arc<Notifier>,
    health: Arc<HealthMonitor>,
    deploys: Arc<DeployService>,
    views: Arc<Views>,
    incidents: Arc<IncidentService>,
}

impl ConsoleService {
    pub fn new(
        auth: Arc<AuthService>,
        health: Arc<HealthMonitor>,
        deploys: Arc<DeployService>,
        views: Arc<Views>,
        incidents: Arc<IncidentService>,
        notifier: Arc<Notifier>,
        logs: Arc<LogService>,
    ) -> Self {
        Self {
            auth,
            logs,
            notifier,
            health,
            deploys,
            views,
            incidents,
        }
    }
}

#[async_trait]
impl Console for ConsoleService {
    async fn dashboard(&self, caller: &Caller) -> Result<Dashboard, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.dashboard_now().await?)
    }

    async fn dashboard_matrix(&self, caller: &Caller) -> Result<MatrixView, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.dashboard_matrix().await?)
    }

    async fn service_health(
        &self,
        caller: &Caller,
        service: String,
    ) -> Result<ServiceHealthPage, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.service_health(&service).await?)
    }

    async fn logs(
        &self,
        caller: &Caller,
        service: String,
        environment: String,
        query: LogQuery,
    ) -> Result<LogsPage, ConsoleError> {
        // Authorized per environment by the log service (viewers where it allows them).
        Ok(self
            .logs
            .page(caller, &service, &environment, query)
            .await?)
    }

    async fn request_deploy(
        &self,
        caller: &Caller,
        form: DeployForm,
    ) -> Result<DeploymentView, ConsoleError> {
        let job = self.deploys.request(caller, form).await?;
        Ok(self
            .views
            .deployment_view(caller, job, Detail::Full)
            .await?)
    }

    async fn deploy_panels(
        &self,
        caller: &Caller,
        service: String,
    ) -> Result<Vec<DeployPanel>, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.panels(caller, &service).await?)
    }

    async fn promotion_preview(
        &self,
        caller: &Caller,
        service: String,
        target: String,
    ) -> Result<PromotionPreview, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self
            .views
            .promotion_preview(caller, &service, &target)
            .await?)
    }

    async fn deployment(&self, caller: &Caller, id: i64) -> Result<DeploymentView, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.deployment(caller, id, Detail::Full).await?)
    }

    async fn deployment_progress(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<DeploymentView, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.deployment(caller, id, Detail::Progress).await?)
    }

    async fn notifications(&self, caller: &Caller) -> Result<NotifyPage, ConsoleError> {
        authorize(caller, Action::ManageNotifications)?;
        Ok(self
            .notifier
            .page(NOTIFY_SHOWN)
            .await
            .map_err(crate::error::AppError::from)?)
    }

    async fn send_test_notification(
        &self,
        caller: &Caller,
        target: String,
    ) -> Result<(), ConsoleError> {
        self.auth
            .allow_in(
                caller,
                Action::ManageNotifications,
                "notify.test",
                &target,
                "",
            )
            .await?;
        if !self.notifier.targets().iter().any(|t| t.name == target) {
            return Err(ConsoleError::Invalid {
                field: "target".to_owned(),
                message: format!("there is no notification target `{target}`"),
            });
        }
        self.notifier
            .send_test(&target, &caller.name)
            .await
            .map_err(crate::error::AppError::from)?;
        self.auth
            .audit_action(
                caller,
                "notify.test",
                &target,
                "",
                Outcome::Success,
                "queued a test message".to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn decide_deployment(
        &self,
        caller: &Caller,
        form: ApprovalForm,
    ) -> Result<DeploymentView, ConsoleError> {
        let job = self.deploys.decide(caller, form).await?;
        Ok(self
            .views
            .deployment_view(caller, job, Detail::Full)
            .await?)
    }

    async fn environment_services(
        &self,
        caller: &Caller,
        environment: String,
    ) -> Result<Vec<LiveService>, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.environment_services(&environment).await?)
    }

    async fn costs(&self, caller: &Caller) -> Result<CostsPage, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(CostsPage::clone(&*self.views.costs().await))
    }

    async fn incidents(&self, caller: &Caller) -> Result<IncidentList, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.incidents.list(caller).await?)
    }

    async fn open_incidents(&self, caller: &Caller) -> Result<Vec<IncidentView>, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.incidents.open().await?)
    }

    async fn incident(&self, caller: &Caller, id: i64) -> Result<IncidentPage, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.incidents.page(caller, id).await?)
    }

    async fn incident_record(&self, caller: &Caller, id: i64) -> Result<String, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.incidents.record(id).await?.1)
    }

    async fn declare_incident(
        &self,
        caller: &Caller,
        form: DeclareForm,
    ) -> Result<i64, ConsoleError> {
        Ok(self.incidents.declare(caller, form).await?)
    }

    async fn note_incident(
        &self,
        caller: &Caller,
        id: i64,
        note: String,
        happened_at: String,
    ) -> Result<(), ConsoleError> {
        Ok(self.incidents.note(caller, id, &note, &happened_at).await?)
    }

    async fn resolve_incident(
        &self,
        caller: &Caller,
        id: i64,
        summary: String,
    ) -> Result<(), ConsoleError> {
        Ok(self.incidents.resolve(caller, id, &summary).await?)
    }

    async fn refresh_costs(
        &self,
        caller: &Caller,
        environment: String,
    ) -> Result<(), ConsoleError> {
        let env = self
            .views
            .measured_environment(&environment)
            .ok_or_else(|| ConsoleError::Invalid {
                field: "environment".to_owned(),
                message: format!("{environment:?} is not an environment whose costs are measured"),
            })?;
        self.auth
            .allow_in(
                caller,
                Action::RefreshCosts,
                "costs.refresh",
                "costs",
                env.as_str(),
            )
            .await?;
        let result = self.views.refresh_costs(&env).await;
        let (outcome, details) = match &result {
            Ok(()) => (Outcome::Success, "asked AWS Cost Explorer".to_owned()),
            Err(e) => (Outcome::Failure, e.clone()),
        };
        self.auth
            .audit_action(
                caller,
                "costs.refresh",
                "costs",
                env.as_str(),
                outcome,
                details,
            )
            .await?;
        result.map_err(ConsoleError::Unavailable)
    }

    async fn runbooks(
        &self,
        caller: &Caller,
        query: String,
        service: String,
        tag: String,
    ) -> Result<RunbookList, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.runbook_list(&query, &service, &tag)?)
    }

    async fn runbook(&self, caller: &Caller, slug: String) -> Result<RunbookPage, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.runbook_page(caller, &slug).await?)
    }

    async fn runbook_export(&self, caller: &Caller) -> Result<String, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.views.runbook_export())
    }

    async fn runbook_problems(&self, caller: &Caller) -> Result<Vec<RunbookProblem>, ConsoleError> {
        authorize(caller, Action::ViewRunbookProblems)?;
        Ok(self.views.runbook_problems())
    }

    async fn health(&self, caller: &Caller) -> Result<Arc<Vec<TargetHealth>>, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(self.health.snapshot().targets.clone())
    }

    async fn me(&self, caller: &Caller) -> Result<Me, ConsoleError> {
        authorize(caller, Action::View)?;
        Ok(Me {
            name: caller.name.clone(),
            role: caller.role,
        })
    }

    async fn login(
        &self,
        client: &Client,
        name: String,
        password: String,
    ) -> Result<SetCookie, ConsoleError> {
        Ok(self
            .auth
            .login(client, &name, Password::new(password))
            .await?)
    }

    async fn logout(&self, caller: &Caller, client: &Client) -> Result<SetCookie, ConsoleError> {
        Ok(self.auth.logout(caller, client).await?)
    }

    async fn my_sessions(&self, caller: &Caller) -> Result<Vec<SessionView>, ConsoleError> {
        Ok(self.auth.my_sessions(caller).await?)
    }

    async fn end_my_session(&self, caller: &Caller, id: String) -> Result<(), ConsoleError> {
        Ok(self.auth.end_my_session(caller, &id).await?)
    }

    async fn change_my_password(
        &self,
        caller: &Caller,
        current: String,
        new: String,
    ) -> Result<(), ConsoleError> {
        Ok(self
            .auth
            .change_my_password(caller, Password::new(current), Password::new(new))
            .await?)
    }

    async fn users(&self, caller: &Caller) -> Result<Vec<UserView>, ConsoleError> {
        Ok(self.auth.users(caller).await?)
    }

    async fn add_user(
        &self,
        caller: &Caller,
        name: String,
        role: String,
        password: String,
    ) -> Result<(), ConsoleError> {
        Ok(self
            .auth
            .add_user(caller, &name, &role, Password::new(password))
            .await?)
    }

    async fn set_user_disabled(
        &self,
        caller: &Caller,
        name: String,
        disabled: bool,
    ) -> Result<(), ConsoleError> {
        Ok(self.auth.set_user_disabled(caller, &name, disabled).await?)
    }

    async fn reset_password(
        &self,
        caller: &Caller,
        name: String,
        password: String,
    ) -> Result<(), ConsoleError> {
        Ok(self
            .auth
            .reset_password(caller, &name, Password::new(password))
            .await?)
    }

    async fn set_user_role(
        &self,
        caller: &Caller,
        name: String,
        role: String,
    ) -> Result<(), ConsoleError> {
        Ok(self.auth.set_user_role(caller, &name, &role).await?)
    }

    async fn tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, ConsoleError> {
        Ok(self.auth.tokens(caller).await?)
    }

    async fn create_token(
        &self,
        caller: &Caller,
        name: String,
        role: String,
    ) -> Result<CreatedToken, ConsoleError> {
        Ok(self.auth.create_token(caller, &name, &role).await?)
    }

    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<(), ConsoleError> {
        Ok(self.auth.revoke_token(caller, id).await?)
    }

    async fn audit(&self, caller: &Caller, filter: AuditFilter) -> Result<AuditPage, ConsoleError> {
        Ok(self.auth.audit(caller, &filter).await?)
    }
}
