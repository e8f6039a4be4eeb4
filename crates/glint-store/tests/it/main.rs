//! Every store against its real server (file, memory, Swift, S3, RBD, HTTP):
//! one test binary, one module per backend or area.

mod common;
#[macro_use]
mod suite;

mod behaviour;
mod cache;
mod fetch;
mod file_store;
mod http;
mod ingest;
mod rbd;
mod s3;
mod swift;
