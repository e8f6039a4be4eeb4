//! The `/v2` routes; each module serves the URLs its name mirrors.

use axum::Router;

use crate::state::AppState;

pub mod cache;
pub mod cached_images;
pub mod image_data;
pub mod images;
pub mod info;
pub mod locations;
pub mod members;
pub mod metadefs;
pub mod queued_images;
pub mod range;
pub mod schemas;
pub mod tags;
pub mod tasks;

/// The v2 routes, each under its whole path (`/v2/…`): merged into the
/// server's router rather than nested under `/v2`, which would match every
/// request twice and rebuild its URI on the way; `cache_management` adds
/// the legacy cache paths.
pub fn routes(cache_management: bool) -> Router<AppState> {
    let routes = Router::new()
        .merge(images::routes())
        .merge(image_data::routes())
        .merge(tags::routes())
        .merge(members::routes())
        .merge(schemas::routes())
        .merge(info::routes())
        .merge(locations::routes())
        .merge(tasks::routes())
        .merge(metadefs::routes())
        .merge(cache::routes());
    if cache_management {
        routes
            .merge(cached_images::routes())
            .merge(queued_images::routes())
    } else {
        routes
    }
}
