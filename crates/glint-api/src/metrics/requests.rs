//! The HTTP layer's metrics, counted without a lock on the request path.
//!
//! Two pieces cooperate. [`Observation`], taken first and finished last
//! by the server's front middleware, times every request and counts its
//! status and response bytes.
//! [`RouteLayer`], applied by the router to every route, learns the
//! request's route template (axum's `MatchedPath`, so `/v2/images/{id}`
//! and never an id), counts the request body's bytes, and tags the
//! response with the statistics of its route, which the outer middleware
//! then updates. Requests no route matched (404, and those refused before
//! routing: authentication, request id) count under route `unmatched`.
//!
//! Each endpoint keeps, per method, the statistics it last served in a
//! `OnceLock`, so after an endpoint's first request finding them is one
//! atomic load and a string comparison; the registry's lock is only taken
//! the first time a route and method are seen.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::{Frame, SizeHint};
use tower::{Layer, Service};

use super::Metrics;
use super::text::Exposition;

/// Methods counted by name; any other counts as `other`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// Upper bounds of the latency buckets, in microseconds: fine below a
/// millisecond, where metadata calls answer, up to a minute for uploads.
const BUCKETS_MICROS: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];
/// The same bounds in seconds, as the `le` labels write them.
const BUCKET_LABELS: [&str; 18] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
];

