//! Small pieces used by several pages.

mod error_panel;
mod form_result;

pub use error_panel::ErrorPanel;
pub use form_result::FormResult;
