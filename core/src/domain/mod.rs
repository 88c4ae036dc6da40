pub mod choice;
pub mod import;
pub mod slug;
pub mod trl;
pub mod verdict;
pub mod views;

pub use choice::{Choice, Side};
pub use slug::ProjectSlug;
