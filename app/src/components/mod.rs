//! Small pieces used by several pages.

mod error_panel;
mod form_result;
mod health_badge;
mod live_health;
mod live_marker;
mod sparkline;

pub use error_panel::ErrorPanel;
pub use form_result::FormResult;
pub use health_badge::HealthBadge;
pub use live_health::LiveHealth;
pub use live_marker::live_marker;
pub use sparkline::{Sparkline, polyline};
