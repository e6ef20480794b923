//! One module per benchmark table section.

pub mod bulk;
pub mod drain;
pub mod postgres;
pub mod single;
pub mod store_scale;
