//! The library half of the `glint` package: the parts of the binary that
//! other crates need to reach without running it. Today that is the
//! configuration reader, so that the fuzz targets and their corpus replay
//! test (`glint-fuzzing`) call the same `glance-api.conf` parser as
//! `glint serve`.

pub mod config;