/// Status codes counted: 100 to 599.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// The route label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// What is counted for one route template and method.
pub(crate) struct RouteStats {
    route: Box<str>,
    method: usize,
    statuses: Box<[AtomicU64]>,
    /// Per bucket (not cumulative), the last one past every bound.
    buckets: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_nanos: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl RouteStats {
    fn new(route: &str, method: usize) -> RouteStats {
        RouteStats {
            route: route.into(),
            method,
            statuses: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    fn observe(&self, status: StatusCode, elapsed: Duration) {
        let slot = usize::from(status.as_u16().saturating_sub(FIRST_STATUS));
        if let Some(count) = self.statuses.get(slot) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_MICROS.partition_point(|&bound| bound < micros);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn labels(&self) -> [(&str, &str); 2] {
        [("method", METHODS[self.method]), ("route", &self.route)]
    }
}

/// The HTTP families and their values.
pub(crate) struct HttpMetrics {
    /// Every matched route and method seen so far; written only the first
    /// time one is seen.
    routes: RwLock<Vec<Arc<RouteStats>>>,
    unmatched: [Arc<RouteStats>; METHODS.len()],
    in_flight: AtomicU64,
    connections: Arc<AtomicU64>,
}

const REQUESTS: &str = "glint_http_requests_total";
const DURATION: &str = "glint_http_request_duration_seconds";
const BYTES_IN: &str = "glint_http_request_body_bytes_total";
const BYTES_OUT: &str = "glint_http_response_body_bytes_total";
const IN_FLIGHT: &str = "glint_http_requests_in_flight";
const CONNECTIONS: &str = "glint_http_connections_open";

impl HttpMetrics {
    pub(super) fn new() -> HttpMetrics {
        HttpMetrics {
            routes: RwLock::new(Vec::new()),
            unmatched: std::array::from_fn(|m| Arc::new(RouteStats::new(UNMATCHED, m))),
            in_flight: AtomicU64::new(0),
            connections: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Names the HTTP layer keeps for itself.
    pub(super) fn owns(name: &str) -> bool {
        name.starts_with("glint_http_")
    }

    /// The statistics of a route and method, made the first time.
    fn route(&self, template: &str, method: usize) -> Arc<RouteStats> {
        let find = |routes: &[Arc<RouteStats>]| {
            routes
                .iter()
                .find(|r| r.method == method && &*r.route == template)
                .cloned()
        };
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = find(&routes) {
            return found;
        }
        drop(routes);
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = find(&routes) {
            return found;
        }
        let made = Arc::new(RouteStats::new(template, method));
        routes.push(Arc::clone(&made));
        made
    }

    /// The gauge of open client connections, for the accept loop.
    pub(crate) fn connections(&self) -> ConnectionGauge {
        ConnectionGauge(Arc::clone(&self.connections))
    }

    pub(super) fn render(&self, out: &mut Exposition) {
        let mut all: Vec<Arc<RouteStats>> = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        all.extend(self.unmatched.iter().cloned());
        all.sort_by(|a, b| (&a.route, a.method).cmp(&(&b.route, b.method)));
        out.family(
            REQUESTS,
            "HTTP requests answered, by route template, method and status.",
            "counter",
        );
        for r in &all {
            let [method, route] = r.labels();
            for (slot, count) in r.statuses.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let status = (FIRST_STATUS as usize + slot).to_string();
                    out.sample(
                        REQUESTS,
                        &[method, route, ("status", &status)],
                        count as f64,
                    );
                }
            }
        }
        self.render_durations(out, &all);
        let bytes = [
            (
                BYTES_IN,
                "Bytes of request bodies read, by route template and method.",
                0,
            ),
            (
                BYTES_OUT,
                "Bytes of response bodies sent, by route template and method.",
                1,
            ),
        ];
        for (name, help, which) in bytes {
            out.family(name, help, "counter");
            for r in all.iter().filter(|r| seen(r)) {
                let value = [&r.bytes_in, &r.bytes_out][which].load(Ordering::Relaxed);
                out.sample(name, &r.labels(), value as f64);
            }
        }
        out.family(
            IN_FLIGHT,
            "HTTP requests being handled (until their response head).",
            "gauge",
        );
        out.sample(
            IN_FLIGHT,
            &[],
            self.in_flight.load(Ordering::Relaxed) as f64,
        );
        out.family(CONNECTIONS, "Client connections open.", "gauge");
        out.sample(
            CONNECTIONS,
            &[],
            self.connections.load(Ordering::Relaxed) as f64,
        );
    }

    fn render_durations(&self, out: &mut Exposition, all: &[Arc<RouteStats>]) {
        out.family(
            DURATION,
            "Time from a request's arrival to its response head, by route template and method.",
            "histogram",
        );
        let bucket_name = format!("{DURATION}_bucket");
        for r in all.iter().filter(|r| seen(r)) {
            let [method, route] = r.labels();
            let mut cumulative = 0u64;
            for (i, le) in BUCKET_LABELS.iter().enumerate() {
                cumulative += r.buckets[i].load(Ordering::Relaxed);
                out.sample(
                    &bucket_name,
                    &[method, route, ("le", le)],
                    cumulative as f64,
                );
            }
            cumulative += r.buckets[BUCKETS_MICROS.len()].load(Ordering::Relaxed);
            out.sample(
                &bucket_name,
                &[method, route, ("le", "+Inf")],
                cumulative as f64,
            );
            let sum = r.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            out.sample(&format!("{DURATION}_sum"), &r.labels(), sum);
            out.sample(&format!("{DURATION}_count"), &r.labels(), cumulative as f64);
        }
    }
}

/// Whether a route has answered any request yet.
fn seen(r: &RouteStats) -> bool {
    r.buckets.iter().any(|b| b.load(Ordering::Relaxed) > 0)
}

/// Counts open client connections.
#[derive(Clone)]
pub(crate) struct ConnectionGauge(Arc<AtomicU64>);

impl ConnectionGauge {
    /// Counts one connection until the returned value is dropped.
    pub(crate) fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(&self.0))
    }
}

pub(crate) struct OpenConnection(Arc<AtomicU64>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a request in flight until dropped (also when the client goes
/// away and the request's future is dropped).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The statistics of the route that answered, carried on the response
/// from [`RouteLayer`] to [`Observation::finish`].
#[derive(Clone)]
struct RouteTag(Arc<RouteStats>);

/// Middleware, outermost, of the routers [`super::instrument`] is given:
/// times and counts every request.
pub(crate) async fn observe_requests(
    State(metrics): State<Metrics>,
    req: Request,
    next: Next,
) -> Response {
    let observed = Observation::start(&metrics, &req);
    observed.finish(next.run(req).await)
}

/// One request being timed and counted, from its arrival until its
/// response is ready (the response body's bytes are counted as sent).
pub(crate) struct Observation<'a> {
    metrics: &'a Metrics,
    method: usize,
    started: Instant,
    in_flight: InFlight<'a>,
}

impl<'a> Observation<'a> {
    /// Starts timing `req` and counts it in flight.
    pub(crate) fn start(metrics: &'a Metrics, req: &Request) -> Observation<'a> {
        let in_flight = &metrics.http().in_flight;
        in_flight.fetch_add(1, Ordering::Relaxed);
        Observation {
            metrics,
            method: method_index(req.method()),
            started: Instant::now(),
            in_flight: InFlight(in_flight),
        }
    }

    /// Counts the request under the route that answered it.
    pub(crate) fn finish(self, mut resp: Response) -> Response {
        let Observation {
            metrics,
            method,
            started,
            in_flight,
        } = self;
        drop(in_flight);
        let stats = match resp.extensions_mut().remove::<RouteTag>() {
            Some(RouteTag(stats)) => stats,
            None => Arc::clone(&metrics.http().unmatched[method]),
        };
        stats.observe(resp.status(), started.elapsed());
        match resp.body().size_hint().exact() {
            Some(length) => {
                stats.bytes_out.fetch_add(length, Ordering::Relaxed);
                resp
            }
            None => resp.map(|body| Body::new(Counted::outgoing(body, stats))),
        }
    }
}

/// Applied to every route: finds the route's statistics, counts the
/// request body, tags the response.
#[derive(Clone)]
pub(crate) struct RouteLayer {
    metrics: Metrics,
}

impl RouteLayer {
    pub(crate) fn new(metrics: Metrics) -> RouteLayer {
        RouteLayer { metrics }
    }
}

impl<S> Layer<S> for RouteLayer {
    type Service = RouteService<S>;

    fn layer(&self, inner: S) -> RouteService<S> {
        RouteService {
            inner,
            metrics: self.metrics.clone(),
            known: Arc::new(std::array::from_fn(|_| OnceLock::new())),
        }
    }
}

/// One endpoint's service, wrapped.
#[derive(Clone)]
pub(crate) struct RouteService<S> {
    inner: S,
    metrics: Metrics,
    /// Per method, the statistics this endpoint served last.
    known: Arc<[OnceLock<Arc<RouteStats>>; METHODS.len()]>,
}

impl<S> RouteService<S> {
    fn stats(&self, req: &Request) -> Option<Arc<RouteStats>> {
        let template = req.extensions().get::<MatchedPath>()?.as_str();
        let method = method_index(req.method());
        let known = &self.known[method];
        if let Some(stats) = known.get().filter(|s| &*s.route == template) {
            return Some(Arc::clone(stats));
        }
        let stats = self.metrics.http().route(template, method);
        let _ = known.set(Arc::clone(&stats));
        Some(stats)
    }
}

impl<S> Service<Request> for RouteService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Tagged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let stats = self.stats(&req);
        let req = match &stats {
            Some(stats) if crate::server::has_body(&req) => {
                let stats = Arc::clone(stats);
                req.map(|body| Body::new(Counted::incoming(body, stats)))
            }
            _ => req,
        };
        Tagged {
            inner: self.inner.call(req),
            stats,
        }
    }
}

pin_project_lite::pin_project! {
    /// The endpoint's answer, tagged with its route's statistics.
    pub(crate) struct Tagged<F> {
        #[pin]
        inner: F,
        stats: Option<Arc<RouteStats>>,
    }
}

impl<F> Future for Tagged<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut resp) = ready!(this.inner.poll(cx));
        if let Some(stats) = this.stats.take() {
            resp.extensions_mut().insert(RouteTag(stats));
        }
        Poll::Ready(Ok(resp))
    }
}

