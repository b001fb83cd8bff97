//! Small pieces used by several pages.

mod error_panel;

pub use error_panel::ErrorPanel;
