//! The real glint binary as operators run it (serve, scrub, db commands,
//! several processes on one database): one test binary, one module per area.

mod common;
mod scrub_support;

mod connection_limits;
mod crash_recovery;
mod database_outage;
mod db_commands;
mod direct_io;
mod image_cache;
mod metadefs_files;
mod notifications;
mod observability;
mod policy_file;
mod scrubber;
mod scrubber_s3;
mod serve_keystone;
mod server_lists;
mod statistics_at_start;
mod two_nodes;
mod vmdk_allowed_types;
