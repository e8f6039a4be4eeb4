//! The HTTP face of glint: Glance's v2 routes on axum, the extractors that
//! turn headers into a request context, the JSON views, and the single
//! place (`error.rs`) where errors become status codes and Glance's error
//! bodies.
//!
//! Handlers are thin: extract, call one use case of `glint-core`, render a
//! view. This crate must not talk to the database or the stores directly.

pub mod auth;
pub mod body;
pub mod context;
pub mod error;
pub mod health;
pub mod json;
pub mod log_text;
pub mod metadef_views;
pub mod metrics;
pub mod noauth_guard;
pub mod path;
pub mod request_id;
pub mod server;
pub mod stage_proxy;
pub mod state;
pub mod task_views;
pub mod v2;
pub mod versions;
pub mod views;

pub use server::{bind, router, serve, serve_metrics};
pub use state::{ApiConfig, AppState, AuthMode, ConnectionLimits};
