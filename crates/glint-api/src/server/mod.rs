//! The router and the server loop.

mod activity;
mod body_timeout;
mod connection;
mod listener;
mod send_timeout;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{HeaderValue, Method, StatusCode, Uri, header};
use tokio::net::TcpListener;
use tower::Layer;

use crate::auth;
use crate::body::JSON_BODY_LIMIT;
use crate::error::render_errors;
use crate::health;
use crate::metrics::{self, Metrics, RouteLayer, observe_requests};
use crate::noauth_guard;
use crate::request_id::assign_request_id;
use crate::state::{AppState, ConnectionLimits};
use crate::versions;
use crate::{error::ApiError, v2};

/// All routes, with the layers every response goes through.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", any(versions::choose_version))
        .route("/versions", any(versions::list_versions))
        .route("/versions/", any(versions::list_versions))
        .route("/versions/{*rest}", any(versions::list_versions))
        .route("/healthcheck", get(health::healthcheck))
        .route("/metrics", get(metrics::show_metrics))
        .route("/v2", any(redirect_to_v2_root))
        .nest("/v2", v2::routes(state.config.cache_management))
        .route_layer(RouteLayer::new(state.metrics.clone()))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(reject_unexpected_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            noauth_guard::refuse_browser_attacks,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            assign_request_id,
        ))
        .layer(middleware::from_fn(render_errors))
        .with_state(state)
}

/// `/v2` itself: Glance's router sends it on to `/v2/` (which then has
/// nothing to show).
async fn redirect_to_v2_root() -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, HeaderValue::from_static("/v2/"))],
    )
        .into_response()
}

async fn fallback() -> Response {
    ApiError::NotFound("The resource could not be found.".into()).into_response()
}

/// Version negotiation, as Glance's middleware does it: `/v2.N/…` is served
/// by the v2 routes, an unversioned path with an
/// `application/vnd.openstack.images-v2[.N]` Accept header too, and any
/// other path outside a known version gets the versions document.
async fn negotiate_version(
    State(cache): State<CacheVersions>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let new_path = if let Some(minor) = first.strip_prefix("v2.") {
        if !versions::is_known_minor(minor, cache.0) {
            return next.run(versions_request(&req)).await;
        }
        format!("/v2{}", &path[1 + first.len()..])
    } else if matches!(first, "" | "versions" | "healthcheck" | "metrics" | "v2") {
        return next.run(req).await;
    } else if accepts_v2_media_type(&req, cache.0) {
        format!("/v2{path}")
    } else {
        return next.run(versions_request(&req)).await;
    };
    let new_pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    if let Ok(uri) = new_pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

/// Whether the image cache is on, which makes its versions known.
#[derive(Debug, Clone, Copy)]
struct CacheVersions(bool);

fn accepts_v2_media_type(req: &Request, cache: bool) -> bool {
    req.headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("application/vnd.openstack.images-v2"))
        .is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('.')
                    .is_some_and(|minor| versions::is_known_minor(minor, cache))
        })
}

/// A `GET /` carrying the original headers, answered with the versions
/// document (300).
fn versions_request(req: &Request) -> Request {
    let mut r = Request::new(axum::body::Body::empty());
    *r.uri_mut() = Uri::from_static("/");
    *r.headers_mut() = req.headers().clone();
    r
}

/// The `Allow` header of a 405 as Glance's routes write it. The router
/// adds its own after every layer it applies, so this runs outside it.
async fn glance_allow_header(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        crate::error::glance_allow_header(resp.headers_mut());
    }
    resp
}

/// Requests that take no body are refused one, as Glance's router does for
/// reads, deletes, image tag changes and actions (a metadefs tag is renamed
/// by a PUT with a body).
async fn reject_unexpected_body(req: Request, next: Next) -> Response {
    let method = req.method();
    let path = req.uri().path();
    let bodiless = matches!(method, &Method::GET | &Method::HEAD | &Method::DELETE)
        || (path.contains("/tags/") && !path.starts_with("/v2/metadefs/"))
        || path.contains("/actions/");
    if bodiless && has_body(&req) {
        return ApiError::BadRequest("A body is not expected with this request.".into())
            .into_response();
    }
    next.run(req).await
}

pub(crate) fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    length > 0 || headers.contains_key(http::header::TRANSFER_ENCODING)
}

/// How many connections the kernel may hold for glint before it accepts
/// them (Glance's `backlog` default); the kernel caps it at its own
/// `net.core.somaxconn`. A crowd of clients connecting at once waits there
/// instead of having its handshakes dropped and retried a second later.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` (`host:port`, the first address it resolves to) with
/// [`LISTEN_BACKLOG`].
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for at in tokio::net::lookup_host(addr).await? {
        let socket = match at {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(at).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("{addr} names no address"),
        )
    }))
}

/// Serves `state` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish. Connections are bounded by the state's
/// [`ConnectionLimits`](crate::ConnectionLimits).
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let limits = state.config.connections.clone();
    let cache = CacheVersions(state.images.cache().is_some());
    let metrics = state.metrics.clone();
    let gauge = metrics.http().connections();
    let app = router(state);
    let app = middleware::from_fn(glance_allow_header).layer(app);
    let app = middleware::from_fn_with_state(cache, negotiate_version).layer(app);
    let app = middleware::from_fn_with_state(metrics, observe_requests).layer(app);
    let app = connection::App::new(app);
    listener::accept_connections(listener, app, limits, Some(gauge), shutdown).await
}

/// Most connections the metrics listener keeps open: a few scrapers.
const METRICS_CONNECTIONS: usize = 16;

/// Serves `GET /metrics` of `metrics`, and nothing else, without
/// authentication, on a listener of its own (`[glint] metrics_bind`),
/// until `shutdown` completes.
pub async fn serve_metrics<F>(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let limits = ConnectionLimits {
        max_connections: METRICS_CONNECTIONS,
        ..ConnectionLimits::default()
    };
    let app = Router::new()
        .route("/metrics", get(metrics::scrape))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(metrics);
    let app = connection::App::new(app);
    listener::accept_connections(listener, app, limits, None, shutdown).await
}
