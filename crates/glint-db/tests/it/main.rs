//! The database layer against a real SQLite file, and PostgreSQL and MariaDB
//! when GLINT_TEST_POSTGRES_URL / GLINT_TEST_MYSQL_URL are set: one test
//! binary, one module per area.

mod common;

mod cache;
mod children_copy;
mod concurrency;
mod images;
mod jobs;
mod limits;
mod list_filters;
mod list_order;
mod list_plans;
mod list_visibility;
mod members;
mod scrub;
mod shown;
mod statistics;
mod uploads;
