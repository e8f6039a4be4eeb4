//! The router and the server loop.

use std::future::Future;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::Uri;
use tokio::net::TcpListener;
use tower::Layer;

use crate::error::render_errors;
use crate::request_id::assign_request_id;
use crate::state::AppState;
use crate::versions;
use crate::{error::ApiError, v2};

/// All routes, with the layers every response goes through.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(versions::choose_version))
        .route("/versions", get(versions::list_versions))
        .route("/healthcheck", get(healthcheck))
        .nest("/v2", v2::routes())
        .fallback(fallback)
        .layer(middleware::from_fn(render_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            assign_request_id,
        ))
        .with_state(state)
}

async fn healthcheck() -> &'static str {
    "OK"
}

async fn fallback() -> Response {
    ApiError::NotFound("The resource could not be found.".into()).into_response()
}

/// Version negotiation: `/v2.N/…` is served by the v2 routes; a request for
/// a version this server does not speak gets the versions document.
async fn negotiate_version(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v2.") else {
        return next.run(req).await;
    };
    let (minor, tail) = rest.split_once('/').map_or((rest, ""), |(m, t)| (m, t));
    if !versions::is_known_minor(minor) {
        let mut r = Request::new(axum::body::Body::empty());
        *r.uri_mut() = Uri::from_static("/");
        *r.headers_mut() = req.headers().clone();
        return next.run(r).await;
    }
    let new_path = format!("/v2/{tail}");
    let new_pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    if let Ok(uri) = new_pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

/// Serves `state` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = router(state);
    let app = middleware::from_fn(negotiate_version).layer(app);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