/// A body whose data bytes are added to a route's count as they pass.
struct Counted {
    inner: Body,
    stats: Arc<RouteStats>,
    incoming: bool,
}

impl Counted {
    fn incoming(inner: Body, stats: Arc<RouteStats>) -> Counted {
        Counted {
            inner,
            stats,
            incoming: true,
        }
    }

    fn outgoing(inner: Body, stats: Arc<RouteStats>) -> Counted {
        Counted {
            inner,
            stats,
            incoming: false,
        }
    }
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let counter = match self.incoming {
                true => &self.stats.bytes_in,
                false => &self.stats.bytes_out,
            };
            counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_the_first_bucket_that_holds_them() {
        let stats = RouteStats::new("/r", 0);
        for micros in [0, 100, 101, 60_000_000, 60_000_001] {
            stats.observe(StatusCode::OK, Duration::from_micros(micros));
        }
        let counts: Vec<u64> = stats
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts[0], 2, "0 µs and 100 µs are <= 0.0001 s");
        assert_eq!(counts[1], 1, "101 µs");
        assert_eq!(counts[BUCKETS_MICROS.len() - 1], 1, "60 s");
        assert_eq!(counts[BUCKETS_MICROS.len()], 1, "past every bound");
        assert_eq!(stats.statuses[200 - 100].load(Ordering::Relaxed), 5);
    }

    #[test]
    fn bucket_labels_are_the_bounds_in_seconds() {
        for (micros, label) in BUCKETS_MICROS.iter().zip(BUCKET_LABELS) {
            assert_eq!(*micros as f64 / 1e6, label.parse::<f64>().unwrap());
        }
    }

    #[test]
    fn a_histogram_is_cumulative_and_ends_with_its_count() {
        let http = HttpMetrics::new();
        let stats = http.route("/v2/images/{image_id}", 0);
        stats.observe(StatusCode::OK, Duration::from_micros(50));
        stats.observe(StatusCode::NOT_FOUND, Duration::from_millis(3));
        let mut out = Exposition::default();
        http.render(&mut out);
        let text = out.finish();
        let labels = "method=\"GET\",route=\"/v2/images/{image_id}\"";
        for line in [
            format!("{DURATION}_bucket{{{labels},le=\"0.0001\"}} 1"),
            format!("{DURATION}_bucket{{{labels},le=\"0.0025\"}} 1"),
            format!("{DURATION}_bucket{{{labels},le=\"0.005\"}} 2"),
            format!("{DURATION}_bucket{{{labels},le=\"+Inf\"}} 2"),
            format!("{DURATION}_count{{{labels}}} 2"),
            format!("{REQUESTS}{{{labels},status=\"404\"}} 1"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
