//! The `/v2` routes; each module serves the URLs its name mirrors.

use axum::Router;

use crate::state::AppState;

pub mod image_data;
pub mod images;
pub mod info;
pub mod locations;
pub mod members;
pub mod range;
pub mod schemas;
pub mod tags;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(images::routes())
        .merge(image_data::routes())
        .merge(tags::routes())
        .merge(members::routes())
        .merge(schemas::routes())
        .merge(info::routes())
        .merge(locations::routes())
}
