//! The rbd store.

mod config;

pub use config::*;
