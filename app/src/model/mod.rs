//! Types shared by the server and the browser: what the pages show and what the server
//! functions carry. Values that have rules (names, timestamps) are newtypes that can only be
//! built through `parse`, so an invalid one cannot exist past the edge.

mod access;
mod costs;
mod dashboard;
mod deploy;
mod health;
mod incidents;
mod logs;
mod names;
mod notify;
mod runbooks;
mod timestamp;

pub use access::{
    AccountNameError, Action, AuditFilter, AuditPage, AuditView, CreatedToken, Me, Protection,
    Role, SessionView, TokenView, UnknownRole, UserView, check_account_name, encode_query_value,
    permits,
};
pub use costs::{
    BudgetView, Cost, CostCell, CostsPage, EnvironmentCosts, FixedItem, MeasuredCell,
    MeasuredCosts, ServiceCosts, ThresholdView, dollars,
};
pub use dashboard::{
    BackendSummary, Cell, CellHealth, Dashboard, EnvironmentColumn, FreezeNotice, MatrixView,
    ServiceRow,
};
pub use deploy::{
    ApprovalDecision, ApprovalForm, ApprovalView, DeployForm, DeployKind, DeployPanel, DeployState,
    DeploySummary, DeploymentView, Lag, LiveService, PromotionPreview, RecentHealth,
    RollbackOption, RunningRelease, SettingDifference, StepView,
};
pub use health::{
    EcsDeploymentView, EcsServiceView, EnvironmentHealth, HealthChange, HealthNow, HealthState,
    HealthSummary, LatencyPoint, RunbookLink, SeenRelease, ServiceHealthPage, TargetHealth, Uptime,
};
pub use incidents::{
    DeclareForm, IncidentList, IncidentPage, IncidentView, PinnedRunbook, Severity, TimelineEntry,
    scope_text,
};
pub use logs::{
    LOG_PAGE_LINES, LOG_RANGES, LogLine, LogParams, LogQuery, LogStream, LogsPage,
    MAX_FILTER_CHARS, MAX_RANGE_MINUTES,
};
pub use names::{EnvName, NameError, ServiceName};
pub use notify::{DeliveryView, NotifyPage, NotifyTargetView};
pub use runbooks::{
    ActionBlockView, ExternalRunbook, RunbookEntry, RunbookList, RunbookPage, RunbookPart,
    RunbookProblem, RunbookSummary, SnippetPart, TocEntry,
};
pub use timestamp::Timestamp;
