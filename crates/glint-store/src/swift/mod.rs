//! The swift store.

mod config;

pub use config::*;
