//! Authorization policy for glint: the oslo.policy rule language (parser,
//! canonical printer, evaluator), the [`Enforcer`] that resolves named rules
//! and applies operator override files, and Glance's default rules.
//!
//! This crate is pure. It performs no I/O and must not import tokio, an HTTP
//! client or any other glint crate; `http:` checks are delegated to a
//! caller-supplied [`RemoteCheck`], or, with [`Enforcer::decide`], returned to
//! the caller to ask asynchronously and decide again.

mod check;
pub mod defaults;
mod enforcer;
mod error;
mod overrides;
mod parser;
mod rule;
mod template;

pub use check::{Credentials, KnownRemote, NoRemote, RemoteCheck, RemoteQuery, Target};
pub use defaults::{GLANCE_DEFAULTS, RuleDefault, sample_policy_yaml};
pub use enforcer::{Decision, Enforcer, RuleEntry, TargetKeys};
pub use error::PolicyError;
pub use parser::{parse_list_rule, parse_rule};
pub use rule::Rule;
