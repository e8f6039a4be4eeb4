//! The bodies of glint's fuzz targets: one function per parser of untrusted
//! input, each calling the same entry point as production and asserting the
//! properties that must hold for any input.
//!
//! `fuzz/fuzz_targets/<name>.rs` (cargo-fuzz, nightly) is a one-line call of
//! the function of the same name here, and `tests/corpus.rs` (stable, run by
//! `cargo nextest run --workspace`) feeds every file of `fuzz/corpus/<name>/`
//! to it, so that the committed corpora are replayed on every CI run.

mod archive;
mod config;
mod image;
mod import_url;
mod inspect;
mod keystone_token;
mod location_url;
mod metadef;
mod policy;
mod range_header;

pub use archive::archive;
pub use config::{glance_api_conf, property_protections};
pub use image::{image_request, list_query, patch};
pub use import_url::import_url;
pub use inspect::inspect;
pub use keystone_token::keystone_token;
pub use location_url::location_url;
pub use metadef::metadef_body;
pub use policy::{policy_file, policy_rule};
pub use range_header::range_header;

/// A target's body: any input, and a panic when a property fails.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` file and
/// its `fuzz/corpus/<name>/` directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("archive", archive),
    ("glance_api_conf", glance_api_conf),
    ("image_request", image_request),
    ("import_url", import_url),
    ("inspect", inspect),
    ("keystone_token", keystone_token),
    ("list_query", list_query),
    ("location_url", location_url),
    ("metadef_body", metadef_body),
    ("patch", patch),
    ("policy_file", policy_file),
    ("policy_rule", policy_rule),
    ("property_protections", property_protections),
    ("range_header", range_header),
];

/// An error message quoting the client's input stays short.
fn short(message: &str) {
    assert!(message.chars().count() < 1000, "{message}");
}
