pub mod choice;
pub mod form;
pub mod ids;
pub mod import;
pub mod integral;
pub mod redirect;
pub mod role;
pub mod settings;
pub mod slug;
pub mod trl;
pub mod verdict;
pub mod views;

pub use choice::{Choice, Side};
pub use ids::{ClientKey, TaskId, Username};
pub use role::Role;
pub use settings::{FieldError, Settings, SettingsInput};
pub use slug::ProjectSlug;
