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
use tracing::Instrument;

use crate::auth;
use crate::body::JSON_BODY_LIMIT;
use crate::error::ErrorShape;
use crate::health;
use crate::metrics::{self, Metrics, Observation, RouteLayer};
use crate::noauth_guard;
use crate::request_id;
use crate::state::{AppState, ConnectionLimits};
use crate::versions;
use crate::{error::ApiError, v2};

/// All routes. Every request reaches them through the front middleware
/// that [`serve`] puts around them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", any(versions::choose_version))
        .route("/versions", any(versions::list_versions))
        .route("/versions/", any(versions::list_versions))
        .route("/versions/{*rest}", any(versions::list_versions))
        .route("/healthcheck", get(health::healthcheck))
        .route("/metrics", get(metrics::show_metrics))
        .route("/v2", any(redirect_to_v2_root))
        .merge(v2::routes(state.config.cache_management))
        .route_layer(RouteLayer::new(state.metrics.clone()))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state)
}

/// What [`front`] needs: the server's state, and whether the image cache
/// is on (which makes its API versions known).
#[derive(Clone)]
struct Front {
    state: AppState,
    cache: bool,
}

/// Middleware around every request, in this order: counted and timed for
/// the metrics, its API version negotiated, its error answers shaped as
/// Glance's, given its request id and span, kept from web pages in no-auth
/// mode, authenticated, refused a body it must not have; then routed.
///
/// One middleware rather than one layer per step: each layer clones the
/// service inside it and boxes a future for every request, which for a
/// small request (an image shown) cost about a sixth of its CPU.
async fn front(State(front): State<Front>, req: Request, next: Next) -> Response {
    let state = &front.state;
    let observed = Observation::start(&state.metrics, &req);
    let mut req = negotiate_version(front.cache, req);
    let shape = ErrorShape::of(&req);
    let assigned = request_id::assign(state, &mut req);
    let resp = match assigned.refusal() {
        Some(refused) => refused,
        None => {
            let span = assigned.span().clone();
            admit_and_route(state, req, next).instrument(span).await
        }
    };
    let mut resp = shape.render(assigned.finish(resp));
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        crate::error::glance_allow_header(resp.headers_mut());
    }
    observed.finish(resp)
}

/// The steps of [`front`] that run in the request's span.
async fn admit_and_route(state: &AppState, mut req: Request, next: Next) -> Response {
    if let Err(refused) = noauth_guard::refuse_browser_attacks(state, &req) {
        return refused.into_response();
    }
    let challenged = match auth::authenticate(state, &mut req).await {
        Ok(challenged) => challenged,
        Err(refused) => return refused,
    };
    let resp = if refuses_a_body(&req) {
        ApiError::BadRequest("A body is not expected with this request.".into()).into_response()
    } else {
        next.run(req).await
    };
    if challenged {
        auth::challenge(state, resp)
    } else {
        resp
    }
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
/// other path outside a known version gets the versions document (the
/// request becomes a `GET /` with the same headers).
fn negotiate_version(cache: bool, mut req: Request) -> Request {
    let path = req.uri().path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let new_path = if let Some(minor) = first.strip_prefix("v2.") {
        if !versions::is_known_minor(minor, cache) {
            return versions_request(&req);
        }
        format!("/v2{}", &path[1 + first.len()..])
    } else if matches!(first, "" | "versions" | "healthcheck" | "metrics" | "v2") {
        return req;
    } else if accepts_v2_media_type(&req, cache) {
        format!("/v2{path}")
    } else {
        return versions_request(&req);
    };
    let new_pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    if let Ok(uri) = new_pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    req
}

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

/// Whether `req` carries a body where it must not: Glance's router
/// refuses one for reads, deletes, image tag changes and actions (a
/// metadefs tag is renamed by a PUT with a body).
fn refuses_a_body(req: &Request) -> bool {
    let method = req.method();
    let path = req.uri().path();
    let bodiless = matches!(method, &Method::GET | &Method::HEAD | &Method::DELETE)
        || (path.contains("/tags/") && !path.starts_with("/v2/metadefs/"))
        || path.contains("/actions/");
    bodiless && has_body(req)
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
    let gauge = state.metrics.http().connections();
    let front_state = Front {
        cache: state.images.cache().is_some(),
        state: state.clone(),
    };
    let app = middleware::from_fn_with_state(front_state, front).layer(router(state));
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
