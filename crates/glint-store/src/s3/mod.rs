//! The s3 store.

mod config;

pub use config::*;
